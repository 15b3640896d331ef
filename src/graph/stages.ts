/**
 * Layer lists of the shared targets (everything but <template>-<gpu>).
 * Each function returns data only; the Dockerfile text lives in src/emit.
 */
import type { BaseDefinition, CustomNode, GpuDefinition, PrebuiltWheel } from '../dsl/types.ts';
import { CUBLAS_DEB, CUDA_FLAVOURS, parseFlavour } from '../facts/cuda-images.ts';
import { IMAGE_PATHS as P } from './image-paths.ts';
import type { LayerSpec } from './layer-spec.ts';

/**
 * The two chains (README "Two chains"): final images rest on the runtime
 * chain's image; only targets that run nvcc start from the devel image.
 */
export function runtimeImage(base: BaseDefinition, gpu: GpuDefinition): string {
  return `${base.imageRepo}:${gpu.cuda}-${base.imageFlavor}`;
}

export function develImage(base: BaseDefinition, gpu: GpuDefinition): string {
  return `${base.imageRepo}:${gpu.cuda}-${base.develFlavor}`;
}

/** Whether the final images' flavour ships cuBLAS (llama-server needs it; torch brings its own). */
export function runtimeHasCublas(base: BaseDefinition): boolean {
  const f = parseFlavour(base.imageFlavor);
  return f ? CUDA_FLAVOURS[f.flavour].cublas : true;
}

/** A kernel that comes as a prebuilt wheel instead of a compile. */
export function prebuilt(pins: { readonly wheel?: PrebuiltWheel }): PrebuiltWheel | null {
  return pins.wheel ?? null;
}

/** Target-name-safe form of a CUDA version: 12.8.1 -> cuda12-8-1. */
export function cudaSlug(cuda: string): string {
  return `cuda${cuda.replace(/\./g, '-')}`;
}

/** nvcc's -gencode for a GPU: native SASS for its own arch (GPU-FACTS "Per-GPU settings"). */
export function nvccGencode(gpu: GpuDefinition): string {
  return `arch=compute_${gpu.sm},code=sm_${gpu.sm}`;
}

export function compileBudget(gpu: GpuDefinition): { maxJobs: number; nvccThreads: number; extParallel: number } {
  return { maxJobs: 4, nvccThreads: 2, extParallel: 1, ...gpu.compile };
}

/**
 * PATH of the nvidia/cuda images (their Dockerfiles: `ENV PATH
 * /usr/local/nvidia/bin:/usr/local/cuda/bin:${PATH}`); the venv goes first.
 * Written out, not `$PATH`, so the generated text says what the image gets.
 */
export const CUDA_IMAGE_PATH = '/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Environment every RUN of the Python side sees (set once in base-common and
 * the devel base). With uv: copy out of the cache mount (it is another
 * filesystem, no hard links) and write bytecode like pip does (uv's Docker
 * guide, docs/guides/integration/docker.md at astral-sh/uv 26a9dd4).
 */
export function pythonEnv(base: BaseDefinition): Record<string, string> {
  return {
    DEBIAN_FRONTEND: 'noninteractive',
    PATH: `${P.venv}/bin:${CUDA_IMAGE_PATH}`,
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_CACHE_DIR: '1',
    PYTHONUNBUFFERED: '1',
    ...(base.uv ? { UV_COMPILE_BYTECODE: '1', UV_LINK_MODE: 'copy' } : {}),
    VIRTUAL_ENV: P.venv,
  };
}

/** How a Python install layer runs: `uv pip install` under a cache mount, or pip. Part of its key. */
function installer(base: BaseDefinition): { uv: boolean } {
  return { uv: base.uv !== undefined };
}

export function baseCommonLayers(base: BaseDefinition): LayerSpec[] {
  // uv itself comes from PyPI with pip (its wheel carries the binary), into the venv; no ghcr.io pull.
  const tools = { ...base.pipTools, ...(base.uv ? { uv: base.uv } : {}) };
  return [
    { id: 'toolchain-apt', kind: 'toolchain-apt', params: aptParams(base.toolchainApt) },
    { id: 'venv', kind: 'venv', params: { python: base.python, venv: P.venv }, after: ['toolchain-apt'] },
    {
      id: 'pip-tools',
      kind: 'pip-tools',
      params: { index: '', pins: Object.entries(tools).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => `${n}==${v}`), uv: false },
      after: ['venv'],
    },
  ];
}

