/**
 * What changed since a git ref. Two comparisons, each for what it sees:
 * - layer keys of the definitions at REF (rendered with today's src/) against
 *   today's: which steps a definition edit re-runs (src/graph/plan.ts);
 * - content identities of REF's committed bake/ (which REF's own code
 *   rendered) against today's: what a change of Kiln itself (a partial under
 *   src/emit/partials, a label) does to the generated files. Layer keys cannot
 *   see those; identities can, and the first changed step says what re-runs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { synthesize } from '../cli/project.ts';
import { loadProject, type LoadOptions } from '../dsl/load.ts';
import { firstChangedLayer } from '../emit/dockerfile-steps.ts';
import { IDENTITY_FILE, parseIdentityFile } from '../emit/identity.ts';
import { planChanges, type Plan } from '../graph/plan.ts';
import { resolveGraph } from '../graph/resolve.ts';
import type { BuildGraph } from '../graph/types.ts';
import { checkoutDefinitions, readAtRef } from '../io/git-ref.ts';

/** The graph of the definitions at a git ref (rendered with today's src/), or null when the ref has none. */
export async function graphAtRef(root: string, ref: string, options: LoadOptions = {}): Promise<BuildGraph | null> {
  const { dir, cleanup } = await checkoutDefinitions(root, ref);
  try {
    if (!existsSync(join(dir, 'base')) && !existsSync(join(dir, 'templates'))) return null;
    return resolveGraph(await loadProject(dir, options));
  } finally {
    cleanup();
  }
}

export interface SinceComparison {
  readonly plan: Plan;
  readonly graph: BuildGraph;
  readonly files: ReadonlyMap<string, string>;
  /** Targets whose content identity differs from REF's committed one (none when REF has no identities). */
  readonly changed: ReadonlySet<string>;
  /** REF has no bake/identities.json (it predates them): only definition changes are seen. */
  readonly refHasIdentities: boolean;
}

export async function compareSince(root: string, ref: string, options: LoadOptions = {}): Promise<SinceComparison> {
  const before = await graphAtRef(root, ref, options);
  const { graph, files } = await synthesize(root, options);
  const now = parseIdentityFile(files.get(IDENTITY_FILE)!)!;
  const committed = parseIdentityFile((await readAtRef(root, ref, IDENTITY_FILE)) ?? '');
  // A target new since REF is `new` in the plan; only targets REF had can differ in identity.
  const changed = new Set(graph.targets.filter((t) => committed?.targets[t.name] && committed.targets[t.name]!.identity !== now.targets[t.name]!.identity).map((t) => t.name));
  const generated = new Map<string, number | null>();
  for (const t of graph.targets) {
    const was = committed?.targets[t.name];
    const is = now.targets[t.name]!;
    if (!was || was.identity === is.identity) continue;
    if (was.dockerfile !== is.dockerfile) {
      const old = await readAtRef(root, ref, t.dockerfile);
      const from = old === null ? 0 : firstChangedLayer(old, files.get(t.dockerfile)!, t.layers.map((l) => l.id));
      generated.set(t.name, from); // null: comments only, no step re-runs
    } else if (was.block !== is.block) {
      generated.set(t.name, null);
    }
    // Otherwise the change is upstream or in the files it copies: layer keys and the propagation see those.
  }
  return { plan: planChanges(before, graph, generated), graph, files, changed, refHasIdentities: committed !== null };
}
