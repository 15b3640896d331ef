/**
 * `kiln bake --print` without buildx renders what buildx would print
 * (src/docker/print.ts). Checked against buildx's own `bake --print`, which
 * needs the plugin but no engine: the test runs buildx with a private
 * DOCKER_CONFIG and a DOCKER_HOST that points nowhere, so it never talks to
 * any engine on the machine.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa, execaSync } from 'execa';
import { loadProject } from '../src/dsl/load.ts';
import { bakeArgs, type BakeInvocation } from '../src/docker/buildx.ts';
import { renderPrint } from '../src/docker/print.ts';
import { resolveGraph } from '../src/graph/resolve.ts';
import { repoRoot } from './helpers/fixtures.ts';

/** The buildx plugin tools/engine.sh installs (CI always has it), or one the docker CLI already finds. */
const config = mkdtempSync(join(tmpdir(), 'kiln-print-config-'));
test.after.always(() => rmSync(config, { recursive: true, force: true }));

function findBuildx(): { env: Record<string, string> } | { reason: string } {
  const docker = execaSync('docker', ['--version'], { reject: false });
  if (docker.exitCode !== 0) return { reason: 'no docker CLI on PATH' };
  const cache = process.env.KILN_ENGINE_CACHE ?? join(homedir(), '.cache/kiln-engine');
  const plugin = join(cache, 'root/usr/libexec/docker/cli-plugins/docker-buildx');
  if (existsSync(plugin)) {
    mkdirSync(join(config, 'cli-plugins'));
    symlinkSync(plugin, join(config, 'cli-plugins/docker-buildx'));
  }
  const env = { DOCKER_CONFIG: existsSync(plugin) ? config : (process.env.DOCKER_CONFIG ?? join(homedir(), '.docker')), DOCKER_HOST: 'unix:///nonexistent/kiln-print-test.sock' };
  const v = execaSync('docker', ['buildx', 'version'], { reject: false, env });
  return v.exitCode === 0 ? { env } : { reason: `no buildx plugin (${plugin} absent and \`docker buildx version\` fails; tools/engine.sh up installs it)` };
}

// Tests are declared synchronously (ava), so the plugin is looked for synchronously and the graph loaded once, lazily.
const buildx = findBuildx();
const graph = loadProject(repoRoot).then(resolveGraph);

const invocations: { title: string; b: BakeInvocation; env?: Record<string, string> }[] = [
  { title: 'a local build (the cache export turned off)', b: { file: 'bake/docker-bake.hcl', targets: ['sd15-basic-rtx4090'], set: ['*.cache-to='] } },
  { title: '--push (output and cache export on the requested targets)', b: { file: 'bake/docker-bake.hcl', targets: ['sd15-basic-rtx4090', 'sd15-basic-rtx5090'], push: true, set: [] } },
  {
    title: '--load and --set of lists, maps and booleans',
    b: {
      file: 'bake/docker-bake.hcl',
      targets: ['wan-video-rtx5090'],
      load: true,
      set: ['*.cache-to=', 'wan-video-rtx5090.tags=a/b:c', 'wan*.tags=a/b:d', '*.platform=linux/amd64', 'sage-*.args.MAX_JOBS=8', 'wan-video-rtx5090.labels.x=y', '*.no-cache=true'],
    },
  },
  { title: 'REGISTRY and TAG from the environment, every image', b: { file: 'bake/docker-bake.hcl', targets: [], set: ['*.cache-to='] }, env: { REGISTRY: 'ghcr.io/me', TAG: 'v1.2.3' } },
  {
    title: "a pull request's cache scope: reads main's cache and its own, writes its own (the bake file's functions)",
    b: { file: 'bake/docker-bake.hcl', targets: ['flux1-dev-rtx5090'], push: true, set: [] },
    env: { REGISTRY: 'ghcr.io/me', CACHE_SCOPE: 'pr-7' },
  },
  // REGISTRY explicitly empty, whatever the test's own environment holds: no cache refs at all.
  { title: 'REGISTRY unset: local names, no registry cache', b: { file: 'bake/docker-bake.hcl', targets: ['llm-prompt-rtx4090'], set: [] }, env: { REGISTRY: '' } },
];

for (const { title, env, ...rest } of invocations) {
  let { b } = rest;
  if ('reason' in buildx) {
    test.skip(`Kiln's --print rendering equals buildx's: ${title} (skipped: ${buildx.reason})`, () => {});
    continue;
  }
  test(`Kiln's --print rendering equals buildx's: ${title}`, async (t) => {
    const g = await graph;
    // No targets: every image (the default group), as kiln bake resolves it.
    if (b.targets.length === 0) b = { ...b, targets: g.groups.find((x) => x.name === 'default')!.targets.slice() };
    const real = await execa('docker', bakeArgs({ ...b, print: true }), { cwd: repoRoot, env: { ...buildx.env, ...env }, reject: false, timeout: 60_000 });
    t.is(real.exitCode, 0, real.stderr);
    const kiln = renderPrint(g, b, { ...env });
    t.deepEqual(kiln.skipped, []);
    t.deepEqual(kiln.json, JSON.parse(real.stdout));
  });
}

