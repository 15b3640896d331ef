import { KilnError } from '../errors.ts';
import type { BuildGraph, Target } from './types.ts';

/**
 * Turn CLI names (template, group, GPU group or target) into target names,
 * optionally narrowed to one GPU. Unknown names get the list of valid ones.
 */
export function selectTargets(graph: BuildGraph, names: readonly string[], gpu?: string): string[] {
  const targets = new Map(graph.targets.map((t) => [t.name, t]));
  const groups = new Map(graph.groups.map((g) => [g.name, g.targets]));
  if (gpu && !graph.groups.some((g) => g.name === gpu) && !graph.targets.some((t) => t.gpu === gpu)) {
    const gpus = [...new Set(graph.targets.flatMap((t) => (t.gpu ? [t.gpu] : [])))].sort();
    throw new KilnError(`unknown GPU "${gpu}" (known: ${gpus.join(', ')})`);
  }
  const wanted = names.length > 0 ? names : ['default'];
  const out = new Set<string>();
  for (const name of wanted) {
    const members = groups.get(name) ?? (targets.has(name) ? [name] : null);
    if (!members) {
      const templates = graph.groups.filter((g) => g.name !== 'default' && !graph.targets.some((t) => t.gpu === g.name)).map((g) => g.name);
      throw new KilnError(
        `unknown template, group or target "${name}".\n  templates: ${templates.join(', ')}\n  groups: ${[...groups.keys()].join(', ')}\n  targets: see \`kiln bake --dry-run\` or bake/docker-bake.hcl`,
      );
    }
    const narrowed = gpu ? members.filter((m) => targets.get(m)?.gpu === gpu) : members;
    if (narrowed.length === 0) throw new KilnError(`"${name}" has no target for GPU "${gpu}" (it has: ${members.join(', ')})`);
    for (const m of narrowed) out.add(m);
  }
  return [...out];
}

/** Image name parts of a target that produces a published image (not a node checkout). */
export function imageOf(t: Target): { readonly repository: string; readonly tag: string } {
  if (!t.image) throw new KilnError(`target ${t.name} (${t.kind}) produces no published image`);
  return t.image;
}

/** The targets bake will build for `names`: them and every target they reach through contexts, dependencies first. */
export function buildClosure(graph: BuildGraph, names: readonly string[]): Target[] {
  const byName = new Map(graph.targets.map((t) => [t.name, t]));
  const seen = new Set<string>();
  const out: Target[] = [];
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const t = byName.get(name);
    if (!t) throw new KilnError(`unknown target ${name}`);
    for (const c of Object.values(t.contexts)) if ('target' in c) visit(c.target);
    out.push(t);
  };
  for (const n of names) visit(n);
  return out;
}
