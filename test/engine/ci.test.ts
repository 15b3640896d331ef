/**
 * CI that never misses and never repeats a build (issue 14), on the engine and
 * the loopback registry: content identities published as tags decide what
 * `kiln matrix` builds; CI's two levels compile each kernel once; a local bake
 * without REGISTRY asks no registry; the CUDA base comes from a mirror when
 * the builder cannot see local images.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { execa } from 'execa';
import { loadProject } from '../../src/dsl/load.ts';
import type { IdentityFile } from '../../src/emit/identity.ts';
import { resolveGraph } from '../../src/graph/resolve.ts';
import type { BuildGraph, Layer, Target } from '../../src/graph/types.ts';
import { Testing } from '../../src/testing.ts';
import { editPartial } from '../helpers/generator-change.ts';
import { layerOfStep } from './graph-map.ts';
import {
  bake,
  deleteRegistryTag,
  docker,
  engineAvailable,
  engineLock,
  engineTest,
  kilnBake,
  prepareStubWorld,
  pruneBuildCache,
  REGISTRY,
  registryAvailable,
  REPO_ROOT,
  removeImages,
  type Step,
} from './harness.ts';

// Every await comes before the first declaration: ava refuses a test declared
// after one was declared and the module then awaited (no engine: engineTest
// declares "engine availability" at once).
const graph: BuildGraph = resolveGraph(await loadProject(REPO_ROOT));
const engine = await engineAvailable();
const registryUp = engine.available && (await registryAvailable());
const etest = engineTest(test, engine);
const rtest = !engine.available || registryUp ? etest : (title: string) => test.skip(`${title} (skipped: no registry at ${REGISTRY}; tools/engine.sh up starts one)`, () => {});
/** A registry namespace of this run alone: "a new registry" to start with. */
const NS = `${REGISTRY}/kiln-ci-${Date.now().toString(36)}`;
const KERNEL_KINDS = new Set(['sage-build', 'flash-build', 'llama-build']);

interface Levels {
  include: { target: string; reason: string }[];
  shared: string[];
}

