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

/**
 * Targets a generator change reaches: the changed ones, with the first layer that re-runs
 * (null: none), and every target built on one (via: the upstream target). A parent whose
 * steps or trailing ENV changed re-runs all of a child's steps (the child's RUNs see its
 * rootfs and ENV); a parent whose labels alone changed changes only the child's config.
 */
function reachedByGenerator(graph: BuildGraph, generated: GeneratedChanges): Map<Target, { from: number | null; via: string | null }> {
  const byName = new Map(graph.targets.map((t) => [t.name, t]));
  const reached = new Map<Target, { from: number | null; via: string | null }>();
  const visit = (t: Target): { from: number | null; via: string | null } | undefined => {
    if (reached.has(t)) return reached.get(t);
    let result: { from: number | null; via: string | null } | undefined;
    for (const c of Object.values(t.contexts)) {
      const parent = 'target' in c ? byName.get(c.target) : undefined;
      const r = parent && visit(parent);
      if (r && (result === undefined || (r.from !== null && result.from === null))) result = { from: r.from === null ? null : 0, via: parent.name };
    }
    const own = generated.get(t.name);
    if (generated.has(t.name) && (result === undefined || result.from === null)) {
      result = { from: own === null || own === undefined ? (result?.from ?? null) : own, via: null };
    }
    if (result) reached.set(t, result);
    return result;
  };
  for (const t of graph.targets) visit(t);
  return reached;
}

function sameContent(a: Layer, b: Layer): boolean {
  return a.kind === b.kind && JSON.stringify(a.params) === JSON.stringify(b.params) && JSON.stringify(a.inputs) === JSON.stringify(b.inputs);
}

function describeFrom(t: Target): string {
  if ('image' in t.from) return t.from.image;
  const src = t.contexts[t.from.context];
  return `${t.from.context} = ${src && 'target' in src ? src.target : '?'}`;
}

/**
 * Targets whose generated files changed while their definitions did not (a
 * change to Kiln's generators, src/emit): per target, the index of the first
 * layer whose rendered step differs (layers.length when only what follows the
 * steps differs), or null when only its bake block (labels) differs.
 * Found by comparing a ref's committed bake/ with today's (src/ci/since.ts).
 */
export type GeneratedChanges = ReadonlyMap<string, number | null>;

/**
 * Compare two graphs. `before` null means everything is new (cold build).
 * Layer keys come from the definitions, so a generator change is invisible to
 * them: `generated` adds those targets, and every target built on one re-runs
 * all its steps (its parent image changed).
 */
export function planChanges(before: BuildGraph | null, after: BuildGraph, generated: GeneratedChanges = new Map()): Plan {
  const old = new Map((before?.targets ?? []).map((t) => [t.name, t]));
  const cached = new Set((before?.targets ?? []).flatMap((t) => t.layers.map((l) => l.key)));
  const byName = new Map(after.targets.map((t) => [t.name, planTarget(old.get(t.name), t, cached)]));
  for (const [t, reach] of reachedByGenerator(after, generated)) {
    const p = byName.get(t.name)!;
    if (p.status === 'new') continue;
    const rerun = reach.from === null ? p.rerun : t.layers.filter((l, i) => i >= reach.from! || p.rerun.includes(l));
    if (rerun.length === p.rerun.length && p.status !== 'unchanged' && p.status !== 'config') continue;
    const reason =
      reach.via === null
        ? rerun.length > 0
          ? `generated Dockerfile changed at ${rerun[0]!.id} (a generator change: no definition did)`
          : 'generated files changed, no step re-runs (bake block, trailing ENV or comments)'
        : rerun.length > 0
          ? `parent image changed (${reach.via}: generated files changed)`
          : `parent image config changed (${reach.via}: generated bake block changed)`;
    byName.set(t.name, {
      ...p,
      status: rerun.length > 0 ? 'rebuild' : 'config',
      ...(rerun[0] ? { firstInvalidated: rerun[0].id } : {}),
      rerun,
      minutes: rerun.reduce((s, l) => s + l.cost, 0),
      reason,
    });
  }
  const targets: TargetPlan[] = after.targets.map((t) => byName.get(t.name)!);
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