/**
 * What the builders need besides the devel image: the base's toolchain (the
 * venv's python and headers for the extension builds), plus cmake and
 * OpenSSL's headers for llama.cpp (LLAMA_OPENSSL since b7736, GPU-FACTS).
 */
export const BUILD_APT = ['cmake', 'libssl-dev'] as const;

export function develLayers(base: BaseDefinition): LayerSpec[] {
  return [{ id: 'apt', kind: 'devel-apt', params: aptParams([...new Set([...base.toolchainApt, ...BUILD_APT])]) }];
}

export function torchLayers(gpu: GpuDefinition, base: BaseDefinition): LayerSpec[] {
  const t = gpu.torch;
  const trio = [`torch==${t.torch}`, `torchvision==${t.torchvision}`, `torchaudio==${t.torchaudio}`];
  const xformers = t.xformers ? [`xformers==${t.xformers}`] : [];
  const how = installer(base);
  return [
    // The index alone (no extra index): the torch family comes only from it, as with pip (uv would
    // otherwise take every version of a package from the first index that has it: docs/pip/compatibility.md).
    { id: 'torch', kind: 'torch', params: { index: t.index, pins: trio, ...how } },
    // Same index as torch: xformers wheels pin one exact torch (GPU-FACTS "xformers").
    ...(t.xformers ? [{ id: 'xformers', kind: 'xformers' as const, params: { index: t.index, pins: xformers, ...how }, after: ['torch'] }] : []),
    {
      id: 'constraints',
      kind: 'constraints',
      params: { path: P.constraints, lines: [...trio, ...xformers] },
      after: [t.xformers ? 'xformers' : 'torch'],
    },
  ];
}

/**
 * Ports of the services start.sh runs in every image (its defaults: COMFYUI_PORT, FILEBROWSER_PORT,
 * JUPYTER_PORT, SSH_PORT, STATUS_PORT). The status endpoint's 9188 is clear of ComfyUI's 8188 and
 * the 8189-8190 that second ComfyUI instances take, FileBrowser's 8080, llama-server's 8081 (LLM_PORT),
 * Jupyter's 8888-8890, Gradio's 7860+, TensorBoard's 6006, dev servers' 3000/5000/8000 and
 * Prometheus' 9090-9100.
 */
export const SERVICE_PORTS = { comfyui: 8188, filebrowser: 8080, jupyter: 8888, ssh: 22, status: 9188 } as const;

/** The variable start.sh reads for each service's port, and its default there (scripts/start.sh). */
export const PORT_VARIABLES = {
  COMFYUI_PORT: { service: 'comfyui', port: SERVICE_PORTS.comfyui },
  FILEBROWSER_PORT: { service: 'filebrowser', port: SERVICE_PORTS.filebrowser },
  JUPYTER_PORT: { service: 'jupyter', port: SERVICE_PORTS.jupyter },
  SSH_PORT: { service: 'ssh', port: SERVICE_PORTS.ssh },
  STATUS_PORT: { service: 'status', port: SERVICE_PORTS.status },
  // llama-server runs only in images built with llama.cpp (ENABLE_LLM=true).
  LLM_PORT: { service: 'llama-server', port: 8081 },
} as const;

export type ServiceName = keyof typeof SERVICE_PORTS;

/**
 * Where start.sh listens for each service in an image whose ENV is `env`: the default, or the port
 * its variable names there. EXPOSE and the RunPod ports follow it, so a moved ComfyUI is published
 * where it listens. (checkPorts has rejected a value that is not a port.)
 */
export function servicePortsIn(env: Readonly<Record<string, string>> = {}): Record<ServiceName, number> {
  const out: Record<ServiceName, number> = { ...SERVICE_PORTS };
  for (const [name, v] of Object.entries(PORT_VARIABLES)) {
    const raw = env[name];
    if (v.service in out && raw !== undefined && /^\d+$/.test(raw)) out[v.service as ServiceName] = Number(raw);
  }
  return out;
}

/** Whether an apt list installs `name` (entries may pin a version: "curl=8.5.0-2ubuntu10"). */
export function installs(packages: readonly string[], name: string): boolean {
  return packages.some((p) => p.split('=')[0] === name);
}

/**
 * Params of an apt layer. openssh-server's postinst generates host keys at
 * install; left in the layer, every pod of the image would share them
 * (start.sh makes a pod's own keys when they are missing).
 */
