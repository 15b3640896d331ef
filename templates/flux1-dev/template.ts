import rtx5090 from '../../base/rtx5090.ts';
import { defineTemplate, hf, node } from '../../src/dsl/index.ts';

export default defineTemplate({
  name: 'flux1-dev',
  description: 'FLUX.1 [dev] on the RTX 5090 with SageAttention and FlashAttention built for sm_120.',
  gpus: [rtx5090],
  features: { sage: true, flash: true },
  attention: 'sage',
  models: [
    // Gated repo: accept the license on Hugging Face and set HF_TOKEN on the pod.
    hf('black-forest-labs/FLUX.1-dev', 'flux1-dev.safetensors', {
      into: 'diffusion_models',
      sha256: '4610115bb0c89560703c892c59ac2742fa821e60ef5871b33493ba544683abd7',
      bytes: 23802932552,
    }),
    hf('black-forest-labs/FLUX.1-dev', 'ae.safetensors', {
      into: 'vae',
      sha256: 'afc8e28272cd15db3919bacdb6918ce9c1ed22e96cb12c4d5ed0fba823529e38',
      bytes: 335304388,
    }),
    hf('comfyanonymous/flux_text_encoders', 'clip_l.safetensors', {
      into: 'text_encoders',
      sha256: '660c6f5b1abae9dc498ac2d21e1347d2abdb0cf6c0c0c8576cd796491d9a6cdd',
      bytes: 246144152,
    }),
    hf('comfyanonymous/flux_text_encoders', 't5xxl_fp8_e4m3fn.safetensors', {
      into: 'text_encoders',
      sha256: '7d330da4816157540d6bb7838bf63a0f02f573fc48ca4d8de34bb0cbfd514f09',
      bytes: 4893934904,
    }),
  ],
  nodes: [
    node('https://github.com/rgthree/rgthree-comfy', '32142fe476878a354dda6e2d4b5ea98960de3ced'),
    node('https://github.com/kijai/ComfyUI-KJNodes', '3f20054214fec9f9234fd3841ae6f1e4287948f6'),
    // From 5875c52 on, its requirements no longer pin numpy<2 (which downgraded numpy under nodes that need >= 2).
    node('https://github.com/city96/ComfyUI-GGUF', '795e45156ece99afbc3efef911e63fcb46e6a20d'),
  ],
  disk: { containerGb: 60, volumeGb: 150 },
});
