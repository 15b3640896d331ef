import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { bakeSetArgs, computeTags, githubContextFromEnv, imageRefs, type GithubContext } from '../src/ci/tags.ts';
import { KilnError } from '../src/errors.ts';
import { repoRoot } from './helpers/fixtures.ts';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const ctx = (o: Partial<GithubContext>): GithubContext => ({ eventName: 'push', ref: 'refs/heads/main', refName: 'main', sha: SHA, ...o });

test('release tag v1.2.3: X.Y.Z, X.Y, X and sha, never latest', (t) => {
  const r = computeTags(ctx({ ref: 'refs/tags/v1.2.3', refName: 'v1.2.3' }));
  t.deepEqual(r.tags, ['1.2.3', '1.2', '1', 'sha-0123456']);
  t.is(r.primary, '1.2.3');
});

test('release of a 0.x line: no bare major "0"', (t) => {
  t.deepEqual(computeTags(ctx({ ref: 'refs/tags/v0.4.1', refName: 'v0.4.1' })).tags, ['0.4.1', '0.4', 'sha-0123456']);
});

test('prerelease: only its full version (and sha), never latest or X.Y', (t) => {
  const r = computeTags(ctx({ ref: 'refs/tags/v1.3.0-rc.1', refName: 'v1.3.0-rc.1' }));
  t.deepEqual(r.tags, ['1.3.0-rc.1', 'sha-0123456']);
  t.false(r.tags.includes('latest'));
  t.is(r.primary, '1.3.0-rc.1');
});

test('build metadata is dropped (a Docker tag cannot hold "+")', (t) => {
  t.deepEqual(computeTags(ctx({ ref: 'refs/tags/v2.0.0+build.7', refName: 'v2.0.0+build.7' })).tags, ['2.0.0', '2.0', '2', 'sha-0123456']);
});

test('a v* tag that is not semver is an error; a non-v tag gets only the sha', (t) => {
  t.throws(() => computeTags(ctx({ ref: 'refs/tags/vnext', refName: 'vnext' })), { instanceOf: KilnError, message: /not semver/ });
  t.deepEqual(computeTags(ctx({ ref: 'refs/tags/nightly', refName: 'nightly' })).tags, ['sha-0123456']);
});

test('push to main: sha and latest', (t) => {
  const r = computeTags(ctx({}));
  t.deepEqual(r.tags, ['sha-0123456', 'latest']);
  t.is(r.primary, 'sha-0123456');
});

test('push to another branch, or a manual run on main: sha only', (t) => {
  t.deepEqual(computeTags(ctx({ ref: 'refs/heads/feature/x', refName: 'feature/x' })).tags, ['sha-0123456']);
  t.deepEqual(computeTags(ctx({ eventName: 'workflow_dispatch' })).tags, ['sha-0123456']);
});

test('pull request: sha and pr-N only', (t) => {
  const r = computeTags(ctx({ eventName: 'pull_request', ref: 'refs/pull/42/merge', refName: '42/merge' }));
  t.deepEqual(r.tags, ['sha-0123456', 'pr-42']);
  t.throws(() => computeTags(ctx({ eventName: 'pull_request', ref: 'refs/heads/main', refName: 'main' })), { message: /pull request number/ });
});

test('context from env; GITHUB_SHA is required', (t) => {
  const c = githubContextFromEnv({ GITHUB_SHA: SHA, GITHUB_REF: 'refs/pull/7/merge', GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF_NAME: '7/merge' });
  t.deepEqual(computeTags(c).tags, ['sha-0123456', 'pr-7']);
  t.throws(() => githubContextFromEnv({}), { message: /GITHUB_SHA is not set/ });
});

test('image refs follow the bake file pattern REGISTRY/<repository>:<gpu>-<tag>; uppercase owner is refused', (t) => {
  t.deepEqual(imageRefs('ghcr.io/acme', 'sd15-basic', 'rtx5090', ['1.2.3', 'latest']), [
    'ghcr.io/acme/sd15-basic:rtx5090-1.2.3',
    'ghcr.io/acme/sd15-basic:rtx5090-latest',
  ]);
  t.throws(() => imageRefs('ghcr.io/Acme', 'sd15-basic', 'rtx5090', ['x']), { message: /lowercase.*ghcr\.io\/acme/ });
  t.deepEqual(bakeSetArgs('sd15-basic-rtx5090', ['r/a:b']), ['--set=sd15-basic-rtx5090.tags=r/a:b']);
});

const kiln = (args: string[], env: Record<string, string>) =>
  execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd: repoRoot, reject: false, env, extendEnv: false, timeout: 60_000 });