export function aptParams(packages: readonly string[]): { packages: string[]; removeHostKeys: boolean } {
  return { packages: [...packages].sort(), removeHostKeys: installs(packages, 'openssh-server') };
}

/** FileBrowser's release archive for linux-amd64 (https://github.com/filebrowser/filebrowser/releases). */
export function filebrowserUrl(version: string): string {
  return `https://github.com/filebrowser/filebrowser/releases/download/${version}/linux-amd64-filebrowser.tar.gz`;
}

export function comfyLayers(base: BaseDefinition): LayerSpec[] {
  const how = installer(base);
  const managerDir = `${P.comfyui}/custom_nodes/ComfyUI-Manager`;
  // validateProject makes sure curl is in one of the apt sets; wait for it only when it comes from this one.
  const curlHere = installs(base.apt, 'curl');
  const archive = '/tmp/filebrowser.tar.gz';
  return [
    ...(base.apt.length > 0 ? [{ id: 'apt', kind: 'apt' as const, params: aptParams(base.apt) }] : []),
    {
      id: 'filebrowser',
      kind: 'filebrowser',
      params: {
        url: filebrowserUrl(base.filebrowser.version),
        archive,
        // The line `sha256sum -c` reads: digest, two spaces, file.
        checksum: `${base.filebrowser.sha256}  ${archive}`,
        dir: P.bin,
        binary: 'filebrowser',
      },
      after: curlHere ? ['apt'] : [],
    },
    // Into the ComfyUI venv (notebooks can import torch), held to the torch pins like every later pip step.
    { id: 'jupyterlab', kind: 'jupyterlab', params: { pins: [`jupyterlab==${base.jupyterlab}`], constraints: P.constraints, ...how } },
    { id: 'comfyui', kind: 'comfyui', params: { repo: base.comfyui.repo, commit: base.comfyui.commit, dir: P.comfyui, submodules: false } },
    {
      id: 'comfyui-reqs',
      kind: 'comfyui-reqs',
      params: { requirements: `${P.comfyui}/requirements.txt`, constraints: P.constraints, ...how },
      after: ['comfyui'],
    },
    { id: 'manager', kind: 'manager', params: { repo: base.manager.repo, commit: base.manager.commit, dir: managerDir, submodules: false }, after: ['comfyui'] },
    {
      id: 'manager-reqs',
      kind: 'manager-reqs',
      params: { requirements: `${managerDir}/requirements.txt`, constraints: P.constraints, ...how },
      after: ['manager'],
    },
  ];
}

/**
 * The kernel builders start from the devel image and build against the
 * image's own torch: the torch target's venv, bind-mounted read-only (named
 * context `torch`), so the wheels link exactly the torch the image runs (ABI)
 * and the venv is never copied into the builder.
 */
const TORCH_VENV = { context: 'torch', source: P.venv, target: P.venv } as const;

export function sageLayers(gpu: GpuDefinition): LayerSpec[] {
  const b = compileBudget(gpu);
  const dir = `${P.src}/SageAttention`;
  return [
    { id: 'clone', kind: 'sage-clone', params: { repo: gpu.sage.repo, commit: gpu.sage.commit, dir, submodules: false } },
    {
      id: 'build',
      kind: 'sage-build',
      uses: ['torch'],
      params: {
        dir,
        wheels: P.wheels,
        venv: TORCH_VENV,
        // No GPU at build time: the arch list MUST be set, and only the GPU's own (GPU-FACTS "SageAttention").
        env: [
          ['TORCH_CUDA_ARCH_LIST', gpu.sage.torchCudaArchList],
          ['EXT_PARALLEL', String(b.extParallel)],
          ['NVCC_APPEND_FLAGS', `--threads ${b.nvccThreads}`],
          ['MAX_JOBS', String(b.maxJobs)],
        ],
      },
      after: ['clone'],
    },
  ];
}

