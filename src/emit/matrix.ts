/**
 * GitHub Actions build matrix: one entry per template target to build.
 *
 * Each matrix job runs `kiln bake <target> --push` on its own runner, so it
 * builds the target's whole closure (shared stages come in through bake
 * contexts in the same invocation, cached per target in the registry). The
 * estimate of a job is therefore the re-run minutes of every target in its
 * closure, not only of the template stage.
 */
import type { Plan, TargetPlan } from '../graph/plan.ts';
import { buildClosure } from '../graph/select.ts';
import type { BuildGraph, Target } from '../graph/types.ts';

export interface MatrixEntry {
  readonly target: string;
  readonly template: string;
  readonly gpu: string;
  /** Estimated build minutes of this job (its closure's re-run layers; cold when built with --all). */
  readonly minutes: number;
  /** Why the target rebuilds, in a few words. */
  readonly reason: string;
}

/** The value of `strategy.matrix` (`fromJSON(needs.plan.outputs.matrix)`). */
export interface Matrix {
  readonly include: readonly MatrixEntry[];
}

const round = (n: number) => Math.round(n * 10) / 10;

function entry(t: Target, minutes: number, reason: string): MatrixEntry {
  return { target: t.name, template: t.template ?? t.name, gpu: t.gpu ?? '', minutes: round(minutes), reason };
}

const sorted = (entries: MatrixEntry[]): Matrix => ({ include: entries.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)) });

/** Every template x GPU target, with cold-build estimates (no cache). */
export function fullMatrix(graph: BuildGraph): Matrix {
  return sorted(
    graph.targets
      .filter((t) => t.kind === 'template')
      .map((t) => {
        const minutes = buildClosure(graph, [t.name]).reduce((s, x) => s + x.layers.reduce((m, l) => m + l.cost, 0), 0);
        return entry(t, minutes, 'all targets requested (cold estimate)');
      }),
  );
}

/** The template targets whose content changed according to `plan` (status other than unchanged). */
export function changedMatrix(graph: BuildGraph, plan: Plan): Matrix {
  const byName = new Map(plan.targets.map((p) => [p.target, p]));
  const out: MatrixEntry[] = [];
  for (const t of graph.targets) {
    if (t.kind !== 'template') continue;
    const p = byName.get(t.name);
    if (!p || p.status === 'unchanged') continue;
    const closure = buildClosure(graph, [t.name]);
    const minutes = closure.reduce((s, x) => s + (byName.get(x.name)?.minutes ?? 0), 0);
    // A GPU variant rebuilds because its primary does; say why the primary does, from the
    // primary's own closure (the variant's would name the variant as an origin of itself).
    const primary = t.variantOf ? byName.get(t.variantOf) : undefined;
    const why = primary
      ? `same files as ${primary.target}: ${explain(primary, buildClosure(graph, [primary.target]), byName)}`
      : explain(p, closure, byName);
    out.push(entry(t, minutes, why));
  }
  return sorted(out);
}

/**
 * The plan's reason; when the change is upstream (keys chain), name the
 * shared stages that changed on their own, e.g. "via torch-rtx5090 (torch changed)".
 */
function explain(p: TargetPlan, closure: readonly Target[], plans: ReadonlyMap<string, TargetPlan>): string {
  if (!p.reason.startsWith('parent image changed')) return p.reason;
  const origins = closure
    .filter((x) => x.name !== p.target)
    .map((x) => plans.get(x.name))
    .filter((x): x is TargetPlan => !!x && x.status !== 'unchanged' && !x.reason.startsWith('parent image changed'));
  if (origins.length === 0) return p.reason;
  return `shared stage changed: ${origins.map((o) => `${o.target} (${o.reason})`).join(', ')}`;
}

/** Compact, one line: what goes into GITHUB_OUTPUT and stdout. */
export function renderMatrix(m: Matrix): string {
  return JSON.stringify({ include: m.include.map((e) => ({ target: e.target, template: e.template, gpu: e.gpu, minutes: e.minutes, reason: e.reason })) });
}

/** Rows of the job-summary table (header first): target, why it rebuilds, estimated minutes. */
export function summaryRows(m: Matrix): { header: string[]; rows: string[][]; total: number } {
  return {
    header: ['target', 'why it rebuilds', 'estimated minutes'],
    rows: m.include.map((e) => [e.target, e.reason, e.minutes.toFixed(1)]),
    total: round(m.include.reduce((s, e) => s + e.minutes, 0)),
  };
}
