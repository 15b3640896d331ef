/**
 * Definition types: what maintainers write in base/ and templates/.
 * Everything here is plain readonly data; the factories in this folder
 * only stamp a `kind` on it. Checks that types cannot express live in
 * src/graph/validate.ts.
 */

/** Layer kinds whose cost/volatility can be overridden (see src/graph/layer-kinds.ts). */
export const LAYER_KIND_NAMES = [
  'toolchain-apt',
  'devel-apt',
  'apt',
  'venv',
  'pip-tools',
  'torch',
  'xformers',
  'constraints',
  'comfyui',
  'comfyui-reqs',
  'manager',
  'manager-reqs',
  'filebrowser',
  'jupyterlab',
  'sage-clone',
  'flash-clone',
  'sage-build',
  'flash-build',
  'llama-clone',
  'llama-build',
  'kernel-install',
  'kernel-wheel',
  'cuda-devel',
  'llama-runtime-apt',
  'llama-copy',
  'node-clone',
  'node-copy',
  'node-reqs',
  'template-apt',
  'template-pip',
  'workflows',
  'manifests',
  'runtime',
  'check-spec',
  'checks',
  'check-report',
] as const;
export type LayerKindName = (typeof LAYER_KIND_NAMES)[number];

/** Override of the cache and size model for one layer kind. */
export interface LayerTuning {
  /** Build minutes on the reference 4-core CI runner. */
  readonly cost?: number;
  /** Probability that a given change touches this layer's own inputs (0 < p < 1). */
  readonly volatility?: number;
  /** MB the layer adds to the image on disk. */
  readonly diskMB?: number;
  /** MB a pod downloads for the layer (compressed). */
  readonly pullMB?: number;
}

export type LayerOverrides = Readonly<Partial<Record<LayerKindName, LayerTuning>>>;

/** A git repository pinned to a full commit SHA. */
export interface PinnedRepo {
  /** https URL of the repository. */
  readonly repo: string;
  /** Full 40-hex commit SHA. */
  readonly commit: string;
}

/** A release archive pinned by tag and checked by sha256 before it is unpacked. */
export interface ReleasePin {
  /** Release tag, e.g. "v2.59.0". */
  readonly version: string;
  /** sha256 of the linux-amd64 archive (64 lowercase hex digits). */
  readonly sha256: string;
}

export interface TorchPins {
  /** torch version, e.g. "2.7.1". */
  readonly torch: string;
  readonly torchvision: string;
  readonly torchaudio: string;
  /** Wheel index, e.g. "https://download.pytorch.org/whl/cu128". */
  readonly index: string;
  /**
   * xformers version; must match torch (GPU-FACTS "xformers"). Leave it out
   * where the index's wheels have no code for the GPU (cu128 wheels up to
   * 0.0.32 carry no sm_120 SASS: the 5090 would JIT PTX on first use).
   */
  readonly xformers?: string;
}

/**
 * A kernel taken as a built wheel instead of a compile: downloaded, checked
 * against its sha256, installed. Its file name must fit the profile (cp312,
 * linux x86_64, the profile's torch and CUDA major in the local version where
 * the wheel has one); the image's kernel-arch check still reads its objects.
 */
export interface PrebuiltWheel {
  /** https URL of the .whl (its file name carries the tags validation reads). */
  readonly url: string;
  /** sha256 of the file (64 lowercase hex digits). */
  readonly sha256: string;
}

/** SageAttention: built from a pinned commit, or a prebuilt wheel (`{ wheel }` alone). */
export interface SagePins {
  readonly repo?: string;
  /** Full 40-hex commit SHA. */
  readonly commit?: string;
  /** TORCH_CUDA_ARCH_LIST for the extension build: exactly the GPU's arch, e.g. "12.0". */
  readonly torchCudaArchList?: string;
  readonly wheel?: PrebuiltWheel;
}

/** FlashAttention 2: built from a release tag, or a prebuilt wheel (`{ wheel }` alone). */
export interface FlashPins {
  readonly repo?: string;
  /** Release tag, e.g. "v2.8.3". */
  readonly tag?: string;
  /** FLASH_ATTN_CUDA_ARCHS (FlashAttention ignores TORCH_CUDA_ARCH_LIST). */
  readonly cudaArchs?: string;
  readonly wheel?: PrebuiltWheel;
}

export interface LlamaPins {
  readonly repo: string;
  /** Release tag `b<number>`. */
  readonly tag: string;
  /** CMAKE_CUDA_ARCHITECTURES, e.g. "120". */
  readonly cudaArchitectures: string;
}

/** Parallelism of the compile stages; size these from the builder, not upstream defaults. */
export interface CompileBudget {
  /** MAX_JOBS for Sage/Flash and `cmake --build -j`. @default 4 */
  readonly maxJobs?: number;
  /** nvcc --threads / NVCC_THREADS. @default 2 */
  readonly nvccThreads?: number;
  /** SageAttention EXT_PARALLEL. @default 1 */
  readonly extParallel?: number;
}