export function flashLayers(gpu: GpuDefinition): LayerSpec[] {
  const b = compileBudget(gpu);
  const dir = `${P.src}/flash-attention`;
  return [
    // FA2 vendors CUTLASS as a submodule; nothing else is needed to build. Without .git its
    // setup.py skips `git submodule update --init csrc/composable_kernel` (ROCm's CK, full
    // history, fetched for CUDA builds too: setup.py of v2.8.3, "if os.path.isdir('.git')").
    {
      id: 'clone',
      kind: 'flash-clone',
      params: { repo: gpu.flash.repo, tag: gpu.flash.tag, dir, submodules: ['csrc/cutlass'], dropGit: true },
    },
    {
      id: 'build',
      kind: 'flash-build',
      uses: ['torch'],
      params: {
        dir,
        wheels: P.wheels,
        venv: TORCH_VENV,
        // FlashAttention ignores TORCH_CUDA_ARCH_LIST (GPU-FACTS "FlashAttention"). MAX_JOBS is
        // always set: unset, its legacy build path imports psutil (setup.py NinjaBuildExtension).
        env: [
          ['FLASH_ATTENTION_FORCE_BUILD', 'TRUE'],
          ['FLASH_ATTN_CUDA_ARCHS', gpu.flash.cudaArchs],
          ['MAX_JOBS', String(b.maxJobs)],
          ['NVCC_THREADS', String(b.nvccThreads)],
        ],
      },
      after: ['clone'],
    },
  ];
}

/**
 * What llama-server loads at run time beyond the driver (GPU-FACTS "llama.cpp": libcudart,
 * libcublas, libcublasLt, libgomp1, libssl3; Ubuntu 24.04 names OpenSSL's runtime libssl3t64).
 * cuBLAS comes with the image flavour when it has it (runtime and up), else as the runtime
 * image's own pinned package (src/facts/cuda-images.ts); cudart is in every flavour.
 * Null when the CUDA version has no known cuBLAS package (validation says so).
 */
export function llamaRuntimeApt(base: BaseDefinition, gpu: GpuDefinition): string[] | null {
  const common = ['libgomp1', 'libssl3t64'];
  if (runtimeHasCublas(base)) return common;
  const cublas = CUBLAS_DEB[gpu.cuda];
  return cublas ? [...common, cublas] : null;
}

export function llamaLayers(gpu: GpuDefinition): LayerSpec[] {
  const b = compileBudget(gpu);
  const dir = `${P.src}/llama.cpp`;
  return [
    { id: 'clone', kind: 'llama-clone', params: { repo: gpu.llama.repo, tag: gpu.llama.tag, dir, submodules: [], dropGit: false } },
    {
      id: 'build',
      kind: 'llama-build',
      params: {
        dir,
        out: P.llama,
        jobs: b.maxJobs,
        // Flags of llama.cpp's own CUDA Dockerfile; --allow-shlib-undefined because no libcuda.so.1 exists at build time.
        // The copy keeps the versioned libraries and their links (libllama.so.0 -> ...), as that Dockerfile's
        // `find build -name "*.so*" -exec cp -P` does: copying *.so alone leaves dangling links.
        cmakeFlags: [
          '-DGGML_NATIVE=OFF',
          '-DGGML_CUDA=ON',
          '-DGGML_BACKEND_DL=ON',
          '-DGGML_CPU_ALL_VARIANTS=ON',
          '-DLLAMA_BUILD_TESTS=OFF',
          '-DLLAMA_OPENSSL=ON',
          `-DCMAKE_CUDA_ARCHITECTURES=${gpu.llama.cudaArchitectures}`,
          '-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined',
          // The build tree's RUNPATH is <build>/bin plus an empty entry (the cwd): copied to
          // /opt/llama, llama-server would find its libraries only when started from there. The
          // install RPATH $ORIGIN (what llama.cpp's release builds use) finds them beside the binary.
          '-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON',
          '-DCMAKE_INSTALL_RPATH=$ORIGIN',
        ],
      },
      after: ['clone'],
    },
  ];
}

/**
 * Bake target that checks out one custom node at its pinned commit. Templates
 * COPY the checkout from it, so the clone depends only on base-common (git)
 * and the pin: a ComfyUI, torch or runtime-apt change does not re-clone, and
 * templates (and GPUs) that pin the same commit share one clone.
 */
export function nodeTargetName(node: Pick<CustomNode, 'name' | 'commit'>): string {
  const slug = node.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return `node-${slug}-${node.commit.slice(0, 7)}`;
}

/** Where a node target leaves the checkout. */
export function nodeCheckout(node: CustomNode): string {
  return `${P.src}/nodes/${node.name}`;
}

export function nodeLayers(node: CustomNode): LayerSpec[] {
  // Submodules too: some nodes keep their code in one (ComfyUI_UltimateSDUpscale:
  // repositories/ultimate_sd_upscale); without it the node fails to import.
  return [{ id: 'clone', kind: 'node-clone', params: { repo: node.repo, commit: node.commit, dir: nodeCheckout(node), submodules: true } }];
}
