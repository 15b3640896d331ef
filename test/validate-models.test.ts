/**
 * Bad model definitions around the lock (runner: helpers/bad-input.ts):
 * whole repos, pins that come from templates/<t>/models.lock.json, a damaged
 * lock, userModels, and workflows that load a file the template does not have.
 */
import { createHash } from 'node:crypto';
import test from 'ava';
import { civitai, hf, hfRepo } from '../src/dsl/index.ts';
import { loadProject, workflowFile } from '../src/dsl/load.ts';
import type { LockEntry } from '../src/dsl/lock.ts';
import type { TemplateOptions } from '../src/dsl/types.ts';
import { renderModelLock } from '../src/emit/lock-file.ts';
import { validateProject } from '../src/graph/validate.ts';
import { modelReferences } from '../src/graph/validate/workflow-models.ts';
import { Testing } from '../src/testing.ts';
import { badInputs, type BadInput } from './helpers/bad-input.ts';
import { common, project, repoRoot, rtx4090, rtx5090, template } from './helpers/fixtures.ts';

const T = { file: 'templates/demo/template.ts', definition: 'template "demo"' } as const;
const L = { file: 'templates/demo/models.lock.json', definition: 'template "demo"' } as const;
const W = { file: 'templates/demo/workflows/flow.json', definition: 'template "demo"' } as const;
const C64 = 'c'.repeat(64);
const D64 = 'd'.repeat(64);
const COMMIT = 'e'.repeat(40);
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A lock text for template "demo" with these entries (keyed as `kiln lock` keys them). */
const lockOf = (...entries: LockEntry[]): string =>
  renderModelLock({ template: 'demo', models: Object.fromEntries(entries.map((e) => [keyOf(e), e])) });
function keyOf(e: LockEntry): string {
  if (e.source === 'hf') return `hf:${e.repo}@${e.ref}/${e.file}`;
  if (e.source === 'civitai') return `civitai:${e.versionId}`;
  return `hf-repo:${e.repo}@${e.ref}[${[e.include.length ? `include=${e.include.join(',')}` : '', e.exclude.length ? `exclude=${e.exclude.join(',')}` : ''].filter(Boolean).join(';')}]`;
}
const hfLock = (o: Partial<Extract<LockEntry, { source: 'hf' }>> = {}): LockEntry => ({ source: 'hf', repo: 'org/repo', ref: 'main', file: 'model.safetensors', revision: COMMIT, sha256: C64, bytes: 10, ...o });
const withLock = (models: TemplateOptions['models'], lock: string, extra: Partial<TemplateOptions> = {}) =>
  Testing.project({ base: common, gpus: [rtx4090, rtx5090], templates: [template({ models, ...extra })], locks: { demo: lock } });

/** A UI workflow of loader nodes: [id, type, widgets_values, inputs?]. */
function ui(nodes: [number, string, unknown[], unknown[]?][], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    last_node_id: 9,
    last_link_id: 0,
    nodes: nodes.map(([id, type, widgets_values, inputs]) => ({ id, type, pos: [0, 0], size: [300, 100], flags: {}, order: 0, mode: 0, properties: {}, widgets_values, ...(inputs ? { inputs } : {}) })),
    links: [],
    version: 0.4,
    ...extra,
  });
}
const withWorkflow = (text: string, o: Partial<TemplateOptions> = {}) =>
  Testing.project({ base: common, gpus: [rtx4090, rtx5090], templates: [template(o)], workflows: { demo: [workflowFile('flow.json', text)] } });

