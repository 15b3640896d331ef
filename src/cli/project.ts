import { loadProject, type Project } from '../dsl/load.ts';
import { synth } from '../emit/synth.ts';
import { resolveGraph } from '../graph/resolve.ts';
import type { BuildGraph } from '../graph/types.ts';

export interface Synthesized {
  readonly project: Project;
  readonly graph: BuildGraph;
  readonly files: Map<string, string>;
}

/** definitions -> graph -> files, for the project at `root`. */
export async function synthesize(root: string): Promise<Synthesized> {
  const project = await loadProject(root);
  const graph = resolveGraph(project);
  return { project, graph, files: synth(graph) };
}
