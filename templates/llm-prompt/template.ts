import rtx4090 from '../../base/rtx4090.ts';
import rtx5090 from '../../base/rtx5090.ts';
import { defineTemplate, hf, node } from '../../src/dsl/index.ts';

export default defineTemplate({
  name: 'llm-prompt',
  description: 'SD 1.5 plus a local llama-server (Qwen2.5 1.5B) for prompt writing on the same GPU.',
  gpus: [rtx4090, rtx5090],
  features: { llama: true },
  models: [
    hf('Comfy-Org/stable-diffusion-v1-5-archive', 'v1-5-pruned-emaonly-fp16.safetensors', {
      into: 'checkpoints',
      sha256: 'e9476a13728cd75d8279f6ec8bad753a66a1957ca375a1464dc63b37db6e3916',
      bytes: 2132696762,
    }),
    hf('Qwen/Qwen2.5-1.5B-Instruct-GGUF', 'qwen2.5-1.5b-instruct-q4_k_m.gguf', {
      into: 'llm',
      revision: '91cad51170dc346986eccefdc2dd33a9da36ead9',
      sha256: '6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e',
      bytes: 1117320736,
    }),
  ],
  nodes: [node('https://github.com/pythongosssss/ComfyUI-Custom-Scripts', '2c09d59ab5ac27ac59022832bfde4eeeb9c55825')],
  env: { ENABLE_LLM: 'true', LLM_PORT: '8081' },
  ports: [{ port: 8081, protocol: 'http', name: 'llama-server' }],
});
