/**
 * Layer lists of the shared targets (everything but <template>-<gpu>).
 * Each function returns data only; the Dockerfile text lives in src/emit.
 */
import type { BaseDefinition, CustomNode, GpuDefinition } from '../dsl/types.ts';
import { IMAGE_PATHS as P } from './image-paths.ts';
import type { LayerSpec } from './layer-spec.ts';

export function cudaImage(base: BaseDefinition, gpu: GpuDefinition): string {
  return `${base.imageRepo}:${gpu.cuda}-${base.imageFlavor}`;
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

/** Environment every RUN of the Python side sees (set once in base-common). */
export const PYTHON_ENV: Readonly<Record<string, string>> = {
  DEBIAN_FRONTEND: 'noninteractive',
  PATH: `${P.venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  PIP_NO_CACHE_DIR: '1',
  PYTHONUNBUFFERED: '1',
  VIRTUAL_ENV: P.venv,
};

export function baseCommonLayers(base: BaseDefinition): LayerSpec[] {
  return [
    { id: 'toolchain-apt', kind: 'toolchain-apt', params: { packages: [...base.toolchainApt].sort() } },
    { id: 'venv', kind: 'venv', params: { python: base.python, venv: P.venv }, after: ['toolchain-apt'] },
    {
      id: 'pip-tools',
      kind: 'pip-tools',
      params: { index: '', pins: Object.entries(base.pipTools).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => `${n}==${v}`) },
      after: ['venv'],
    },
  ];
}

export function torchLayers(gpu: GpuDefinition): LayerSpec[] {
  const t = gpu.torch;
  const trio = [`torch==${t.torch}`, `torchvision==${t.torchvision}`, `torchaudio==${t.torchaudio}`];
  return [
    { id: 'torch', kind: 'torch', params: { index: t.index, pins: trio } },
    // Same index as torch: xformers wheels pin one exact torch (GPU-FACTS "xformers").
    { id: 'xformers', kind: 'xformers', params: { index: t.index, pins: [`xformers==${t.xformers}`] }, after: ['torch'] },
    {
      id: 'constraints',
      kind: 'constraints',
      params: { path: P.constraints, lines: [...trio, `xformers==${t.xformers}`] },
      after: ['xformers'],
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

/** Whether an apt list installs `name` (entries may pin a version: "curl=8.5.0-2ubuntu10"). */
export function installs(packages: readonly string[], name: string): boolean {
  return packages.some((p) => p.split('=')[0] === name);
}

/** FileBrowser's release archive for linux-amd64 (https://github.com/filebrowser/filebrowser/releases). */
export function filebrowserUrl(version: string): string {
  return `https://github.com/filebrowser/filebrowser/releases/download/${version}/linux-amd64-filebrowser.tar.gz`;
}

export function comfyLayers(base: BaseDefinition): LayerSpec[] {
  const managerDir = `${P.comfyui}/custom_nodes/ComfyUI-Manager`;
  // validateProject makes sure curl is in one of the apt sets; wait for it only when it comes from this one.
  const curlHere = installs(base.apt, 'curl');
  const archive = '/tmp/filebrowser.tar.gz';
  return [
    ...(base.apt.length > 0 ? [{ id: 'apt', kind: 'apt' as const, params: { packages: [...base.apt].sort() } }] : []),
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
    { id: 'jupyterlab', kind: 'jupyterlab', params: { pins: [`jupyterlab==${base.jupyterlab}`], constraints: P.constraints } },
    { id: 'comfyui', kind: 'comfyui', params: { repo: base.comfyui.repo, commit: base.comfyui.commit, dir: P.comfyui } },
    {
      id: 'comfyui-reqs',
      kind: 'comfyui-reqs',
      params: { requirements: `${P.comfyui}/requirements.txt`, constraints: P.constraints },
      after: ['comfyui'],
    },
    { id: 'manager', kind: 'manager', params: { repo: base.manager.repo, commit: base.manager.commit, dir: managerDir }, after: ['comfyui'] },
    {
      id: 'manager-reqs',
      kind: 'manager-reqs',
      params: { requirements: `${managerDir}/requirements.txt`, constraints: P.constraints },
      after: ['manager'],
    },
  ];
}

export function sageLayers(gpu: GpuDefinition): LayerSpec[] {
  const b = compileBudget(gpu);
  const dir = `${P.src}/SageAttention`;
  return [
    { id: 'clone', kind: 'sage-clone', params: { repo: gpu.sage.repo, commit: gpu.sage.commit, dir } },
    {
      id: 'build',
      kind: 'sage-build',
      params: {
        dir,
        wheels: P.wheels,
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
    // FA2 vendors CUTLASS as a submodule; nothing else is needed to build.
    { id: 'clone', kind: 'flash-clone', params: { repo: gpu.flash.repo, tag: gpu.flash.tag, dir, submodules: ['csrc/cutlass'] } },
    {
      id: 'build',
      kind: 'flash-build',
      params: {
        dir,
        wheels: P.wheels,
        // FlashAttention ignores TORCH_CUDA_ARCH_LIST (GPU-FACTS "FlashAttention").
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

/** Build packages of the llama builder; it starts from the CUDA image, not base-common. */
export const LLAMA_APT = ['build-essential', 'ca-certificates', 'cmake', 'git', 'libssl-dev'] as const;

export function llamaLayers(gpu: GpuDefinition): LayerSpec[] {
  const b = compileBudget(gpu);
  const dir = `${P.src}/llama.cpp`;
  return [
    { id: 'apt', kind: 'llama-apt', params: { packages: [...LLAMA_APT] } },
    { id: 'clone', kind: 'llama-clone', params: { repo: gpu.llama.repo, tag: gpu.llama.tag, dir, submodules: [] }, after: ['apt'] },
    {
      id: 'build',
      kind: 'llama-build',
      params: {
        dir,
        out: P.llama,
        jobs: b.maxJobs,
        // Flags of llama.cpp's own CUDA Dockerfile; --allow-shlib-undefined because no libcuda.so.1 exists at build time.
        cmakeFlags: [
          '-DGGML_NATIVE=OFF',
          '-DGGML_CUDA=ON',
          '-DGGML_BACKEND_DL=ON',
          '-DGGML_CPU_ALL_VARIANTS=ON',
          '-DLLAMA_BUILD_TESTS=OFF',
          '-DLLAMA_OPENSSL=ON',
          `-DCMAKE_CUDA_ARCHITECTURES=${gpu.llama.cudaArchitectures}`,
          '-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined',
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
export function nodeTargetName(node: CustomNode): string {
  const slug = node.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return `node-${slug}-${node.commit.slice(0, 7)}`;
}

/** Where a node target leaves the checkout. */
export function nodeCheckout(node: CustomNode): string {
  return `${P.src}/nodes/${node.name}`;
}

export function nodeLayers(node: CustomNode): LayerSpec[] {
  return [{ id: 'clone', kind: 'node-clone', params: { repo: node.repo, commit: node.commit, dir: nodeCheckout(node) } }];
}
