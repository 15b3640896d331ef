/**
 * The generated graph, built UNMODIFIED by a real dockerd + BuildKit over the
 * stub world (DESIGN "Testing pyramid" 5; issue: prove the generated graph).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { loadProject } from '../../src/dsl/load.ts';
import { synth } from '../../src/emit/synth.ts';
import { resolveGraph } from '../../src/graph/resolve.ts';
import { buildClosure } from '../../src/graph/select.ts';
import { filebrowserUrl } from '../../src/graph/stages.ts';
import type { BuildGraph } from '../../src/graph/types.ts';
import { Testing } from '../../src/testing.ts';
import {
  bake,
  bakeGenerated,
  bakePrint,
  docker,
  engineAvailable,
  engineLock,
  engineTest,
  formatShimCalls,
  imageHistory,
  imageInspect,
  prepareStubWorld,
  pruneBuildCache,
  readFileFromImage,
  readShimLog,
  REGISTRY,
  registryAvailable,
  REPO_ROOT,
  removeImages,
  type ShimCall,
  uncachedSteps,
} from './harness.ts';
import { bakeEachTarget, executedLayers } from './graph-map.ts';

// Every await comes before the first test is declared (ava needs declarations to be
// synchronous, and engineTest declares a visible skip notice when there is no engine).
/** Paths only the devel flavour has (tools/stub-world/upstream.json, cuda.12.8.devel_only). */
const DEVEL_ONLY = (JSON.parse(readFileSync(join(REPO_ROOT, 'tools/stub-world/upstream.json'), 'utf8')) as { cuda: Record<string, { devel_only: string[] }> }).cuda['12.8']!
  .devel_only;
const engine = await engineAvailable();
const project = await loadProject(REPO_ROOT);
const graph: BuildGraph = resolveGraph(project);
const registryUp = engine.available && (await registryAvailable());
const etest = engineTest(test, engine);
const rtest = !engine.available || registryUp ? etest : (title: string) => test.skip(`${title} (skipped: no registry at ${REGISTRY}; tools/engine.sh up starts one)`, () => {});
const published = graph.targets.filter((t) => t.image);
const registry = `${REGISTRY}/kiln-test`;
const ref = (target: string, tag = 'test') => {
  const t = graph.targets.find((x) => x.name === target)!;
  return `${registry}/${t.image!.repository}:${t.image!.tag}-${tag}`;
};

etest('buildx bake --print accepts the file; its targets and contexts equal Kiln graph', async (t) => {
  const printed = (await bakePrint({ cwd: REPO_ROOT, files: ['bake/docker-bake.hcl'], targets: graph.targets.map((x) => x.name) })) as {
    target: Record<string, { contexts?: Record<string, string>; dockerfile?: string }>;
  };
  t.deepEqual(Object.keys(printed.target).sort(), graph.targets.map((x) => x.name).sort());
  for (const target of graph.targets) {
    const want = Object.fromEntries(Object.entries(target.contexts).map(([n, c]) => [n, 'target' in c ? `target:${c.target}` : c.local]));
    t.deepEqual(printed.target[target.name]!.contexts ?? {}, want, target.name);
  }
});

etest('every target builds (one per invocation, from a pruned builder); a second build is 100% CACHED; each kernel image holds one compile', async (t) => {
  await engineLock(async () => {
    await prepareStubWorld();
    // Each (kernel, GPU) compiled exactly once in ONE invocation of every shared stage: test/engine/ci.test.ts (CI's level 1).
    const templates = published.filter((x) => x.kind === 'template').length;
    // Every target: the published images plus the node checkouts they read.
    const built = `${buildClosure(graph, published.map((x) => x.name)).length} targets (${published.length} images, ${templates} of them template x GPU)`;

    // Cold, one target per invocation (see bakeEachTarget): the build the rebuild is compared with.
    await pruneBuildCache();
    const first = await bakeEachTarget(graph, (name) => bakeGenerated({ targets: [name], vars: { REGISTRY: registry } }));
    t.deepEqual(first, [], 'per-target cold build');
    const again = await bakeGenerated({ targets: published.map((x) => x.name), vars: { REGISTRY: registry } });
    t.true(again.ok, again.errorText);
    const steps = again.steps.filter((s) => s.kind === 'step');
    const rerun = uncachedSteps(again.steps);
    t.deepEqual(rerun.map((s) => s.rawName), [], 'a rebuild with no change must be fully CACHED');
    t.log(`rebuild: ${steps.filter((s) => s.cached).length}/${steps.length} steps CACHED in ${(again.durationMs / 1000).toFixed(1)} s`);
    console.log(`[engine] built ${built}; rebuild: ${steps.filter((s) => s.cached).length}/${steps.length} steps CACHED`);

    // In the images: each heavy stage's shim log holds exactly one compile.
    const count = (calls: ShimCall[], tool: string, arg: string) => calls.filter((c) => c.tool === tool && c.argv.includes(arg)).length;
    for (const gpu of ['rtx4090', 'rtx5090']) {
      t.is(count(await readShimLog(ref(`sage-${gpu}`)), 'pip', 'wheel'), 1, `sage-${gpu}`);
      t.is(count(await readShimLog(ref(`llama-${gpu}`)), 'cmake', '--build'), 1, `llama-${gpu}`);
    }
    t.is(count(await readShimLog(ref('flash-rtx5090')), 'pip', 'wheel'), 1);
  });
});