const cases: BadInput[] = [
  // --- Whole repos ---
  {
    title: 'a whole repo without a lock',
    project: () => project({ templates: [template({ models: [hfRepo('org/big', { into: 'diffusion_models', revision: COMMIT })] })] }),
    ...T, field: 'models[0]', says: /is not locked[\s\S]*run `npx kiln lock demo`/,
  },
  { title: 'hfRepo include as one string', project: () => project({ templates: [template({ models: [hfRepo('org/big', { into: 'vae', include: '*.safetensors' as never })] })] }), ...T, field: 'models[0].include', says: /not a list of globs/ },
  { title: 'hfRepo exclude glob from the root ("/")', project: () => project({ templates: [template({ models: [hfRepo('org/big', { into: 'vae', exclude: ['/docs/'] })] })] }), ...T, field: 'models[0].exclude[0]', says: /no leading "\/"/ },
  { title: 'hfRepo({ includes })', project: () => project({ templates: [template({ models: [hfRepo('org/big', { into: 'vae', includes: ['x'] } as never)] })] }), ...T, field: 'models[0].includes', says: /did you mean "include"/ },
  { title: 'hfRepo with a short revision', project: () => project({ templates: [template({ models: [hfRepo('org/big', { into: 'vae', revision: 'abc123' })] })] }), ...T, field: 'models[0].revision', says: /40-hex/ },
  {
    title: 'a locked repo file whose path the fetcher refuses',
    project: () =>
      withLock(
        [hfRepo('org/big', { into: 'vae' })],
        lockOf({ source: 'hf-repo', repo: 'org/big', ref: 'main', include: [], exclude: [], revision: COMMIT, files: [{ path: 'my model.safetensors', sha256: C64, bytes: 1 }] }),
      ),
    ...T, field: 'models[0]', says: /"my model\.safetensors"[\s\S]*exclude/,
  },
  {
    title: 'two repos locking one file onto one path',
    project: () =>
      withLock(
        [hfRepo('org/big', { into: 'vae' }), hfRepo('other/big', { into: 'vae' })],
        lockOf(
          { source: 'hf-repo', repo: 'org/big', ref: 'main', include: [], exclude: [], revision: COMMIT, files: [{ path: 'a.safetensors', sha256: C64, bytes: 1 }] },
          { source: 'hf-repo', repo: 'other/big', ref: 'main', include: [], exclude: [], revision: COMMIT, files: [{ path: 'a.safetensors', sha256: D64, bytes: 1 }] },
        ),
      ),
    ...T, field: 'models[1]', says: /writes vae\/big\/a\.safetensors, as models\[0\] does/,
  },
  // --- Pins and the lock ---
  {
    title: 'an unpinned HF file is told to run kiln lock',
    project: () => project({ templates: [template({ models: [hf('org/repo', 'model.safetensors', { into: 'checkpoints' })] })] }),
    ...T, field: 'models[0]', says: /is not pinned[\s\S]*run `npx kiln lock demo`/,
  },
  {
    title: 'a lock entry for another revision does not pin the model',
    project: () => withLock([hf('org/repo', 'model.safetensors', { into: 'checkpoints' })], lockOf(hfLock({ ref: COMMIT, revision: COMMIT }))),
    ...T, field: 'models[0]', says: /no entry in the lock/,
  },
  {
    title: 'a URL model is not told to run kiln lock (it cannot resolve one)',
    project: () => withLock([], lockOf(hfLock()), { models: [{ source: 'url', href: 'https://example.com/m.pth', into: 'vae', file: 'm.pth' }] }),
    ...T, field: 'models[0]', says: /add sha256/, never: /run `npx kiln lock/,
  },
  {
    title: 'sha256 in template.ts that the lock contradicts',
    project: () => withLock([hf('org/repo', 'model.safetensors', { into: 'checkpoints', sha256: D64 })], lockOf(hfLock())),
    ...T, field: 'models[0].sha256', says: /differs from the lock's c{64}/,
  },
  {
    title: 'a locked CivitAI file name the fetcher refuses, without as',
    project: () => withLock([civitai(7, { into: 'loras' })], lockOf({ source: 'civitai', versionId: 7, file: 'my lora (v2).safetensors', sha256: C64, sizeKB: 1 })),
    ...T, field: 'models[0]', says: /as: "lora\.safetensors"/,
  },
  // --- A damaged lock ---
  { title: 'a lock that is not JSON (a merge conflict)', project: () => withLock([], '<<<<<<< HEAD\n{}'), ...L, field: '(JSON)', says: /not valid JSON[\s\S]*npx kiln lock demo/ },
  { title: 'a lock of another schema', project: () => withLock([], '{"schema": 2, "template": "demo", "models": {}}'), ...L, field: '(top level)', says: /not a Kiln model lock/ },
  {
    title: 'a hand-edited sha256 in the lock',
    project: () => withLock([hf('org/repo', 'model.safetensors', { into: 'checkpoints' })], lockOf(hfLock()).replace(C64, 'C'.repeat(64))),
    ...L, field: 'models["hf:org/repo@main/model.safetensors"].sha256', says: /lowercase hex[\s\S]*never edit it by hand/,
  },
  {
    title: 'a lock entry filed under another key',
    project: () => withLock([], lockOf(hfLock()).replace('"hf:org/repo@main/model.safetensors"', '"hf:org/repo@main/other.safetensors"')),
    ...L, field: 'models["hf:org/repo@main/other.safetensors"]', says: /does not match its content/,
  },
  { title: "another template's lock", project: () => withLock([], lockOf().replace('"template": "demo"', '"template": "sdxl"')), ...L, field: 'template', says: /"sdxl", not this template's name "demo"/ },
  // --- userModels ---
  { title: 'userModels into a folder ComfyUI does not have', project: () => project({ templates: [template({ userModels: [{ into: 'lora' as never, file: 'x.safetensors', why: 'mine' }] })] }), ...T, field: 'userModels[0].into', says: /one of: checkpoints/ },
  { title: 'userModels without a reason', project: () => project({ templates: [template({ userModels: [{ into: 'loras', file: 'x.safetensors' } as never] })] }), ...T, field: 'userModels[0].why', says: /is missing/ },
  { title: 'userModels with an empty reason', project: () => project({ templates: [template({ userModels: [{ into: 'loras', file: 'x.safetensors', why: ' ' }] })] }), ...T, field: 'userModels[0].why', says: /is empty/ },
  { title: 'userModels with a file that climbs out', project: () => project({ templates: [template({ userModels: [{ into: 'loras', file: '../x.safetensors', why: 'mine' }] })] }), ...T, field: 'userModels[0].file', says: /not a file name inside the model folder/ },
  { title: 'userModels { reason } for why', project: () => project({ templates: [template({ userModels: [{ into: 'loras', file: 'x.safetensors', why: 'mine', reason: 'x' } as never] })] }), ...T, field: 'userModels[0].reason', says: /takes: into, file, why/ },
  {
    title: 'userModels naming a file a model provides',
    project: () => project({ templates: [template({ userModels: [{ into: 'checkpoints', file: 'model.safetensors', why: 'mine' }] })] }),
    ...T, field: 'userModels[0]', says: /checkpoints\/model\.safetensors is provided by models\[0\]/,
  },
  // --- Workflows load what the template has ---
  {
    title: 'a UI workflow loading a checkpoint the template does not have',
    project: () => withWorkflow(ui([[4, 'CheckpointLoaderSimple', ['sd_xl_base_1.0.safetensors']]])),
    ...W, field: 'node 4 CheckpointLoaderSimple.ckpt_name', says: /loads "sd_xl_base_1\.0\.safetensors" from checkpoints\/, which no model of the template provides \(there: model\.safetensors\)[\s\S]*userModels: \[\{ into: 'checkpoints', file: 'sd_xl_base_1\.0\.safetensors'/,
  },
  {
    title: 'a LoRA one letter off: the fix names the near file',
    project: () => withWorkflow(ui([[2, 'LoraLoader', ['detail_lora.safetensors', 1, 1]]]), { userModels: [{ into: 'loras', file: 'detail-lora.safetensors', why: 'mine' }] }),
    ...W, field: 'node 2 LoraLoader.lora_name', says: /load "detail-lora\.safetensors" in the workflow/,
  },
  {
    title: "the second CLIP of an API-format DualCLIPLoader (text_encoders/ or clip/)",
    project: () => withWorkflow(JSON.stringify({ 7: { class_type: 'DualCLIPLoader', inputs: { clip_name1: 'model.safetensors', clip_name2: 't5xxl.safetensors', type: 'flux' } } }), { models: [hf('org/repo', 'model.safetensors', { into: 'clip', sha256: C64 })] }),
    ...W, field: 'node 7 DualCLIPLoader.clip_name2', says: /from text_encoders\/ or clip\//,
  },
  {
    title: 'a LoRA loaded inside a subgraph',
    project: () => withWorkflow(ui([], { definitions: { subgraphs: [{ id: 'f1e2', name: 'Detailer', nodes: [{ id: 3, type: 'LoraLoader', widgets_values: ['missing.safetensors', 1, 1] }] }] } })),
    ...W, field: 'subgraph "Detailer" node 3 LoraLoader.lora_name', says: /loads "missing\.safetensors" from loras\//,
  },
  {
    title: 'a workflow saved on Windows (backslash in a subfolder name)',
    project: () => withWorkflow(ui([[5, 'UNETLoader', ['flux\\flux1-dev.safetensors', 'default']]]), { userModels: [{ into: 'diffusion_models', file: 'flux/flux1-dev.safetensors', why: 'gated' }] }),
    ...W, field: 'node 5 UNETLoader.unet_name', says: /write "flux\/flux1-dev\.safetensors" in the workflow \(it was saved on Windows/,
  },
  {
    title: 'a CivitAI LoRA whose name only the lock knows, not locked yet',
    project: () => withWorkflow(ui([[2, 'LoraLoader', ['detail.safetensors', 1, 1]]]), { models: [civitai(7, { into: 'loras', sha256: C64 })] }),
    ...W, field: 'node 2 LoraLoader.lora_name', says: /models\[0\] \(CivitAI version 7\) there has no file name until `kiln lock` records it[\s\S]*run `npx kiln lock demo`/,
  },
];

badInputs('rejects', cases);

test('loaders find their files: folder aliases, userModels, repo files by the lock, CivitAI names by the lock; links, virtual VAEs and other nodes are not checked', (t) => {
  const lock = lockOf(
    { source: 'civitai', versionId: 7, file: 'detail.safetensors', sha256: sha('lora'), sizeKB: 1 },
    { source: 'hf-repo', repo: 'org/flux', ref: 'main', include: ['*.safetensors'], exclude: [], revision: COMMIT, files: [{ path: 'sub/flux1.safetensors', sha256: C64, bytes: 5 }] },
  );
  const flow = ui([
    [1, 'CheckpointLoaderSimple', ['model.safetensors']],
    [2, 'LoraLoader', ['detail.safetensors', 1, 1]],
    [3, 'UNETLoader', ['flux/sub/flux1.safetensors', 'default']],
    [4, 'CLIPLoader', ['t5.safetensors', 'flux']],
    [5, 'VAELoader', ['pixel_space']],
    // A file input fed by a link: the stale widget value is not the one loaded.
    [6, 'LoraLoader', ['from-a-link.safetensors', 1, 1], [{ name: 'lora_name', type: 'COMBO', widget: { name: 'lora_name' }, link: 12 }]],
    [7, 'SomeCustomLoader', ['whatever.safetensors']],
  ]);
  const p = Testing.project({
    base: common,
    gpus: [rtx4090, rtx5090],
    templates: [
      template({
        models: [
          hf('org/repo', 'model.safetensors', { into: 'checkpoints', sha256: C64 }),
          civitai(7, { into: 'loras' }),
          hfRepo('org/flux', { into: 'unet', include: ['*.safetensors'] }),
        ],
        userModels: [{ into: 'clip', file: 't5.safetensors', why: 'the user picks a T5 variant' }],
      }),
    ],
    workflows: { demo: [workflowFile('flow.json', flow)] },
    locks: { demo: lock },
  });
  t.notThrows(() => Testing.graph(p));
});

test("the shipped templates' workflows pass the check, which finds their loaders' files", async (t) => {
  const p = await loadProject(repoRoot);
  t.notThrows(() => validateProject(p));
  const refs = p.templates.flatMap((tpl) => tpl.workflows.flatMap((w) => modelReferences(w.workflow).map((r) => `${tpl.folder}/${w.path}: node ${r.node.id} ${r.node.type}.${r.input.name} = ${r.file}`)));
  t.deepEqual(refs, ['sd15-basic/txt2img.json: node 4 CheckpointLoaderSimple.ckpt_name = v1-5-pruned-emaonly-fp16.safetensors']);
});
