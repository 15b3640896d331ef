import type { LayerKindName, LayerOverrides, LayerTuning } from '../dsl/types.ts';

/**
 * Default cost (minutes on a 4-core, 16 GB CI runner) and volatility
 * (probability that one change to the repo touches the layer's own inputs)
 * of every layer kind. Costs are the figures the cache model ranks by;
 * they are estimates unless a source is given, and every one is
 * overridable per base, GPU or template (`layers: { kind: { cost } }`).
 */
export const LAYER_DEFAULTS: Readonly<Record<LayerKindName, Required<LayerTuning>>> = {
  // apt-get of a dozen packages from the Ubuntu mirror: a couple of minutes.
  'toolchain-apt': { cost: 1.5, volatility: 0.01 },
  apt: { cost: 2, volatility: 0.05 },
  venv: { cost: 0.2, volatility: 0.01 },
  'pip-tools': { cost: 0.3, volatility: 0.02 },
  // torch cu128 + its nvidia-* wheels are ~3 GB of downloads ("torch install minutes", DESIGN).
  torch: { cost: 4, volatility: 0.03 },
  xformers: { cost: 1, volatility: 0.03 },
  constraints: { cost: 0.05, volatility: 0.03 },
  comfyui: { cost: 0.3, volatility: 0.15 },
  'comfyui-reqs': { cost: 1.5, volatility: 0.15 },
  manager: { cost: 0.2, volatility: 0.08 },
  'manager-reqs': { cost: 0.5, volatility: 0.08 },
  // One ~15 MB release archive (FileBrowser): a download and an untar.
  filebrowser: { cost: 0.1, volatility: 0.02 },
  // jupyterlab and its ~60 pure-Python dependencies from PyPI.
  jupyterlab: { cost: 1, volatility: 0.03 },
  'sage-clone': { cost: 0.2, volatility: 0.02 },
  'flash-clone': { cost: 0.5, volatility: 0.02 },
  // Estimate: SageAttention 2 compiles fewer kernels than FA2; one arch per build.
  'sage-build': { cost: 12, volatility: 0.02 },
  // FlashAttention 2 from source: 20-30 min (DESIGN "Layers", GPU-FACTS FlashAttention).
  'flash-build': { cost: 25, volatility: 0.02 },
  'llama-apt': { cost: 1.5, volatility: 0.02 },
  'llama-clone': { cost: 0.3, volatility: 0.05 },
  // llama.cpp CUDA build: about 60 min on a CI runner (DESIGN "Layers").
  'llama-build': { cost: 60, volatility: 0.05 },
  'kernel-install': { cost: 0.3, volatility: 0.02 },
  'llama-copy': { cost: 0.1, volatility: 0.05 },
  'node-clone': { cost: 0.2, volatility: 0.1 },
  // COPY --from a node-* target of a checked-out repo (a few MB, no network): like the other COPYs.
  'node-copy': { cost: 0.02, volatility: 0.1 },
  'node-reqs': { cost: 1, volatility: 0.1 },
  // A few runtime libraries a template's nodes need: like the base apt layer, smaller.
  'template-apt': { cost: 1, volatility: 0.05 },
  // A handful of wheels from PyPI (onnxruntime-gpu is ~300 MB).
  'template-pip': { cost: 1, volatility: 0.08 },
  workflows: { cost: 0.02, volatility: 0.2 },
  manifests: { cost: 0.02, volatility: 0.15 },
  runtime: { cost: 0.02, volatility: 0.25 },
  // The checks stage (README "Checks"): the spec, the run, and the report copied into the image.
  // The run imports torch and every kernel, runs pip check and ComfyUI's quick test with all custom
  // nodes (tens of seconds on a real image; an estimate). It re-runs whenever the image changes.
  'check-spec': { cost: 0.01, volatility: 0.05 },
  checks: { cost: 1, volatility: 0.05 },
  'check-report': { cost: 0.01, volatility: 0.05 },
};

/** Kinds of the checks stage: always last, in this order, never moved by the order model. */
export const CHECK_KINDS: readonly LayerKindName[] = ['check-spec', 'checks', 'check-report'];

/** Heavy compile kinds: built once per (kernel, GPU), never per template. */
export const HEAVY_KINDS: ReadonlySet<LayerKindName> = new Set(['sage-build', 'flash-build', 'llama-build']);

/** Cost and volatility of `kind` after applying overrides, most specific last. */
export function tuning(kind: LayerKindName, ...overrides: (LayerOverrides | undefined)[]): Required<LayerTuning> {
  let result = LAYER_DEFAULTS[kind];
  for (const o of overrides) {
    const t = o?.[kind];
    if (t) result = { cost: t.cost ?? result.cost, volatility: t.volatility ?? result.volatility };
  }
  return result;
}