const archOf = (calls: ShimCall[], tool: string, key: string): string[] =>
  calls.filter((c) => c.tool === tool).flatMap((c) => [c.env[key], ...c.argv.filter((a) => a.startsWith(`-D${key}=`)).map((a) => a.split('=')[1])].filter((v): v is string => Boolean(v)));

etest('compile steps saw the right arch; a template without a feature has no trace of it', async (t) => {
  await engineLock(async () => {
    await prepareStubWorld();
    const r = await bakeGenerated({ targets: published.map((x) => x.name), vars: { REGISTRY: registry } });
    t.true(r.ok, r.errorText);
    const sage5 = await readShimLog(ref('sage-rtx5090'));
    const sage4 = await readShimLog(ref('sage-rtx4090'));
    t.deepEqual(archOf(sage5, 'pip', 'TORCH_CUDA_ARCH_LIST'), ['12.0'], formatShimCalls(sage5));
    t.deepEqual(archOf(sage4, 'pip', 'TORCH_CUDA_ARCH_LIST'), ['8.9'], formatShimCalls(sage4));
    t.deepEqual(archOf(await readShimLog(ref('flash-rtx5090')), 'pip', 'FLASH_ATTN_CUDA_ARCHS'), ['120']);
    t.deepEqual(archOf(await readShimLog(ref('llama-rtx5090')), 'cmake', 'CMAKE_CUDA_ARCHITECTURES'), ['120']);
    t.deepEqual(archOf(await readShimLog(ref('llama-rtx4090')), 'cmake', 'CMAKE_CUDA_ARCHITECTURES'), ['89']);
    for (const target of ['sage-rtx5090', 'flash-rtx5090', 'llama-rtx5090', 'flux1-dev-rtx5090']) {
      const text = (await readShimLog(ref(target))).map((c) => `${Object.values(c.env).join(' ')} ${c.argv.join(' ')}`).join('\n');
      t.notRegex(text, /(ARCH[A-Z_]*=|ARCHITECTURES=)[^\n]*\b(9\.0|10\.0|90|100)\b/, target);
    }
    // flux1-dev has Sage and Flash installed from the builders' wheels; sd15-basic has neither, nor llama.
    const flux = (await readShimLog(ref('flux1-dev-rtx5090'))).filter((c) => (c.tool === 'pip' || c.tool === 'uv') && c.argv.includes('--no-deps'));
    t.true(flux.some((c) => c.argv.some((a) => a.includes('sageattention'))), formatShimCalls(flux));
    t.true(flux.some((c) => c.argv.some((a) => a.includes('flash_attn'))), formatShimCalls(flux));
    const sd15 = await readShimLog(ref('sd15-basic-rtx5090'));
    t.notRegex(JSON.stringify(sd15), /sage|flash|llama/i);
    const sd15Files = await docker(['run', '--rm', '--entrypoint', '/bin/sh', ref('sd15-basic-rtx5090'), '-c', 'ls /opt; ls /opt/venv/lib/python3.12/site-packages 2>/dev/null || true']);
    t.notRegex(sd15Files.stdout, /llama|sageattention|flash_attn/);
    const llm = await docker(['run', '--rm', '--entrypoint', '/bin/sh', ref('llm-prompt-rtx4090'), '-c', '/opt/llama/llama-server --version']);
    t.regex(llm.stdout, /CMAKE_CUDA_ARCHITECTURES=89/);

    // Two chains: no template image holds what only the devel image has (nvcc, headers, link-time
    // stubs: the stub world marks them in upstream.json); the kernel builders' images do.
    const present = async (image: string) =>
      (await docker(['run', '--rm', '--entrypoint', '/bin/sh', image, '-c', `for p in ${DEVEL_ONLY.join(' ')}; do [ -e "$p" ] && echo "$p"; done; true`])).stdout
        .split('\n')
        .filter(Boolean);
    for (const target of published.filter((x) => x.kind === 'template')) t.deepEqual(await present(ref(target.name)), [], target.name);
    for (const target of ['sage-rtx5090', 'llama-rtx4090']) t.true((await present(ref(target))).includes('/usr/local/cuda-12.8/bin/nvcc'), target);
  });
});