async function matrix(root: string, env: Record<string, string> = {}): Promise<Levels> {
  const r = await execa('node', [`${root}/bin/kiln.mjs`, 'matrix'], { cwd: root, reject: false, env: { REGISTRY: NS, GITHUB_OUTPUT: '', GITHUB_STEP_SUMMARY: '', ...env }, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`kiln matrix failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Levels;
}

/** "target/layer" of every executed step whose layer `which` accepts. */
function stepsRun(steps: readonly Step[], which: (target: Target, layer: Layer) => boolean): string[] {
  return steps
    .filter((s) => s.kind === 'step' && !s.cached)
    .map((s) => layerOfStep(graph, s))
    .flatMap((hit) => ('layer' in hit && which(hit.target, hit.layer) ? [`${hit.target.name}/${hit.layer.id}`] : []))
    .sort();
}

const kernelCompiles = (steps: readonly Step[]) => stepsRun(steps, (_, layer) => KERNEL_KINDS.has(layer.kind));

const env = { REGISTRY: NS, TAG: 'ci' };
const pushedTargets = graph.targets.filter((t) => t.image).map((t) => t.name);
const templates = graph.targets.filter((t) => t.kind === 'template').map((t) => t.name).sort();
const shared = graph.targets.filter((t) => t.image && t.kind !== 'template').map((t) => t.name).sort();
const kernels = graph.targets.flatMap((t) => t.layers.filter((l) => KERNEL_KINDS.has(l.kind)).map((l) => `${t.name}/${l.id}`)).sort();

/** Executed steps of a pushed shared stage (a template job should load them all from the cache). */
const sharedStepsRun = (steps: readonly Step[]) => stepsRun(steps, (target) => shared.includes(target.name));

rtest("CI's two levels on a pruned builder: level 1 compiles each kernel once and pushes; level 2 (one job per template, reading level 1's registry cache) runs no step of a shared stage; then the registry has every identity", async (t) => {
  await engineLock(async () => {
    await prepareStubWorld();
    const first = await matrix(REPO_ROOT);
    t.deepEqual(first.shared, shared, 'a new registry: every shared stage');
    t.deepEqual(first.include.map((e) => e.target), templates);

    await pruneBuildCache();
    const level1 = await kilnBake(REPO_ROOT, [...first.shared, '--push'], env);
    t.true(level1.ok, level1.errorText);
    t.deepEqual(kernelCompiles(level1.steps), kernels, 'level 1: each (kernel, GPU) compiled exactly once');

    // A template job runs on another machine: nothing local survives.
    await removeImages(graph.targets.flatMap((x) => (x.image ? [`${NS}/${x.image.repository}:${x.image.tag}-ci`] : [])));
    await pruneBuildCache();
    const ran: string[] = [];
    for (const target of first.include.map((e) => e.target)) {
      const job = await kilnBake(REPO_ROOT, [target, '--push', '--deps-read-only'], env);
      t.true(job.ok, `${target}: ${job.errorText}`);
      ran.push(...sharedStepsRun(job.steps).map((x) => `${target}: ${x}`));
    }
    // Not only kernels: a base step run again costs minutes, and it is the
    // same defect (cache_from in src/emit/bake-functions.ts says why).
    t.deepEqual(ran, [], 'level 2 ran steps of a shared stage that level 1 had pushed');
    t.log(`level 1: ${kernelCompiles(level1.steps).length} kernel compiles for ${first.shared.length} shared targets; level 2: ${ran.length} shared steps run in ${first.include.length} template jobs`);

    const after = await matrix(REPO_ROOT);
    t.deepEqual(after, { include: [], shared: [] }, 'nothing changed: the matrix is empty');
  });
});

rtest('a generator change (a partial): kiln matrix and kiln plan --since HEAD list exactly the targets whose generated files changed', async (t) => {
  const copy = Testing.copyProject(REPO_ROOT, { withCode: true });
  t.teardown(copy.cleanup);
  const git = (args: string[]) => execa('git', ['-c', 'user.email=kiln@test', '-c', 'user.name=kiln test', ...args], { cwd: copy.root });
  await git(['init', '-q', '-b', 'main']);
  await git(['add', '-A', 'base', 'templates', 'scripts', 'bake', 'src', 'bin']);
  await git(['commit', '-qm', 'all']);
  const change = await editPartial(copy.root);
  const m = await matrix(copy.root);
  const plan = await execa('node', [`${copy.root}/bin/kiln.mjs`, 'plan', '--since', 'HEAD', '--json'], { cwd: copy.root });
  t.is((await execa('node', [`${copy.root}/bin/kiln.mjs`, 'generate'], { cwd: copy.root })).exitCode, 0);
  const expected = change.expected();
  t.true(expected.length > 0);
  t.deepEqual([...m.shared, ...m.include.map((e) => e.target)].sort(), expected.filter((n) => pushedTargets.includes(n)));
  t.deepEqual((JSON.parse(plan.stdout) as { targets: { target: string }[] }).targets.map((x) => x.target).sort(), expected);
});

rtest("delete one target's identity tag: kiln matrix lists exactly that target, in its level", async (t) => {
  const ids = (JSON.parse(readFileSync(`${REPO_ROOT}/bake/identities.json`, 'utf8')) as IdentityFile).targets;
  const untag = async (name: string) => {
    const [repo, tag] = ids[name]!.image!.split(':') as [string, string];
    t.true(await deleteRegistryTag(`${NS.slice(REGISTRY.length + 1)}/${repo}`, tag), `${name}: ${NS}/${repo}:${tag} was published`);
  };
  await untag('sdxl-rtx4090');
  const one = await matrix(REPO_ROOT);
  t.deepEqual(one.include.map((e) => e.target), ['sdxl-rtx4090']);
  t.deepEqual(one.shared, []);
  await untag('sage-rtx5090');
  const m = await matrix(REPO_ROOT);
  t.deepEqual(m.include.map((e) => e.target), ['sdxl-rtx4090']);
  t.deepEqual(m.shared, ['sage-rtx5090']);
});

etest('REGISTRY unset: a local bake asks no registry (no cache importer errors); the old default REGISTRY=kiln did', async (t) => {
  await engineLock(async () => {
    await prepareStubWorld();
    const local = await bake({ cwd: REPO_ROOT, files: ['bake/docker-bake.hcl'], targets: ['sd15-basic-rtx4090'], set: ['*.cache-to='], vars: { REGISTRY: '' } });
    t.true(local.ok, local.errorText);
    t.notRegex(local.stderr, /registry cache importer|registry-1\.docker\.io|kiln-cache/);
    // Control: a registry name that is not one (the file's old default) makes buildx look the cache up on Docker Hub.
    const old = await bake({ cwd: REPO_ROOT, files: ['bake/docker-bake.hcl'], targets: ['sd15-basic-rtx4090'], set: ['*.cache-to='], vars: { REGISTRY: 'kiln' } });
    t.regex(old.stderr, /kiln\/kiln-cache:/);
  });
});

rtest('--base-mirror / KILN_BASE_MIRROR: with the CUDA base only in a registry (none local), the build takes it from there; without the option it fails', async (t) => {
  const base = 'nvidia/cuda:12.8.1-base-ubuntu24.04';
  const mirror = `${REGISTRY}/kiln-mirror`;
  await engineLock(async () => {
    await prepareStubWorld();
    await docker(['tag', base, `${mirror}/${base}`]);
    await docker(['push', `${mirror}/${base}`], { timeout: 300_000 });
    await docker(['image', 'rm', base]);
    try {
      const without = await kilnBake(REPO_ROOT, ['base-common-cuda12-8-1'], { REGISTRY: '' });
      t.false(without.ok, 'without a mirror the base cannot be found (no local image, no internet)');
      const flag = await kilnBake(REPO_ROOT, ['base-common-cuda12-8-1', '--base-mirror', mirror], { REGISTRY: '' });
      t.true(flag.ok, flag.errorText);
      t.regex(flag.stderr, new RegExp(`${mirror.replace(/[.]/g, '\\.')}/nvidia/cuda:12\\.8\\.1-base-ubuntu24\\.04`));
      const viaEnv = await kilnBake(REPO_ROOT, ['base-common-cuda12-8-1'], { REGISTRY: '', KILN_BASE_MIRROR: mirror });
      t.true(viaEnv.ok, viaEnv.errorText);
    } finally {
      // Put the local image back for every other test (same content: re-tag the mirror's copy).
      await docker(['tag', `${mirror}/${base}`, base]);
      await docker(['image', 'rm', `${mirror}/${base}`]);
    }
  });
});
