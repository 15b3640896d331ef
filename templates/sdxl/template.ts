import rtx4090 from '../../base/rtx4090.ts';
import rtx5090 from '../../base/rtx5090.ts';
import { defineTemplate, hf, node } from '../../src/dsl/index.ts';

export default defineTemplate({
  name: 'sdxl',
  description: 'SDXL 1.0 base + refiner with upscaling and ControlNet preprocessors.',
  gpus: [rtx4090, rtx5090],
  models: [
    hf('stabilityai/stable-diffusion-xl-base-1.0', 'sd_xl_base_1.0.safetensors', {
      into: 'checkpoints',
      revision: '462165984030d82259a11f4367a4eed129e94a7b',
      sha256: '31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b',
      bytes: 6938078334,
    }),
    hf('stabilityai/stable-diffusion-xl-refiner-1.0', 'sd_xl_refiner_1.0.safetensors', {
      into: 'checkpoints',
      revision: '5d4cfe854c9a9a87939ff3653551c2b3c99a4356',
      sha256: '7440042bbdc8a24813002c09b6b69b64dc90fded4472613437b7f55f9b7d9c5f',
    }),
    hf('stabilityai/sdxl-vae', 'sdxl_vae.safetensors', {
      into: 'vae',
      sha256: '63aeecb90ff7bc1c115395962d3e803571385b61938377bc7089b36e81e92e2e',
      bytes: 334641164,
    }),
  ],
  nodes: [
    node('https://github.com/ssitu/ComfyUI_UltimateSDUpscale', '70083f5d449c498ee0fb35f5293c91cebac4b758'),
    node('https://github.com/cubiq/ComfyUI_essentials', '33ff89fd354d8ec3ab6affb605a79a931b445d99'),
    node('https://github.com/Fannovel16/comfyui_controlnet_aux', '1e9eac6377c882da8bb360c7544607036904362c'),
  ],
  // ComfyUI_essentials' background removal runs rembg, which needs onnxruntime and installs none
  // itself; the GPU build, so it runs on CUDA (the image check asserts its CUDAExecutionProvider).
  pip: { 'onnxruntime-gpu': '1.22.0' },
});
