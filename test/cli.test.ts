import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { digestDir } from '../src/dsl/load.ts';
import { repoRoot, tempRepo, twinTorch } from './helpers/fixtures.ts';

const kiln = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd, reject: false, env, timeout: 60_000 });

/** PATH with node but without docker: how a machine without an engine looks. */
const noDocker = { PATH: dirname(process.execPath) };

const addNode = (root: string) => {
  const file = join(root, 'templates/sd15-basic/template.ts');
  const text = readFileSync(file, 'utf8');
  writeFileSync(
    file,
    text.replace(
      "  nodes: [\n",
      "  nodes: [\n    node('https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite', '115de7a9d9e34410cffb9ecfd268e993b11a50fb'),\n",
    ),
  );
};

test('generate --check passes on the committed bake/', async (t) => {
  const r = await kiln(repoRoot, ['generate', '--check']);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /up to date/);
});

test('editing a node list without regenerating: --check fails naming exactly that template\'s files', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  addNode(repo.root);
  const r = await kiln(repo.root, ['generate', '--check']);
  t.is(r.exitCode, 1);
  const stale = r.stderr.split('\n').filter((l) => /^\s+(changed|missing|extra)\s/.test(l)).map((l) => l.trim().split(/\s+/)[1]).sort();
  // The bake file gains the node's context on both sd15-basic targets (and their new identity
  // tags, also in identities.json); its node target already exists (wan-video pins the same
  // commit), so no new Dockerfile.
  t.deepEqual(stale, [
    'bake/docker-bake.hcl',
    'bake/dockerfiles/sd15-basic-rtx4090.Dockerfile',
    'bake/dockerfiles/sd15-basic-rtx5090.Dockerfile',
    'bake/identities.json',
    'bake/manifests/sd15-basic/nodes.lock.json',
  ]);
  t.regex(r.stderr, /Run `npx kiln generate`/);
});

test('generate rewrites only the edited template\'s files, then --check passes', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const before = new Map(digestDir(join(repo.root, 'bake')).map((f) => [f.path, f.sha256]));
  addNode(repo.root);
  const r = await kiln(repo.root, ['generate']);
  t.is(r.exitCode, 0, r.stderr);
  const after = new Map(digestDir(join(repo.root, 'bake')).map((f) => [f.path, f.sha256]));
  t.deepEqual([...after.keys()], [...before.keys()]);
  const changed = [...after].filter(([p, h]) => before.get(p) !== h).map(([p]) => p);
  t.deepEqual(changed.sort(), [
    'docker-bake.hcl',
    'dockerfiles/sd15-basic-rtx4090.Dockerfile',
    'dockerfiles/sd15-basic-rtx5090.Dockerfile',
    'identities.json',
    'manifests/sd15-basic/nodes.lock.json',
  ]);
  // Only the two sd15-basic identities moved: no other target builds on them.
  const ids = (root: string) => (JSON.parse(readFileSync(join(root, 'bake/identities.json'), 'utf8')) as { targets: Record<string, { identity: string }> }).targets;
  const now = ids(repo.root);
  const was = ids(repoRoot);
  t.deepEqual(Object.keys(now).filter((n) => now[n]!.identity !== was[n]?.identity).sort(), ['sd15-basic-rtx4090', 'sd15-basic-rtx5090']);
  t.regex(
    readFileSync(join(repo.root, 'bake/dockerfiles/sd15-basic-rtx4090.Dockerfile'), 'utf8'),
    /^COPY --from=node-comfyui-videohelpersuite-115de7a \/src\/nodes\/ComfyUI-VideoHelperSuite \/opt\/ComfyUI\/custom_nodes\/ComfyUI-VideoHelperSuite$/m,
  );
  t.regex(readFileSync(join(repo.root, 'bake/docker-bake.hcl'), 'utf8'), /"node-comfyui-videohelpersuite-115de7a" = "target:node-comfyui-videohelpersuite-115de7a"/);
  t.is((await kiln(repo.root, ['generate', '--check'])).exitCode, 0);
});

