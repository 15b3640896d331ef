import test from 'ava';
import { defineBase, defineGpu, hf, node, url, civitai } from '../src/dsl/index.ts';
import type { GpuOptions } from '../src/dsl/types.ts';
import { ValidationError } from '../src/errors.ts';
import { resolveGraph } from '../src/graph/resolve.ts';
import { Testing } from '../src/testing.ts';
import { common, project, rtx4090, rtx5090, SHA_A, template } from './helpers/fixtures.ts';

const gpu5090 = (o: Partial<GpuOptions>) => defineGpu({ ...rtx5090, ...o });
const gpu4090 = (o: Partial<GpuOptions>) => defineGpu({ ...rtx4090, ...o });

interface Case {
  readonly title: string;
  readonly project: () => ReturnType<typeof project>;
  readonly file: string;
  readonly definition: string;
  readonly field: string;
  /** A phrase the problem or fix must contain. */
  readonly says: RegExp;
}

const cases: Case[] = [
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
];

for (const c of cases) {
  test(`rejects: ${c.title}`, (t) => {
    const err = t.throws(() => resolveGraph(c.project()), { instanceOf: ValidationError });
    const p = err!.problems.find((x) => x.field === c.field);
    t.truthy(p, `expected a problem on field ${c.field}, got:\n${err!.message}`);
    t.is(p!.file, c.file);
    t.is(p!.definition, c.definition);
    t.regex(`${p!.problem} ${p!.fix}`, c.says);
    t.true(p!.fix.length > 0, 'every problem says how to fix it');
    // The printed message carries all three coordinates on one line.
    t.true(err!.message.includes(`${c.file}: ${c.definition}, field ${c.field}:`));
  });
}

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