etest('images carry the runtime, manifest, nodes lock, FileBrowser and JupyterLab at the documented paths; ENTRYPOINT runs start.sh', async (t) => {
  await engineLock(async () => {
    await prepareStubWorld();
    const r = await bakeGenerated({ targets: ['sd15-basic-rtx5090'], vars: { REGISTRY: registry } });
    t.true(r.ok, r.errorText);
    const image = ref('sd15-basic-rtx5090');
    const files = synth(graph);
    t.is(await readFileFromImage(image, '/opt/kiln/manifest/models.json'), files.get('bake/manifests/sd15-basic/models.json')!);
    t.is(await readFileFromImage(image, '/opt/kiln/manifest/nodes.lock.json'), files.get('bake/manifests/sd15-basic/nodes.lock.json')!);
    t.is(await readFileFromImage(image, '/opt/kiln/scripts/start.sh'), readFileSync(join(REPO_ROOT, 'scripts/start.sh'), 'utf8'));
    t.truthy(await readFileFromImage(image, '/opt/ComfyUI/user/default/workflows/txt2img.json'));
    const info = await imageInspect(image);
    t.deepEqual(info.Config.Entrypoint, ['/opt/kiln/scripts/start.sh']);
    t.is(info.Config.Labels?.['kiln.sm'], 'sm_120');
    t.is(info.Config.Labels?.['kiln.features'], 'none');
    t.deepEqual(Object.keys(info.Config.ExposedPorts ?? {}).sort(), ['22/tcp', '8080/tcp', '8188/tcp', '8888/tcp', '9188/tcp']);
    const mode = await docker(['run', '--rm', '--entrypoint', '/bin/sh', image, '-c', 'test -x /opt/kiln/scripts/start.sh && echo executable']);
    t.is(mode.stdout.trim(), 'executable');
    // start.sh finds both on PATH (FILEBROWSER_BIN=filebrowser, JUPYTER_BIN=jupyter; the venv is on PATH).
    const { filebrowser, jupyterlab } = project.bases[0]!.def;
    const fbRun = await docker(['run', '--rm', '--entrypoint', 'filebrowser', image]);
    t.is(fbRun.stdout.trim(), `filebrowser ${filebrowser.version} (kiln stub)`, 'the release archive is unpacked to /usr/local/bin');
    const calls = await readShimLog(image);
    const download = calls.findIndex((c) => c.tool === 'curl' && c.argv.includes(filebrowserUrl(filebrowser.version)));
    t.true(download >= 0, 'FileBrowser comes from its pinned release URL');
    t.deepEqual(calls[download + 1]?.tool, 'sha256sum', 'and is checked (sha256sum -c) right after the download');
    // Installed with uv into the venv (README "uv"), under the venv's constraints.
    const jupyter = calls.find((c) => c.tool === 'uv' && c.argv.some((a) => a.startsWith('jupyterlab==')));
    t.deepEqual(jupyter?.argv, ['pip', 'install', `jupyterlab==${jupyterlab}`, '-c', '/opt/kiln/constraints.txt']);
    const meta = await readFileFromImage(image, `/opt/venv/lib/python3.12/site-packages/jupyterlab-${jupyterlab}.dist-info/METADATA`);
    t.regex(meta, new RegExp(`^Version: ${jupyterlab.replace(/\./g, '\\.')}$`, 'm'), 'jupyterlab is installed in the image venv');
    t.is((await docker(['run', '--rm', '--entrypoint', 'jupyter', image, '--version'])).exitCode, 0, 'the jupyter command is on PATH');
    // The image carries its proof: the spec it was checked against and the report of the run.
    const report = JSON.parse(await readFileFromImage(image, '/opt/kiln/checks/report.json')) as { image: string; checks: { id: string; status: string }[] };
    const spec = JSON.parse(await readFileFromImage(image, '/opt/kiln/checks/spec.json')) as { checks: { id: string }[] };
    t.is(report.image, 'sd15-basic-rtx5090');
    t.deepEqual(report.checks.map((c) => `${c.id}:${c.status}`), spec.checks.map((c) => `${c.id}:passed`));
  });
});