test('kiln tags <template>: one --set per tag and target, from the GitHub env', async (t) => {
  const r = await kiln(['tags', 'sd15-basic'], {
    PATH: process.env.PATH!,
    GITHUB_SHA: SHA,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_EVENT_NAME: 'push',
    REGISTRY: 'ghcr.io/acme',
  });
  t.is(r.exitCode, 0, r.stderr);
  // --set replaces the file's tags, so the identity tag `kiln matrix` asks the registry for is among them.
  const ids = JSON.parse(readFileSync(join(repoRoot, 'bake/identities.json'), 'utf8')).targets;
  t.deepEqual(r.stdout.split('\n'), [
    '--set=sd15-basic-rtx4090.tags=ghcr.io/acme/sd15-basic:rtx4090-sha-0123456',
    '--set=sd15-basic-rtx4090.tags=ghcr.io/acme/sd15-basic:rtx4090-latest',
    `--set=sd15-basic-rtx4090.tags=ghcr.io/acme/${ids['sd15-basic-rtx4090'].image}`,
    '--set=sd15-basic-rtx5090.tags=ghcr.io/acme/sd15-basic:rtx5090-sha-0123456',
    '--set=sd15-basic-rtx5090.tags=ghcr.io/acme/sd15-basic:rtx5090-latest',
    `--set=sd15-basic-rtx5090.tags=ghcr.io/acme/${ids['sd15-basic-rtx5090'].image}`,
  ]);
  t.regex(ids['sd15-basic-rtx5090'].image, /^sd15-basic:rtx5090-id-[0-9a-f]{16}$/);
  // A pull request tags a scoped identity, which main's `kiln matrix` never counts as its own.
  const pr = await kiln(['tags', 'sd15-basic-rtx4090'], { PATH: process.env.PATH!, GITHUB_SHA: SHA, GITHUB_REF: 'refs/pull/42/merge', GITHUB_EVENT_NAME: 'pull_request', REGISTRY: 'ghcr.io/acme' });
  t.is(pr.exitCode, 0, pr.stderr);
  t.deepEqual(pr.stdout.split('\n'), [
    '--set=sd15-basic-rtx4090.tags=ghcr.io/acme/sd15-basic:rtx4090-sha-0123456',
    '--set=sd15-basic-rtx4090.tags=ghcr.io/acme/sd15-basic:rtx4090-pr-42',
    `--set=sd15-basic-rtx4090.tags=ghcr.io/acme/${ids['sd15-basic-rtx4090'].image}--pr-42`,
  ]);
  const p = await kiln(['tags', '--primary'], { PATH: process.env.PATH!, GITHUB_SHA: SHA, GITHUB_REF: 'refs/tags/v3.1.0', GITHUB_EVENT_NAME: 'push' });
  t.is(p.stdout, '3.1.0');
  const scope = (event: string, ref: string) => kiln(['tags', '--cache-scope'], { PATH: process.env.PATH!, GITHUB_SHA: SHA, GITHUB_REF: ref, GITHUB_EVENT_NAME: event });
  t.is((await scope('push', 'refs/heads/main')).stdout, '', 'main writes main\'s cache');
  t.is((await scope('push', 'refs/tags/v3.1.0')).stdout, '');
  t.is((await scope('pull_request', 'refs/pull/42/merge')).stdout, 'pr-42', 'a pull request writes its own');
  t.is((await scope('push', 'refs/heads/Feature/X')).stdout, 'ref-feature-x');
  const shared = await kiln(['tags', 'torch-rtx5090'], { PATH: process.env.PATH!, GITHUB_SHA: SHA });
  t.is(shared.exitCode, 2);
  t.regex(shared.stderr, /shared stage/);
});

/** buildx from the tools/engine.sh cache, or `docker buildx` from PATH. */
async function findBuildx(): Promise<string[] | null> {
  const cached = join(process.env.HOME ?? '/root', '.cache/kiln-engine/root/usr/libexec/docker/cli-plugins/docker-buildx');
  if (existsSync(cached)) return [cached];
  const r = await execa('docker', ['buildx', 'version'], { reject: false, timeout: 20_000 });
  return r.exitCode === 0 ? ['docker', 'buildx'] : null;
}

test('real buildx: repeated --set <target>.tags accumulate and replace the file\'s tag (bake --print)', async (t) => {
  const cmd = await findBuildx();
  if (!cmd) {
    t.log('SKIP: no buildx (neither `docker buildx` nor the tools/engine.sh cache)');
    t.pass();
    return;
  }
  const sets = bakeSetArgs('sd15-basic-rtx5090', imageRefs('ghcr.io/acme', 'sd15-basic', 'rtx5090', ['1.2.3', 'latest']));
  const r = await execa(cmd[0]!, [...cmd.slice(1), 'bake', '-f', 'bake/docker-bake.hcl', '--print', 'sd15-basic-rtx5090', ...sets], {
    cwd: repoRoot,
    timeout: 60_000,
  });
  const printed = JSON.parse(r.stdout) as { target: Record<string, { tags: string[] }> };
  t.deepEqual(printed.target['sd15-basic-rtx5090']!.tags, ['ghcr.io/acme/sd15-basic:rtx5090-1.2.3', 'ghcr.io/acme/sd15-basic:rtx5090-latest']);
});
