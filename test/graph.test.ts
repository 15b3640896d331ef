import test from 'ava';
import type { CheckSpec } from '../src/graph/checks.ts';
import type { BuildGraph } from '../src/graph/types.ts';
import { imageSize } from '../src/graph/sizes.ts';
import { CUDA_FLAVOURS } from '../src/facts/cuda-images.ts';
import { loadProject } from '../src/dsl/load.ts';
import { HEAVY_KINDS } from '../src/graph/layer-kinds.ts';
import { expectedCost, orderLayers } from '../src/graph/order.ts';
import { resolveGraph } from '../src/graph/resolve.ts';
import { buildClosure, selectTargets } from '../src/graph/select.ts';
import { Testing } from '../src/testing.ts';
import { defineBase, defineGpu } from '../src/dsl/index.ts';
import { common, project, repoRoot, rtx4090, rtx5090, template } from './helpers/fixtures.ts';

const repoGraph = loadProject(repoRoot).then(resolveGraph);

test('the repo graph has DESIGN boxes, and kernels only where some template enables them', async (t) => {
  const g = await repoGraph;
  const names = g.targets.map((x) => x.name);
  for (const n of ['base-common-cuda12-8-1', 'torch-rtx4090', 'torch-rtx5090', 'base-rtx4090', 'base-rtx5090']) t.true(names.includes(n), n);
  // flux1-dev (rtx5090 only) is the only template with flash: no flash-rtx4090.
  t.true(names.includes('flash-rtx5090'));
  t.false(names.includes('flash-rtx4090'));
  t.true(names.includes('sage-rtx4090') && names.includes('sage-rtx5090'));
  t.true(names.includes('llama-rtx4090') && names.includes('llama-rtx5090'));
  t.true(names.includes('sd15-basic-rtx4090') && names.includes('sd15-basic-rtx5090'));
});

test('no feature enabled anywhere means no target for it', (t) => {
  const g = Testing.graph(project());
  t.deepEqual(
    g.targets.map((x) => x.name),
    [
      'base-common-cuda12-8-1',
      'base-rtx4090',
      'base-rtx5090',
      'demo-rtx4090',
      'demo-rtx5090',
      // The demo template's one custom node: its folder name "node-one", commit aaaaaaa...
      'node-node-one-aaaaaaa',
      'torch-rtx4090',
      'torch-rtx5090',
    ],
  );
});

test('every context names an existing target, and templates read kernels by context only when enabled', async (t) => {
  const g = await repoGraph;
  const names = new Set(g.targets.map((x) => x.name));
  for (const target of g.targets) {
    for (const [ctx, src] of Object.entries(target.contexts)) {
      if ('target' in src) t.true(names.has(src.target), `${target.name}: context ${ctx} -> ${src.target}`);
    }
  }
  const nodeContexts = (t: { contexts: object }) => Object.keys(t.contexts).filter((c) => c.startsWith('node-'));
  const sd15 = Testing.target(g, 'sd15-basic-rtx4090');
  t.deepEqual(Object.keys(sd15.contexts).filter((c) => !c.startsWith('node-')).sort(), ['base', 'runtime', 'workflows']);
  // sd15-basic pins ComfyUI-Custom-Scripts 2c09d59... and rgthree-comfy 32142fe...
  t.deepEqual(nodeContexts(sd15).sort(), ['node-comfyui-custom-scripts-2c09d59', 'node-rgthree-comfy-32142fe']);
  const flux = Testing.target(g, 'flux1-dev-rtx5090');
  t.deepEqual(Object.keys(flux.contexts).filter((c) => !c.startsWith('node-')).sort(), ['base', 'flash', 'runtime', 'sage']);
  // Local directories: scripts/ as `runtime` and the template's own workflows/, read only by templates.
  for (const target of g.targets) {
    for (const [ctx, c] of Object.entries(target.contexts)) {
      if (!('local' in c)) continue;
      const want = ctx === 'runtime' ? 'scripts' : `templates/${target.template}/workflows`;
      t.is(target.kind, 'template', `${target.name} reads ${c.local}`);
      t.is(c.local, want, `${target.name}: context ${ctx}`);
    }
  }
  // llama builds on the devel base, not base-common: an apt change in base-common cannot reach it.
  t.deepEqual(Testing.target(g, 'llama-rtx4090').from, { context: 'devel' });
  t.deepEqual(Testing.target(g, 'llama-rtx4090').contexts, { devel: { target: 'devel-cuda12-8-1' } });
  t.deepEqual(Testing.target(g, 'devel-cuda12-8-1').from, { image: 'nvidia/cuda:12.8.1-devel-ubuntu24.04' });
});

