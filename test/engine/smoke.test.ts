/**
 * Engine smoke tests: the hand-written three-target graph in
 * test/fixtures/engine-smoke/ builds on a real dockerd + BuildKit over the
 * stub world, rebuilds fully CACHED, carries the arch env to the compile
 * steps, and round-trips its cache through the loopback registry.
 * Skips visibly without an engine (see harness.engineTest).
 */
import path from 'node:path';
import test from 'ava';
import {
  REGISTRY,
  REPO_ROOT,
  STUB_BASE_IMAGE,
  bake,
  buildStubWorld,
  countByTarget,
  docker,
  engineAvailable,
  engineLock,
  engineTest,
  findStep,
  formatShimCalls,
  imageExists,
  imageHistory,
  imageLabels,
  readFileFromImage,
  readShimLog,
  registryAvailable,
  registryTags,
  removeImages,
  uncachedSteps,
  type BakeResult,
} from './harness.ts';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/engine-smoke');
const TAG = 'kiln-smoke';
const IMAGES = ['common', 'wheels', 'app'].map(t => `${TAG}/${t}:test`);
// A fresh salt per run: the first build executes every step for real.
const SALT = `${Date.now()}-${process.pid}`;
const vars = (salt = SALT) => ({ TAG, SALT: salt, BASE_IMAGE: STUB_BASE_IMAGE });

const engine = await engineAvailable();
const etest = engineTest(test, engine);

function describe(r: BakeResult): string {
  return `${r.command.join(' ')}\nexit ${r.exitCode} in ${r.durationMs} ms\n${r.errorText}`;
}

let first: BakeResult | undefined;

etest('smoke graph builds over the stub world', async t => {
  await engineLock(async () => {
    await buildStubWorld([STUB_BASE_IMAGE]);
    t.true(await imageExists(STUB_BASE_IMAGE));
    first = await bake({ cwd: FIXTURE, targets: ['app'], vars: vars() });
  });
  t.true(first!.ok, describe(first!));
  const counts = countByTarget(first!.steps);
  t.log(`first build ${first!.durationMs} ms:`, JSON.stringify(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, `${v.executed} run / ${v.cached} cached`]))));
  // Each target ran its own steps (the salt is new), and each step is
  // attributed to the target whose Dockerfile holds it.
  t.deepEqual(Object.keys(counts).sort(), ['app', 'common', 'wheels']);
  for (const target of ['common', 'wheels', 'app']) t.true(counts[target]!.executed > 0, target);
  t.is(findStep(first!.steps, 'pip wheel .')?.target, 'wheels');
  t.is(findStep(first!.steps, 'python3 -m venv')?.target, 'common');
  t.is(findStep(first!.steps, '--mount=type=bind,from=wheels')?.target, 'app');
  t.deepEqual(findStep(first!.steps, 'pip wheel .')?.targets, ['app', 'wheels']);
});

etest('second build is 100% CACHED', async t => {
  const r = await bake({ cwd: FIXTURE, targets: ['app'], vars: vars() });
  t.true(r.ok, describe(r));
  const steps = r.steps.filter(s => s.kind === 'step');
  t.true(steps.length >= 10, `only ${steps.length} steps parsed`);
  t.deepEqual(
    uncachedSteps(r.steps).map(s => `[${s.target}] ${s.name}`),
    [],
    'steps that ran again',
  );
  t.log(`cached rebuild: ${steps.length} steps CACHED in ${r.durationMs} ms`);
});

etest('shim logs show the arch env on the compile steps and the wheel in the final image', async t => {
  // A shim logs into the image it runs in: the compile steps are in the
  // wheels image's log; the final image (FROM common) logs the install.
  const built = await readShimLog(`${TAG}/wheels:test`);
  const calls = await readShimLog(`${TAG}/app:test`);
  const dump = `wheels:\n${formatShimCalls(built)}\napp:\n${formatShimCalls(calls)}`;
  const wheel = built.find(c => c.tool === 'pip' && c.argv[0] === 'wheel');
  t.truthy(wheel, dump);
  t.is(wheel!.cwd, '/src/sage');
  t.is(wheel!.env['TORCH_CUDA_ARCH_LIST'], '12.0');
  t.is(wheel!.env['MAX_JOBS'], '2');
  t.is(wheel!.env['NVCC_APPEND_FLAGS'], '--threads 2');
  t.deepEqual(wheel!.argv, ['wheel', '.', '--no-build-isolation', '--no-deps', '-w', '/wheels']);

  const configure = built.find(c => c.tool === 'cmake' && c.argv[0] === '-S');
  t.truthy(configure, dump);
  t.true(configure!.argv.includes('-DCMAKE_CUDA_ARCHITECTURES=120'), dump);

  // The wheel went in through the bind mount (glob expanded by bash).
  const install = calls.find(c => c.tool === 'pip' && c.argv.some(a => a.startsWith('/tmp/w/')));
  t.deepEqual(install?.argv, ['install', '--no-deps', '/tmp/w/sageattention-2.2.0-cp312-cp312-linux_x86_64.whl'], dump);
  // A declared ARG is in the env of every later RUN of its stage (BuildKit
  // semantics), so the arch list reaches all wheels steps after `ARG`, with
  // one value, and none of the final image's steps; no secret reaches any step.
  t.deepEqual([...new Set(built.filter(c => 'TORCH_CUDA_ARCH_LIST' in c.env).map(c => c.env['TORCH_CUDA_ARCH_LIST']))], ['12.0']);
  t.deepEqual(calls.filter(c => 'TORCH_CUDA_ARCH_LIST' in c.env), []);
  t.deepEqual([...built, ...calls].filter(c => 'HF_TOKEN' in c.env || 'CIVITAI_TOKEN' in c.env), []);
  // The wheels image's log starts with the common image's calls (same history).
  t.deepEqual(built.slice(0, 6), calls.slice(0, 6));
  t.is(built.find(c => c.tool === 'git' && c.argv.includes('checkout'))?.argv.at(-1), 'eb615cf6cf4d221338033340ee2de1c37fbdba4a');

  const freeze = await readFileFromImage(`${TAG}/app:test`, '/opt/kiln/freeze.txt');
  t.regex(freeze, /^sageattention==2\.2\.0$/m);
  t.regex(freeze, /^torch==2\.7\.1\+cu128$/m);
  const version = await readFileFromImage(`${TAG}/app:test`, '/opt/llama/VERSION');
  t.regex(version, /built with: GGML_CUDA=ON GGML_BACKEND_DL=ON CMAKE_CUDA_ARCHITECTURES=120 /);

  t.is((await imageLabels(`${TAG}/app:test`))['kiln.stub-world'], '1');
  const history = await imageHistory(`${TAG}/app:test`);
  t.true(history.some(h => h.createdBy.includes('pip install --no-deps /tmp/w/*.whl')), history.map(h => h.createdBy).join('\n'));
});

