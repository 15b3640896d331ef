import { defineGpu } from '../src/dsl/index.ts';

/** RTX 5090 (Blackwell, sm_120): CUDA >= 12.8, torch >= 2.7 from cu128. Values: shared/GPU-FACTS.md. */
export default defineGpu({
  name: 'rtx5090',
  title: 'RTX 5090',
  sm: 120,
  cuda: '12.8.1',
  torch: {
    torch: '2.8.0',
    torchvision: '0.23.0',
    torchaudio: '2.8.0',
    index: 'https://download.pytorch.org/whl/cu128',
    // No xformers: its cu128 wheels carry no sm_120 SASS (only PTX the driver JIT-compiles on first
    // use; GPU-FACTS "xformers"), and torch's own SDPA (or Sage/Flash) serves ComfyUI on this GPU.
  },
  // One arch per Sage build: 9.0 next to 12.0 breaks ptxas (thu-ml/SageAttention#291).
  sage: { repo: 'https://github.com/thu-ml/SageAttention', commit: 'eb615cf6cf4d221338033340ee2de1c37fbdba4a', torchCudaArchList: '12.0' },
  // FA2 builds for sm_120 from v2.7.3 with nvcc >= 12.8.
  flash: { repo: 'https://github.com/Dao-AILab/flash-attention', tag: 'v2.8.3', cudaArchs: '120' },
  llama: { repo: 'https://github.com/ggml-org/llama.cpp', tag: 'b8508', cudaArchitectures: '120' },
  compile: { maxJobs: 4, nvccThreads: 2, extParallel: 1 },
});
