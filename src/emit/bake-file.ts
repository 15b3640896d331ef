import { relative } from 'node:path';
import type { BuildGraph, ContextSource, Target } from '../graph/types.ts';
import { buildClosure, imageOf } from '../graph/select.ts';
import { hashBanner } from './banner.ts';
import { BAKE_FUNCTIONS, BAKE_VARIABLES, type BakeVars } from './bake-functions.ts';
import { Call, type HclBlock, type HclValue, Interpolated, renderHcl } from './hcl.ts';
import type { Identities } from './identity.ts';

export { BAKE_VARIABLES } from './bake-functions.ts';

/** Tag of a target's image for this build: `<gpu tag>-${TAG}`. */
export function buildTag(t: Target): string {
  return `${imageOf(t).tag}-\${TAG}`;
}

/** The part of an identity tag after `<gpu tag>-`. */
export function identitySuffix(identity: string): string {
  return `id-${identity}`;
}

/** Immutable tag of a target's content identity: `<gpu tag>-id-<identity>`. */
export function identityTag(t: Target, identity: string): string {
  return `${imageOf(t).tag}-${identitySuffix(identity)}`;
}

/** A named context as bake spells it: `target:<name>`, or a directory relative to the cwd (the repo root). */
function contextValue(c: ContextSource): string {
  return 'target' in c ? `target:${c.target}` : c.local;
}

/** What a target hands BuildKit besides its Dockerfile: the part of its bake block its identity covers. */
export interface BakeTargetBody {
  readonly context: string;
  readonly dockerfile: string;
  readonly contexts?: Record<string, string>;
  readonly labels?: Record<string, string>;
}

/**
 * A target block. Tags and cache refs are calls of the file's functions
 * (src/emit/bake-functions.ts): they depend on REGISTRY and CACHE_SCOPE.
 */
export interface BakeTarget extends BakeTargetBody {
  /** Absent on node checkouts: they are only ever consumed as contexts. */
  readonly tags?: readonly Call[];
  readonly 'cache-from'?: Call;
  readonly 'cache-to'?: Call;
}

/** The bake file as data. */
export interface BakeModel {
  readonly variable: Record<string, { default: string }>;
  readonly group: Record<string, { targets: string[] }>;
  readonly target: Record<string, BakeTarget>;
}

const sortedEntries = <V>(o: Readonly<Record<string, V>>): [string, V][] => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));

export function bakeTargetBody(t: Target): BakeTargetBody {
  const contexts = sortedEntries(t.contexts);
  return {
    // Paths are relative to the cwd (buildx#1028), so bake runs from the repo root;
    // the Dockerfile path is relative to the context.
    context: t.context,
    dockerfile: relative(t.context, t.dockerfile).split('\\').join('/'),
    ...(contexts.length > 0 ? { contexts: Object.fromEntries(contexts.map(([n, c]) => [n, contextValue(c)])) } : {}),
    ...(t.image ? { labels: Object.fromEntries(sortedEntries({ ...t.labels, 'org.opencontainers.image.version': '${TAG}' })) } : {}),
  };
}

/**
 * Whose registry caches a target reads: its own, then those of the targets it
 * builds on (why: the cache_from function in bake-functions.ts).
 * Node checkouts have no image and no cache.
 */
export function cacheReadTargets(graph: BuildGraph, t: Target): string[] {
  return buildClosure(graph, [t.name]).reverse().filter((x) => x.image).map((x) => x.name);
}

export function bakeModel(graph: BuildGraph, identities: Identities): BakeModel {
  const target: Record<string, BakeTarget> = {};
  for (const t of graph.targets) {
    const body = bakeTargetBody(t);
    if (!t.image) {
      target[t.name] = body;
      continue;
    }
    const repo = imageOf(t).repository;
    target[t.name] = {
      ...body,
      tags: [new Call('image', [repo, new Interpolated(buildTag(t))]), new Call('identity', [repo, identityTag(t, identities.of(t.name))])],
      'cache-from': new Call('cache_from', cacheReadTargets(graph, t)),
      'cache-to': new Call('cache_to', [t.name]),
    };
  }
  return {
    variable: Object.fromEntries(Object.entries(BAKE_VARIABLES).map(([k, v]) => [k, { default: v }])),
    group: Object.fromEntries(graph.groups.map((g) => [g.name, { targets: [...g.targets] }])),
    target,
  };
}

/** A target block evaluated as buildx evaluates it (tags, labels and cache refs with these variables). */
export function evaluateTarget(t: BakeTarget, v: BakeVars): Record<string, unknown> {
  const str = (s: string): string => s.replace(/\$\{(\w+)\}/g, (m, name: string) => (name in v ? v[name as keyof BakeVars] : m));
  const call = (c: Call): string | string[] => BAKE_FUNCTIONS[c.fn]!.evaluate(v, ...c.args.map((a) => (a instanceof Interpolated ? str(a.text) : a)));
  const out: Record<string, unknown> = { context: t.context, dockerfile: t.dockerfile };
  if (t.contexts) out.contexts = t.contexts;
  if (t.tags) out.tags = t.tags.map((c) => call(c) as string);
  if (t.labels) out.labels = Object.fromEntries(Object.entries(t.labels).map(([k, x]) => [k, str(x)]));
  // buildx leaves out a list that evaluates empty (no REGISTRY: no cache at all).
  for (const key of ['cache-from', 'cache-to'] as const) {
    const list = t[key] ? (call(t[key]) as string[]) : [];
    if (list.length > 0) out[key] = list;
  }
  return out;
}

const interpolated = (s: string): HclValue => (s.includes('${') ? new Interpolated(s) : s);

export function renderBakeFile(graph: BuildGraph, identities: Identities): string {
  const model = bakeModel(graph, identities);
  const blocks: HclBlock[] = [];
  for (const [name, v] of Object.entries(model.variable)) blocks.push({ type: 'variable', label: name, attributes: [['default', v.default]] });
  for (const [name, g] of Object.entries(model.group)) blocks.push({ type: 'group', label: name, attributes: [['targets', g.targets]] });
  for (const [name, t] of Object.entries(model.target)) {
    const attrs: [string, HclValue][] = [
      ['context', t.context],
      ['dockerfile', t.dockerfile],
    ];
    if (t.contexts) attrs.push(['contexts', t.contexts]);
    if (t.tags) attrs.push(['tags', t.tags]);
    if (t.labels) attrs.push(['labels', Object.fromEntries(Object.entries(t.labels).map(([k, v]) => [k, interpolated(v)]))]);
    if (t['cache-from']) attrs.push(['cache-from', t['cache-from']]);
    if (t['cache-to']) attrs.push(['cache-to', t['cache-to']]);
    blocks.push({ type: 'target', label: name, attributes: attrs });
  }
  return renderHcl(hashBanner(), blocks, Object.values(BAKE_FUNCTIONS));
}
