/**
 * GitHub Actions build matrix, in two levels:
 * - `shared`: the shared targets (base, torch, kernels, llama.cpp...) to build,
 *   all in ONE job and one bake invocation, so each is built once per run and
 *   pushes its registry cache and identity tag;
 * - `include`: one job per template target, which reads the shared stages from
 *   that cache (`kiln bake --deps-read-only`) and builds only its own stage
 *   (plus the custom-node checkouts it copies, which have no cache of their own,
 *   and for a GPU variant the template target it is FROM).
 * Estimates follow: a template job's minutes are its own stage's, not its closure's.
 */
import type { Plan, TargetPlan } from '../graph/plan.ts';
import { buildClosure } from '../graph/select.ts';
import type { BuildGraph, Target } from '../graph/types.ts';

export interface MatrixEntry {
  readonly target: string;
  readonly template: string;
  readonly gpu: string;
  /** Estimated build minutes of this job (its own stage and node checkouts; cold when built with --all or from the registry). */
  readonly minutes: number;
  /** Why the target rebuilds, in a few words. */
  readonly reason: string;
}

/** A shared target of the first level. */
export interface SharedEntry {
  readonly target: string;
  readonly kind: Target['kind'];
  readonly minutes: number;
  readonly reason: string;
}

export interface Matrix {
  /** The value of `strategy.matrix` (`fromJSON(needs.plan.outputs.matrix)`). */
  readonly include: readonly MatrixEntry[];
  readonly shared: readonly SharedEntry[];
}

const round = (n: number) => Math.round(n * 10) / 10;
const byTarget = <E extends { target: string }>(entries: E[]): E[] => entries.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));

/** Shared targets: pushed images other than templates (node checkouts are never pushed). */
export function isShared(t: Target): boolean {
  return t.kind !== 'template' && t.image !== null;
}

/**
 * What a template job builds itself: everything in its closure but the shared stages — its own
 * target, the node checkouts it copies (no registry cache of their own) and, for a GPU variant,
 * the template target it is FROM (built by its own job in parallel, not in level 1).
 */
function ownWork(graph: BuildGraph, t: Target): Target[] {
  return buildClosure(graph, [t.name]).filter((x) => !isShared(x));
}

const coldMinutes = (targets: readonly Target[]) => targets.reduce((s, x) => s + x.layers.reduce((m, l) => m + l.cost, 0), 0);

function entry(t: Target, minutes: number, reason: string): MatrixEntry {
  return { target: t.name, template: t.template ?? t.name, gpu: t.gpu ?? '', minutes: round(minutes), reason };
}

function shared(t: Target, minutes: number, reason: string): SharedEntry {
  return { target: t.name, kind: t.kind, minutes: round(minutes), reason };
}

/** Every template x GPU target and every shared target, with cold-build estimates (no cache). */
export function fullMatrix(graph: BuildGraph): Matrix {
  const why = 'all targets requested (cold estimate)';
  return {
    include: byTarget(graph.targets.filter((t) => t.kind === 'template').map((t) => entry(t, coldMinutes(ownWork(graph, t)), why))),
    shared: byTarget(graph.targets.filter(isShared).map((t) => shared(t, coldMinutes([t]), why))),
  };
}

/**
 * The targets whose content identity is not in the registry (`missing`, by
 * target name): what a cancelled or failed run, a generator change or a new
 * registry left unbuilt, and nothing that is published.
 */
export function unpublishedMatrix(graph: BuildGraph, missing: ReadonlySet<string>, refOf: (t: Target) => string): Matrix {
  const sharedMissing = (t: Target) => buildClosure(graph, [t.name]).filter((x) => x.name !== t.name && isShared(x) && missing.has(x.name)).map((x) => x.name);
  const why = (t: Target) => {
    const first = sharedMissing(t);
    return `${refOf(t)} is not in the registry${first.length > 0 ? `; after level 1 builds ${first.join(', ')}` : ''}`;
  };
  return {
    include: byTarget(graph.targets.filter((t) => t.kind === 'template' && missing.has(t.name)).map((t) => entry(t, coldMinutes(ownWork(graph, t)), why(t)))),
    shared: byTarget(graph.targets.filter((t) => isShared(t) && missing.has(t.name)).map((t) => shared(t, coldMinutes([t]), why(t)))),
  };
}