etest('registry cache round trip: prune, rebuild from cache-from, heavy steps CACHED', async t => {
  if (!(await registryAvailable())) {
    t.fail(`no registry at http://${REGISTRY}/v2/ (tools/engine.sh up starts one)`);
    return;
  }
  const salt = `${SALT}-registry`;
  const cacheRef = `${REGISTRY}/kiln-cache/smoke-wheels`;
  const pushed = `${REGISTRY}/kiln-smoke/wheels:test`;
  const set = [
    `wheels.cache-from=type=registry,ref=${cacheRef}`,
    `wheels.tags=${pushed}`,
  ];
  await engineLock(async () => {
    const t0 = Date.now();
    const exported = await bake({
      cwd: FIXTURE,
      targets: ['wheels'],
      vars: vars(salt),
      set: [...set, `wheels.cache-to=type=registry,ref=${cacheRef},mode=max`, 'wheels.output=type=registry'],
    });
    t.true(exported.ok, describe(exported));
    t.true(countByTarget(exported.steps)['wheels']!.executed > 0, 'first build should execute (fresh salt)');
    t.true((await registryTags('kiln-cache/smoke-wheels')).includes('latest'));
    t.true((await registryTags('kiln-smoke/wheels')).includes('test'));

    const t1 = Date.now();
    // Forget everything local except the stub base image.
    await docker(['builder', 'prune', '-af']);
    await removeImages([...IMAGES, pushed]);
    const t2 = Date.now();
    t.true(await imageExists(STUB_BASE_IMAGE));

    const again = await bake({ cwd: FIXTURE, targets: ['wheels'], vars: vars(salt), set });
    t.true(again.ok, describe(again));
    const counts = countByTarget(again.steps);
    t.log(`export+push ${t1 - t0} ms, prune+rmi ${t2 - t1} ms, rebuild from registry cache ${again.durationMs} ms`);
    t.log(`after prune, with cache-from: ${JSON.stringify(counts)}`);
    for (const heavy of ['pip wheel .', 'cmake --build']) {
      const step = findStep(again.steps, heavy);
      t.truthy(step, heavy);
      t.true(step!.cached, `${heavy} should come from the registry cache`);
    }
    t.deepEqual(uncachedSteps(again.steps).map(s => `[${s.target}] ${s.name}`), [], 'steps not restored from the registry cache');

    // Control: the same rebuild WITHOUT cache-from after a prune executes, so
    // the CACHED above came from the registry, not from leftovers.
    await docker(['builder', 'prune', '-af']);
    const control = await bake({ cwd: FIXTURE, targets: ['wheels'], vars: vars(salt), set: [`wheels.tags=${pushed}`] });
    t.true(control.ok, describe(control));
    t.false(findStep(control.steps, 'cmake --build')!.cached, 'without cache-from the heavy step must run');
  });
});

etest('identical targets sharing local contexts: rebuild CACHED through a target: context or a metadata-only variant', async t => {
  const dir = path.join(FIXTURE, 'shared-context');
  await engineLock(async () => {
    await buildStubWorld([STUB_BASE_IMAGE]);
    const misses: Record<string, number[]> = { local: [], 'via-target': [], variant: [] };
    for (const group of ['local', 'via-target', 'variant'] as const) {
      const firstBuild = await bake({ cwd: dir, targets: [group] });
      t.true(firstBuild.ok, describe(firstBuild));
      for (let i = 0; i < 2; i++) {
        const r = await bake({ cwd: dir, targets: [group] });
        t.true(r.ok, describe(r));
        misses[group]!.push(uncachedSteps(r.steps).length);
      }
    }
    // Known buildx 0.13 / BuildKit behaviour (logged, not asserted: a newer
    // BuildKit may fix it): the "local" group re-runs COPYs on rebuilds.
    t.log(`uncached steps on 2 rebuilds: local ${JSON.stringify(misses['local'])}, via target: ${JSON.stringify(misses['via-target'])}, variant: ${JSON.stringify(misses['variant'])}`);
    t.deepEqual(misses['via-target'], [0, 0]);
    t.deepEqual(misses['variant'], [0, 0]);
  });
});
