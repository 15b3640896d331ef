import rtx4090 from '../../base/rtx4090.ts';
import rtx5090 from '../../base/rtx5090.ts';
import { defineTemplate, hf, node } from '../../src/dsl/index.ts';

const repack = 'Comfy-Org/Wan_2.1_ComfyUI_repackaged';

export default defineTemplate({
  name: 'wan-video',
  description: 'Wan 2.1 text-to-video (1.3B) with SageAttention and the video helper nodes.',
  gpus: [rtx4090, rtx5090],
  features: { sage: true },
  models: [
    hf(repack, 'split_files/diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors', {
      into: 'diffusion_models',
      revision: '123acf1cc74bccbb9bfff8ac1ee72edc08c2341d',
      sha256: 'be531024cd9018cb5b48c40cfbb6a6191645b1c792eb8bf4f8c1c6e10f924dc5',
      bytes: 2838303560,
    }),
    hf(repack, 'split_files/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors', {
      into: 'text_encoders',
      sha256: 'c3355d30191f1f066b26d93fba017ae9809dce6c627dda5f6a66eaa651204f68',
      bytes: 6735906897,
    }),
    hf(repack, 'split_files/vae/wan_2.1_vae.safetensors', {
      into: 'vae',
      sha256: '2fc39d31359a4b0a64f55876d8ff7fa8d780956ae2cb13463b0223e15148976b',
      bytes: 253815318,
    }),
  ],
  nodes: [
    node('https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite', '115de7a9d9e34410cffb9ecfd268e993b11a50fb'),
    node('https://github.com/kijai/ComfyUI-KJNodes', '3f20054214fec9f9234fd3841ae6f1e4287948f6'),
    node('https://github.com/kijai/ComfyUI-WanVideoWrapper', 'e926f7a069e3efc25bdcc78e1bf65c39ac1a2cd4'),
  ],
  disk: { containerGb: 60, volumeGb: 150 },
});
