/**
 * (c) The limit: a step re-runs only when its own inputs changed or a step it
 * truly consumes re-ran. "Truly consumes" is data flow, not layer stacking:
 * a git clone does not consume the apt layer below it; node requirements do
 * consume torch. Steps carry their BuildKit key too, so the limit never
 * counts work the cache would skip (see limitWork).
 */
import type { LayerKindName } from '../src/dsl/types.ts';
import { contentKey } from '../src/graph/keys.ts';
import { HEAVY_KINDS } from '../src/graph/layer-kinds.ts';
import type { BuildGraph, Layer, Target } from '../src/graph/types.ts';
import type { Step } from './work.ts';

/** Everything an image holds: what its checks test. */
const IMAGE_KINDS: readonly LayerKindName[] = [
  'toolchain-apt', 'venv', 'pip-tools', 'torch', 'xformers', 'constraints', 'apt', 'comfyui', 'comfyui-reqs', 'manager',
  'manager-reqs', 'filebrowser', 'jupyterlab', 'kernel-install', 'kernel-wheel', 'cuda-devel', 'llama-copy',
  'llama-runtime-apt', 'node-copy', 'node-reqs', 'template-apt', 'template-pip', 'workflows', 'manifests', 'runtime',
];

/** Upstream layer kinds whose output a kind really uses (beyond its own `after` and `uses`). */
const CONSUMES: Readonly<Record<LayerKindName, readonly LayerKindName[]>> = {
  'toolchain-apt': [],
  'devel-apt': [],
  venv: ['toolchain-apt'],
  'pip-tools': ['venv'],
  torch: ['pip-tools'],
  xformers: ['torch'],
  constraints: [],
  apt: [],
  comfyui: [],
  'comfyui-reqs': ['torch', 'xformers'],
  manager: [],
  'manager-reqs': ['torch'],
  // curl comes from the apt layer.
  filebrowser: ['apt'],
  // pip in the venv, and the constraints file it is run with.
  jupyterlab: ['pip-tools', 'constraints'],
  'sage-clone': [],
  'sage-build': ['torch', 'pip-tools', 'devel-apt'],
  'flash-clone': [],
  'flash-build': ['torch', 'pip-tools', 'devel-apt'],
  'llama-clone': [],
  'llama-build': ['devel-apt'],
  'kernel-install': ['torch'],
  // pip/uv in the venv; the wheel itself is its own input.
  'kernel-wheel': ['pip-tools'],
  'cuda-devel': [],
  'llama-runtime-apt': [],
  'llama-copy': [],
  'node-clone': [],
  'node-copy': [],
  'node-reqs': ['torch', 'comfyui-reqs'],
  'template-apt': [],
  'template-pip': ['torch', 'pip-tools', 'constraints'],
  workflows: [],
  manifests: [],
  runtime: [],
  'check-spec': [],
  checks: IMAGE_KINDS,
  'check-report': ['checks'],
};

export function limitSteps(graph: BuildGraph): Step[] {
  const byName = new Map(graph.targets.map((t) => [t.name, t]));
  const memo = new Map<string, string>();

  /** The layers visible below position `index` of target `t`, nearest first. */
  const below = (t: Target, index: number): { t: Target; l: Layer }[] => {
    const here = t.layers.slice(0, index).reverse().map((l) => ({ t, l }));
    if ('context' in t.from) {
      const src = t.contexts[t.from.context];
      const parent = src && 'target' in src ? byName.get(src.target) : undefined;
      if (parent) return [...here, ...below(parent, parent.layers.length)];
    }
    return here;
  };

  const limitKey = (t: Target, index: number): string => {
    const id = `${t.name}#${index}`;
    const cached = memo.get(id);
    if (cached) return cached;
    const l = t.layers[index]!;
    const deps: string[] = [];
    const visible = below(t, index);
    for (const a of l.after) {
      const i = t.layers.findIndex((x) => x.id === a);
      deps.push(limitKey(t, i));
    }
    for (const kind of CONSUMES[l.kind]) {
      const hit = visible.find((v) => v.l.kind === kind);
      if (hit) deps.push(limitKey(hit.t, hit.t.layers.indexOf(hit.l)));
    }
    for (const u of l.uses) {
      const src = t.contexts[u];
      const producer = src && 'target' in src ? byName.get(src.target) : undefined;
      if (producer) deps.push(limitKey(producer, producer.layers.length - 1));
    }
    // The very first layer on a base image consumes that image.
    const root = index === 0 && 'image' in t.from ? t.from.image : null;
    const key = contentKey(l.kind, l.params, l.inputs, root, deps.sort());
    memo.set(id, key);
    return key;
  };

  return graph.targets.flatMap((t) =>
    t.layers.map((l, i) => ({
      key: l.key,
      identity: `${t.name}|${l.id}|${limitKey(t, i)}`,
      cost: l.cost,
      heavy: HEAVY_KINDS.has(l.kind),
      label: `${t.name}/${l.id}`,
    })),
  );
}