/** The images a target's FROM chain rests on, following named contexts down to an image. */
function chainImage(g: BuildGraph, name: string): string {
  const t = Testing.target(g, name);
  if ('image' in t.from) return t.from.image;
  const src = t.contexts[t.from.context]!;
  return chainImage(g, (src as { target: string }).target);
}

test('two chains: no template image rests on a devel image; kernel builders do, against the image\'s own torch', async (t) => {
  const g = await repoGraph;
  const templates = g.targets.filter((x) => x.kind === 'template');
  t.true(templates.length > 0);
  for (const x of templates) {
    t.is(chainImage(g, x.name), 'nvidia/cuda:12.8.1-base-ubuntu24.04', x.name);
    // Nor does any step of theirs copy from a devel-based target but the kernels' wheels and llama's files.
    for (const [ctx, c] of Object.entries(x.contexts)) {
      if (!('target' in c) || ctx === 'base') continue;
      const from = chainImage(g, c.target);
      if (from.includes('devel')) t.true(['sage', 'flash', 'llama'].includes(ctx), `${x.name} reads ${c.target} (${from})`);
    }
  }
  for (const x of g.targets.filter((y) => ['sage', 'flash', 'llama'].includes(y.kind))) {
    t.is(chainImage(g, x.name), 'nvidia/cuda:12.8.1-devel-ubuntu24.04', x.name);
    if (x.kind === 'llama') continue;
    // Built against torch-<gpu>'s venv, bind-mounted: the torch the image runs.
    t.deepEqual(x.contexts.torch, { target: `torch-${x.gpu}` });
    const build = x.layers.find((l) => l.id === 'build')!;
    t.deepEqual(build.uses, ['torch']);
  }
  // A template that opts in to the toolkit gets it from the devel base, validated by its reason.
  const opted = Testing.graph(project({ templates: [template({ cudaDevel: { reason: 'a node compiles CUDA code at install' } })] }));
  const demo = Testing.target(opted, 'demo-rtx4090');
  t.deepEqual(demo.contexts.devel, { target: 'devel-cuda12-8-1' });
  const ids = demo.layers.map((l) => l.id);
  t.true(ids.indexOf('cuda-devel') < ids.indexOf('node-reqs:node-one'), 'the toolkit comes before any node requirement');
});

test('heavy compiles live in one target per (kernel, GPU), whatever the number of templates', async (t) => {
  const g = await repoGraph;
  const heavy = g.targets.flatMap((x) => x.layers.filter((l) => HEAVY_KINDS.has(l.kind)).map((l) => `${l.kind}@${x.name}`));
  t.deepEqual(heavy.sort(), [
    'flash-build@flash-rtx5090',
    'llama-build@llama-rtx4090',
    'llama-build@llama-rtx5090',
    'sage-build@sage-rtx4090',
    'sage-build@sage-rtx5090',
  ]);
});

test('groups: default, one per template, one per GPU; members exist', async (t) => {
  const g = await repoGraph;
  const names = new Set(g.targets.map((x) => x.name));
  const groups = Object.fromEntries(g.groups.map((x) => [x.name, x.targets]));
  t.deepEqual(groups['sd15-basic'], ['sd15-basic-rtx4090', 'sd15-basic-rtx5090']);
  t.deepEqual(groups['flux1-dev'], ['flux1-dev-rtx5090']);
  t.true(groups.rtx5090!.includes('flux1-dev-rtx5090'));
  t.false(groups.rtx4090!.includes('flux1-dev-rtx5090'));
  for (const grp of g.groups) for (const m of grp.targets) t.true(names.has(m), `${grp.name} -> ${m}`);
});

test('selectTargets: template, --gpu, group and errors', async (t) => {
  const g = await repoGraph;
  t.deepEqual(selectTargets(g, ['sd15-basic']), ['sd15-basic-rtx4090', 'sd15-basic-rtx5090']);
  t.deepEqual(selectTargets(g, ['sd15-basic'], 'rtx5090'), ['sd15-basic-rtx5090']);
  t.deepEqual(selectTargets(g, ['sage-rtx4090']), ['sage-rtx4090']);
  t.throws(() => selectTargets(g, ['sd15']), { message: /unknown template, group or target "sd15"/ });
  t.throws(() => selectTargets(g, ['flux1-dev'], 'rtx4090'), { message: /no target for GPU "rtx4090"/ });
  t.throws(() => selectTargets(g, ['sd15-basic'], 'h100'), { message: /unknown GPU "h100"/ });
  const closure = buildClosure(g, ['flux1-dev-rtx5090']).map((x) => x.name);
  t.deepEqual(closure.slice(-1), ['flux1-dev-rtx5090']);
  t.true(closure.indexOf('torch-rtx5090') < closure.indexOf('sage-rtx5090'));
});