export interface GpuOptions {
  /** Short name used in target names and CLI flags, e.g. "rtx5090". */
  readonly name: string;
  /** Marketing name for docs and labels. */
  readonly title: string;
  /** Compute capability as an integer: 89 for sm_89, 120 for sm_120. */
  readonly sm: number;
  /** CUDA toolkit version of the base image, e.g. "12.8.1". */
  readonly cuda: string;
  readonly torch: TorchPins;
  readonly sage: SagePins;
  readonly flash: FlashPins;
  readonly llama: LlamaPins;
  /** @default { maxJobs: 4, nvccThreads: 2, extParallel: 1 } */
  readonly compile?: CompileBudget;
  /** Cache-model overrides for layers built for this GPU. */
  readonly layers?: LayerOverrides;
}

export interface GpuDefinition extends GpuOptions {
  readonly kind: 'gpu';
}

export interface BaseOptions {
  /**
   * nvidia/cuda tag suffix (after the CUDA version) of the image the final
   * images rest on. torch's cu128 wheels bring CUDA's libraries themselves
   * (README "Two chains"), so the smallest flavour serves. @default "base-ubuntu24.04"
   */
  readonly imageFlavor?: string;
  /**
   * nvidia/cuda tag suffix of the image the targets that run nvcc start from
   * (kernel builders, llama.cpp, templates with `cudaDevel`); it never reaches
   * a final image otherwise. @default "devel-ubuntu24.04"
   */
  readonly develFlavor?: string;
  /**
   * uv version (exact) for every Python install of the images, with a BuildKit
   * cache mount; absent, pip installs them. Kernel wheels are still built by
   * `pip wheel` (uv has no equivalent).
   */
  readonly uv?: string;
  /** Image repository of the CUDA base. @default "nvidia/cuda" */
  readonly imageRepo?: string;
  /**
   * apt packages the Python/compile chain needs (base-common, under torch and
   * the kernel builders). Keep it small: an edit here rebuilds torch, Sage and Flash.
   */
  readonly toolchainApt: readonly string[];
  /**
   * Runtime apt packages (ffmpeg, ssh, ...), installed in base-<gpu> above torch,
   * so adding one never rebuilds torch or a kernel (see README "Cache model").
   */
  readonly apt: readonly string[];
  /** Python interpreter the venv is made from (Ubuntu 24.04 ships 3.12). @default "python3" */
  readonly python?: string;
  /** Exact pins of pip, setuptools, wheel etc. installed into the venv. */
  readonly pipTools: Readonly<Record<string, string>>;
  readonly comfyui: PinnedRepo;
  /** ComfyUI-Manager, cloned into custom_nodes. */
  readonly manager: PinnedRepo;
  /**
   * FileBrowser, the web file manager start.sh runs on FILEBROWSER_PORT:
   * its GitHub release archive, installed to /usr/local/bin (needs curl in `apt`).
   */
  readonly filebrowser: ReleasePin;
  /** JupyterLab version installed into the venv; start.sh runs it when ENABLE_JUPYTER=true. */
  readonly jupyterlab: string;
  /** Cache-model overrides for the shared layers. */
  readonly layers?: LayerOverrides;
}

export interface BaseDefinition extends BaseOptions {
  readonly kind: 'base';
  readonly imageFlavor: string;
  readonly develFlavor: string;
  readonly imageRepo: string;
  readonly python: string;
}

/** ComfyUI model folders a model may land in (ComfyUI folder_paths, plus `llm` for llama-server GGUFs). */
export const MODEL_FOLDERS = [
  'checkpoints',
  'clip',
  'clip_vision',
  'controlnet',
  'diffusion_models',
  'embeddings',
  'gligen',
  'hypernetworks',
  'ipadapter',
  'llm',
  'loras',
  'photomaker',
  'style_models',
  'text_encoders',
  'unet',
  'upscale_models',
  'vae',
  'vae_approx',
] as const;
export type ModelFolder = (typeof MODEL_FOLDERS)[number];

export interface HfModel {
  readonly source: 'hf';
  readonly repo: string;
  /** Path of the file inside the repo (may contain folders). */
  readonly file: string;
  readonly into: ModelFolder;
  /** File name on disk. @default basename of `file` */
  readonly as?: string;
  readonly sha256?: string;
  readonly bytes?: number;
  /** Commit SHA of the HF repo. @default "main" (then sha256 is the pin) */
  readonly revision?: string;
}

export interface CivitaiModel {
  readonly source: 'civitai';
  readonly versionId: number;
  readonly into: ModelFolder;
  readonly as?: string;
  readonly sha256?: string;
  readonly bytes?: number;
}

export interface UrlModel {
  readonly source: 'url';
  readonly href: string;
  readonly into: ModelFolder;
  readonly file: string;
  readonly sha256?: string;
  readonly bytes?: number;
}

/**
 * A whole Hugging Face repo (or the part of it the globs select), expanded to
 * its files by `kiln lock` (templates/<t>/models.lock.json): each file lands
 * at `<into>/<repo name>/<path in the repo>` and is verified by its sha256.
 */
