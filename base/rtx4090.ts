import { defineGpu } from '../src/dsl/index.ts';

/** RTX 4090 (Ada, sm_89). Values: shared/GPU-FACTS.md "Per-GPU settings". */
export default defineGpu({
  name: 'rtx4090',
  title: 'RTX 4090',
  sm: 89,
  cuda: '12.8.1',
  torch: {
    torch: '2.8.0',
    torchvision: '0.23.0',
    torchaudio: '2.8.0',
    // torch's cu128 wheels carry sm_86 code, which runs on sm_89.
    index: 'https://download.pytorch.org/whl/cu128',
    // 0.0.32 pins torch 2.8.0 (GPU-FACTS); its cu128 wheels carry sm_80 SASS, which runs on sm_89.
    xformers: '0.0.32.post2',
  },
  // v2.2.0 (the SM90 backend broke after it, thu-ml/SageAttention#320).
  sage: { repo: 'https://github.com/thu-ml/SageAttention', commit: 'eb615cf6cf4d221338033340ee2de1c37fbdba4a', torchCudaArchList: '8.9' },
  // FA2 has no sm_89 target; its sm_80 code runs on the 4090.
  flash: { repo: 'https://github.com/Dao-AILab/flash-attention', tag: 'v2.8.3', cudaArchs: '80' },
  llama: { repo: 'https://github.com/ggml-org/llama.cpp', tag: 'b8508', cudaArchitectures: '89' },
  compile: { maxJobs: 4, nvccThreads: 2, extParallel: 1 },
});
