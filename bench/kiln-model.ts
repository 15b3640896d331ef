/** (a) Kiln's graph: every layer of every target, keyed as BuildKit keys it. */
import { HEAVY_KINDS } from '../src/graph/layer-kinds.ts';
import type { BuildGraph } from '../src/graph/types.ts';
import type { Step } from './work.ts';

export function kilnSteps(graph: BuildGraph): Step[] {
  return graph.targets.flatMap((t) =>
    t.layers.map((l) => ({ key: l.key, cost: l.cost, heavy: HEAVY_KINDS.has(l.kind), label: `${t.name}/${l.id}` })),
  );
}
