/**
 * Loopback stand-ins for the Hugging Face Hub and the CivitAI API, in the
 * shapes Kiln reads (src/lock/hub.ts, src/lock/civitai.ts,
 * scripts/kiln_fetch/hfrepo.py): revision -> sha, a recursive tree paged with
 * `Link: <...>; rel="next"`, LFS files with their sha256 as `lfs.oid`,
 * `resolve/<sha>/<path>` downloads, gated repos (401 + X-Error-Code
 * GatedRepo), and model versions with `files[].hashes.SHA256`. Built on the
 * runtime tests' server (127.0.0.1, port 0, closed by the test's teardown).
 */
import { createHash } from 'node:crypto';
import { startServer, type TestServer } from '../runtime/helpers/server.ts';

export interface HubFile {
  readonly path: string;
  readonly data: Buffer;
  /** Stored in LFS (the API lists its sha256). @default true */
  readonly lfs?: boolean;
}

export interface CommitOptions {
  /** The branch the commit becomes the head of. @default "main" */
  readonly ref?: string;
  /** Files per page of the tree listing. @default all on one page */
  readonly pageSize?: number;
  /** A gated repo: every route wants this token (401 with X-Error-Code GatedRepo without it). */
  readonly token?: string;
}

const sha = (algo: 'sha1' | 'sha256', data: Buffer | string): string => createHash(algo).update(data).digest('hex');

export class FakeHub {
  private constructor(readonly srv: TestServer) {}

  static async start(t: { teardown(fn: () => unknown): void }): Promise<FakeHub> {
    const srv = await startServer();
    t.teardown(() => srv.close());
    return new FakeHub(srv);
  }

  /** HF_ENDPOINT for this hub. */
  get endpoint(): string {
    return this.srv.base;
  }

  /** Publish `files` as a commit of `repo` and point the branch at it; returns the commit sha. */
  commit(repo: string, files: readonly HubFile[], o: CommitOptions = {}): string {
    const commit = sha('sha1', `${repo}\n${files.map((f) => `${f.path}:${sha('sha256', f.data)}`).join('\n')}`);
    const gate = o.token === undefined ? {} : { token: o.token, headers: { 'X-Error-Code': 'GatedRepo', 'X-Error-Message': `Access to model ${repo} is restricted.` } };
    const api = `/api/models/${repo}`;
    const info = { id: repo, sha: commit, siblings: files.map((f) => ({ rfilename: f.path })) };
    this.srv.routes.set(`${api}/revision/${o.ref ?? 'main'}`, { json: info, ...gate });
    this.srv.routes.set(`${api}/revision/${commit}`, { json: info, ...gate });
    // The tree lists folders too (the clients skip them), files with git's blob id, LFS ones with their sha256.
    const dirs = [...new Set(files.flatMap((f) => f.path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))))];
    const entries = [
      ...dirs.map((d) => ({ type: 'directory', oid: sha('sha1', d), size: 0, path: d })),
      ...files.map((f) => ({
        type: 'file',
        oid: sha('sha1', Buffer.concat([Buffer.from(`blob ${f.data.length}\0`), f.data])),
        size: f.data.length,
        path: f.path,
        ...(f.lfs === false ? {} : { lfs: { oid: sha('sha256', f.data), size: f.data.length, pointerSize: 134 } }),
      })),
    ];
    const size = o.pageSize ?? Math.max(1, entries.length);
    const tree = `${api}/tree/${commit}`;
    for (let page = 0; page * size < Math.max(1, entries.length); page++) {
      const next = (page + 1) * size < entries.length ? `${this.srv.base}${tree}?recursive=true&cursor=${page + 1}` : null;
      this.srv.routes.set(page === 0 ? tree : `${tree}?recursive=true&cursor=${page}`, {
        json: entries.slice(page * size, (page + 1) * size),
        ...gate,
        headers: { ...(gate.headers ?? {}), ...(next ? { Link: `<${next}>; rel="next"` } : {}) },
      });
    }
    for (const f of files) this.srv.routes.set(`/${repo}/resolve/${commit}/${f.path}`, { data: f.data, ...gate });
    return commit;
  }

  /** A CivitAI model version (under /api/v1) whose primary file is `file`; returns CIVITAI_API_BASE. */
  civitai(versionId: number, file: string, data: Buffer, o: { readonly token?: string } = {}): string {
    this.srv.routes.set(`/api/v1/model-versions/${versionId}`, {
      json: {
        id: versionId,
        model: { name: 'A LoRA', type: 'LORA' },
        files: [
          { name: 'training_data.zip', type: 'Training Data', primary: false, sizeKB: 1.5, hashes: { SHA256: sha('sha256', 'zip').toUpperCase() }, downloadUrl: `${this.srv.base}/civ/dl/${versionId}?type=Training%20Data` },
          { name: file, type: 'Model', primary: true, sizeKB: data.length / 1024, hashes: { SHA256: sha('sha256', data).toUpperCase() }, downloadUrl: `${this.srv.base}/civ/dl/${versionId}` },
        ],
      },
      ...(o.token === undefined ? {} : { token: o.token }),
    });
    this.srv.routes.set(`/civ/dl/${versionId}`, { data, ...(o.token === undefined ? {} : { token: o.token }) });
    return `${this.srv.base}/api/v1`;
  }
}
