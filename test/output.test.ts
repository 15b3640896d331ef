/**
 * bake/ is replaced so that a kill between any two system calls leaves it
 * present and usable (src/io/output.ts), and the next run cleans up after
 * the killed one. The kill is deterministic: KILN_TEST_KILL_AT_STEP=n makes
 * the writer SIGKILL itself at its n-th step; the test tries every n.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { digestDir } from '../src/dsl/load.ts';
import { removeStaleStaging, STAGING_PREFIX, writeGenerated } from '../src/io/output.ts';
import { repoRoot, tempRepo } from './helpers/fixtures.ts';

const readTree = (root: string): Map<string, string> =>
  new Map(digestDir(join(root, 'bake')).map((f) => [`bake/${f.path}`, readFileSync(join(root, 'bake', f.path), 'utf8')]));

const sorted = (m: ReadonlyMap<string, string>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

const staging = (root: string) => readdirSync(root).filter((n) => n.startsWith(STAGING_PREFIX));

test('a kill at every step of a write leaves a whole, usable bake/; the next write completes it and removes the leftovers', async (t) => {
  const old = readTree(repoRoot);
  const gone = 'bake/dockerfiles/llm-prompt-rtx5090.Dockerfile';
  const added = 'bake/dockerfiles/zz-added.Dockerfile';
  const changed = 'bake/dockerfiles/sd15-basic-rtx4090.Dockerfile';
  t.true(old.has(gone) && old.has(changed));
  const next = new Map(old);
  next.set(changed, `${old.get(changed)}# changed\n`);
  next.set(added, '# added\n');
  // The new bake file names the added Dockerfile instead of the removed one.
  next.set('bake/docker-bake.hcl', old.get('bake/docker-bake.hcl')!.replace('dockerfiles/llm-prompt-rtx5090.Dockerfile', 'dockerfiles/zz-added.Dockerfile'));
  next.delete(gone);

  const work = mkdtempSync(join(tmpdir(), 'kiln-kill-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const spec = join(work, 'spec.json');
  const write = (root: string, killAt: number) => {
    writeFileSync(spec, JSON.stringify({ root, files: [...next] }));
    return execa('node', ['--import', 'tsx', join(repoRoot, 'test/helpers/write-child.ts'), spec], {
      cwd: repoRoot,
      reject: false,
      timeout: 60_000,
      env: { KILN_TEST_KILL_AT_STEP: String(killAt) },
    });
  };

  let killed = 0;
  for (let step = 1; step < 50; step++) {
    const root = join(work, `step-${step}`);
    mkdirSync(root);
    cpSync(join(repoRoot, 'bake'), join(root, 'bake'), { recursive: true });
    const r = await write(root, step);
    if (r.exitCode === 0) break; // past the last step: the write completed
    t.is(r.signal, 'SIGKILL', `step ${step}: ${r.stderr}`);
    killed++;
    // Present, every file whole (old or new version), nothing that both versions have is missing.
    t.true(existsSync(join(root, 'bake')), `step ${step}: bake/ exists`);
    const now = readTree(root);
    for (const [path, text] of now) t.true(text === old.get(path) || text === next.get(path), `step ${step}: ${path} is a whole old or new file`);
    for (const path of old.keys()) if (next.has(path)) t.true(now.has(path), `step ${step}: ${path} is there`);
    // Usable: the bake file present names only Dockerfiles that exist.
    for (const m of now.get('bake/docker-bake.hcl')!.matchAll(/dockerfile = "([^"]+)"/g)) t.true(now.has(`bake/${m[1]}`), `step ${step}: ${m[1]} named and present`);
    // The next run (here in-process: the same writeGenerated) completes the write and removes what the killed one left.
    writeGenerated(root, next);
    t.deepEqual(sorted(readTree(root)), sorted(next), `step ${step}: completed by the next run`);
    t.deepEqual(staging(root), [], `step ${step}: no staging dir left`);
  }
  // Staging complete, 3 renames (changed, added, bake file last), 1 delete, the end: 6 kill points.
  t.is(killed, 6);
});

test('stale staging dirs: a dead pid or none (older Kiln) is removed, a live run is left alone', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kiln-staging-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // A pid that is not running: one past the kernel's limit.
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (const name of [`${STAGING_PREFIX}${max + 1}-abc`, `${STAGING_PREFIX}Xy12Ab`, `${STAGING_PREFIX}Xy12Ab.old`, `${STAGING_PREFIX}${process.pid}-live`]) {
    mkdirSync(join(root, name, 'bake'), { recursive: true });
  }
  t.deepEqual(removeStaleStaging(root).sort(), [`${STAGING_PREFIX}${max + 1}-abc`, `${STAGING_PREFIX}Xy12Ab`, `${STAGING_PREFIX}Xy12Ab.old`].sort());
  t.deepEqual(staging(root), [`${STAGING_PREFIX}${process.pid}-live`]);
});

test('git ignores staging dirs', async (t) => {
  const r = await execa('git', ['check-ignore', '-q', `${STAGING_PREFIX}1234-abcdef/bake/docker-bake.hcl`], { cwd: repoRoot, reject: false });
  t.is(r.exitCode, 0);
});

test('kiln generate killed mid-write: --check names the drift, the next generate completes it and cleans up', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const kiln = (args: string[], env: Record<string, string> = {}) =>
    execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd: repo.root, reject: false, env, timeout: 60_000 });
  rmSync(join(repo.root, 'templates/llm-prompt'), { recursive: true });
  // Step 2 is the first rename into bake/.
  const killed = await kiln(['generate'], { KILN_TEST_KILL_AT_STEP: '2' });
  t.is(killed.signal, 'SIGKILL');
  t.is(staging(repo.root).length, 1);
  const check = await kiln(['generate', '--check']);
  t.is(check.exitCode, 1);
  t.regex(check.stderr, /extra +bake\/dockerfiles\/llm-prompt-rtx4090\.Dockerfile/);
  t.is((await kiln(['generate'])).exitCode, 0);
  t.deepEqual(staging(repo.root), []);
  t.is((await kiln(['generate', '--check'])).exitCode, 0);
});
