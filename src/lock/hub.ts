/**
 * The Hugging Face Hub API calls `kiln lock` makes (shapes as huggingface_hub
 * reads them, hf_api.py model_info / list_repo_tree / RepoFile; the Hub's
 * OpenAPI reference is https://huggingface.co/spaces/huggingface/openapi):
 *
 * - `GET {HF_ENDPOINT}/api/models/{repo}/revision/{rev}`: `sha`, the commit `rev` points to;
 * - `GET {HF_ENDPOINT}/api/models/{repo}/tree/{sha}?recursive=true`: every
 *   entry `{ type, path, size, oid, lfs?: { oid, size, pointerSize } }`,
 *   `lfs.oid` being the file's sha256; paged with a `Link: <...>; rel="next"`
 *   header (huggingface_hub utils/_pagination.py);
 * - `GET {HF_ENDPOINT}/{repo}/resolve/{sha}/{path}`: a small non-LFS file
 *   (a config), read to hash it, since the API gives only its git blob id.
 *
 * Errors carry X-Error-Code (huggingface_hub utils/_http.py hf_raise_for_status:
 * GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound); a 401 also comes
 * for a private or gated repo asked without a token.
 */
import { createHash } from 'node:crypto';
import { Api, ApiError } from './http.ts';

export interface RepoFile {
  readonly path: string;
  readonly size: number;
  /** The LFS sha256; null for a file stored in git itself. */
  readonly lfsSha256: string | null;
}

/** The largest non-LFS file `kiln lock` reads to hash (the Hub keeps files over 10 MB in LFS/Xet). */
const MAX_GIT_FILE = 32 * 1024 * 1024;
const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

const repoPath = (repo: string): string => repo.split('/').map(encodeURIComponent).join('/');

function nextLink(headers: Headers): string | null {
  for (const part of (headers.get('link') ?? '').split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1]!;
  }
  return null;
}

function json(body: Buffer, url: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(`${url} answered something that is not JSON`, 200, null);
  }
}

export class Hub {
  private readonly commits = new Map<string, Promise<string>>();
  private readonly trees = new Map<string, Promise<RepoFile[]>>();

  constructor(private readonly api: Api) {}

  /** The commit `ref` (a branch, a tag or a commit) of `repo` is at. */
  commit(repo: string, ref: string): Promise<string> {
    const key = `${repo}@${ref}`;
    if (!this.commits.has(key)) this.commits.set(key, this.fetchCommit(repo, ref));
    return this.commits.get(key)!;
  }

  private async fetchCommit(repo: string, ref: string): Promise<string> {
    const url = `${this.api.endpoint('hf')}/api/models/${repoPath(repo)}/revision/${encodeURIComponent(ref)}`;
    const doc = json((await this.api.get(url, 'hf')).body, url) as { sha?: unknown };
    if (typeof doc?.sha !== 'string' || !SHA1.test(doc.sha)) throw new ApiError(`${url} answered no commit sha`, 200, null);
    return doc.sha;
  }

  /** Every file of `repo` at `commit`, sorted by path. */
  files(repo: string, commit: string): Promise<RepoFile[]> {
    const key = `${repo}@${commit}`;
    if (!this.trees.has(key)) this.trees.set(key, this.fetchTree(repo, commit));
    return this.trees.get(key)!;
  }

  private async fetchTree(repo: string, commit: string): Promise<RepoFile[]> {
    const out: RepoFile[] = [];
    let url: string | null = `${this.api.endpoint('hf')}/api/models/${repoPath(repo)}/tree/${commit}?recursive=true`;
    for (let page = 0; url; page++) {
      if (page > 10_000) throw new ApiError(`${url}: more than 10000 pages of files`, 200, null);
      const answer = await this.api.get(url, 'hf');
      const entries = json(answer.body, url);
      if (!Array.isArray(entries)) throw new ApiError(`${url} answered no list of files`, 200, null);
      for (const e of entries as Record<string, unknown>[]) {
        if (e?.type !== 'file') continue;
        const lfs = e.lfs as { oid?: unknown; size?: unknown } | undefined;
        if (typeof e.path !== 'string' || typeof e.size !== 'number') throw new ApiError(`${url} listed a file without path or size`, 200, null);
        const lfsSha = typeof lfs?.oid === 'string' ? lfs.oid.replace(/^sha256:/, '').toLowerCase() : null;
        if (lfsSha !== null && !SHA256.test(lfsSha)) throw new ApiError(`${url} listed ${e.path} with an LFS oid that is not a sha256`, 200, null);
        out.push({ path: e.path, size: typeof lfs?.size === 'number' ? lfs.size : e.size, lfsSha256: lfsSha });
      }
      const next = nextLink(answer.headers);
      url = next === null ? null : new URL(next, url).href;
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** sha256 of a file, from the API when it is in LFS, else by reading it (it is small). */
  async sha256(repo: string, commit: string, f: RepoFile): Promise<string> {
    if (f.lfsSha256) return f.lfsSha256;
    if (f.size > MAX_GIT_FILE) throw new ApiError(`${f.path} is ${f.size} bytes but not in LFS: kiln lock reads at most ${MAX_GIT_FILE} bytes to hash a file`, 200, null);
    const url = `${this.api.endpoint('hf')}/${repoPath(repo)}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
    const body = (await this.api.get(url, 'hf', f.size)).body;
    if (body.length !== f.size) throw new ApiError(`${url} answered ${body.length} bytes, the API lists ${f.size}`, 200, null);
    return createHash('sha256').update(body).digest('hex');
  }
}