test('layer order: dependencies hold, and rare+expensive work comes first', (t) => {
  const layers = [
    { id: 'scripts', after: [], cost: 0.02, volatility: 0.25 },
    { id: 'clone', after: [], cost: 0.2, volatility: 0.1 },
    { id: 'reqs', after: ['clone'], cost: 1, volatility: 0.1 },
    { id: 'kernel', after: [], cost: 0.3, volatility: 0.02 },
  ];
  const order = orderLayers(layers).map((l) => l.id);
  t.deepEqual(order, ['kernel', 'clone', 'reqs', 'scripts']);
  // The chosen order is no worse than the reverse topological alternative.
  const alt = ['scripts', 'clone', 'reqs', 'kernel'].map((id) => layers.find((l) => l.id === id)!);
  t.true(expectedCost(orderLayers(layers)) < expectedCost(alt));
});

test('content keys: a node edit changes only that template, a ComfyUI bump changes every base and template', (t) => {
  const before = Testing.graph(project({ templates: [template(), template({ name: 'other' })] }));
  const edited = Testing.graph(
    project({ templates: [template({ nodes: [...template().nodes!, { name: 'x', repo: 'https://github.com/o/x', commit: 'e'.repeat(40), requirements: true }] }), template({ name: 'other' })] }),
  );
  const keys = (g: typeof before) => Object.fromEntries(g.targets.map((x) => [x.name, x.key]));
  const a = keys(before);
  const b = keys(edited);
  const changed = Object.keys(a).filter((n) => a[n] !== b[n]).sort();
  t.deepEqual(changed, ['demo-rtx4090', 'demo-rtx5090']);

  const bumped = Testing.graph(
    project({
      base: defineBase({ ...common, comfyui: { ...common.comfyui, commit: 'f'.repeat(40) } }),
      templates: [template(), template({ name: 'other' })],
    }),
  );
  const c = keys(bumped);
  t.deepEqual(
    Object.keys(a).filter((n) => a[n] !== c[n]).sort(),
    ['base-rtx4090', 'base-rtx5090', 'demo-rtx4090', 'demo-rtx5090', 'other-rtx4090', 'other-rtx5090'],
  );
  // The node checkout (node-node-one-aaaaaaa) is not in that list: a ComfyUI bump does not re-clone nodes.
  t.true('node-node-one-aaaaaaa' in c);
  // The added node got its own checkout target.
  t.deepEqual(Object.keys(b).filter((n) => !(n in a)), ['node-x-eeeeeee']);
});

test('custom nodes: one checkout target per pinned node, shared by templates and GPUs, cloned on base-common', async (t) => {
  const g = await repoGraph;
  const kj = 'node-comfyui-kjnodes-3f20054';
  const users = g.targets.filter((x) => Object.values(x.contexts).some((c) => 'target' in c && c.target === kj)).map((x) => x.name);
  // flux1-dev (rtx5090) and wan-video (both GPUs) pin ComfyUI-KJNodes at 3f20054...
  t.deepEqual(users.sort(), ['flux1-dev-rtx5090', 'wan-video-rtx4090', 'wan-video-rtx5090']);
  const node = Testing.target(g, kj);
  t.is(node.kind, 'node');
  t.is(node.image, null);
  t.deepEqual(node.from, { context: 'base-common' });
  t.deepEqual(node.contexts, { 'base-common': { target: 'base-common-cuda12-8-1' } });
  t.deepEqual(node.layers.map((l) => l.kind), ['node-clone']);
  const wan = Testing.target(g, 'wan-video-rtx4090');
  const copy = wan.layers.find((l) => l.id === 'node-copy:ComfyUI-KJNodes')!;
  t.deepEqual(copy.uses, [kj]);
  t.is(copy.params.dest, '/opt/ComfyUI/custom_nodes/ComfyUI-KJNodes');
  // requirements install right after their copy
  const ids = wan.layers.map((l) => l.id);
  t.is(ids.indexOf('node-reqs:ComfyUI-KJNodes'), ids.indexOf('node-copy:ComfyUI-KJNodes') + 1);
});

