import { withOptions } from './schema.ts';
import type { CivitaiModel, HfModel, HfRepoModel, ModelFolder, UrlModel } from './types.ts';

export interface HfOptions {
  readonly into: ModelFolder;
  /** File name on disk. @default basename of the repo path */
  readonly as?: string;
  readonly sha256?: string;
  readonly bytes?: number;
  /** HF repo commit. @default "main" (pinned by `kiln lock` when there is no sha256) */
  readonly revision?: string;
}

/** A file from a Hugging Face repo, fetched at container start with HF_TOKEN if set. */
export function hf(repo: string, file: string, options: HfOptions): HfModel {
  return withOptions({ source: 'hf', repo, file, ...options }, options);
}

export interface CivitaiOptions {
  readonly into: ModelFolder;
  readonly as?: string;
  readonly sha256?: string;
  readonly bytes?: number;
}

/** A CivitAI model version, resolved through the CivitAI API at container start (CIVITAI_TOKEN). */
export function civitai(versionId: number, options: CivitaiOptions): CivitaiModel {
  return withOptions({ source: 'civitai', versionId, ...options }, options);
}

export interface UrlOptions {
  readonly into: ModelFolder;
  readonly file: string;
  readonly sha256?: string;
  readonly bytes?: number;
}

/** A plain https download. */
export function url(href: string, options: UrlOptions): UrlModel {
  return withOptions({ source: 'url', href, ...options }, options);
}

export interface HfRepoOptions {
  readonly into: ModelFolder;
  /** HF repo commit. @default "main" (pinned by `kiln lock`) */
  readonly revision?: string;
  /** Globs of repo paths to fetch (`*` crosses "/"; "dir/" is everything below dir). @default every file */
  readonly include?: readonly string[];
  /** Globs of repo paths to leave out. @default none */
  readonly exclude?: readonly string[];
}

/**
 * A whole Hugging Face repo, or the files the globs select: `kiln lock` lists
 * them (path, sha256, size at a commit) and each lands at
 * `<into>/<repo name>/<path in the repo>`.
 */
export function hfRepo(repo: string, options: HfRepoOptions): HfRepoModel {
  return withOptions({ source: 'hf-repo', repo, ...options }, options);
}
