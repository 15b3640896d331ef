import { relative } from 'node:path';
import type { BuildGraph, ContextSource, Target } from '../graph/types.ts';
import { imageOf } from '../graph/select.ts';
import { hashBanner } from './banner.ts';
import { type HclBlock, type HclValue, Interpolated, renderHcl } from './hcl.ts';

/** Variables of the bake file; override them from the environment (REGISTRY=ghcr.io/me TAG=v1 ...). */
export const BAKE_VARIABLES: Readonly<Record<string, string>> = {
  REGISTRY: 'kiln',
  TAG: 'dev',
};

export function imageRef(t: Target): string {
  const image = imageOf(t);
  return `\${REGISTRY}/${image.repository}:${image.tag}-\${TAG}`;
}

/** Registry cache per target, CSV form (buildx >= 0.13; object form needs 0.19). */
export function cacheRef(t: Target): string {
  return `\${REGISTRY}/kiln-cache:${t.name}`;
}

/** A named context as bake spells it: `target:<name>`, or a directory relative to the cwd (the repo root). */
function contextValue(c: ContextSource): string {
  return 'target' in c ? `target:${c.target}` : c.local;
}

/** The bake file as plain data, in the shape `docker buildx bake --print` reports (for tests). */
export interface BakeModel {
  readonly variable: Record<string, { default: string }>;
  readonly group: Record<string, { targets: string[] }>;
  readonly target: Record<string, BakeTarget>;
}

export interface BakeTarget {
  readonly context: string;
  readonly dockerfile: string;
  readonly contexts?: Record<string, string>;
  /** Absent on node checkouts: they are only ever consumed as contexts. */
  readonly tags?: string[];
  readonly labels?: Record<string, string>;
  readonly 'cache-from'?: string[];
  readonly 'cache-to'?: string[];
}

export function bakeModel(graph: BuildGraph): BakeModel {
  const target: Record<string, BakeTarget> = {};
  for (const t of graph.targets) {
    const contexts = Object.entries(t.contexts).sort(([a], [b]) => (a < b ? -1 : 1));
    const base = {
      // Paths are relative to the cwd (buildx#1028), so bake runs from the repo root;
      // the Dockerfile path is relative to the context.
      context: t.context,
      dockerfile: relative(t.context, t.dockerfile).split('\\').join('/'),
      ...(contexts.length > 0 ? { contexts: Object.fromEntries(contexts.map(([n, c]) => [n, contextValue(c)])) } : {}),
    };
    if (!t.image) {
      target[t.name] = base;
      continue;
    }
    target[t.name] = {
      ...base,
      tags: [imageRef(t)],
      labels: Object.fromEntries(
        Object.entries({ ...t.labels, 'org.opencontainers.image.version': '${TAG}' }).sort(([a], [b]) => (a < b ? -1 : 1)),
      ),
      'cache-from': [`type=registry,ref=${cacheRef(t)}`],
      'cache-to': [`type=registry,ref=${cacheRef(t)},mode=max`],
    };
  }
  return {
    variable: Object.fromEntries(Object.entries(BAKE_VARIABLES).map(([k, v]) => [k, { default: v }])),
    group: Object.fromEntries(graph.groups.map((g) => [g.name, { targets: [...g.targets] }])),
    target,
  };
}

const interpolated = (s: string): HclValue => (s.includes('${') ? new Interpolated(s) : s);

export function renderBakeFile(graph: BuildGraph): string {
  const model = bakeModel(graph);
  const blocks: HclBlock[] = [];
  for (const [name, v] of Object.entries(model.variable)) blocks.push({ type: 'variable', label: name, attributes: [['default', v.default]] });
  for (const [name, g] of Object.entries(model.group)) blocks.push({ type: 'group', label: name, attributes: [['targets', g.targets]] });
  for (const [name, t] of Object.entries(model.target)) {
    const attrs: [string, HclValue][] = [
      ['context', t.context],
      ['dockerfile', t.dockerfile],
    ];
    if (t.contexts) attrs.push(['contexts', t.contexts]);
    if (t.tags) attrs.push(['tags', t.tags.map(interpolated)]);
    if (t.labels) attrs.push(['labels', Object.fromEntries(Object.entries(t.labels).map(([k, v]) => [k, interpolated(v)]))]);
    if (t['cache-from']) attrs.push(['cache-from', t['cache-from'].map(interpolated)]);
    if (t['cache-to']) attrs.push(['cache-to', t['cache-to'].map(interpolated)]);
    blocks.push({ type: 'target', label: name, attributes: attrs });
  }
  return renderHcl(hashBanner(), blocks);
}
