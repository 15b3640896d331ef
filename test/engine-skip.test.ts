/**
 * A fresh clone without a Docker engine: `npm test` must still pass, every
 * engine test skipped with its reason. CI always has the engine (.ci/run starts
 * one), so this runs the engine test files once more against a socket and a
 * registry that do not answer.
 */
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from './helpers/fixtures.ts';

test('without an engine, the engine test files load, pass and say why each engine test is skipped', async (t) => {
  const r = await execa('npx', ['ava', '--tap', 'test/engine/*.test.ts'], {
    cwd: repoRoot,
    reject: false,
    timeout: 120_000,
    // Port 1 on loopback: nothing listens there, so the registry is "down" too.
    env: { DOCKER_HOST: 'unix:///nonexistent/kiln-no-engine.sock', KILN_REGISTRY: '127.0.0.1:1' },
  });
  t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const results = r.stdout.split('\n').filter((l) => /^(not )?ok \d+ /.test(l));
  t.true(results.length > 20, `only ${results.length} results:\n${r.stdout}`);
  t.deepEqual(results.filter((l) => l.startsWith('not ok')), []);
  const skipped = results.filter((l) => l.endsWith('# SKIP'));
  t.true(skipped.length > 15, `${skipped.length} skipped`);
  for (const l of skipped) t.regex(l, /\((engine tests )?skipped: no Docker engine at DOCKER_HOST=unix:\/\/\/nonexistent\/kiln-no-engine\.sock\) # SKIP$/);
  t.regex(r.stdout, /engine tests skipped: .*run `tools\/engine\.sh up`/);
});
