/**
 * CivitAI model versions for `kiln lock`:
 * `GET {CIVITAI_API_BASE}/model-versions/{id}` (https://developer.civitai.com/site/reference/model-versions):
 * `files[]` with `name`, `sizeKB`, `hashes.SHA256` (upper case), `downloadUrl`, `primary`;
 * 404 when the version does not exist or is not published.
 */
import { Api, ApiError } from './http.ts';

export interface CivitaiFile {
  readonly file: string;
  readonly sha256: string;
  readonly sizeKB: number | null;
}

/**
 * The file the in-image fetcher downloads for a version (scripts/kiln_fetch/civitai.py
 * resolve): the primary file, else the first.
 */
export async function civitaiVersion(api: Api, versionId: number): Promise<CivitaiFile> {
  const url = `${api.endpoint('civitai')}/model-versions/${versionId}`;
  let doc: { files?: unknown };
  try {
    doc = JSON.parse((await api.get(url, 'civitai')).body.toString('utf8')) as { files?: unknown };
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(`${url} answered something that is not JSON`, 200, null);
  }
  const files = (Array.isArray(doc?.files) ? doc.files : []).filter((f): f is Record<string, unknown> => typeof f === 'object' && f !== null);
  const chosen = files.find((f) => f.primary === true) ?? files[0];
  if (!chosen) throw new ApiError(`version ${versionId} has no files (${url})`, 200, null);
  const name = typeof chosen.name === 'string' ? chosen.name : '';
  const sha = String((chosen.hashes as Record<string, unknown> | undefined)?.SHA256 ?? '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new ApiError(`CivitAI lists no SHA256 for ${name || 'the file'} of version ${versionId}`, 200, null);
  return { file: name, sha256: sha, sizeKB: typeof chosen.sizeKB === 'number' ? chosen.sizeKB : null };
}
