/**
 * Test helpers in the spirit of cdk8s's Testing: build a Project in memory
 * (no files), synthesize it, and get at targets and files by name.
 */
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockSource, type FileDigest, type Project, type TemplateSource, type WorkflowFile } from './dsl/load.ts';
import type { BaseDefinition, GpuDefinition, TemplateDefinition } from './dsl/types.ts';
import { synth } from './emit/synth.ts';
import { resolveGraph } from './graph/resolve.ts';
import type { BuildGraph, Target } from './graph/types.ts';

export interface TestProjectOptions {
  readonly base: BaseDefinition;
  readonly gpus: readonly GpuDefinition[];
  readonly templates: readonly TemplateDefinition[];
  /** Workflow files per template name (make them with workflowFile(path, text)). @default none */
  readonly workflows?: Readonly<Record<string, readonly WorkflowFile[]>>;
  /** models.lock.json text per template name. @default none */
  readonly locks?: Readonly<Record<string, string>>;
  /** Runtime scripts digests. @default one fake start.sh */
  readonly runtime?: readonly FileDigest[];
}

export const Testing = {
  project(o: TestProjectOptions): Project {
    return {
      root: '/nonexistent',
      bases: [{ def: o.base, file: 'base/common.ts' }],
      gpus: o.gpus.map((g) => ({ def: g, file: `base/${g.name}.ts` })),
      templates: o.templates.map(
        (t): TemplateSource => ({
          def: t,
          file: `templates/${t.name}/template.ts`,
          folder: t.name,
          workflows: o.workflows?.[t.name] ?? [],
          lock: o.locks?.[t.name] !== undefined ? lockSource(`templates/${t.name}/models.lock.json`, o.locks[t.name]!) : null,
        }),
      ),
      runtime: o.runtime ?? [{ path: 'start.sh', sha256: '0'.repeat(64) }],
    };
  },

  graph(project: Project): BuildGraph {
    return resolveGraph(project);
  },

  synth(project: Project): Map<string, string> {
    return synth(resolveGraph(project));
  },

  /**
   * A throwaway copy of a project's definitions (base/, templates/, scripts/, bake/)
   * with src/, node_modules/, bin/ and package.json linked: edit it freely.
   * `withCode` copies src/ and bin/ too, to change Kiln itself (a generator partial).
   */
  copyProject(root: string, options: { readonly withCode?: boolean } = {}): { root: string; cleanup: () => void } {
    const dest = mkdtempSync(join(tmpdir(), 'kiln-repo-'));
    const code = ['src', 'bin'];
    for (const dir of ['base', 'templates', 'scripts', 'bake', ...(options.withCode ? code : [])]) {
      if (existsSync(join(root, dir))) cpSync(join(root, dir), join(dest, dir), { recursive: true });
    }
    for (const link of ['node_modules', 'package.json', ...(options.withCode ? [] : code)]) symlinkSync(join(root, link), join(dest, link));
    return { root: dest, cleanup: () => rmSync(dest, { recursive: true, force: true }) };
  },

  target(graph: BuildGraph, name: string): Target {
    const t = graph.targets.find((x) => x.name === name);
    if (!t) throw new Error(`no target ${name}; have ${graph.targets.map((x) => x.name).join(', ')}`);
    return t;
  },
};
