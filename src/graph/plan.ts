/**
 * Change impact: which steps a change re-runs, predicted from content keys.
 * BuildKit reuses a step exactly when its cache key (parent + instruction +
 * inputs) is already in the cache; Kiln's layer keys chain the same way. So
 * on a builder that has built `before`, a layer re-runs exactly when its key
 * is not among before's keys (a new template whose first steps equal another
 * template's reuses them).
 */
import type { BuildGraph, Layer, Target } from './types.ts';

export type TargetStatus = 'new' | 'rebuild' | 'config' | 'unchanged' | 'removed';

export interface TargetPlan {
  readonly target: string;
  readonly template?: string;
  readonly gpu?: string;
  readonly status: TargetStatus;
  /** Id of the first layer that re-runs (undefined when none does). */
  readonly firstInvalidated?: string;
  /** Layers that re-run, in Dockerfile order. */
  readonly rerun: readonly Layer[];
  /** Estimated minutes of the re-run layers. */
  readonly minutes: number;
  /** Why, in a few words (for job summaries). */
  readonly reason: string;
}

export interface Plan {
  readonly targets: readonly TargetPlan[];
  readonly totalMinutes: number;
}

function planTarget(before: Target | undefined, after: Target, cached: ReadonlySet<string>): TargetPlan {
  const base = { target: after.name, ...(after.template ? { template: after.template } : {}), ...(after.gpu ? { gpu: after.gpu } : {}) };
  const rerun = after.layers.filter((l) => !cached.has(l.key));
  const first = rerun[0] ? after.layers.indexOf(rerun[0]) : -1;
  const minutes = rerun.reduce((s, l) => s + l.cost, 0);
  if (!before) return { ...base, status: 'new', ...(rerun[0] ? { firstInvalidated: rerun[0].id } : {}), rerun, minutes, reason: 'new target' };
  if (rerun.length > 0) {
    const layer = rerun[0]!;
    // Keys chain: if the first re-run layer's own content is the same as before, what changed is upstream.
    const old = before.layers[first];
    const reason = old && sameContent(old, layer) ? `parent image changed (${describeFrom(after)})` : `${layer.id} changed`;
    return { ...base, status: 'rebuild', firstInvalidated: layer.id, rerun, minutes, reason };
  }
  // No own step re-runs, yet the files differ: a GPU variant whose primary rebuilds (see Target.variantOf).
  if (before.key !== after.key) {
    const reason = after.variantOf ? `same files as ${after.variantOf}, which rebuilds` : `parent image changed (${describeFrom(after)})`;
    return { ...base, status: 'rebuild', rerun, minutes: 0, reason };
  }
  if (before.imageKey !== after.imageKey) return { ...base, status: 'config', rerun, minutes: 0, reason: 'image config changed (env, ports or labels)' };
  return { ...base, status: 'unchanged', rerun, minutes: 0, reason: 'unchanged' };
}

function sameContent(a: Layer, b: Layer): boolean {
  return a.kind === b.kind && JSON.stringify(a.params) === JSON.stringify(b.params) && JSON.stringify(a.inputs) === JSON.stringify(b.inputs);
}

function describeFrom(t: Target): string {
  if ('image' in t.from) return t.from.image;
  const src = t.contexts[t.from.context];
  return `${t.from.context} = ${src && 'target' in src ? src.target : '?'}`;
}

/** Compare two graphs. `before` null means everything is new (cold build). */
export function planChanges(before: BuildGraph | null, after: BuildGraph): Plan {
  const old = new Map((before?.targets ?? []).map((t) => [t.name, t]));
  const cached = new Set((before?.targets ?? []).flatMap((t) => t.layers.map((l) => l.key)));
  const targets: TargetPlan[] = after.targets.map((t) => planTarget(old.get(t.name), t, cached));
  for (const t of before?.targets ?? []) {
    if (!after.targets.some((a) => a.name === t.name)) {
      targets.push({ target: t.name, status: 'removed', rerun: [], minutes: 0, reason: 'target removed' });
    }
  }
  // Identical steps (same key, e.g. torch for two GPUs with equal pins) run once per bake invocation.
  const work = new Map<string, number>();
  for (const t of targets) for (const l of t.rerun) work.set(l.key, l.cost);
  return { targets, totalMinutes: [...work.values()].reduce((s, c) => s + c, 0) };
}
