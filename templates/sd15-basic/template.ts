import rtx4090 from '../../base/rtx4090.ts';
import rtx5090 from '../../base/rtx5090.ts';
import { defineTemplate, hf, node } from '../../src/dsl/index.ts';

export default defineTemplate({
  name: 'sd15-basic',
  description: 'Stable Diffusion 1.5 text-to-image: the smallest useful ComfyUI image.',
  gpus: [rtx4090, rtx5090],
  models: [
    hf('Comfy-Org/stable-diffusion-v1-5-archive', 'v1-5-pruned-emaonly-fp16.safetensors', {
      into: 'checkpoints',
      sha256: 'e9476a13728cd75d8279f6ec8bad753a66a1957ca375a1464dc63b37db6e3916',
      bytes: 2132696762,
    }),
  ],
  nodes: [
    node('https://github.com/pythongosssss/ComfyUI-Custom-Scripts', '2c09d59ab5ac27ac59022832bfde4eeeb9c55825'),
    node('https://github.com/rgthree/rgthree-comfy', '32142fe476878a354dda6e2d4b5ea98960de3ced'),
  ],
});