test('a bad definition writes nothing and names file, definition and field', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const before = digestDir(join(repo.root, 'bake'));
  const file = join(repo.root, 'base/rtx5090.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace("torchCudaArchList: '12.0'", "torchCudaArchList: '9.0;12.0'"));
  const r = await kiln(repo.root, ['generate']);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /base\/rtx5090\.ts: gpu "rtx5090", field sage\.torchCudaArchList: .*never 9\.0 with 12\.0/);
  t.regex(r.stderr, /fix: set torchCudaArchList: '12\.0'/);
  t.regex(r.stderr, /nothing was written/);
  t.deepEqual(digestDir(join(repo.root, 'bake')), before);
});

test('bake --dry-run without an engine: lists sd15-basic targets, the exact command, and what is missing', async (t) => {
  const r = await kiln(repoRoot, ['bake', 'sd15-basic', '--dry-run'], noDocker);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /requested:\n  sd15-basic-rtx4090\n  sd15-basic-rtx5090\n/);
  t.regex(r.stdout, /command: docker buildx bake -f bake\/docker-bake\.hcl --set '\*\.cache-to=' sd15-basic-rtx4090 sd15-basic-rtx5090/);
  t.regex(r.stdout, /engine:  missing the docker CLI/);
  // Shared stages appear once, before their users.
  t.is(r.stdout.match(/^  base-common-cuda12-8-1 /gm)?.length, 1);
  const builds = r.stdout.slice(r.stdout.indexOf('builds ('));
  t.true(builds.indexOf('  torch-rtx4090 ') < builds.indexOf('  sd15-basic-rtx4090 '));
  t.true(builds.indexOf('  torch-rtx5090 ') < builds.indexOf('  sd15-basic-rtx5090 '));
});

test('bake --dry-run with GPU variants: the rtx5090 image is FROM the rtx4090 one (equal files)', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  twinTorch(repo.root);
  t.is((await kiln(repo.root, ['generate'])).exitCode, 0);
  const r = await kiln(repo.root, ['bake', 'sd15-basic', '--dry-run'], noDocker);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.match(/^  torch-rtx4090 /gm)?.length, 1);
  t.regex(r.stdout, /^  sd15-basic-rtx5090 +0 layers .*<- variant=sd15-basic-rtx4090$/m);
  const builds = r.stdout.slice(r.stdout.indexOf('builds ('));
  t.true(builds.indexOf('  sd15-basic-rtx4090 ') < builds.indexOf('  sd15-basic-rtx5090 '));
});

test('bake --gpu narrows to one target; --push keeps the registry cache export', async (t) => {
  const r = await kiln(repoRoot, ['bake', 'sd15-basic', '--gpu', 'rtx5090', '--push', '--dry-run'], { ...noDocker, REGISTRY: 'ghcr.io/me' });
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /command: docker buildx bake -f bake\/docker-bake\.hcl --push sd15-basic-rtx5090\n/);
  t.regex(r.stdout, /^registry: ghcr\.io\/me \(tags and registry cache\)$/m);
  // Without a registry there is nowhere to push: a clear error before anything runs.
  const none = await kiln(repoRoot, ['bake', 'sd15-basic', '--push', '--dry-run'], noDocker);
  t.is(none.exitCode, 2);
  t.regex(none.stderr, /--push needs a registry: set REGISTRY/);
  const local = await kiln(repoRoot, ['bake', 'sd15-basic', '--dry-run'], noDocker);
  t.regex(local.stdout, /^registry: none \(REGISTRY unset\): images are named kiln\/<repository>, no registry cache is read or written$/m);
});

