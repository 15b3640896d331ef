/**
 * Every model file a template's workflows load (the loader inputs of
 * src/facts/comfy-loaders.ts) must be in the template's manifest, matched by
 * folder and name as ComfyUI lists them (`sub/name.safetensors` below the
 * folder), or be declared in `userModels`. A missing one is the pod's
 * "model not found" at the first run, so it is a definition error here.
 */
import type { TemplateSource } from '../../dsl/load.ts';
import type { Workflow, WorkflowNode } from '../../dsl/workflows.ts';
import type { DefinitionProblem } from '../../errors.ts';
import { COMFY_FOLDERS, LOADERS, type LoaderInput } from '../../facts/comfy-loaders.ts';
import { closest } from '../../suggest.ts';
import { manifestModels } from '../manifests.ts';
import { wellFormed } from './models.ts';
import { label, reporter } from './report.ts';

/** A file a workflow's node loads. */
export interface ModelReference {
  readonly node: WorkflowNode;
  readonly input: LoaderInput;
  /** The name as the workflow has it, relative to the folder. */
  readonly file: string;
}

/** The model files a workflow loads, by the loader table; inputs fed by links, empty ones and virtual names are left out. */
export function modelReferences(w: Workflow): ModelReference[] {
  const refs: ModelReference[] = [];
  for (const node of w.nodes) {
    const loader = LOADERS[node.type];
    if (!loader) continue;
    for (const input of loader.inputs) {
      if (node.linked.includes(input.name)) continue;
      const value = w.format === 'api' || input.name in node.named ? node.named[input.name] : node.values[input.widget];
      if (typeof value !== 'string' || value === '' || loader.notFiles?.includes(value)) continue;
      refs.push({ node, input, file: value });
    }
  }
  return refs;
}

/** The files the template provides: model folder -> names below it (as ComfyUI lists them). */
function provided(t: TemplateSource): { files: Map<string, Set<string>>; unnamed: Map<string, string[]> } {
  const files = new Map<string, Set<string>>();
  const unnamed = new Map<string, string[]>();
  const add = (folder: string, name: string): void => {
    if (!files.has(folder)) files.set(folder, new Set());
    files.get(folder)!.add(name);
  };
  for (const [i, m] of (t.def.models ?? []).entries()) {
    if (!wellFormed(m)) continue;
    for (const e of manifestModels(m, t.lock?.lock)) {
      const [folder, ...sub] = e.into.split('/');
      if (e.file) add(folder!, [...sub, e.file].join('/'));
      else unnamed.set(folder!, [...(unnamed.get(folder!) ?? []), `models[${i}] (CivitAI version ${e.versionId})`]);
    }
  }
  for (const u of Array.isArray(t.def.userModels) ? t.def.userModels : []) {
    if (typeof u?.into === 'string' && typeof u.file === 'string') add(u.into, u.file);
  }
  return { files, unnamed };
}

export function checkWorkflowModels(t: TemplateSource, out: DefinitionProblem[]): void {
  if (t.workflows.length === 0) return;
  const { files, unnamed } = provided(t);
  const template = t.def.name;
  for (const w of t.workflows) {
    const report = reporter(out, `templates/${t.folder}/workflows/${w.path}`, label('template', t.def));
    for (const ref of modelReferences(w.workflow)) {
      const folders = ref.input.folders.flatMap((k) => COMFY_FOLDERS[k]);
      if (folders.some((f) => files.get(f)?.has(ref.file))) continue;
      const where = `${ref.node.subgraph ? `subgraph "${ref.node.subgraph}" ` : ''}node ${ref.node.id} ${ref.node.type}.${ref.input.name}`;
      const known = folders.flatMap((f) => [...(files.get(f) ?? [])]);
      const into = folders[0]!;
      const near = closest(ref.file, known);
      const waiting = folders.flatMap((f) => unnamed.get(f) ?? []);
      const problem =
        `loads "${ref.file}" from ${folders.map((f) => `${f}/`).join(' or ')}, which no model of the template provides` +
        (known.length > 0 ? ` (there: ${known.slice(0, 6).join(', ')}${known.length > 6 ? ', ...' : ''})` : ' (the template has no model there)') +
        (waiting.length > 0 ? `; ${waiting.join(', ')} there has no file name until \`kiln lock\` records it` : '');
      const fixes = [
        ...(ref.file.includes('\\') && folders.some((f) => files.get(f)?.has(ref.file.split('\\').join('/'))) ? [`write "${ref.file.split('\\').join('/')}" in the workflow (it was saved on Windows; the pod's ComfyUI lists "/")`] : []),
        ...(near ? [`load "${near}" in the workflow if that is the one meant`] : []),
        ...(waiting.length > 0 ? [`run \`npx kiln lock ${template}\``] : []),
        `add the model to templates/${t.folder}/template.ts (e.g. hf('<owner>/<repo>', '<path in the repo>', { into: '${into}'${ref.file.includes('/') ? '' : `, as: '${ref.file}'`} }), then \`npx kiln lock ${template}\`)`,
        `or declare it as the user's: userModels: [{ into: '${into}', file: '${ref.file}', why: '...' }]`,
      ];
      report(where, problem, fixes.join('; '));
    }
  }
}
