/** Bad templates: strict fields, names, models, secrets, ports and workflows (runner: helpers/bad-input.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { civitai, defineGpu, hf, node, url } from '../src/dsl/index.ts';
import { workflowFile } from '../src/dsl/load.ts';
import { ValidationError } from '../src/errors.ts';
import { PORT_VARIABLES } from '../src/graph/stages.ts';
import { MODEL_FILE_NAME } from '../src/graph/validate/models.ts';
import { Testing } from '../src/testing.ts';
import { badInputs, type BadInput } from './helpers/bad-input.ts';
import { common, project, repoRoot, rtx4090, rtx5090, SHA_A, template } from './helpers/fixtures.ts';

const T = { file: 'templates/demo/template.ts', definition: 'template "demo"' } as const;
const C64 = 'c'.repeat(64);
// Fake tokens of the real formats, assembled here so that no scanner mistakes this file for a leak.
const fake = {
  hf: `hf_${'Q'.repeat(34)}`,
  ghp: `ghp_${'A1'.repeat(18)}`,
  githubPat: `github_pat_${'B2'.repeat(41)}`,
  sk: `sk-${'proj'}-${'x9'.repeat(12)}`,
  akia: `AKIA${'Q2'.repeat(8)}`,
  slack: `xoxb-${'1'.repeat(12)}-${'2'.repeat(12)}-${'abc'.repeat(8)}`,
  pem: `-----BEGIN ${'OPENSSH'} PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----`,
  glpat: `glpat-${'z'.repeat(20)}`,
};
const withEnv = (env: Record<string, string>) => project({ templates: [template({ env })] });
const withWorkflow = (text: string) => Testing.project({ base: common, gpus: [rtx4090, rtx5090], templates: [template()], workflows: { demo: [workflowFile('flow.json', text)] } });
const W = { file: 'templates/demo/workflows/flow.json', definition: 'template "demo"' } as const;
const ui = (o: Record<string, unknown> = {}) =>
  JSON.stringify({
    last_node_id: 2,
    last_link_id: 1,
    nodes: [
      { id: 1, type: 'EmptyLatentImage', pos: [0, 0], size: [300, 100], flags: {}, order: 0, mode: 0, properties: {}, outputs: [{ name: 'LATENT', type: 'LATENT', links: [1] }], widgets_values: [512, 512, 1] },
      { id: 2, type: 'PreviewLatent', pos: [400, 0], size: [300, 100], flags: {}, order: 1, mode: 0, properties: {}, inputs: [{ name: 'latent', type: 'LATENT', link: 1 }] },
    ],
    links: [[1, 1, 0, 2, 0, 'LATENT']],
    groups: [],
    config: {},
    extra: {},
    version: 0.4,
    ...o,
  });

const cases: BadInput[] = [
  // --- Strict fields ---
  { title: 'feature: for features:', project: () => project({ templates: [template({ feature: { sage: true } } as never)] }), ...T, field: 'feature', says: /did you mean "features"/ },
  { title: 'allowUnpinnedModel (singular)', project: () => project({ templates: [template({ allowUnpinnedModel: true } as never)] }), ...T, field: 'allowUnpinnedModel', says: /did you mean "allowUnpinnedModels"/ },
  {
    title: 'hf(..., { sha }) for sha256',
    project: () => project({ templates: [template({ models: [hf('o/r', 'm.safetensors', { into: 'vae', sha: C64 } as never)] })] }),
    ...T, field: 'models[0].sha', says: /did you mean "sha256"/,
  },
  {
    title: 'url(..., { name }) for file',
    project: () => project({ templates: [template({ models: [url('https://example.com/m.safetensors', { into: 'vae', name: 'm.safetensors', sha256: C64 } as never)] })] }),
    ...T, field: 'models[0].name', says: /url\(\) options takes: into, file, sha256, bytes/,
  },
  {
    title: 'node(..., { rev }) (the helper would drop it silently)',
    project: () => project({ templates: [template({ nodes: [node('https://github.com/o/r', SHA_A, { rev: 'main' } as never)] })] }),
    ...T, field: 'nodes[0].rev', says: /node\(\) options takes: name, requirements/,
  },
  {
    title: 'a node written as an object with an extra field',
    project: () => project({ templates: [template({ nodes: [{ ...node('https://github.com/o/r', SHA_A), branch: 'main' } as never] })] }),
    ...T, field: 'nodes[0].branch', says: /remove it/,
  },
  {
    title: 'a port entry with a misspelt protocol field',
    project: () => project({ templates: [template({ ports: [{ port: 7860, prot: 'http', name: 'gradio' } as never] })] }),
    ...T, field: 'ports[0].prot', says: /did you mean "protocol"/,
  },
  { title: 'a port given as a bare number', project: () => project({ templates: [template({ ports: [7860 as never] })] }), ...T, field: 'ports[0]', says: /must be an object[\s\S]*port, protocol, name/ },
  { title: 'disk sizes in the wrong case', project: () => project({ templates: [template({ disk: { containerGB: 40, volumeGb: 100 } as never })] }), ...T, field: 'disk.containerGB', says: /did you mean "containerGb"/ },
  {
    title: 'a template without a name is called "(no name)", not "undefined"',
    project: () => ({ ...project(), templates: [{ ...project().templates[0]!, def: template({ name: undefined } as never) }] }),
    ...T, definition: 'template (no name)', field: 'name', says: /is missing/, never: /undefined/,
  },
  { title: 'a template without a description', project: () => project({ templates: [template({ description: undefined } as never)] }), ...T, field: 'description', says: /is missing/ },
  { title: 'an attention backend that does not exist', project: () => project({ templates: [template({ attention: 'xformers' } as never)] }), ...T, field: 'attention', says: /sage, flash, pytorch/ },
  {
    title: 'node requirements as a string',
    project: () => project({ templates: [template({ nodes: [node('https://github.com/o/r', SHA_A, { requirements: 'yes' } as never)] })] }),
    ...T, field: 'nodes[0].requirements', says: /true or false/,
  },
  { title: 'a disk of zero GB', project: () => project({ templates: [template({ disk: { containerGb: 40, volumeGb: 0 } })] }), ...T, field: 'disk.volumeGb', says: /whole GB/ },
  // --- Names: one namespace for groups and targets ---
  { title: 'a template named like a stage target (base-rtx4090)', project: () => project({ templates: [template({ name: 'base-rtx4090' })] }), file: 'templates/base-rtx4090/template.ts', definition: 'template "base-rtx4090"', field: 'name', says: /prefix of the base-<gpu> stages/ },
  { title: 'a template named torch-rtx5090', project: () => project({ templates: [template({ name: 'torch-rtx5090' })] }), file: 'templates/torch-rtx5090/template.ts', definition: 'template "torch-rtx5090"', field: 'name', says: /torch-/ },
  { title: 'a template named default', project: () => project({ templates: [template({ name: 'default' })] }), file: 'templates/default/template.ts', definition: 'template "default"', field: 'name', says: /group bake builds/ },
  { title: 'a template named like a feature', project: () => project({ templates: [template({ name: 'sage' })] }), file: 'templates/sage/template.ts', definition: 'template "sage"', field: 'name', says: /feature/ },
  { title: 'a template named base-common', project: () => project({ templates: [template({ name: 'base-common' })] }), file: 'templates/base-common/template.ts', definition: 'template "base-common"', field: 'name', says: /stage/ },
  {
    title: "a template named like another template's image",
    project: () => project({ templates: [template(), template({ name: 'demo-rtx4090', nodes: [] })] }),
    file: 'templates/demo-rtx4090/template.ts', definition: 'template "demo-rtx4090"', field: 'name', says: /the target demo-rtx4090 \(template "demo" on rtx4090\)/,
  },
  {
    title: 'a GPU redefined in a template under an existing name',
    project: () => project({ templates: [template({ gpus: [rtx4090, defineGpu({ ...rtx5090, cuda: '12.9.1' })] })] }),
    ...T, field: 'gpus[1]', says: /redefined under an existing name[\s\S]*import rtx5090 from '\.\.\/\.\.\/base\/rtx5090\.ts'/,
  },
  // --- Model paths stay inside their folder ---
  {
    title: "an HF path that climbs out (file: '../../../etc/cron.d/x')",
    project: () => project({ templates: [template({ models: [hf('o/r', '../../../etc/cron.d/x', { into: 'vae', sha256: C64 })] })] }),
    ...T, field: 'models[0].file', says: /not a path inside the repo/,
  },
  {
    title: "a model saved as '../../x.sh'",
    project: () => project({ templates: [template({ models: [hf('o/r', 'm.safetensors', { into: 'vae', as: '../../x.sh', sha256: C64 })] })] }),
    ...T, field: 'models[0].as', says: /not a plain file name/,
  },
  {
    title: "a URL model with file: ''",
    project: () => project({ templates: [template({ models: [url('https://example.com/m.safetensors', { into: 'vae', file: '', sha256: C64 })] })] }),
    ...T, field: 'models[0].file', says: /not a plain file name/,
  },
  {
    title: 'an absolute HF path',
    project: () => project({ templates: [template({ models: [hf('o/r', '/etc/passwd', { into: 'vae', sha256: C64 })] })] }),
    ...T, field: 'models[0].file', says: /absolute/,
  },
  {
    title: 'a CivitAI model saved into a subfolder',
    project: () => project({ templates: [template({ models: [civitai(1, { into: 'loras', as: 'sub/x.safetensors', sha256: C64 })] })] }),
    ...T, field: 'models[0].as', says: /no "\/"/,
  },
  {
    title: 'an HF path that ends in a folder',
    project: () => project({ templates: [template({ models: [hf('o/r', 'split_files/vae/', { into: 'vae', sha256: C64 })] })] }),
    ...T, field: 'models[0].file', says: /not a path inside the repo/,
  },
  {
    title: 'an unpinned CivitAI model is told to pin by sha256 (it has no commit)',
    project: () => project({ templates: [template({ models: [civitai(62833, { into: 'loras', as: 'add_detail.safetensors' })] })] }),
    ...T, field: 'models[0]', says: /sha256/, never: /revision|commit/,
  },
  // --- Secrets: by name and by value ---
  { title: 'AWS_SECRET_ACCESS_KEY', project: () => withEnv({ AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) }), ...T, field: 'env.AWS_SECRET_ACCESS_KEY', says: /contains SECRET/ },
  { title: 'GITHUB_PAT', project: () => withEnv({ GITHUB_PAT: fake.ghp }), ...T, field: 'env.GITHUB_PAT', says: /contains PAT/ },
  { title: 'OPENAI_KEY', project: () => withEnv({ OPENAI_KEY: fake.sk }), ...T, field: 'env.OPENAI_KEY', says: /ends in KEY/ },
  { title: 'DB_PASS', project: () => withEnv({ DB_PASS: 'hunter2' }), ...T, field: 'env.DB_PASS', says: /ends in PASS/ },
  { title: 'ACCESS_KEY', project: () => withEnv({ ACCESS_KEY: 'abc' }), ...T, field: 'env.ACCESS_KEY', says: /ends in KEY/ },
  { title: 'TOKEN_HF', project: () => withEnv({ TOKEN_HF: fake.hf }), ...T, field: 'env.TOKEN_HF', says: /contains TOKEN/ },
  { title: 'MYSQLPASSWORD (PASS inside a word)', project: () => withEnv({ MYSQLPASSWORD: 'hunter2' }), ...T, field: 'env.MYSQLPASSWORD', says: /contains MYSQLPASSWORD/ },
  { title: 'a Hugging Face token under an innocent name', project: () => withEnv({ MODEL_SOURCE: fake.hf }), ...T, field: 'env.MODEL_SOURCE', says: /Hugging Face token/ },
  { title: 'a GitHub token inside a URL', project: () => withEnv({ NODES_URL: `https://${fake.ghp}@github.com/o/r` }), ...T, field: 'env.NODES_URL', says: /GitHub token/ },
  { title: 'a fine-grained GitHub token', project: () => withEnv({ GH: fake.githubPat }), ...T, field: 'env.GH', says: /fine-grained/ },
  { title: 'an sk- key inside COMFY_ARGS', project: () => withEnv({ COMFY_ARGS: `--api-key ${fake.sk}` }), ...T, field: 'env.COMFY_ARGS', says: /sk-/ },
  { title: 'an AWS access key id', project: () => withEnv({ S3_ID: fake.akia }), ...T, field: 'env.S3_ID', says: /AWS access key/ },
  { title: 'a Slack bot token', project: () => withEnv({ NOTIFY: fake.slack }), ...T, field: 'env.NOTIFY', says: /Slack/ },
  { title: 'a private key block', project: () => withEnv({ DEPLOY: fake.pem }), ...T, field: 'env.DEPLOY', says: /private key/ },
  { title: 'a GitLab token', project: () => withEnv({ MIRROR: fake.glpat }), ...T, field: 'env.MIRROR', says: /GitLab/ },
  { title: 'an env value that is not a string', project: () => withEnv({ COMFY_ARGS: 5 as never }), ...T, field: 'env.COMFY_ARGS', says: /must be a string/ },
  // --- Ports, also when env moves a service ---
  {
    title: "LLM_PORT: '8188' (ComfyUI's port)",
    project: () => project({ templates: [template({ features: { llama: true }, env: { LLM_PORT: '8188' } })] }),
    ...T, field: 'env.LLM_PORT', says: /llama-server on 8188, the port of comfyui[\s\S]*8081/,
  },
  { title: "COMFYUI_PORT: '8080' (FileBrowser's port)", project: () => withEnv({ COMFYUI_PORT: '8080' }), ...T, field: 'env.COMFYUI_PORT', says: /comfyui on 8080, the port of filebrowser/ },
  { title: "STATUS_PORT: '8188' (ComfyUI's port)", project: () => withEnv({ STATUS_PORT: '8188' }), ...T, field: 'env.STATUS_PORT', says: /status on 8188, the port of comfyui[\s\S]*9188/ },
  { title: 'a port variable that is not a port', project: () => withEnv({ JUPYTER_PORT: 'eighty' }), ...T, field: 'env.JUPYTER_PORT', says: /not a port/ },
  {
    title: 'a template port on the port env moved FileBrowser to',
    project: () => project({ templates: [template({ env: { FILEBROWSER_PORT: '9000' }, ports: [{ port: 9000, protocol: 'http', name: 'x' }] })] }),
    ...T, field: 'ports[0].port', says: /9000 is already used by filebrowser/,
  },
  {
    title: "a template port on the status endpoint's 9188",
    project: () => project({ templates: [template({ ports: [{ port: 9188, protocol: 'http', name: 'x' }] })] }),
    ...T, field: 'ports[0].port', says: /9188 is already used by status/,
  },
  {
    title: 'a port listed twice',
    project: () => project({ templates: [template({ ports: [{ port: 7860, protocol: 'http', name: 'a' }, { port: 7860, protocol: 'http', name: 'b' }] })] }),
    ...T, field: 'ports[1].port', says: /listed twice/,
  },
  { title: 'a udp port', project: () => project({ templates: [template({ ports: [{ port: 7860, protocol: 'udp' as never, name: 'a' }] })] }), ...T, field: 'ports[0].protocol', says: /http or tcp/ },
  // --- Workflows: JSON in the format the workflow browser opens ---
  { title: 'a workflow that is not JSON', project: () => withWorkflow('{\n  "nodes": [\n}'), ...W, field: '(JSON)', says: /not valid JSON[\s\S]*correct the JSON syntax/ },
  {
    title: 'an API-format workflow',
    project: () => withWorkflow(JSON.stringify({ 3: { class_type: 'KSampler', inputs: { seed: 1, model: ['4', 0] } } })),
    ...W, field: '(format)', says: /API format[\s\S]*Workflow > Save/,
  },
  { title: 'a workflow that is a list', project: () => withWorkflow('[]'), ...W, field: '(top level)', says: /is a list/ },
  { title: 'a UI workflow without links', project: () => withWorkflow(ui({ links: undefined })), ...W, field: 'links', says: /must be a list of links/ },
  { title: 'a link to a node that is not there', project: () => withWorkflow(ui({ links: [[1, 1, 0, 7, 0, 'LATENT']] })), ...W, field: 'links[0]', says: /node 7, which is not in nodes/ },
  { title: 'a workflow without a version', project: () => withWorkflow(ui({ version: undefined })), ...W, field: 'version', says: /must be a number/ },
  {
    title: 'a node without a type',
    project: () => withWorkflow(ui({ nodes: [{ id: 1, pos: [0, 0], size: [1, 1], flags: {}, order: 0, mode: 0, properties: {} }], links: [] })),
    ...W, field: 'nodes[0].type', says: /node class/,
  },
  {
    title: 'a version 1 workflow without state',
    project: () => withWorkflow(ui({ version: 1, links: [], last_node_id: undefined, last_link_id: undefined })),
    ...W, field: 'state', says: /must be an object/,
  },
];

badInputs('rejects', cases);

test('good inputs next to the bad ones pass: an empty secret placeholder, PUBLIC_KEY, llama-server published on its port, a version 1 workflow', (t) => {
  const p = Testing.project({
    base: common,
    gpus: [rtx4090, rtx5090],
    templates: [
      template({
        features: { llama: true },
        env: { HF_TOKEN: '', PUBLIC_KEY: 'ssh-ed25519 AAAA', LLM_PORT: '8081', COMFY_ARGS: '--fast', BYPASS_CACHE: '1' },
        ports: [{ port: 8081, protocol: 'http', name: 'llama-server' }],
      }),
    ],
    workflows: {
      demo: [
        workflowFile('a.json', ui()),
        workflowFile('b.json', ui({ version: 1, state: { lastGroupId: 0, lastNodeId: 2, lastLinkId: 1, lastRerouteId: 0 }, links: [{ id: 1, origin_id: 1, origin_slot: 0, target_id: 2, target_slot: 0, type: 'LATENT' }] })),
      ],
    },
  });
  t.notThrows(() => Testing.graph(p));
});

test("the committed sd15-basic workflow is a UI-format workflow with the nodes and values of the API one it replaced", (t) => {
  const text = readFileSync(join(repoRoot, 'templates/sd15-basic/workflows/txt2img.json'), 'utf8');
  const w = workflowFile('txt2img.json', text).workflow;
  t.is(w.format, 'ui');
  t.deepEqual(w.issues, []);
  const byType = Object.fromEntries(w.nodes.map((n) => [`${n.id}:${n.type}`, n.values]));
  t.deepEqual(byType, {
    '3:KSampler': [42, 'fixed', 20, 7, 'euler', 'normal', 1],
    '4:CheckpointLoaderSimple': ['v1-5-pruned-emaonly-fp16.safetensors'],
    '5:EmptyLatentImage': [512, 512, 1],
    '6:CLIPTextEncode': ['a photo of a kiln in a pottery studio'],
    '7:CLIPTextEncode': ['blurry, low quality'],
    '8:VAEDecode': [],
    '9:SaveImage': ['sd15'],
  });
});

test('model file names: Kiln accepts exactly what the in-image fetcher accepts (SEGMENT_RE in scripts/kiln_fetch/manifest.py)', (t) => {
  const py = readFileSync(join(repoRoot, 'scripts/kiln_fetch/manifest.py'), 'utf8');
  const m = /^SEGMENT_RE = re\.compile\(r"(.+)"\)$/m.exec(py);
  t.truthy(m, 'SEGMENT_RE is defined in kiln_fetch/manifest.py');
  t.is(MODEL_FILE_NAME.source, m?.[1] ?? "(not found)");
});

test('the port variables and defaults the port rules use are the ones start.sh reads', (t) => {
  const sh = readFileSync(join(repoRoot, 'scripts/start.sh'), 'utf8');
  for (const [name, { port }] of Object.entries(PORT_VARIABLES)) t.regex(sh, new RegExp(`^${name}="\\$\\{${name}:-${port}\\}"$`, 'm'), name);
});

test('all problems of one template come at once, each once', (t) => {
  const err = t.throws(() => Testing.graph(withEnv({ GITHUB_PAT: fake.ghp, DB_PASS: 'x', COMFYUI_PORT: '8080' })), { instanceOf: ValidationError });
  t.deepEqual(err!.problems.map((p) => p.field).sort(), ['env.COMFYUI_PORT', 'env.DB_PASS', 'env.GITHUB_PAT']);
});

test('EXPOSE follows a port variable of the template env: a moved service is exposed where start.sh listens, not at its default', (t) => {
  const g = Testing.graph(withEnv({ COMFYUI_PORT: '8189', STATUS_PORT: '9300' }));
  const expose = g.targets.find((x) => x.name === 'demo-rtx4090')!.expose;
  t.true(expose.includes('8189') && expose.includes('9300'), expose.join(' '));
  t.false(expose.includes('8188') || expose.includes('9188'), expose.join(' '));
  const unmoved = Testing.graph(withEnv({})).targets.find((x) => x.name === 'demo-rtx4090')!.expose;
  t.true(unmoved.includes('8188') && unmoved.includes('9188'), unmoved.join(' '));
});