test('bake without docker: says what is missing and how to get an engine (also offline), prints the command, exits non-zero', async (t) => {
  const r = await kiln(repoRoot, ['bake', 'sd15-basic'], noDocker);
  t.is(r.exitCode, 3);
  t.regex(r.stderr, /cannot build:\n  missing the docker CLI \(not found on PATH\), so also the buildx plugin and an engine\n    fix: install Docker/);
  // The offline way names the CUDA images this selection starts from.
  t.regex(r.stderr, /offline .*tools\/engine\.sh up && eval "\$\(tools\/engine\.sh env\)" && tools\/stub-world\/build\.sh nvidia\/cuda:12\.8\.1-base-ubuntu24\.04`/);
  t.regex(r.stderr, /tools\/stub-world\/README\.md/);
  t.regex(r.stderr, /would run: docker buildx bake -f bake\/docker-bake\.hcl/);
});

/**
 * A PATH whose `docker` answers `buildx version` with `versionLine` (exit 0) or fails (exit 1 when null),
 * and `info` (the engine check) with exit 1 unless `engine`.
 */
function fakeDocker(t: { teardown(fn: () => void): void }, versionLine: string | null, engine = false): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-fake-docker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const body = versionLine === null ? 'echo "docker: \'buildx\' is not a docker command." >&2; exit 1' : `echo '${versionLine}'; exit 0`;
  const info = engine ? 'echo 26.1.5; exit 0' : 'echo "Cannot connect to the Docker daemon" >&2; exit 1';
  writeFileSync(
    join(dir, 'docker'),
    `#!/bin/sh\n[ "$1 $2" = "buildx version" ] && { ${body}; }\n[ "$1" = "info" ] && { ${info}; }\necho "fake docker: unexpected $*" >&2; exit 99\n`,
    { mode: 0o755 },
  );
  // DOCKER_HOST emptied: under .ci/run the engine's socket is exported, and the messages name it.
  return { PATH: `${dir}:${dirname(process.execPath)}:/usr/bin:/bin`, DOCKER_HOST: '' };
}

test('bake with buildx older than 0.13 (checked with semver): names the version found, prints the command, exits non-zero', async (t) => {
  const r = await kiln(repoRoot, ['bake', 'sd15-basic'], fakeDocker(t, 'github.com/docker/buildx v0.12.1 30feaa1', true));
  t.is(r.exitCode, 3, r.stderr);
  t.regex(r.stderr, /missing buildx >= 0\.13\.0 \(found 0\.12\.1\)\n    fix: upgrade docker-buildx/);
  t.notRegex(r.stderr, /Docker engine/, 'the engine answers, so it is not reported');
  t.regex(r.stderr, /would run: docker buildx bake -f bake\/docker-bake\.hcl/);
  const ok = await kiln(repoRoot, ['bake', 'sd15-basic', '--dry-run'], fakeDocker(t, 'github.com/docker/buildx v0.13.1+ds1'));
  t.is(ok.exitCode, 0, ok.stderr);
  // 0.13.1+ds1 (Debian's spelling) passes the version gate; the next check is the engine, which this fake lacks.
  t.regex(ok.stdout, /engine: +missing a Docker engine/);
  t.notRegex(ok.stdout, /buildx >=/);
});

test('bake with neither the buildx plugin nor an engine: names both, each with its fix', async (t) => {
  const r = await kiln(repoRoot, ['bake', 'sd15-basic'], fakeDocker(t, null));
  t.is(r.exitCode, 3, r.stderr);
  t.regex(r.stderr, /missing the docker buildx plugin .*\n    fix: install docker-buildx \(>= 0\.13\)/);
  t.regex(r.stderr, /missing a Docker engine \(the default socket does not answer\)\n    fix: start dockerd/);
  t.notRegex(r.stderr, /fake docker: unexpected/);
});

test('bake without buildx writes nothing, even when bake/ is stale; --print neither', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  addNode(repo.root);
  const before = digestDir(join(repo.root, 'bake'));
  const env = fakeDocker(t, null);
  const r = await kiln(repo.root, ['bake', 'sd15-basic'], env);
  t.is(r.exitCode, 3, r.stderr);
  // addNode touches the bake file, identities.json, both sd15-basic Dockerfiles and the nodes lock.
  t.regex(r.stderr, /note: bake\/ is stale \(5 files\); a real build regenerates it first/);
  t.deepEqual(digestDir(join(repo.root, 'bake')), before);
  const p = await kiln(repo.root, ['bake', 'sd15-basic', '--print'], env);
  t.is(p.exitCode, 0, p.stderr);
  t.deepEqual(digestDir(join(repo.root, 'bake')), before);
  t.is((await kiln(repo.root, ['generate', '--check'])).exitCode, 1, 'still stale: nothing regenerated it');
});

