import { withOptions } from './schema.ts';
import type { CivitaiModel, HfModel, ModelFolder, UrlModel } from './types.ts';

export interface HfOptions {
  readonly into: ModelFolder;
  /** File name on disk. @default basename of the repo path */
  readonly as?: string;
  readonly sha256?: string;
  readonly bytes?: number;
  /** HF repo commit. @default "main" */
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
