import type { BuildGraph } from '../graph/types.ts';
import { renderBakeFile } from './bake-file.ts';
import { renderDockerfile } from './dockerfile.ts';
import { renderModelsManifest, renderNodesLock } from './manifests.ts';

/** Every generated file, keyed by repo-relative path (all under bake/), in sorted order. */
export function synth(graph: BuildGraph): Map<string, string> {
  const files = new Map<string, string>();
  files.set('bake/docker-bake.hcl', renderBakeFile(graph));
  for (const t of graph.targets) files.set(t.dockerfile, renderDockerfile(t));
  for (const f of graph.templateFiles) {
    files.set(`bake/manifests/${f.template}/models.json`, renderModelsManifest(f));
    files.set(`bake/manifests/${f.template}/nodes.lock.json`, renderNodesLock(f));
  }
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}
