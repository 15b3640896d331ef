/**
 * Layer order inside one Dockerfile.
 *
 * A layer re-runs when it or any layer before it changes, so the expected
 * rebuild cost of an order is sum_i cost_i * P(some layer <= i changed).
 * Exchanging neighbours a,b (a first) lowers it exactly when
 * odds(p_a)/cost_a > odds(p_b)/cost_b, with odds(p) = p/(1-p) (DESIGN
 * "Layers"). Without dependencies, sorting by that ratio ascending is
 * optimal; with them, we take the ready layer of smallest ratio each time
 * (a greedy topological order, exact for the chains Kiln emits).
 * Ties keep declaration order: maintainers append new nodes at the end, so
 * the newest (most likely to change) come last.
 */
export interface Orderable {
  readonly id: string;
  readonly after: readonly string[];
  readonly cost: number;
  readonly volatility: number;
}

export function odds(p: number): number {
  return p / (1 - p);
}

/** Smaller ranks earlier: rarely changing, expensive work first. */
export function rank(layer: Orderable): number {
  return odds(layer.volatility) / Math.max(layer.cost, 1e-6);
}

export function orderLayers<T extends Orderable>(layers: readonly T[]): T[] {
  const byId = new Map(layers.map((l) => [l.id, l]));
  for (const l of layers) {
    for (const dep of l.after) {
      if (!byId.has(dep)) throw new Error(`layer ${l.id} depends on unknown layer ${dep}`);
    }
  }
  const index = new Map(layers.map((l, i) => [l.id, i]));
  const placed = new Set<string>();
  const out: T[] = [];
  while (out.length < layers.length) {
    const ready = layers.filter((l) => !placed.has(l.id) && l.after.every((d) => placed.has(d)));
    if (ready.length === 0) throw new Error(`dependency cycle among layers: ${layers.filter((l) => !placed.has(l.id)).map((l) => l.id).join(', ')}`);
    ready.sort((a, b) => rank(a) - rank(b) || index.get(a.id)! - index.get(b.id)!);
    const next = ready[0]!;
    placed.add(next.id);
    out.push(next);
  }
  return out;
}

/** Expected rebuild minutes of an order under the independence model (for docs and tests). */
export function expectedCost(layers: readonly Orderable[]): number {
  let unchanged = 1;
  let total = 0;
  for (const l of layers) {
    unchanged *= 1 - l.volatility;
    total += l.cost * (1 - unchanged);
  }
  return total;
}
