/**
 * The bake file's variables and functions, each with the TypeScript that
 * computes what buildx computes from it (for Kiln's own `--print` rendering
 * and for the refs `kiln tags` and `kiln matrix` ask about). test/print.test.ts
 * checks both against the real buildx.
 */
import type { HclFunction } from './hcl.ts';

/**
 * Variables of the bake file; override them from the environment.
 * REGISTRY empty (the default) means a local build: images are named
 * `kiln/<repository>:<tag>` and no registry cache is read or written, so a
 * local bake asks no registry anything.
 */
export const BAKE_VARIABLES = {
  REGISTRY: '',
  TAG: 'dev',
  /** Registry-cache scope: empty = main's cache; e.g. `pr-42` reads main's and writes `kiln-cache:<target>--pr-42`. */
  CACHE_SCOPE: '',
} as const satisfies Readonly<Record<string, string>>;

export type BakeVars = { readonly [K in keyof typeof BAKE_VARIABLES]: string };

/** Registry part of image names when REGISTRY is empty. */
export const LOCAL_REGISTRY = 'kiln';

/** The variables as buildx sees them: the environment's value, else the file's default. */
export function bakeVars(env: NodeJS.ProcessEnv): BakeVars {
  return {
    REGISTRY: env.REGISTRY ?? BAKE_VARIABLES.REGISTRY,
    TAG: env.TAG ?? BAKE_VARIABLES.TAG,
    CACHE_SCOPE: env.CACHE_SCOPE ?? BAKE_VARIABLES.CACHE_SCOPE,
  };
}

/** Where a target's registry cache lives (without `type=registry,ref=`). */
export function cacheRefOf(v: BakeVars, target: string, scoped: boolean): string {
  return `${v.REGISTRY}/kiln-cache:${target}${scoped ? scopeSuffix(v) : ''}`;
}

interface BakeFunction extends HclFunction {
  readonly evaluate: (v: BakeVars, ...args: string[]) => string | string[];
}

const image: BakeFunction = {
  name: 'image',
  params: ['repository', 'tag'],
  result: `"\${REGISTRY != "" ? REGISTRY : "${LOCAL_REGISTRY}"}/\${repository}:\${tag}"`,
  why: `Image name: <REGISTRY>/<repository>:<tag>, or ${LOCAL_REGISTRY}/<repository>:<tag> when REGISTRY is empty (a local build).`,
  evaluate: (v, repository, tag) => `${v.REGISTRY || LOCAL_REGISTRY}/${repository}:${tag}`,
};

/**
 * The identity tag carries the cache scope: a pull request's images are tagged
 * `...-id-<identity>--pr-42`, which main's `kiln matrix` never takes for its own, so
 * a merged PR's content is still built (and tagged latest) by main.
 */
const identity: BakeFunction = {
  name: 'identity',
  params: ['repository', 'tag'],
  result: `"\${REGISTRY != "" ? REGISTRY : "${LOCAL_REGISTRY}"}/\${repository}:\${tag}\${CACHE_SCOPE == "" ? "" : "--\${CACHE_SCOPE}"}"`,
  why: "Identity tag: image(...) plus --<CACHE_SCOPE> on a scoped run (a pull request's never counts as main's).",
  evaluate: (v, repository, tag) => `${v.REGISTRY || LOCAL_REGISTRY}/${repository}:${tag}${scopeSuffix(v)}`,
};

/** Suffix a scoped run adds to identity tags and cache refs. */
export function scopeSuffix(v: Pick<BakeVars, 'CACHE_SCOPE'>): string {
  return v.CACHE_SCOPE ? `--${v.CACHE_SCOPE}` : '';
}

/**
 * A target reads its own cache and the caches of every target it builds on
 * (its `target:` contexts, transitively). buildx solves a `target:` context as
 * a separate build with its own cache import, and the consuming build gets that
 * build's steps as input definitions. BuildKit 0.13 attaches a build's cache
 * imports to a step when that build loads it; when the consuming build loads
 * the context's steps first (a busy machine), it runs them with only its own
 * imports: a template job compiled a kernel that the registry held. Reading
 * the upstream caches too makes the outcome the same whichever build loads a
 * step first (test/emit.test.ts requires it; test/engine/ci.test.ts, docs/ci.md).
 */
const cacheFrom: BakeFunction = {
  name: 'cache_from',
  params: [],
  variadic: 'targets',
  result:
    'REGISTRY == "" ? [] : concat(formatlist("type=registry,ref=${REGISTRY}/kiln-cache:%s", targets), CACHE_SCOPE == "" ? [] : formatlist("type=registry,ref=${REGISTRY}/kiln-cache:%s--${CACHE_SCOPE}", targets))',
  why: "Registry cache read, for a target and the targets it builds on: none without a REGISTRY; main's cache always, and the scope's own (CACHE_SCOPE, e.g. pr-42) when set.",
  evaluate: (v, ...targets) =>
    v.REGISTRY
      ? [...targets.map((t) => `type=registry,ref=${cacheRefOf(v, t, false)}`), ...(v.CACHE_SCOPE ? targets.map((t) => `type=registry,ref=${cacheRefOf(v, t, true)}`) : [])]
      : [],
};

const cacheTo: BakeFunction = {
  name: 'cache_to',
  params: ['target'],
  result: 'REGISTRY == "" ? [] : ["type=registry,ref=${REGISTRY}/kiln-cache:${target}${CACHE_SCOPE == "" ? "" : "--${CACHE_SCOPE}"},mode=max"]',
  why: "Registry cache write (mode=max: every stage's steps): none without a REGISTRY; a scope writes its own ref, never main's.",
  evaluate: (v, target) => (v.REGISTRY ? [`type=registry,ref=${cacheRefOf(v, target, true)},mode=max`] : []),
};

export const BAKE_FUNCTIONS: Readonly<Record<string, BakeFunction>> = { image, identity, cache_from: cacheFrom, cache_to: cacheTo };
