/**
 * The compatibility matrix (DESIGN "Validation"), checked before anything is
 * written. Every problem names the file, the definition and the field, and
 * says how to fix it; all problems are reported at once. Versions are
 * compared with semver, never by regex. One file per kind of definition
 * under validate/; facts about upstream (CUDA tags, token formats, torch
 * pairings) are data in src/facts/.
 */
import type { Located, Project } from '../dsl/load.ts';
import type { GpuDefinition } from '../dsl/types.ts';
import { type DefinitionProblem, ValidationError } from '../errors.ts';
import { nameClashes } from './names.ts';
import { nodeTargetName } from './stages.ts';
import { checkBase } from './validate/base.ts';
import { checkCudaImages } from './validate/cuda.ts';
import { checkGpu } from './validate/gpu.ts';
import { label, reporter } from './validate/report.ts';
import { checkLockFile } from './validate/lock.ts';
import { checkTemplate } from './validate/template.ts';
import { checkWorkflowModels } from './validate/workflow-models.ts';
import { checkWorkflows } from './validate/workflows.ts';

export { smToArch } from './validate/gpu.ts';

export interface ValidateOptions {
  /**
   * Validation for `kiln lock`, which writes the locks: the lock files, the
   * pins they provide and the workflow check (it needs the locked file
   * names) are left out. @default false
   */
  readonly forLock?: boolean;
}

/** Throws ValidationError listing every problem; returns quietly when the project is sound. */
export function validateProject(project: Project, options: ValidateOptions = {}): void {
  const problems: DefinitionProblem[] = [];
  if (project.bases.length !== 1) {
    problems.push({
      file: 'base/',
      definition: 'base',
      field: '(default export)',
      problem: `expected exactly one defineBase(...) under base/, found ${project.bases.length}${project.bases.length ? ` (${project.bases.map((b) => b.file).join(', ')})` : ''}`,
      fix: 'keep one base/common.ts exporting defineBase({...}); GPU profiles export defineGpu({...})',
    });
  } else {
    checkBase(project.bases[0]!, problems);
    checkCudaImages(project.bases[0]!, project.gpus, project.templates, problems);
  }
  const gpus = new Map<string, Located<GpuDefinition>>();
  for (const g of project.gpus) {
    checkGpu(g, problems);
    const prev = gpus.get(g.def.name);
    if (prev) {
      reporter(problems, g.file, label('gpu', g.def))('name', `a GPU "${g.def.name}" is already defined in ${prev.file}`, 'give every GPU profile a unique name (one file per GPU under base/)');
    } else gpus.set(g.def.name, g);
  }
  const templateNames = new Map<string, string>();
  for (const t of project.templates) {
    checkTemplate(t, gpus, problems, options);
    checkWorkflows(t, problems);
    if (!options.forLock) {
      checkLockFile(t, problems);
      checkWorkflowModels(t, problems);
    }
    const prev = templateNames.get(t.def.name);
    if (prev) {
      reporter(problems, t.file, label('template', t.def))('name', `the name is also used by ${prev}`, 'rename one of the templates');
    }
    templateNames.set(t.def.name, t.file);
  }
  checkNodeTargets(project, problems);
  // Collisions left once each name is well formed and not reserved (those are reported above).
  if (problems.every((p) => p.field !== 'name')) checkNameClashes(project, problems);
  if (problems.length > 0) throw new ValidationError(problems);
}

/** Group and target names must be unique across templates, GPUs and the stages derived from them. */
function checkNameClashes(project: Project, out: DefinitionProblem[]): void {
  const gpuFile = new Map(project.gpus.map((g) => [g.def.name, g.file]));
  const templateFile = new Map(project.templates.map((t) => [t.def.name, t.file]));
  const str = (v: unknown): v is string => typeof v === 'string';
  const clashes = nameClashes(
    project.gpus.map((g) => g.def).filter((g) => str(g.name) && str(g.cuda)),
    project.templates.map((t) => ({
      name: t.def.name,
      gpus: (Array.isArray(t.def.gpus) ? t.def.gpus : []).map((g) => g?.name).filter(str),
      nodes: (t.def.nodes ?? []).filter((n) => str(n.name) && str(n.commit)),
    })),
  );
  for (const c of clashes) {
    const by = c.owner.chosenBy ?? c.taken.chosenBy;
    if (!by) continue;
    const file = (by.kind === 'gpu' ? gpuFile : templateFile).get(by.name)!;
    reporter(out, file, `${by.kind === 'gpu' ? 'gpu' : 'template'} "${by.name}"`)(
      'name',
      `"${by.name}" makes ${c.owner.what}, but ${c.name} is already ${c.taken.what}: bake has one namespace for groups and targets`,
      `choose another ${by.kind === 'gpu' ? 'GPU' : 'template'} name`,
    );
  }
}

/** Each pinned node gets its own bake target; two different repos must not land on one name. */
function checkNodeTargets(project: Project, out: DefinitionProblem[]): void {
  const owners = new Map<string, { repo: string; where: string }>();
  for (const t of project.templates) {
    for (const [i, n] of (t.def.nodes ?? []).entries()) {
      if (typeof n.name !== 'string' || typeof n.commit !== 'string') continue;
      const target = nodeTargetName(n);
      const prev = owners.get(target);
      if (prev && prev.repo !== n.repo) {
        reporter(out, t.file, label('template', t.def))(
          `nodes[${i}].name`,
          `"${n.name}" (${n.repo}) and ${prev.where} (${prev.repo}) would share the bake target ${target}`,
          'give one of them another folder name: node(repo, commit, { name: "..." })',
        );
      }
      if (!prev) owners.set(target, { repo: n.repo, where: `nodes "${n.name}" of template "${t.def.name}"` });
    }
  }
}
