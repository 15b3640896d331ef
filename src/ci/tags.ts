/**
 * Image tags for a CI run, from the GitHub context (pure; no shell, no regex on versions).
 *
 * Rules (the docker/metadata-action conventions, computed in Kiln so they are tested):
 * - always `sha-<short7>` (an immutable pointer to the commit that was built);
 * - push of a `v*` git tag that is valid semver: `X.Y.Z`, `X.Y`, `X`
 *   (`X` is skipped for 0.x: a bare `0` promises nothing); a prerelease
 *   (`v1.3.0-rc.1`) gets only its full version; build metadata (`+...`) is
 *   dropped because `+` is not allowed in a Docker tag;
 * - push to the default branch (main): `latest`. `latest` therefore tracks
 *   main, and a release never moves it (so a hotfix on an old line cannot
 *   make `latest` go backwards);
 * - pull_request: `sha-<short7>` and `pr-<N>` only.
 *
 * An image ref is `<REGISTRY>/<repository>:<gpu>-<tag>`, the shape of the
 * bake file's tags (`${REGISTRY}/<repository>:<tag>-${TAG}`, src/emit/bake-file.ts).
 */
import semver from 'semver';
import { KilnError } from '../errors.ts';

export interface GithubContext {
  /** GITHUB_EVENT_NAME: push, pull_request, workflow_dispatch, schedule ... */
  readonly eventName: string;
  /** GITHUB_REF: refs/heads/main, refs/tags/v1.2.3, refs/pull/42/merge. */
  readonly ref: string;
  /** GITHUB_REF_NAME: main, v1.2.3, 42/merge. */
  readonly refName: string;
  /** GITHUB_SHA (full). */
  readonly sha: string;
  /** Branch whose pushes get `latest`. @default "main" */
  readonly defaultBranch?: string;
}

/** Read the GitHub context from the environment (the variables every Actions step has). */
export function githubContextFromEnv(env: NodeJS.ProcessEnv): GithubContext {
  const sha = env.GITHUB_SHA ?? '';
  if (!sha) throw new KilnError('GITHUB_SHA is not set: run inside GitHub Actions, or set GITHUB_SHA (and GITHUB_REF, GITHUB_EVENT_NAME) yourself');
  const ref = env.GITHUB_REF ?? '';
  return {
    eventName: env.GITHUB_EVENT_NAME ?? 'push',
    ref,
    refName: env.GITHUB_REF_NAME ?? ref.replace(/^refs\/(heads|tags)\//, ''),
    sha,
    ...(env.KILN_DEFAULT_BRANCH ? { defaultBranch: env.KILN_DEFAULT_BRANCH } : {}),
  };
}

export interface TagSet {
  /** Every tag, most specific first (version or sha first, `latest` last). */
  readonly tags: readonly string[];
  /** The one tag that names this build (bake's TAG variable, the image version label). */
  readonly primary: string;
  /** Why these tags, one line. */
  readonly why: string;
}

const SHORT = 7;
/** Docker tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function shortSha(sha: string): string {
  if (!/^[0-9a-f]{7,64}$/i.test(sha)) throw new KilnError(`GITHUB_SHA "${sha}" is not a commit SHA`);
  return sha.slice(0, SHORT).toLowerCase();
}

export function computeTags(ctx: GithubContext): TagSet {
  const sha = `sha-${shortSha(ctx.sha)}`;
  const branch = ctx.defaultBranch ?? 'main';

  if (ctx.eventName === 'pull_request' || ctx.eventName === 'pull_request_target') {
    const m = /^refs\/pull\/(\d+)\//.exec(ctx.ref);
    const n = m?.[1] ?? /^(\d+)\//.exec(ctx.refName)?.[1];
    if (!n) throw new KilnError(`pull request event but GITHUB_REF "${ctx.ref}" names no pull request number (expected refs/pull/<N>/merge)`);
    return checked({ tags: [sha, `pr-${n}`], primary: sha, why: `pull request #${n}` });
  }

  if (ctx.ref.startsWith('refs/tags/')) {
    const name = ctx.ref.slice('refs/tags/'.length);
    if (!name.startsWith('v')) return checked({ tags: [sha], primary: sha, why: `git tag ${name} (not a v* release tag)` });
    const v = semver.parse(name);
    if (!v) throw new KilnError(`release tag "${name}" is not semver (expected v<major>.<minor>.<patch>[-prerelease], e.g. v1.2.3)`);
    if (v.prerelease.length > 0) {
      return checked({ tags: [v.version, sha], primary: v.version, why: `prerelease ${name}: full version only, never latest` });
    }
    const forms = [v.version, `${v.major}.${v.minor}`, ...(v.major > 0 ? [String(v.major)] : [])];
    return checked({ tags: [...forms, sha], primary: v.version, why: `release ${name}` });
  }

  if (ctx.eventName === 'push' && ctx.ref === `refs/heads/${branch}`) {
    return checked({ tags: [sha, 'latest'], primary: sha, why: `push to ${branch}` });
  }
  return checked({ tags: [sha], primary: sha, why: `${ctx.eventName} on ${ctx.ref || 'unknown ref'}` });
}

/**
 * Registry-cache scope of a run (the bake file's CACHE_SCOPE): empty for the
 * default branch and release tags, which write main's cache; `pr-<N>` for a
 * pull request, which reads main's cache and writes only its own (so a PR
 * never changes what main builds from); `ref-<name>` for anything else.
 */
export function cacheScope(ctx: GithubContext): string {
  const branch = ctx.defaultBranch ?? 'main';
  if (ctx.eventName === 'pull_request' || ctx.eventName === 'pull_request_target') {
    const n = /^refs\/pull\/(\d+)\//.exec(ctx.ref)?.[1] ?? /^(\d+)\//.exec(ctx.refName)?.[1];
    if (!n) throw new KilnError(`pull request event but GITHUB_REF "${ctx.ref}" names no pull request number (expected refs/pull/<N>/merge)`);
    return `pr-${n}`;
  }
  if (ctx.ref === `refs/heads/${branch}` || ctx.ref.startsWith('refs/tags/')) return '';
  const name = (ctx.refName || ctx.ref).toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[-.]+/, '');
  return `ref-${name}`.slice(0, 60);
}

function checked(t: TagSet): TagSet {
  for (const tag of t.tags) if (!TAG_RE.test(tag)) throw new KilnError(`computed tag "${tag}" is not a valid Docker tag`);
  return t;
}

/**
 * `<registry>/<repository>:<gpuTag>-<tag>`. The registry path must be
 * lowercase (ghcr.io rejects `ghcr.io/MyOrg`): lowercase the owner first.
 */
export function imageRefs(registry: string, repository: string, gpuTag: string, tags: readonly string[]): string[] {
  const reg = registry.replace(/\/+$/, '');
  if (!reg) throw new KilnError('REGISTRY is empty');
  const path = reg.includes('/') ? reg.slice(reg.indexOf('/') + 1) : reg;
  if (path !== path.toLowerCase()) {
    throw new KilnError(`REGISTRY "${registry}": the repository path must be lowercase (e.g. ghcr.io/${path.toLowerCase()})`);
  }
  return tags.map((t) => `${reg}/${repository}:${gpuTag}-${t}`);
}

/** One `--set=<target>.tags=<ref>` argument per ref: repeated sets of a list key accumulate in bake and replace the file's tags. */
export function bakeSetArgs(target: string, refs: readonly string[]): string[] {
  return refs.map((r) => `--set=${target}.tags=${r}`);
}
