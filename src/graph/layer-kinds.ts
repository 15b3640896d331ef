import type { LayerKindName, LayerOverrides, LayerTuning } from '../dsl/types.ts';

/**
 * Default cost (minutes on a 4-core, 16 GB CI runner), volatility
 * (probability that one change to the repo touches the layer's own inputs)
 * and size (MB the layer adds on disk, and MB a pod pulls for it, compressed)
 * of every layer kind. Costs are the figures the cache model ranks by; sizes
 * are what `kiln plan --json` and the bench add up per image. Both are
 * estimates (EST) unless a source is given; every one is overridable per
 * base, GPU or template (`layers: { kind: { cost, pullMB } }`).
 *
 * Costs are for pip; a base with `uv` installs Python packages faster
 * (UV_SPEEDUP). Sizes of downloads: the wheels and archives they fetch
 * (compressed); disk: the unpacked size (EST x1.5-2.5 where only the download
 * is known; the research note of issue 12 gives x1.26-2.4 for CUDA libraries).
 */
export const LAYER_DEFAULTS: Readonly<Record<LayerKindName, Required<LayerTuning>>> = {
  // apt-get of a dozen packages from the Ubuntu mirror: a couple of minutes. build-essential (gcc, g++,
  // libc6-dev), python3-dev, git: EST 120 MB of .debs, 400 MB installed.
  'toolchain-apt': { cost: 1.5, volatility: 0.01, diskMB: 400, pullMB: 120 },
  // The builders' apt set: the toolchain plus cmake and libssl-dev (EST 40 MB more).
  'devel-apt': { cost: 2, volatility: 0.02, diskMB: 450, pullMB: 140 },
  // ffmpeg and friends, openssh-server, tini, git-lfs: EST 250 MB of .debs, 700 MB installed.
  apt: { cost: 2, volatility: 0.05, diskMB: 700, pullMB: 250 },
  venv: { cost: 0.2, volatility: 0.01, diskMB: 20, pullMB: 8 },
  // pip, setuptools, wheel, packaging, ninja, and uv when used (the uv wheel: ~18 MB, a static binary).
  'pip-tools': { cost: 0.3, volatility: 0.02, diskMB: 90, pullMB: 30 },
  // torch 2.8.0 cp312 887.9 MB + its nvidia-* wheels 2 863 MB + triton 3.4.0 155.6 MB = 3 906 MB of wheels
  // (pip install logs quoted in the issue-12 research note); on disk EST 6.3 GB (x1.5-1.7).
  // Install minutes: ~3.9 GB of downloads ("torch install minutes", DESIGN).
  torch: { cost: 4, volatility: 0.03, diskMB: 6300, pullMB: 3906 },
  // xformers 0.0.32.post2 cp39-abi3: 117.2 MB wheel (same note); EST x2.5 on disk.
  xformers: { cost: 1, volatility: 0.03, diskMB: 290, pullMB: 117 },
  constraints: { cost: 0.05, volatility: 0.03, diskMB: 0, pullMB: 0 },
  // A ComfyUI checkout (EST 60 MB with history trimmed by --filter=blob:none).
  comfyui: { cost: 0.3, volatility: 0.15, diskMB: 60, pullMB: 30 },
  // transformers, scipy, av, kornia, ... (EST 550 MB installed).
  'comfyui-reqs': { cost: 1.5, volatility: 0.15, diskMB: 550, pullMB: 200 },
  manager: { cost: 0.2, volatility: 0.08, diskMB: 15, pullMB: 6 },
  'manager-reqs': { cost: 0.5, volatility: 0.08, diskMB: 60, pullMB: 25 },
  // One ~15 MB release archive (FileBrowser): a download and an untar (binary EST 40 MB).
  filebrowser: { cost: 0.1, volatility: 0.02, diskMB: 40, pullMB: 15 },
  // jupyterlab and its ~60 pure-Python dependencies from PyPI (EST 120 MB installed).
  jupyterlab: { cost: 1, volatility: 0.03, diskMB: 120, pullMB: 40 },
  'sage-clone': { cost: 0.2, volatility: 0.02, diskMB: 20, pullMB: 10 },
  'flash-clone': { cost: 0.5, volatility: 0.02, diskMB: 150, pullMB: 60 },
  // Estimate: SageAttention 2 compiles fewer kernels than FA2; one arch per build.
  'sage-build': { cost: 12, volatility: 0.02, diskMB: 40, pullMB: 15 },
  // FlashAttention 2 from source: 20-30 min (DESIGN "Layers", GPU-FACTS FlashAttention).
  'flash-build': { cost: 25, volatility: 0.02, diskMB: 250, pullMB: 90 },
  'llama-clone': { cost: 0.3, volatility: 0.05, diskMB: 80, pullMB: 40 },
  // llama.cpp CUDA build: about 60 min on a CI runner (DESIGN "Layers").
  'llama-build': { cost: 60, volatility: 0.05, diskMB: 600, pullMB: 200 },
  // A Kiln-built wheel into the venv: Sage for one arch EST 15 MB (Hearmeman24's 4-arch Sage 2.2.0 wheel is
  // 35.8 MB), Flash for one arch EST 90 MB (the official 4-arch wheel is ~256 MiB compressed).
  'kernel-install': { cost: 0.3, volatility: 0.02, diskMB: 120, pullMB: 50 },
  // A prebuilt wheel, downloaded and checked: Flash's official multi-arch wheel ~256 MiB (its Dockerfile
  // comment in the issue-12 research note); EST for the size unpacked.
  'kernel-wheel': { cost: 0.5, volatility: 0.02, diskMB: 600, pullMB: 256 },
  // The CUDA toolkit from the devel image, for templates that opt in (`cudaDevel`): the devel layer of
  // nvidia/cuda 12.8.1 is 2.78 GB compressed (Docker Hub layer view, issue-12 research); EST 7 GB on disk.
  'cuda-devel': { cost: 1.5, volatility: 0.02, diskMB: 7000, pullMB: 2780 },
  // What llama-server loads at run time on a `base` image: libgomp1, OpenSSL, and cuBLAS 12 (libcublas-12-8,
  // the runtime image's own pin): cuBLAS 868 MB unpacked (libcublasLt.so.12 751.8 MB + libcublas.so.12
  // 116.4 MB, issue-12 research); EST 600 MB of .debs.
  'llama-runtime-apt': { cost: 1, volatility: 0.02, diskMB: 880, pullMB: 600 },
  'llama-copy': { cost: 0.1, volatility: 0.05, diskMB: 600, pullMB: 200 },
  'node-clone': { cost: 0.2, volatility: 0.1, diskMB: 10, pullMB: 4 },
  // COPY --from a node-* target of a checked-out repo (a few MB, no network): like the other COPYs.
  'node-copy': { cost: 0.02, volatility: 0.1, diskMB: 10, pullMB: 4 },
  // A node's requirements.txt: widely different (EST 100 MB installed).
  'node-reqs': { cost: 1, volatility: 0.1, diskMB: 100, pullMB: 40 },
  // A few runtime libraries a template's nodes need: like the base apt layer, smaller.
  'template-apt': { cost: 1, volatility: 0.05, diskMB: 100, pullMB: 35 },
  // A handful of wheels from PyPI (onnxruntime-gpu 1.22.0: 283.2 MB wheel; its CUDA provider library
  // alone is 407.5 MB unpacked: issue-12 research).
  'template-pip': { cost: 1, volatility: 0.08, diskMB: 450, pullMB: 285 },
  workflows: { cost: 0.02, volatility: 0.2, diskMB: 0, pullMB: 0 },
  manifests: { cost: 0.02, volatility: 0.15, diskMB: 0, pullMB: 0 },
  runtime: { cost: 0.02, volatility: 0.25, diskMB: 1, pullMB: 0 },
  // The checks stage (README "Checks"): the spec, the run, and the report copied into the image.
  // The run imports torch and every kernel, runs pip check and ComfyUI's quick test with all custom
  // nodes (tens of seconds on a real image; an estimate). It re-runs whenever the image changes.
  'check-spec': { cost: 0.01, volatility: 0.05, diskMB: 0, pullMB: 0 },
  checks: { cost: 1, volatility: 0.05, diskMB: 0, pullMB: 0 },
  'check-report': { cost: 0.01, volatility: 0.05, diskMB: 0, pullMB: 0 },
};

