import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot, tempRepo, twinTorch } from './helpers/fixtures.ts';

const kiln = (cwd: string, args: string[]) => execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd, reject: false, timeout: 60_000 });

async function gitRepo(root: string): Promise<void> {
  const git = (...a: string[]) => execa('git', a, { cwd: root });
  await git('init', '-q');
  await git('-c', 'user.email=t@kiln', '-c', 'user.name=kiln', 'add', 'base', 'templates', 'scripts', 'bake');
  await git('-c', 'user.email=t@kiln', '-c', 'user.name=kiln', 'commit', '-qm', 'base');
}

test('kiln plan --json: a start.sh edit re-runs the runtime copy and the checks of every template image, nothing heavy', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  await gitRepo(repo.root);
  t.regex((await kiln(repo.root, ['plan'])).stdout, /nothing to rebuild since HEAD/);
  appendFileSync(join(repo.root, 'scripts/start.sh'), '# edited\n');
  const r = await kiln(repo.root, ['plan', '--json']);
  t.is(r.exitCode, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { targets: { target: string; status: string; rerun: string[]; reason: string }[] };
  t.is(plan.targets.length, 9);
  t.true(plan.targets.every((p) => p.status === 'rebuild'));
  // The checks run FROM the image (the runner is in scripts/), so they follow the runtime copy.
  for (const p of plan.targets) t.deepEqual(p.rerun, ['runtime', 'check-spec', 'checks', 'check-report'], p.target);
});

test('kiln plan --json: GPU variants (equal files) rebuild through their primary, with no steps of their own', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  twinTorch(repo.root);
  await gitRepo(repo.root);
  appendFileSync(join(repo.root, 'scripts/start.sh'), '# edited\n');
  const plan = JSON.parse((await kiln(repo.root, ['plan', '--json'])).stdout) as { targets: { target: string; rerun: string[]; reason: string }[] };
  for (const target of ['sd15-basic-rtx5090', 'sdxl-rtx5090']) {
    const p = plan.targets.find((x) => x.target === target)!;
    t.deepEqual(p.rerun, [], target);
    t.is(p.reason, `same files as ${target.replace('rtx5090', 'rtx4090')}, which rebuilds`);
  }
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