test('GPU variants with equal files: one builds (checks covering both GPUs), the other is FROM it with its own metadata', (t) => {
  // Two GPUs with the same torch wheels and a template that compiles no kernel: equal files.
  const twin = defineGpu({ ...rtx5090, torch: { ...rtx4090.torch } });
  const g = Testing.graph(project({ gpus: [rtx4090, twin], templates: [template({ gpus: [rtx4090, twin] })] }));
  const primary = Testing.target(g, 'demo-rtx4090');
  const variant = Testing.target(g, 'demo-rtx5090');
  t.is(primary.variantOf, undefined);
  t.is(variant.variantOf, 'demo-rtx4090');
  t.deepEqual(variant.from, { context: 'variant' });
  t.deepEqual(variant.contexts, { variant: { target: 'demo-rtx4090' } });
  t.deepEqual(variant.layers, []);
  t.is(variant.key, primary.key);
  t.not(variant.imageKey, primary.imageKey);
  t.is(variant.env.KILN_GPU, 'rtx5090');
  t.is(variant.env.KILN_SM, 'sm_120', 'start.sh compares it with the GPU it finds');
  t.is(primary.env.KILN_SM, 'sm_89');
  t.is(variant.labels['kiln.sm'], 'sm_120');
  // The primary's checks run once for both: torch must have code for sm_89 and sm_120.
  const spec = primary.layers.find((l) => l.kind === 'check-spec')!.params.spec as CheckSpec;
  t.deepEqual(spec.targets, ['demo-rtx4090', 'demo-rtx5090']);
  t.deepEqual((spec.checks.find((c) => c.id === 'torch')!.gpus as unknown[]), [{ name: 'rtx4090', sm: 89 }, { name: 'rtx5090', sm: 120 }]);

  // Sage is compiled per GPU arch, so wan-video's two images differ and both build.
  const sage = Testing.graph(project({ gpus: [rtx4090, twin], templates: [template({ gpus: [rtx4090, twin], features: { sage: true } })] }));
  t.is(Testing.target(sage, 'demo-rtx5090').variantOf, undefined);
  // So do GPUs with other torch pins (the repo's profiles: xformers only on the 4090).
  const own = Testing.graph(project({ gpus: [rtx4090, rtx5090], templates: [template({ gpus: [rtx4090, rtx5090] })] }));
  t.is(Testing.target(own, 'demo-rtx5090').variantOf, undefined);
  t.true(Testing.target(own, 'demo-rtx5090').layers.length > 0);
});

test('a layers override that puts the runtime COPY below the manifests, making two templates copy scripts/ alike, is refused', (t) => {
  // Same nodes and a runtime made "rare and cheap": it would sit right on base-<gpu> in both templates.
  const layers = { runtime: { volatility: 0.001 } };
  const err = t.throws(() => Testing.graph(project({ templates: [template({ layers }), template({ name: 'other', layers })] })));
  t.regex(err!.message, /demo-rtx4090\/runtime and other-rtx4090\/runtime would run the same COPY from a local directory/);
  t.regex(err!.message, /fix: keep the manifests layer before workflows and runtime/);
});

test('a prebuilt kernel wheel replaces its builder: no flash-<gpu> target, a checked download in the template, and an arch check that the wheel runs on the GPU', (t) => {
  const url = 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl';
  const sha256 = 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb';
  const gpu = defineGpu({ ...rtx5090, flash: { wheel: { url, sha256 } } });
  const g = Testing.graph(project({ gpus: [rtx4090, gpu], templates: [template({ gpus: [gpu], features: { flash: true } })] }));
  t.false(g.targets.some((x) => x.name === 'flash-rtx5090'));
  t.false(g.targets.some((x) => x.kind === 'devel'), 'nothing compiles, so no devel image');
  const demo = Testing.target(g, 'demo-rtx5090');
  t.false('flash' in demo.contexts);
  const layer = demo.layers.find((l) => l.id === 'kernel-wheel:flash')!;
  t.is(layer.params.url, url);
  t.is(layer.params.checksum, `${sha256}  /tmp/kiln-wheels/flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl`);
  const spec = demo.layers.find((l) => l.kind === 'check-spec')!.params.spec as CheckSpec;
  const arch = spec.checks.find((c) => c.id === 'kernel-arch:flash')!;
  t.is(arch.runsOn, 120);
  t.false('sass' in arch, 'a release wheel may carry more archs than this GPU');
});

test('the size model: a template image adds up its chain down to the CUDA image; llama images carry cuBLAS on a base flavour', async (t) => {
  const g = await repoGraph;
  const sd = imageSize(g, Testing.target(g, 'sd15-basic-rtx4090'));
  const byHand = ['sd15-basic-rtx4090', 'base-rtx4090', 'torch-rtx4090', 'base-common-cuda12-8-1']
    .flatMap((n) => Testing.target(g, n).layers.filter((l) => l.stage !== 'checks'))
    .reduce((s, l) => s + l.pullMB, 0);
  t.is(sd.pullMB, Math.round(byHand + CUDA_FLAVOURS.base.pullMB));
  const llm = imageSize(g, Testing.target(g, 'llm-prompt-rtx4090'));
  const cublas = Testing.target(g, 'llm-prompt-rtx4090').layers.find((l) => l.kind === 'llama-runtime-apt')!;
  t.true((cublas.params.packages as string[]).includes('libcublas-12-8=12.8.4.1-1'));
  t.true(llm.pullMB > sd.pullMB);
});