export interface HfRepoModel {
  readonly source: 'hf-repo';
  /** "owner/name". */
  readonly repo: string;
  readonly into: ModelFolder;
  /** Commit SHA of the repo. @default "main" (the lock pins the commit it found) */
  readonly revision?: string;
  /**
   * Globs of repo paths to fetch, as huggingface_hub's allow_patterns: `*`
   * also crosses "/", a pattern ending in "/" means everything below it.
   * @default every file
   */
  readonly include?: readonly string[];
  /** Globs of repo paths to leave out (same syntax). @default none */
  readonly exclude?: readonly string[];
}

export type ModelSource = HfModel | CivitaiModel | UrlModel | HfRepoModel;

/**
 * A model file the template's workflows load that the image does not fetch:
 * the user brings it (uploads it, or sets HF_MODELS / CIVITAI_MODELS /
 * MODEL_URLS on the pod).
 */
export interface UserModel {
  /** The ComfyUI model folder the workflow loads it from. */
  readonly into: ModelFolder;
  /** Its name as the workflow writes it (may include subfolders: "sdxl/my_lora.safetensors"). */
  readonly file: string;
  /** Why the image does not ship it (a license, a user's own LoRA, ...). */
  readonly why: string;
}

export interface CustomNode extends PinnedRepo {
  /** Folder name under custom_nodes. @default repository name */
  readonly name: string;
  /** Install requirements.txt if the node has one. @default true */
  readonly requirements: boolean;
}

/** Optional compiled features. Absent means off. */
export interface Features {
  /** SageAttention 2 built from source for the GPU's arch. */
  readonly sage?: boolean;
  /** FlashAttention 2 built from source (FLASH_ATTN_CUDA_ARCHS). */
  readonly flash?: boolean;
  /** llama.cpp llama-server built with CUDA. */
  readonly llama?: boolean;
}
export const FEATURE_NAMES = ['sage', 'flash', 'llama'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

export interface Port {
  readonly port: number;
  readonly protocol: 'http' | 'tcp';
  /** What listens there, for docs and RunPod. */
  readonly name: string;
}

export interface TemplateOptions {
  /** Lowercase, dash-separated; becomes target and image names. */
  readonly name: string;
  readonly description: string;
  /** GPU profiles (import them from base/) the template is built for. */
  readonly gpus: readonly GpuDefinition[];
  readonly models?: readonly ModelSource[];
  readonly nodes?: readonly CustomNode[];
  readonly features?: Features;
  /**
   * Attention backend ComfyUI starts with. Must be an enabled feature.
   * @default "sage" if sage is on, else "flash" if flash is on, else none
   */
  readonly attention?: 'sage' | 'flash' | 'pytorch';
  /** Runtime env defaults baked into the image (never secrets). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra ports; ComfyUI 8188 and FileBrowser 8080 are always there. */
  readonly ports?: readonly Port[];
  /** RunPod disk sizing. @default { containerGb: 40, volumeGb: 100 } */
  readonly disk?: { readonly containerGb: number; readonly volumeGb: number };
  /** Cache-model overrides for this template's layers. */
  readonly layers?: LayerOverrides;
  /** Explicit opt-in for model sources that are neither sha256- nor commit-pinned. */
  readonly allowUnpinnedModels?: boolean;
  /**
   * Model files the workflows load that no model of the template provides,
   * each with the reason: the workflow check (kiln generate) accepts them.
   */
  readonly userModels?: readonly UserModel[];
  /**
   * Extra apt packages this template's nodes need at run time (installed in
   * the template image, above base-<gpu>).
   */
  readonly apt?: readonly string[];
  /**
   * Extra Python packages, exact versions (`{ 'onnxruntime-gpu': '1.22.0' }`),
   * installed under the torch constraints before the nodes' requirements,
   * which then cannot move them. Not for the torch family (the GPU profile pins it).
   */
  readonly pip?: Readonly<Record<string, string>>;
  /**
   * Requirement conflicts `pip check` may report in this image, each with the
   * reason it is harmless. Anything else `pip check` reports fails the build.
   */
  readonly allowConflicts?: readonly AllowedConflict[];
  /**
   * Opt in to the CUDA toolkit (nvcc, headers) in this template's images, for
   * nodes that compile CUDA code when their requirements install. It adds
   * gigabytes to every pull: say why.
   */
  readonly cudaDevel?: { readonly reason: string };
}

/** One line of `pip check` a template accepts. */
export interface AllowedConflict {
  /** Distribution whose requirement is broken, e.g. "mediapipe". */
  readonly package: string;
  /** The requirement as pip check prints it, e.g. "numpy<2". */
  readonly requirement: string;
  /** Why the image still works (shown in the build log and the report). */
  readonly reason: string;
}

export interface TemplateDefinition extends TemplateOptions {
  readonly kind: 'template';
}

export type Definition = GpuDefinition | BaseDefinition | TemplateDefinition;