/**
 * The targets that changed since a ref: a plan status other than unchanged
 * (definitions), or a different content identity (`changed`: also generator
 * changes).
 */
export function changedMatrix(graph: BuildGraph, plan: Plan, changed: ReadonlySet<string>): Matrix {
  const byName = new Map(plan.targets.map((p) => [p.target, p]));
  const affected = (t: Target) => changed.has(t.name) || (byName.get(t.name)?.status ?? 'unchanged') !== 'unchanged';
  const minutes = (targets: readonly Target[]) => targets.reduce((s, x) => s + (byName.get(x.name)?.minutes ?? 0), 0);
  const include: MatrixEntry[] = [];
  for (const t of graph.targets) {
    if (t.kind !== 'template' || !affected(t)) continue;
    const p = byName.get(t.name)!;
    const closure = buildClosure(graph, [t.name]);
    // A GPU variant rebuilds because its primary does; say why the primary does, from the
    // primary's own closure (the variant's would name the variant as an origin of itself).
    const primary = t.variantOf ? byName.get(t.variantOf) : undefined;
    const why = primary
      ? `same files as ${primary.target}: ${explain(primary, buildClosure(graph, [primary.target]), byName)}`
      : explain(p, closure, byName);
    include.push(entry(t, minutes(ownWork(graph, t)), why));
  }
  const sharedEntries = graph.targets.filter((t) => isShared(t) && affected(t)).map((t) => shared(t, minutes([t]), byName.get(t.name)?.reason ?? 'identity changed'));
  return { include: byTarget(include), shared: byTarget(sharedEntries) };
}

/**
 * The plan's reason; when the change is upstream (keys chain), name the
 * shared stages that changed on their own, e.g. "via torch-rtx5090 (torch changed)".
 */
function explain(p: TargetPlan, closure: readonly Target[], plans: ReadonlyMap<string, TargetPlan>): string {
  if (!p.reason.startsWith('parent image')) return p.reason;
  const origins = closure
    .filter((x) => x.name !== p.target)
    .map((x) => plans.get(x.name))
    .filter((x): x is TargetPlan => !!x && x.status !== 'unchanged' && !x.reason.startsWith('parent image'));
  if (origins.length === 0) return p.reason;
  return `shared stage changed: ${origins.map((o) => `${o.target} (${o.reason})`).join(', ')}`;
}

const includeOf = (m: Matrix) => m.include.map((e) => ({ target: e.target, template: e.template, gpu: e.gpu, minutes: e.minutes, reason: e.reason }));

/** Compact, one line: the `matrix` output (`fromJSON` in the template jobs). */
export function renderMatrix(m: Matrix): string {
  return JSON.stringify({ include: includeOf(m) });
}

/** The `shared` output: target names for one `kiln bake` invocation, space-separated. */
export function renderShared(m: Matrix): string {
  return m.shared.map((e) => e.target).join(' ');
}

/** Both levels, one line (stdout outside Actions). */
export function renderLevels(m: Matrix): string {
  return JSON.stringify({ include: includeOf(m), shared: m.shared.map((e) => e.target) });
}

/** Rows of the job-summary table (header first): level, target, why it rebuilds, estimated minutes. */
export function summaryRows(m: Matrix): { header: string[]; rows: string[][]; total: number } {
  return {
    header: ['level', 'target', 'why it rebuilds', 'estimated minutes'],
    rows: [...m.shared.map((e) => ['1 shared', e.target, e.reason, e.minutes.toFixed(1)]), ...m.include.map((e) => ['2 template', e.target, e.reason, e.minutes.toFixed(1)])],
    total: round([...m.shared, ...m.include].reduce((s, e) => s + e.minutes, 0)),
  };
}
