/**
 * Content identity of each bake target: a digest of everything that reaches
 * BuildKit for it — the rendered Dockerfile text, the bake block (contexts,
 * labels; not the tags or cache refs, which name the result), the digests of
 * the local files it copies, and the identities of the targets it builds on.
 *
 * Equal identity means BuildKit is handed the same build, so an image pushed
 * under `<gpu>-id-<identity>` never needs building again; any change, be it a
 * definition, a generator template (src/emit/partials) or a runtime script,
 * gives a new identity, also to every target downstream. CI asks the registry
 * for these tags (src/ci/published.ts) instead of diffing commits.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../graph/keys.ts';
import { imageOf } from '../graph/select.ts';
import type { BuildGraph, Target } from '../graph/types.ts';
import { JSON_BANNER, JSON_BANNER_KEY } from './banner.ts';
import { bakeTargetBody, identityTag } from './bake-file.ts';

/** Repo-relative path of the committed identities (read at a git ref by `--since`). */
export const IDENTITY_FILE = 'bake/identities.json';

/** Hex digits of an identity (64 bits: collisions between two builds are not a concern). */
const LENGTH = 16;

export class Identities {
  constructor(
    private readonly byTarget: ReadonlyMap<string, string>,
    private readonly parts: ReadonlyMap<string, IdentityParts>,
  ) {}

  partsOf(target: string): IdentityParts {
    return this.parts.get(target)!;
  }

  of(target: string): string {
    const id = this.byTarget.get(target);
    if (!id) throw new Error(`no identity for target ${target}`);
    return id;
  }

  entries(): [string, string][] {
    return [...this.byTarget.entries()];
  }
}

/** Targets this one builds on (its `target:` contexts), by context name. */
export function upstreamOf(t: Target): Record<string, string> {
  return Object.fromEntries(Object.entries(t.contexts).flatMap(([n, c]) => ('target' in c ? [[n, c.target]] : [])));
}

/** Identities of every target; `dockerfiles` maps a Dockerfile path to its rendered text. */
export function computeIdentities(graph: BuildGraph, dockerfiles: ReadonlyMap<string, string>): Identities {
  const byName = new Map(graph.targets.map((t) => [t.name, t]));
  const done = new Map<string, string>();
  const visit = (t: Target, path: readonly string[]): string => {
    const known = done.get(t.name);
    if (known) return known;
    if (path.includes(t.name)) throw new Error(`target cycle: ${[...path, t.name].join(' -> ')}`);
    const upstream = Object.fromEntries(Object.entries(upstreamOf(t)).map(([ctx, name]) => [ctx, visit(byName.get(name)!, [...path, t.name])]));
    const text = dockerfiles.get(t.dockerfile);
    if (text === undefined) throw new Error(`no rendered Dockerfile ${t.dockerfile} for ${t.name}`);
    const parts = { dockerfile: digest(text), block: digest(canonicalJson(bakeTargetBody(t))) };
    const id = digest(canonicalJson({ ...parts, files: t.layers.flatMap((l) => l.inputs).sort(), upstream }));
    done.set(t.name, id);
    partsOf.set(t.name, parts);
    return id;
  };
  const partsOf = new Map<string, IdentityParts>();
  for (const t of graph.targets) visit(t, []);
  return new Identities(new Map(graph.targets.map((t) => [t.name, done.get(t.name)!])), partsOf);
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, LENGTH);

/** Digests of a target's own generated text, kept to tell what changed (src/ci/since.ts). */
export interface IdentityParts {
  /** Of the rendered Dockerfile. */
  readonly dockerfile: string;
  /** Of the bake block's identity-relevant attributes (context, dockerfile path, contexts, labels). */
  readonly block: string;
}

/** One entry of bake/identities.json. */
export interface IdentityEntry extends IdentityParts {
  readonly identity: string;
  /** `<repository>:<gpu>-id-<identity>` (no registry); null for targets never pushed (node checkouts). */
  readonly image: string | null;
  readonly kind: Target['kind'];
  /** Targets it builds on. */
  readonly upstream: readonly string[];
}

export interface IdentityFile {
  readonly schema: 1;
  readonly targets: Readonly<Record<string, IdentityEntry>>;
}

export function identityEntries(graph: BuildGraph, ids: Identities): Record<string, IdentityEntry> {
  return Object.fromEntries(
    graph.targets.map((t) => [
      t.name,
      {
        identity: ids.of(t.name),
        ...ids.partsOf(t.name),
        image: t.image ? `${imageOf(t).repository}:${identityTag(t, ids.of(t.name))}` : null,
        kind: t.kind,
        upstream: [...new Set(Object.values(upstreamOf(t)))].sort(),
      },
    ]),
  );
}

export function renderIdentityFile(graph: BuildGraph, ids: Identities): string {
  return `${JSON.stringify({ [JSON_BANNER_KEY]: JSON_BANNER, schema: 1, targets: identityEntries(graph, ids) }, null, 2)}\n`;
}

/** Parse a committed bake/identities.json (null when it is not one Kiln wrote). */
export function parseIdentityFile(text: string): IdentityFile | null {
  try {
    const doc = JSON.parse(text) as Partial<IdentityFile>;
    return doc.schema === 1 && doc.targets && typeof doc.targets === 'object' ? (doc as IdentityFile) : null;
  } catch {
    return null;
  }
}
