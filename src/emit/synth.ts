import type { BuildGraph } from '../graph/types.ts';
import { renderBakeFile } from './bake-file.ts';
import { renderDockerfile } from './dockerfile.ts';
import { computeIdentities, IDENTITY_FILE, type Identities, renderIdentityFile } from './identity.ts';
import { renderModelsManifest, renderNodesLock } from './manifests.ts';

/** Every generated file, keyed by repo-relative path (all under bake/), in sorted order. */
export function synth(graph: BuildGraph): Map<string, string> {
  const files = new Map<string, string>();
  for (const t of graph.targets) files.set(t.dockerfile, renderDockerfile(t));
  // Identities cover the rendered Dockerfiles, so they come after them and before the bake file that tags them.
  const ids = computeIdentities(graph, files);
  files.set('bake/docker-bake.hcl', renderBakeFile(graph, ids));
  files.set(IDENTITY_FILE, renderIdentityFile(graph, ids));
  for (const f of graph.templateFiles) {
    files.set(`bake/manifests/${f.template}/models.json`, renderModelsManifest(f));
    files.set(`bake/manifests/${f.template}/nodes.lock.json`, renderNodesLock(f));
  }
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The identities alone (renders every Dockerfile, writes nothing). */
export function synthIdentities(graph: BuildGraph): Identities {
  return computeIdentities(graph, new Map(graph.targets.map((t) => [t.dockerfile, renderDockerfile(t)])));
}
