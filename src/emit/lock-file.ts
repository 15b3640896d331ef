import { LOCK_SCHEMA, type LockEntry, type ModelLock } from '../dsl/lock.ts';
import { JSON_BANNER_KEY, LOCK_BANNER } from './banner.ts';

/** An entry with its fields in one fixed order, whatever order it was built in. */
function ordered(e: LockEntry): LockEntry {
  switch (e.source) {
    case 'hf':
      return { source: e.source, repo: e.repo, ref: e.ref, file: e.file, revision: e.revision, sha256: e.sha256, bytes: e.bytes };
    case 'hf-repo':
      return {
        source: e.source,
        repo: e.repo,
        ref: e.ref,
        include: e.include,
        exclude: e.exclude,
        revision: e.revision,
        files: [...e.files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => ({ path: f.path, sha256: f.sha256, bytes: f.bytes })),
      };
    case 'civitai':
      return { source: e.source, versionId: e.versionId, file: e.file, sha256: e.sha256, sizeKB: e.sizeKB };
  }
}

/** templates/<t>/models.lock.json: deterministic (entries sorted by key, fixed field order, no timestamps). */
export function renderModelLock(lock: ModelLock): string {
  const models = Object.fromEntries(Object.keys(lock.models).sort().map((k) => [k, ordered(lock.models[k]!)]));
  return `${JSON.stringify({ [JSON_BANNER_KEY]: LOCK_BANNER, schema: LOCK_SCHEMA, template: lock.template, models }, null, 2)}\n`;
}
