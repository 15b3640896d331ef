/**
 * templates/<t>/models.lock.json: what `kiln lock` found upstream for each
 * model of a template (a file's sha256 and size at a commit, a whole repo's
 * files, a CivitAI version's file), committed beside template.ts and read
 * back by `kiln generate`. An entry is keyed by what the template asked for
 * (repo, ref, path or globs; CivitAI version), so editing a model's source
 * leaves it unlocked until `kiln lock` runs again; `into` and `as` are not
 * part of the key.
 */
import type { ModelSource } from './types.ts';

export const LOCK_FILE = 'models.lock.json';
export const LOCK_SCHEMA = 1;

/** One file of a repo at the locked commit. */
export interface LockedFile {
  /** Path in the repo. */
  readonly path: string;
  /** LFS sha256 from the API, or computed by `kiln lock` for a small non-LFS file. */
  readonly sha256: string;
  readonly bytes: number;
}

export interface HfFileLock {
  readonly source: 'hf';
  readonly repo: string;
  /** What the template asked for: its revision, or "main". */
  readonly ref: string;
  readonly file: string;
  /** The commit `ref` pointed to. */
  readonly revision: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface HfRepoLock {
  readonly source: 'hf-repo';
  readonly repo: string;
  readonly ref: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly revision: string;
  /** Sorted by path. */
  readonly files: readonly LockedFile[];
}

export interface CivitaiLock {
  readonly source: 'civitai';
  readonly versionId: number;
  /** The file of the version the fetcher picks (the primary one, else the first). */
  readonly file: string;
  readonly sha256: string;
  /**
   * CivitAI's size in KB. Rounded (the API reference's example is 6775430.35),
   * so never used as an exact byte count.
   */
  readonly sizeKB: number | null;
}

export type LockEntry = HfFileLock | HfRepoLock | CivitaiLock;

export interface ModelLock {
  readonly template: string;
  /** By lockKey, sorted. */
  readonly models: Readonly<Record<string, LockEntry>>;
}

const sortedUnique = (xs: readonly string[] | undefined): string[] => [...new Set(xs ?? [])].sort();

/** The `[include=...;exclude=...]` part of a repo's key (and of the HF_MODELS repo form); "[]" selects everything. */
export function repoFilters(include: readonly string[] | undefined, exclude: readonly string[] | undefined): string {
  const parts = [['include', sortedUnique(include)], ['exclude', sortedUnique(exclude)]] as const;
  return `[${parts.filter(([, v]) => v.length > 0).map(([k, v]) => `${k}=${v.join(',')}`).join(';')}]`;
}

/** The lock key of a model, or null for a source `kiln lock` does not resolve (url). */
export function lockKey(m: ModelSource): string | null {
  switch (m.source) {
    case 'hf':
      return `hf:${m.repo}@${m.revision ?? 'main'}/${m.file}`;
    case 'hf-repo':
      return `hf-repo:${m.repo}@${m.revision ?? 'main'}${repoFilters(m.include, m.exclude)}`;
    case 'civitai':
      return `civitai:${m.versionId}`;
    case 'url':
      return null;
  }
}

/** The key an entry is filed under (checked against the key it has in the file). */
export function entryKey(e: LockEntry): string {
  switch (e.source) {
    case 'hf':
      return `hf:${e.repo}@${e.ref}/${e.file}`;
    case 'hf-repo':
      return `hf-repo:${e.repo}@${e.ref}${repoFilters(e.include, e.exclude)}`;
    case 'civitai':
      return `civitai:${e.versionId}`;
  }
}

export interface LockIssue {
  /** Where in the file: "(JSON)", "schema", `models["hf:o/r@main/x"].sha256`. */
  readonly where: string;
  readonly problem: string;
}

export interface LockRead {
  /** Null when the file is not a lock at all (bad JSON, wrong schema). */
  readonly lock: ModelLock | null;
  /** Empty when every entry is sound. An unsound entry is left out of `lock`. */
  readonly issues: readonly LockIssue[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isRepoPath = (v: unknown): v is string =>
  typeof v === 'string' && v !== '' && !v.startsWith('/') && !v.includes('\\') && v.split('/').every((s) => s !== '' && s !== '.' && s !== '..');

/** Parse a lock file's text; every problem is an issue, never an exception. */
export function readLock(text: string): LockRead {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { lock: null, issues: [{ where: '(JSON)', problem: `is not valid JSON (${(err as Error).message})` }] };
  }
  if (!isObject(doc) || doc.schema !== LOCK_SCHEMA || typeof doc.template !== 'string' || !isObject(doc.models)) {
    return { lock: null, issues: [{ where: '(top level)', problem: `is not a Kiln model lock (expected { "schema": ${LOCK_SCHEMA}, "template", "models": { ... } })` }] };
  }
  const issues: LockIssue[] = [];
  const models: Record<string, LockEntry> = {};
  for (const [key, raw] of Object.entries(doc.models)) {
    const at = `models[${JSON.stringify(key)}]`;
    const problems: LockIssue[] = [];
    const bad = (field: string, problem: string): void => void problems.push({ where: `${at}${field ? `.${field}` : ''}`, problem });
    const entry = readEntry(raw, bad);
    if (entry && problems.length === 0 && entryKey(entry) !== key) bad('', `is filed under a key that does not match its content (${entryKey(entry)})`);
    if (entry && problems.length === 0) models[key] = entry;
    issues.push(...problems);
  }
  return { lock: { template: doc.template, models }, issues };
}

function readEntry(e: unknown, bad: (field: string, problem: string) => void): LockEntry | null {
  if (!isObject(e)) {
    bad('', 'is not an object');
    return null;
  }
  const sha = (field: string, v: unknown): void => {
    if (typeof v !== 'string' || !SHA256.test(v)) bad(field, 'is not a sha256 (64 lowercase hex digits)');
  };
  const commit = (v: unknown): void => {
    if (typeof v !== 'string' || !SHA1.test(v)) bad('revision', 'is not a 40-hex commit');
  };
  const text = (field: string, v: unknown): void => {
    if (typeof v !== 'string' || v === '') bad(field, 'is missing');
  };
  switch (e.source) {
    case 'hf':
      text('repo', e.repo);
      text('ref', e.ref);
      if (!isRepoPath(e.file)) bad('file', 'is not a path inside the repo');
      commit(e.revision);
      sha('sha256', e.sha256);
      if (!isSize(e.bytes)) bad('bytes', 'is not a size in bytes');
      return e as unknown as HfFileLock;
    case 'hf-repo': {
      text('repo', e.repo);
      text('ref', e.ref);
      for (const k of ['include', 'exclude'] as const) {
        if (!Array.isArray(e[k]) || !(e[k] as unknown[]).every((g) => typeof g === 'string' && g !== '')) bad(k, 'is not a list of globs');
      }
      commit(e.revision);
      if (!Array.isArray(e.files)) {
        bad('files', 'is not a list');
        return null;
      }
      for (const [i, f] of (e.files as unknown[]).entries()) {
        if (!isObject(f) || !isRepoPath(f.path)) bad(`files[${i}].path`, 'is not a path inside the repo');
        else {
          sha(`files[${i}].sha256`, f.sha256);
          if (!isSize(f.bytes)) bad(`files[${i}].bytes`, 'is not a size in bytes');
        }
      }
      return e as unknown as HfRepoLock;
    }
    case 'civitai':
      if (typeof e.versionId !== 'number' || !Number.isInteger(e.versionId) || e.versionId <= 0) bad('versionId', 'is not a CivitAI model version id');
      text('file', e.file);
      sha('sha256', e.sha256);
      if (e.sizeKB !== null && (typeof e.sizeKB !== 'number' || !(e.sizeKB >= 0))) bad('sizeKB', 'is not a size in KB (or null)');
      return e as unknown as CivitaiLock;
    default:
      bad('source', `${JSON.stringify(e.source)} is not hf, hf-repo or civitai`);
      return null;
  }
}
