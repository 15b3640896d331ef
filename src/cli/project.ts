import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadProject, type LoadOptions, type Project } from '../dsl/load.ts';
import { synth } from '../emit/synth.ts';
import { resolveGraph } from '../graph/resolve.ts';
import type { BuildGraph } from '../graph/types.ts';

export interface Synthesized {
  readonly project: Project;
  readonly graph: BuildGraph;
  readonly files: Map<string, string>;
}

/** definitions -> graph -> files, for the project at `root`. */
export async function synthesize(root: string, options: LoadOptions = {}): Promise<Synthesized> {
  const project = await loadProject(root, options);
  const graph = resolveGraph(project);
  return { project, graph, files: synth(graph) };
}

/** A Kiln project: a base/ folder with definitions in it (defineBase, defineGpu). */
function isProjectRoot(dir: string): boolean {
  const base = join(dir, 'base');
  return existsSync(base) && statSync(base).isDirectory() && readdirSync(base).some((f) => f.endsWith('.ts'));
}

/** The project `cwd` is in: cwd or the nearest parent that is a project root; null when none is. */
export function findProjectRoot(cwd: string): string | null {
  for (let dir = cwd; ; dir = dirname(dir)) {
    if (isProjectRoot(dir)) return dir;
    if (dirname(dir) === dir) return null;
  }
}
