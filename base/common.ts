import { defineBase } from '../src/dsl/index.ts';

/**
 * The shared base: one base-common image per CUDA version, ComfyUI and
 * ComfyUI-Manager on top of each GPU's torch.
 */
export default defineBase({
  // The two chains (README "Two chains"): final images on nvidia/cuda:<gpu.cuda>-base-ubuntu24.04
  // (torch's cu128 wheels bring CUDA's libraries; cuBLAS is added where llama-server needs it),
  // kernel builders and llama.cpp on -devel-ubuntu24.04 (nvcc; none of them uses cuDNN).
  imageFlavor: 'base-ubuntu24.04',
  develFlavor: 'devel-ubuntu24.04',
  // Every Python install of the images (not the kernel builds: `pip wheel`, uv has no equivalent).
  // 0.12.5: astral-sh/uv's release of 2026-08-14, installed from PyPI into the venv.
  uv: '0.12.5',
  // Under torch and the kernel builders: only what building Python wheels needs.
  toolchainApt: ['build-essential', 'ca-certificates', 'git', 'python3', 'python3-dev', 'python3-venv'],
  // Above torch (in base-<gpu>): adding a package here never rebuilds torch, Sage or Flash.
  apt: ['curl', 'ffmpeg', 'git-lfs', 'libgl1', 'libglib2.0-0', 'openssh-server', 'rsync', 'tini', 'unzip', 'wget'],
  // Ubuntu 24.04's python3 is 3.12.
  python: 'python3',
  pipTools: {
    ninja: '1.11.1.4',
    packaging: '25.0',
    pip: '25.1.1',
    setuptools: '80.9.0',
    wheel: '0.45.1',
  },
  // Commit pair taken together from a public ComfyUI worker Dockerfile (COMFYUI_COMMIT / MANAGER_COMMIT).
  comfyui: { repo: 'https://github.com/comfyanonymous/ComfyUI', commit: 'b133e48368d0f52bb014f0dd7ae1adb7403d515b' },
  manager: { repo: 'https://github.com/Comfy-Org/ComfyUI-Manager', commit: 'f39cbd56fecae0b27a446c0cd450cd591f3a8bea' },
  // v2.59.0 linux-amd64 archive; the digest as pinned (FILEBROWSER_SHA256) in several public RunPod
  // ComfyUI bake files. Bumping: download the new archive and sha256sum it.
  filebrowser: { version: 'v2.59.0', sha256: '8cd8c3baecb086028111b912f252a6e3169737fa764b5c510139e81f9da87799' },
  jupyterlab: '4.4.9',
});
