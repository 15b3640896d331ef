import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot, tempRepo } from './helpers/fixtures.ts';

const kiln = (cwd: string, args: string[]) => execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd, reject: false, timeout: 60_000 });

async function gitRepo(root: string): Promise<void> {
  const git = (...a: string[]) => execa('git', a, { cwd: root });
  await git('init', '-q');
  await git('-c', 'user.email=t@kiln', '-c', 'user.name=kiln', 'add', 'base', 'templates', 'scripts', 'bake');
  await git('-c', 'user.email=t@kiln', '-c', 'user.name=kiln', 'commit', '-qm', 'base');
}

test('kiln plan --json: a start.sh edit re-runs the runtime copy of every template image and nothing heavy', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  await gitRepo(repo.root);
  t.regex((await kiln(repo.root, ['plan'])).stdout, /nothing to rebuild since HEAD/);
  appendFileSync(join(repo.root, 'scripts/start.sh'), '# edited\n');
  const r = await kiln(repo.root, ['plan', '--json']);
  t.is(r.exitCode, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { targets: { target: string; firstInvalidated: string; rerun: string[] }[] };
  const templates = plan.targets.filter((p) => !p.target.startsWith('files-'));
  t.is(templates.length, 9);
  for (const p of templates) t.deepEqual(p.rerun, ['runtime'], p.target);
  t.deepEqual(plan.targets.find((p) => p.target === 'files-runtime')?.rerun, ['runtime']);
});

test('kiln plan --since an unknown ref is a clear error', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  await gitRepo(repo.root);
  const r = await kiln(repo.root, ['plan', '--since', 'no-such-ref']);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /git ref "no-such-ref" does not name a commit/);
});

test('kiln new scaffolds a template that validates and generates', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const r = await kiln(repo.root, ['new', 'sdxl-lightning', '--gpu', 'rtx5090']);
  t.is(r.exitCode, 0, r.stderr);
  const g = await kiln(repo.root, ['generate']);
  t.is(g.exitCode, 0, g.stderr);
  t.regex(g.stdout, /bake\/dockerfiles\/sdxl-lightning-rtx5090\.Dockerfile/);
  t.is((await kiln(repo.root, ['new', 'sdxl-lightning'])).exitCode, 2, 'refuses to overwrite');
  t.regex((await kiln(repo.root, ['new', 'Bad_Name'])).stderr, /not a lowercase, dash-separated name/);
});
