/**
 * The fields each definition may have: ONE table per definition type, read
 * by the strict check (src/graph/validate/strict.ts), which reports unknown
 * fields with a did-you-mean and missing required ones with an example.
 * `ShapeOf<T>` makes tsc insist that a table names every field of its
 * interface and nothing else, so a new option (say `pip` on templates) is
 * one line here next to its type.
 */
import type { CivitaiOptions, HfOptions, HfRepoOptions, UrlOptions } from './models.ts';
import type { NodeOptions } from './nodes.ts';
import {
  LAYER_KIND_NAMES,
  type AllowedConflict,
  type BaseOptions,
  type CompileBudget,
  type CustomNode,
  type Features,
  type FlashPins,
  type GpuOptions,
  type LayerTuning,
  type LlamaPins,
  type ModelSource,
  type PinnedRepo,
  type PrebuiltWheel,
  type Port,
  type ReleasePin,
  type SagePins,
  type TemplateOptions,
  type TorchPins,
  type UserModel,
} from './types.ts';

export interface Field {
  /** @default false: the strict check reports a missing required field */
  readonly optional?: boolean;
  /** A nested object: its own fields. Without `keys` or `each` the value is not walked (checked elsewhere). */
  readonly keys?: Shape;
  /** A list whose items are objects of this shape. */
  readonly each?: Shape;
  /** Written into the fix when the field is missing, e.g. `'12.8.1'`. */
  readonly example?: string;
}

export type Shape = Readonly<Record<string, Field>>;

/** A shape naming every field of T, and (object literals being checked for excess keys) only those. */
export type ShapeOf<T> = { readonly [K in keyof Required<T>]-?: Field };

const opt: Field = { optional: true };

const TUNING: ShapeOf<LayerTuning> = { cost: opt, volatility: opt, diskMB: opt, pullMB: opt };
const LAYERS: Field = { optional: true, keys: Object.fromEntries(LAYER_KIND_NAMES.map((k) => [k, { optional: true, keys: TUNING }])) };

const pinned = (repo: string): Field => ({
  keys: { repo: { example: `'${repo}'` }, commit: { example: "'<40-hex commit SHA>'" } } satisfies ShapeOf<PinnedRepo>,
  example: `{ repo: '${repo}', commit: '<40-hex commit SHA>' }`,
});

const TORCH: ShapeOf<TorchPins> = {
  torch: { example: "'2.8.0'" },
  torchvision: { example: "'0.23.0'" },
  torchaudio: { example: "'2.8.0'" },
  index: { example: "'https://download.pytorch.org/whl/cu128'" },
  xformers: opt,
};
// Source builds need their pins and arch; a prebuilt `wheel` replaces them (checked in validate/gpu.ts).
const WHEEL: Field = {
  optional: true,
  keys: { url: { example: "'https://.../name-1.0+cu128torch2.8-cp312-cp312-linux_x86_64.whl'" }, sha256: { example: "'<64 hex digits>'" } } satisfies ShapeOf<PrebuiltWheel>,
};
const SAGE: ShapeOf<SagePins> = { repo: opt, commit: opt, torchCudaArchList: opt, wheel: WHEEL };
const FLASH: ShapeOf<FlashPins> = { repo: opt, tag: opt, cudaArchs: opt, wheel: WHEEL };
const LLAMA: ShapeOf<LlamaPins> = {
  repo: { example: "'https://github.com/ggml-org/llama.cpp'" },
  tag: { example: "'b8508'" },
  cudaArchitectures: { example: "'120' (the GPU's sm)" },
};
const COMPILE: ShapeOf<CompileBudget> = { maxJobs: opt, nvccThreads: opt, extParallel: opt };

export const GPU_SHAPE: ShapeOf<GpuOptions> = {
  name: { example: "'rtx5090'" },
  title: { example: "'RTX 5090'" },
  sm: { example: '120' },
  cuda: { example: "'12.8.1'" },
  torch: { keys: TORCH, example: '{ torch, torchvision, torchaudio, index, xformers }' },
  sage: { keys: SAGE, example: '{ repo, commit, torchCudaArchList } or { wheel: { url, sha256 } }' },
  flash: { keys: FLASH, example: '{ repo, tag, cudaArchs } or { wheel: { url, sha256 } }' },
  llama: { keys: LLAMA, example: '{ repo, tag, cudaArchitectures }' },
  compile: { optional: true, keys: COMPILE },
  layers: LAYERS,
};