/** Kinds of the checks stage: always last, in this order, never moved by the order model. */
export const CHECK_KINDS: readonly LayerKindName[] = ['check-spec', 'checks', 'check-report'];

/** Heavy compile kinds: built once per (kernel, GPU), never per template. */
export const HEAVY_KINDS: ReadonlySet<LayerKindName> = new Set(['sage-build', 'flash-build', 'llama-build']);

/** Python installs that uv runs when the base sets `uv` (kernel wheels are still built by `pip wheel`). */
export const UV_KINDS: ReadonlySet<LayerKindName> = new Set([
  'torch',
  'xformers',
  'comfyui-reqs',
  'manager-reqs',
  'jupyterlab',
  'kernel-install',
  'kernel-wheel',
  'node-reqs',
  'template-pip',
]);

/**
 * uv's install minutes as a share of pip's, on a CI runner whose cache mount
 * starts empty (BuildKit cache mounts are not in registry cache exports,
 * moby/buildkit#2370): 27 s vs 1 min 40 s for torch on a GitHub job
 * (gpu-mode/kernelbot#5), 2 min 15 s vs 4 min 20 s for a torch image at
 * 40 MiB/s (Tverous/pytorch-notebook#35). 0.5 takes the slower of the two
 * published gains; a warm local cache does far better.
 */
export const UV_SPEEDUP = 0.5;

/** Cost, volatility and size of `kind` after applying overrides, most specific last. */
export function tuning(kind: LayerKindName, ...overrides: (LayerOverrides | undefined)[]): Required<LayerTuning> {
  let result = LAYER_DEFAULTS[kind];
  for (const o of overrides) {
    const t = o?.[kind];
    if (t) result = { ...result, ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) };
  }
  return result;
}