test('bake --print without docker shows what the real command would print: its cache-to override applied, variables resolved', async (t) => {
  const r = await kiln(repoRoot, ['bake', 'sd15-basic', '--gpu', 'rtx4090', '--print'], { ...noDocker, REGISTRY: 'ghcr.io/me' });
  t.is(r.exitCode, 0, r.stderr);
  const printed = JSON.parse(r.stdout);
  t.deepEqual(printed.group.default.targets, ['sd15-basic-rtx4090']);
  t.deepEqual(Object.keys(printed.target).sort(), [
    'base-common-cuda12-8-1',
    'base-rtx4090',
    'node-comfyui-custom-scripts-2c09d59',
    'node-rgthree-comfy-32142fe',
    'sd15-basic-rtx4090',
    'torch-rtx4090',
  ]);
  // The real command passes --set '*.cache-to=' when not pushing: no target exports a cache.
  t.false(Object.values(printed.target).some((x) => 'cache-to' in (x as object)));
  // The build's tag and the immutable identity tag (the one bake/identities.json names).
  const identity = JSON.parse(readFileSync(join(repoRoot, 'bake/identities.json'), 'utf8')).targets['sd15-basic-rtx4090'].image;
  t.deepEqual(printed.target['sd15-basic-rtx4090'].tags, ['ghcr.io/me/sd15-basic:rtx4090-dev', `ghcr.io/me/${identity}`]);
  t.regex(identity, /^sd15-basic:rtx4090-id-[0-9a-f]{16}$/);
  // Its own cache, then those of the images it builds on (base, torch, base-common; node checkouts have none).
  const readFrom = ['sd15-basic-rtx4090', 'base-rtx4090', 'torch-rtx4090', 'base-common-cuda12-8-1'];
  t.deepEqual(printed.target['sd15-basic-rtx4090']['cache-from'], readFrom.map((x) => `type=registry,ref=ghcr.io/me/kiln-cache:${x}`));
  t.regex(r.stderr, /buildx is not usable, so this is Kiln's rendering of what `docker buildx bake -f bake\/docker-bake\.hcl --print --set '\*\.cache-to=' sd15-basic-rtx4090` would print/);
  const push = JSON.parse((await kiln(repoRoot, ['bake', 'sd15-basic', '--gpu', 'rtx4090', '--print', '--push'], { ...noDocker, REGISTRY: 'ghcr.io/me', CACHE_SCOPE: 'pr-7' })).stdout);
  // A scope reads main's cache and its own, and writes only its own.
  t.deepEqual(push.target['sd15-basic-rtx4090']['cache-from'], [
    ...readFrom.map((x) => `type=registry,ref=ghcr.io/me/kiln-cache:${x}`),
    ...readFrom.map((x) => `type=registry,ref=ghcr.io/me/kiln-cache:${x}--pr-7`),
  ]);
  t.deepEqual(push.target['sd15-basic-rtx4090']['cache-to'], ['type=registry,ref=ghcr.io/me/kiln-cache:sd15-basic-rtx4090--pr-7,mode=max']);
  t.deepEqual(push.target['sd15-basic-rtx4090'].output, ['type=image,push=true']);
  // REGISTRY unset: local names, and no registry cache at all (nothing to look up).
  const local = JSON.parse((await kiln(repoRoot, ['bake', 'sd15-basic', '--gpu', 'rtx4090', '--print'], noDocker)).stdout);
  t.deepEqual(local.target['sd15-basic-rtx4090'].tags, ['kiln/sd15-basic:rtx4090-dev', `kiln/${identity}`]);
  for (const [name, x] of Object.entries(local.target)) t.false('cache-from' in (x as object) || 'cache-to' in (x as object), name);
});

test('unknown template and unknown command are clear errors', async (t) => {
  const r = await kiln(repoRoot, ['bake', 'sd16', '--dry-run'], noDocker);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /unknown template, group or target "sd16"[\s\S]*templates: .*sd15-basic/);
  const u = await kiln(repoRoot, ['frobnicate']);
  t.is(u.exitCode, 2);
  t.regex(u.stderr, /unknown command "frobnicate"/);
});
