import test from 'ava';
import { defineBase, defineGpu, hf, node, url, civitai } from '../src/dsl/index.ts';
import type { GpuOptions } from '../src/dsl/types.ts';
import { ValidationError } from '../src/errors.ts';
import { resolveGraph } from '../src/graph/resolve.ts';
import { Testing } from '../src/testing.ts';
import { badInputs, type BadInput } from './helpers/bad-input.ts';
import { common, project, rtx4090, rtx5090, SHA_A, template } from './helpers/fixtures.ts';

const gpu5090 = (o: Partial<GpuOptions>) => defineGpu({ ...rtx5090, ...o });
const gpu4090 = (o: Partial<GpuOptions>) => defineGpu({ ...rtx4090, ...o });

const cases: BadInput[] = [
  {
    title: 'sm_120 on CUDA 12.6',
    project: () => project({ gpus: [rtx4090, gpu5090({ cuda: '12.6.3' })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'cuda', says: /CUDA >= 12\.8/,
  },
  {
    title: 'sm_120 with torch 2.6',
    project: () => project({ gpus: [rtx4090, gpu5090({ torch: { ...rtx5090.torch, torch: '2.6.0', torchvision: '0.21.0', torchaudio: '2.6.0', xformers: '0.0.29' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'torch.torch', says: /torch >= 2\.7/,
  },
  {
    title: 'sm_120 from the cu126 index',
    project: () => project({ gpus: [rtx4090, gpu5090({ torch: { ...rtx5090.torch, index: 'https://download.pytorch.org/whl/cu126' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'torch.index', says: /cu128/,
  },
  {
    title: 'Sage arch list with 9.0 next to 12.0',
    project: () => project({ gpus: [rtx4090, gpu5090({ sage: { ...rtx5090.sage, torchCudaArchList: '9.0;12.0' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'sage.torchCudaArchList', says: /never 9\.0 with 12\.0/,
  },
  {
    title: "Sage arch list of another GPU",
    project: () => project({ gpus: [gpu4090({ sage: { ...rtx4090.sage, torchCudaArchList: '8.6' } }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'sage.torchCudaArchList', says: /'8\.9'/,
  },
  {
    title: 'FlashAttention arch in TORCH_CUDA_ARCH_LIST form',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { ...rtx5090.flash, cudaArchs: '12.0' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.cudaArchs', says: /cudaArchs: '120'/,
  },
  {
    title: 'FlashAttention too old for sm_120',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { ...rtx5090.flash, tag: 'v2.7.2' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.tag', says: /v2\.7\.3/,
  },
  {
    title: 'llama.cpp arch of the wrong GPU',
    project: () => project({ gpus: [gpu4090({ llama: { ...rtx4090.llama, cudaArchitectures: '120' } }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'llama.cudaArchitectures', says: /'89'/,
  },
  {
    title: 'llama.cpp pinned to a branch',
    project: () => project({ gpus: [rtx4090, gpu5090({ llama: { ...rtx5090.llama, tag: 'master' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'llama.tag', says: /release tag/,
  },
  {
    title: 'xformers built for another torch',
    project: () => project({ gpus: [gpu4090({ torch: { ...rtx4090.torch, xformers: '0.0.31' } }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'torch.xformers', says: /built against torch 2\.7\.1, not 2\.8\.0/,
  },
  {
    title: 'torchvision that does not pair with torch',
    project: () => project({ gpus: [gpu4090({ torch: { ...rtx4090.torch, torchvision: '0.21.0' } }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'torch.torchvision', says: /use torchvision 0\.23\.0/,
  },
  {
    title: 'ComfyUI pinned to a branch',
    project: () => project({ base: defineBase({ ...common, comfyui: { repo: common.comfyui.repo, commit: 'master' } }) }),
    file: 'base/common.ts', definition: 'base', field: 'comfyui.commit', says: /git ls-remote/,
  },
  {
    title: 'FileBrowser pinned to a branch name',
    project: () => project({ base: defineBase({ ...common, filebrowser: { ...common.filebrowser, version: 'master' } }) }),
    file: 'base/common.ts', definition: 'base', field: 'filebrowser.version', says: /v2\.59\.0/,
  },
  {
    title: 'FileBrowser digest in upper case',
    project: () => project({ base: defineBase({ ...common, filebrowser: { ...common.filebrowser, sha256: common.filebrowser.sha256.toUpperCase() } }) }),
    file: 'base/common.ts', definition: 'base', field: 'filebrowser.sha256', says: /lowercase hex/,
  },
  {
    title: 'no curl in either apt set (FileBrowser is downloaded with it)',
    project: () => project({ base: defineBase({ ...common, apt: common.apt.filter((p) => p !== 'curl') }) }),
    file: 'base/common.ts', definition: 'base', field: 'apt', says: /add 'curl'/,
  },
  {
    title: 'JupyterLab as a range',
    project: () => project({ base: defineBase({ ...common, jupyterlab: '>=4' }) }),
    file: 'base/common.ts', definition: 'base', field: 'jupyterlab', says: /exact version/,
  },
  {
    title: 'template port taken by JupyterLab',
    project: () => project({ templates: [template({ ports: [{ port: 8888, protocol: 'http', name: 'x' }] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'ports[0].port', says: /8888 jupyter/,
  },
  {
    title: 'custom node pinned to a short SHA',
    project: () => project({ templates: [template({ nodes: [node('https://github.com/o/r', 'abc1234')] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'nodes[0].commit', says: /40-hex/,
  },
  {
    title: 'two nodes with one folder name',
    project: () => project({ templates: [template({ nodes: [node('https://github.com/a/same', SHA_A), node('https://github.com/b/same', SHA_A)] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'nodes[1].name', says: /also nodes\[0\]/,
  },
  {
    title: 'a node folder name of dots only',
    project: () => project({ templates: [template({ nodes: [node('https://github.com/o/r', SHA_A, { name: '..' })] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'nodes[0].name', says: /custom_nodes folder/,
  },
  {
    // Folder names "Same" and "same" in two templates at one commit map to one checkout target.
    title: 'two repos that would share one node checkout target',
    project: () =>
      project({
        templates: [
          template({ nodes: [node('https://github.com/a/Same', SHA_A)] }),
          template({ name: 'other', nodes: [node('https://github.com/b/same', SHA_A)] }),
        ],
      }),
    file: 'templates/other/template.ts', definition: 'template "other"', field: 'nodes[0].name', says: /node-same-/,
  },
  {
    title: 'model in an unknown folder',
    project: () => project({ templates: [template({ models: [hf('o/r', 'x.safetensors', { into: 'checkpoint' as never, sha256: 'c'.repeat(64) })] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'models[0].into', says: /checkpoints/,
  },
  {
    title: 'two models writing the same path',
    project: () =>
      project({
        templates: [
          template({
            models: [
              hf('o/a', 'm.safetensors', { into: 'loras', sha256: 'c'.repeat(64) }),
              url('https://example.com/m.safetensors', { into: 'loras', file: 'm.safetensors', sha256: 'd'.repeat(64) }),
            ],
          }),
        ],
      }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'models[1]', says: /loras\/m\.safetensors/,
  },
  {
    title: 'malformed sha256',
    project: () => project({ templates: [template({ models: [hf('o/r', 'x.safetensors', { into: 'vae', sha256: 'ABC' })] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'models[0].sha256', says: /64 lowercase hex/,
  },
  {
    title: 'unpinned model without opt-in',
    project: () => project({ templates: [template({ models: [civitai(62833, { into: 'loras', as: 'add_detail.safetensors' })] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'models[0]', says: /allowUnpinnedModels/,
  },
  {
    title: 'unknown GPU in a template',
    project: () => project({ gpus: [rtx4090], templates: [template({ gpus: [rtx4090, rtx5090] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'gpus[1]', says: /use one of: rtx4090/,
  },
  {
    title: 'unknown feature',
    project: () => project({ templates: [template({ features: { sage: true, triton: true } as never })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'features.triton', says: /sage, flash, llama/,
  },
  {
    title: 'attention backend that is not built',
    project: () => project({ templates: [template({ attention: 'flash' })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'attention', says: /enable features\.flash/,
  },
  {
    title: 'duplicate template names',
    project: () => project({ templates: [template(), template()] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'name', says: /also used/,
  },
  {
    title: 'template named like a GPU',
    project: () => project({ templates: [template({ name: 'rtx4090' })] }),
    file: 'templates/rtx4090/template.ts', definition: 'template "rtx4090"', field: 'name', says: /collides/,
  },
  {
    title: 'a secret baked into env',
    project: () => project({ templates: [template({ env: { HF_TOKEN: 'hf_abc' } })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'env.HF_TOKEN', says: /never baked/,
  },
  {
    title: 'port taken by ComfyUI',
    project: () => project({ templates: [template({ ports: [{ port: 8188, protocol: 'http', name: 'x' }] })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'ports[0].port', says: /already used/,
  },
  // --- Exact versions: one version, never a range (semver) ---
  {
    title: 'torch as a range renders `torch==>=2.7.1`',
    project: () => project({ gpus: [rtx4090, gpu5090({ torch: { ...rtx5090.torch, torch: '>=2.7.1' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'torch.torch', says: /is a range[\s\S]*torch: '2\.7\.1'/,
  },
  {
    title: 'torch as an either-or range',
    project: () => project({ gpus: [gpu4090({ torch: { ...rtx4090.torch, torch: '2.7.1 || 2.8.0' } }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'torch.torch', says: /"2\.7\.1 \|\| 2\.8\.0" is a range/,
  },
  {
    title: 'torchvision as a range',
    project: () => project({ gpus: [gpu4090({ torch: { ...rtx4090.torch, torchvision: '>=0.22' } }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'torch.torchvision', says: /torchvision: '0\.22\.0'/,
  },
  {
    title: 'xformers as a wildcard',
    project: () => project({ gpus: [gpu4090({ torch: { ...rtx4090.torch, xformers: '0.0.x' } }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'torch.xformers', says: /is a range/,
  },
  {
    title: 'a pip tool as a range',
    project: () => project({ base: defineBase({ ...common, pipTools: { ...common.pipTools, pip: '>=25' } }) }),
    file: 'base/common.ts', definition: 'base', field: 'pipTools.pip', says: /pip: '25\.0\.0'/,
  },
  // --- Repositories: present and https ---
  {
    title: 'FlashAttention without a repo (would clone "undefined")',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { tag: 'v2.8.3', cudaArchs: '120' } as never })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.repo', says: /is missing[\s\S]*flash-attention/, never: /undefined/,
  },
  {
    title: 'llama.cpp without a repo',
    project: () => project({ gpus: [gpu4090({ llama: { tag: 'b8508', cudaArchitectures: '89' } as never }), rtx5090] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'llama.repo', says: /is missing[\s\S]*llama\.cpp/, never: /undefined/,
  },
  {
    title: 'FlashAttention from plain http',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { ...rtx5090.flash, repo: 'http://github.com/Dao-AILab/flash-attention' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.repo', says: /not an https URL/,
  },
  {
    title: 'llama.cpp from plain http',
    project: () => project({ gpus: [rtx4090, gpu5090({ llama: { ...rtx5090.llama, repo: 'http://github.com/ggml-org/llama.cpp' } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'llama.repo', says: /not an https URL/,
  },
  {
    title: 'a missing FlashAttention tag is called missing, not "undefined"',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { repo: rtx5090.flash.repo, cudaArchs: '120' } as never })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.tag', says: /is missing[\s\S]*tag: 'v2\.8\.3'/, never: /undefined/,
  },
  // --- Strict fields: unknown ones get a did-you-mean, missing ones an example ---
  {
    title: 'a misspelt torch pin (torhc)',
    project: () => project({ gpus: [rtx4090, gpu5090({ torch: { ...rtx5090.torch, torhc: '2.7.1' } as never })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'torch.torhc', says: /did you mean "torch"/,
  },
  {
    title: 'an unknown GPU field',
    project: () => project({ gpus: [rtx4090, gpu5090({ cudaVersion: '12.8.1' } as never)] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'cudaVersion', says: /did you mean "cuda"/,
  },
  {
    title: 'a compile budget in the wrong case (maxjobs)',
    project: () => project({ gpus: [rtx4090, gpu5090({ compile: { maxjobs: 2 } as never })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'compile.maxjobs', says: /did you mean "maxJobs"/,
  },
  {
    title: 'a layers override of an unknown layer kind',
    project: () => project({ gpus: [rtx4090, gpu5090({ layers: { 'sage-bulid': { cost: 9 } } as never })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'layers.sage-bulid', says: /did you mean "sage-build"/,
  },
  {
    title: 'an unknown base field',
    project: () => project({ base: defineBase({ ...common, pythonVersion: '3.12' } as never) }),
    file: 'base/common.ts', definition: 'base', field: 'pythonVersion', says: /did you mean "python"/,
  },
  {
    title: 'a base without its ComfyUI pin',
    project: () => project({ base: defineBase({ ...common, comfyui: undefined } as never) }),
    file: 'base/common.ts', definition: 'base', field: 'comfyui', says: /is missing[\s\S]*comfyanonymous\/ComfyUI/,
  },
  // --- CUDA images: a published nvidia/cuda tag, one CUDA per image, nvcc where kernels compile ---
  {
    title: "cuda '12.8' (no such nvidia/cuda tag)",
    project: () => project({ gpus: [rtx4090, gpu5090({ cuda: '12.8' })] }),
    // The newest 12.8 update that has both flavours of the base (base and devel: 12.8.2, src/facts/cuda-images.ts).
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'cuda', says: /set cuda: '12\.8\.2'/,
  },
  {
    title: 'a CUDA update published without cuDNN images (12.8.2)',
    project: () =>
      project({
        base: defineBase({ ...common, imageFlavor: 'cudnn-runtime-ubuntu24.04', develFlavor: 'cudnn-devel-ubuntu24.04' }),
        gpus: [rtx4090, gpu5090({ cuda: '12.8.2' })],
      }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'cuda', says: /12\.8\.2 has only: base, runtime, devel[\s\S]*cuda: '12\.8\.1'/,
  },
  {
    title: 'CUDA 13.0.0 under a cu128 torch index',
    project: () => project({ gpus: [rtx4090, gpu5090({ cuda: '13.0.0' })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'torch.index', says: /CUDA 12\.8, but this GPU's image has CUDA 13\.0\.0[\s\S]*cu130[\s\S]*cuda: '12\.8\.2'/,
  },
  {
    title: 'a devel flavour without nvcc under templates that compile kernels',
    project: () =>
      project({ base: defineBase({ ...common, develFlavor: 'cudnn-runtime-ubuntu24.04' }), templates: [template({ features: { sage: true } })] }),
    file: 'base/common.ts', definition: 'base', field: 'develFlavor', says: /no nvcc[\s\S]*template "demo" \(sage\)[\s\S]*cudnn-devel-ubuntu24\.04/,
  },
  {
    title: 'an image flavour nvidia/cuda does not publish',
    project: () => project({ base: defineBase({ ...common, imageFlavor: 'base-ubuntu25.04' }) }),
    file: 'base/common.ts', definition: 'base', field: 'imageFlavor', says: /base-ubuntu24\.04/,
  },
  {
    title: 'a missing sm is reported once, not as NaN arch lists',
    project: () => project({ gpus: [rtx4090, gpu5090({ sm: undefined } as never)] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'sm', says: /is missing[\s\S]*sm: 120/,
  },
  // --- GPU names ---
  {
    title: 'a GPU named like a stage',
    project: () => project({ gpus: [rtx4090, rtx5090, defineGpu({ ...rtx5090, name: 'torch' })] }),
    file: 'base/torch.ts', definition: 'gpu "torch"', field: 'name', says: /is a stage/,
  },
  {
    title: "a GPU whose stage would take another's name (base-common)",
    project: () => project({ gpus: [rtx4090, rtx5090, defineGpu({ ...rtx5090, name: 'common-cuda12-8-1' })] }),
    file: 'base/common-cuda12-8-1.ts', definition: 'gpu "common-cuda12-8-1"', field: 'name', says: /base-common-cuda12-8-1/,
  },
  {
    title: 'a second GPU profile under an existing name',
    project: () => project({ gpus: [rtx4090, rtx5090, defineGpu({ ...rtx4090, title: 'RTX 4090 (copy)' })] }),
    file: 'base/rtx4090.ts', definition: 'gpu "rtx4090"', field: 'name', says: /already defined in base\/rtx4090\.ts/,
  },
  // --- Prebuilt kernel wheels: their tags fit the profile (cp312, linux x86_64, torch, CUDA major) ---
  {
    title: 'a prebuilt FlashAttention wheel for another torch',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { wheel: { url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp312-cp312-linux_x86_64.whl', sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.wheel.url', says: /built for torch 2\.7[\s\S]*pins torch 2\.8\.0[\s\S]*build flash from source/,
  },
  {
    title: 'a prebuilt wheel for another Python',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { wheel: { url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp311-cp311-linux_x86_64.whl', sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.wheel.url', says: /cp311-cp311[\s\S]*CPython 3\.12/,
  },
  {
    title: 'a prebuilt wheel for Windows',
    project: () => project({ gpus: [rtx4090, gpu5090({ sage: { wheel: { url: 'https://example.org/sageattention-2.2.0+cu128torch2.8.0-cp312-cp312-win_amd64.whl', sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'sage.wheel.url', says: /win_amd64[\s\S]*Linux x86_64/,
  },
  {
    title: 'a prebuilt wheel for CUDA 11',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { wheel: { url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu11torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl', sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.wheel.url', says: /CUDA 11[\s\S]*CUDA 12\.8 \(cu128\)/,
  },
  {
    title: 'a prebuilt wheel with the pre-C++11 ABI',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { wheel: { url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu12torch2.8cxx11abiFALSE-cp312-cp312-linux_x86_64.whl', sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.wheel.url', says: /cxx11abiFALSE[\s\S]*cxx11abiTRUE/,
  },
  {
    title: 'a prebuilt wheel next to the source build fields',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { ...rtx5090.flash, wheel: { url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl', sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.wheel', says: /next to the source build fields repo, tag, cudaArchs[\s\S]*not both/,
  },
  {
    title: 'a prebuilt wheel whose sha256 is not 64 hex digits',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { wheel: { url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl', sha256: 'F25DA186' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.wheel.sha256', says: /not 64 lowercase hex digits[\s\S]*sha256sum/,
  },
  {
    title: 'a prebuilt wheel URL that names no wheel file',
    project: () => project({ gpus: [rtx4090, gpu5090({ flash: { wheel: { url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn.zip', sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb' } } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'flash.wheel.url', says: /not a wheel file name/,
  },
  // --- The two chains ---
  {
    title: 'llama-server on a CUDA base image whose cuBLAS package Kiln does not know',
    project: () =>
      project({ gpus: [rtx4090, gpu5090({ cuda: '12.8.2' })], templates: [template({ features: { llama: true } })] }),
    file: 'base/rtx5090.ts', definition: 'gpu "rtx5090"', field: 'cuda', says: /needs cuBLAS[\s\S]*CUBLAS_DEB in src\/facts\/cuda-images\.ts[\s\S]*runtime-ubuntu24\.04/,
  },
  {
    title: 'the CUDA toolkit opted into without a reason',
    project: () => project({ templates: [template({ cudaDevel: { reason: ' ' } })] }),
    file: 'templates/demo/template.ts', definition: 'template "demo"', field: 'cudaDevel.reason', says: /is empty[\s\S]*gigabytes/,
  },
];

badInputs('rejects', cases);

test('the repo definitions and the demo project are valid', (t) => {
  t.notThrows(() => resolveGraph(project()));
});

test('all problems are reported at once', (t) => {
  const err = t.throws(
    () => resolveGraph(project({ templates: [template({ nodes: [node('https://github.com/o/r', 'main')], attention: 'sage' })] })),
    { instanceOf: ValidationError },
  );
  t.deepEqual(err!.problems.map((p) => p.field).sort(), ['attention', 'nodes[0].commit']);
});

test('an explicit opt-in allows an unpinned model', (t) => {
  t.notThrows(() =>
    Testing.graph(project({ templates: [template({ allowUnpinnedModels: true, models: [civitai(62833, { into: 'loras' })] })] })),
  );
});

test('a GPU without sm gets one problem, no arch checks against "NaN"', (t) => {
  const err = t.throws(() => resolveGraph(project({ gpus: [rtx4090, gpu5090({ sm: undefined } as never)] })), { instanceOf: ValidationError });
  t.deepEqual(err!.problems.filter((p) => p.file === 'base/rtx5090.ts').map((p) => p.field), ['sm']);
  t.notRegex(err!.message, /NaN/);
});