etest('tokens in the environment reach no image history, config, label, shim log or generated file', async (t) => {
  const secrets = { HF_TOKEN: 'hf_kilnTestSecret0123456789', CIVITAI_TOKEN: 'civitai-kiln-test-secret-987', RUNPOD_API_KEY: 'rpa_kiln_test_secret' };
  const saved = { ...process.env };
  Object.assign(process.env, secrets);
  try {
    await engineLock(async () => {
      await prepareStubWorld();
      const r = await bakeGenerated({ targets: ['flux1-dev-rtx5090', 'llm-prompt-rtx5090'], vars: { REGISTRY: registry, ...secrets } });
      t.true(r.ok, r.errorText);
      for (const target of ['flux1-dev-rtx5090', 'llm-prompt-rtx5090']) {
        const blob = JSON.stringify([await imageInspect(ref(target)), await imageHistory(ref(target)), await readShimLog(ref(target))]);
        for (const [name, value] of Object.entries(secrets)) t.false(blob.includes(value), `${name} leaked into ${target}`);
      }
    });
  } finally {
    process.env = saved;
  }
  for (const [path, text] of synth(graph)) for (const value of Object.values(secrets)) t.false(text.includes(value), path);
});

rtest('registry cache: push one template (mode=max), prune everything local, rebuild: heavy steps come back CACHED', async (t) => {
  await engineLock(async () => {
    await prepareStubWorld();
    const target = 'flux1-dev-rtx5090';
    const pushed = await bakeGenerated({ targets: [target], cache: 'registry', push: true, vars: { REGISTRY: registry } });
    t.true(pushed.ok, pushed.errorText);
    await removeImages(published.map((x) => ref(x.name)));
    await pruneBuildCache();
    // Rebuild reading the registry cache only (the target's own cache-from).
    const rebuilt = await bakeGenerated({ targets: [target], cache: 'registry', set: ['*.cache-to='], vars: { REGISTRY: registry } });
    t.true(rebuilt.ok, rebuilt.errorText);
    const heavy = rebuilt.steps.filter((s) => s.kind === 'step' && /pip wheel \. --no-build-isolation/.test(s.name));
    t.is(heavy.length, 2, 'Sage and Flash wheel builds');
    t.true(heavy.every((s) => s.cached), heavy.map((s) => `${s.rawName} cached=${s.cached}`).join('\n'));
    const cached = rebuilt.steps.filter((s) => s.kind === 'step' && s.cached).length;
    t.log(`after prune: ${cached}/${rebuilt.steps.filter((s) => s.kind === 'step').length} steps of ${target} CACHED from ${registry}`);
  });
});

etest('a broken generated Dockerfile fails with a message that names the target', async (t) => {
  const copy = Testing.copyProject(REPO_ROOT);
  t.teardown(copy.cleanup);
  // wan-video-rtx5090 builds its own files (Sage differs per GPU), so its Dockerfile COPYs the runtime.
  const file = join(copy.root, 'bake/dockerfiles/wan-video-rtx5090.Dockerfile');
  const text = readFileSync(file, 'utf8');
  const { writeFileSync } = await import('node:fs');
  const broken = text.replace('COPY --from=runtime . ', 'COPY --from=runtme . ');
  t.not(broken, text);
  writeFileSync(file, broken);
  await engineLock(async () => {
    await prepareStubWorld();
    const r = await bake({ cwd: copy.root, files: ['bake/docker-bake.hcl'], targets: ['wan-video-rtx5090'], set: ['*.cache-to=', '*.cache-from='], vars: { REGISTRY: registry, TAG: 'broken' } });
    t.false(r.ok);
    t.regex(r.errorText, /wan-video-rtx5090/);
    t.log(r.errorText.split('\n').filter(Boolean).slice(0, 3).join('\n'));
  });
});