export const BASE_SHAPE: ShapeOf<BaseOptions> = {
  imageFlavor: opt,
  develFlavor: opt,
  uv: opt,
  imageRepo: opt,
  toolchainApt: { example: "['build-essential', 'git', 'python3-dev', 'python3-venv']" },
  apt: { example: "['curl', 'ffmpeg']" },
  python: opt,
  pipTools: { example: "{ pip: '25.1.1', setuptools: '80.9.0', wheel: '0.45.1' }" },
  comfyui: pinned('https://github.com/comfyanonymous/ComfyUI'),
  manager: pinned('https://github.com/Comfy-Org/ComfyUI-Manager'),
  filebrowser: {
    keys: { version: { example: "'v2.59.0'" }, sha256: { example: "'<64 hex digits>'" } } satisfies ShapeOf<ReleasePin>,
    example: "{ version: 'v2.59.0', sha256: '<sha256 of linux-amd64-filebrowser.tar.gz>' }",
  },
  jupyterlab: { example: "'4.4.9'" },
  layers: LAYERS,
};

const FEATURES: ShapeOf<Features> = { sage: opt, flash: opt, llama: opt };
const PORT: ShapeOf<Port> = { port: { example: '7860' }, protocol: { example: "'http'" }, name: { example: "'my-service'" } };

export const TEMPLATE_SHAPE: ShapeOf<TemplateOptions> = {
  name: { example: "'<the folder name>'" },
  description: { example: "'what the image is for, in one line'" },
  // GPU profiles are checked where they are defined (base/); models and nodes by MODEL_SHAPES / NODE_SHAPE.
  gpus: { example: '[rtx4090, rtx5090] (imported from base/)' },
  models: opt,
  nodes: opt,
  features: { optional: true, keys: FEATURES },
  attention: opt,
  env: opt,
  ports: { optional: true, each: PORT },
  disk: { optional: true, keys: { containerGb: { example: '40' }, volumeGb: { example: '100' } } },
  layers: LAYERS,
  allowUnpinnedModels: opt,
  userModels: {
    optional: true,
    each: {
      into: { example: "'loras'" },
      file: { example: "'my_style.safetensors' (the name the workflow loads)" },
      why: { example: "'the user uploads their own LoRA'" },
    } satisfies ShapeOf<UserModel>,
  },
  apt: opt,
  // Package names are the keys: checked by validate/template.ts, not walked here.
  pip: opt,
  cudaDevel: { optional: true, keys: { reason: { example: "'<node> compiles CUDA code when its requirements install'" } } },
  allowConflicts: { optional: true, each: { package: { example: "'mediapipe'" }, requirement: { example: "'numpy<2'" }, reason: { example: "'why the image still works'" } } satisfies ShapeOf<AllowedConflict> },
};

/** The options object each model helper takes, by the source it makes. */
interface HelperOptions {
  readonly hf: HfOptions;
  readonly civitai: CivitaiOptions;
  readonly url: UrlOptions;
  readonly 'hf-repo': HfRepoOptions;
}

/** Options of the model helpers (`hf(repo, file, options)`, ...), by the source they make. */
export const MODEL_OPTIONS: { readonly [S in keyof HelperOptions]: ShapeOf<HelperOptions[S]> } = {
  hf: { into: { example: "'checkpoints'" }, as: opt, sha256: opt, bytes: opt, revision: opt },
  civitai: { into: { example: "'loras'" }, as: opt, sha256: opt, bytes: opt },
  url: { into: { example: "'vae'" }, file: { example: "'name.safetensors'" }, sha256: opt, bytes: opt },
  'hf-repo': { into: { example: "'diffusion_models'" }, revision: opt, include: opt, exclude: opt },
};

/** Models written as object literals instead of with a helper. */
export const MODEL_SHAPES: { readonly [S in ModelSource['source']]: ShapeOf<Extract<ModelSource, { source: S }>> } = {
  hf: { source: {}, repo: {}, file: {}, ...MODEL_OPTIONS.hf },
  civitai: { source: {}, versionId: {}, ...MODEL_OPTIONS.civitai },
  url: { source: {}, href: {}, ...MODEL_OPTIONS.url },
  'hf-repo': { source: {}, repo: {}, ...MODEL_OPTIONS['hf-repo'] },
};

export const NODE_OPTIONS: ShapeOf<NodeOptions> = { name: opt, requirements: opt };
export const NODE_SHAPE: ShapeOf<CustomNode> = { repo: {}, commit: {}, name: {}, requirements: {} };

/**
 * The options object a helper was called with. Helpers keep it (not
 * enumerable: manifests and keys never see it) so that the strict check
 * reports what the author wrote, e.g. `node(repo, sha, { rev })`, which the
 * helper's result alone no longer shows.
 */
const OPTIONS = Symbol('kiln.options');

export function withOptions<T extends object>(made: T, options: object): Readonly<T> {
  return Object.freeze(Object.defineProperty(made, OPTIONS, { value: options, enumerable: false }));
}

export function helperOptions(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === 'object' && value !== null ? (value as { [OPTIONS]?: Record<string, unknown> })[OPTIONS] : undefined;
}
