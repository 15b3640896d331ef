import { lockKey, type LockEntry, type ModelLock } from '../dsl/lock.ts';
import type { HfRepoModel, ModelSource, TemplateDefinition } from '../dsl/types.ts';
import type { ManifestModel, TemplateFiles } from './types.ts';

export function hfUrl(repo: string, file: string, revision = 'main'): string {
  return `https://huggingface.co/${repo}/resolve/${revision}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** File name a model is saved under, or null when only the CivitAI API (or the lock) knows it, or a repo (many files). */
export function modelFileName(m: ModelSource): string | null {
  switch (m.source) {
    case 'hf':
      return m.as ?? m.file.split('/').at(-1) ?? m.file;
    case 'civitai':
      return m.as ?? null;
    case 'url':
      return m.file;
    case 'hf-repo':
      return null;
  }
}

/** Stable id of a model inside a template: its destination, or its CivitAI version. */
export function modelId(m: ModelSource): string {
  const file = modelFileName(m);
  return file ? `${m.into}/${file}` : `${m.into}/civitai-${m.source === 'civitai' ? m.versionId : ''}`;
}

/** The folder under `into` a whole repo lands in: the repo's name. */
export function repoFolder(m: HfRepoModel): string {
  return m.repo.split('/').at(-1) ?? m.repo;
}

/** The lock entry of a model, when the lock has one of the model's kind. */
export function lockedEntry<S extends LockEntry['source']>(m: ModelSource & { source: S }, lock: ModelLock | null | undefined): Extract<LockEntry, { source: S }> | undefined {
  const key = lockKey(m);
  const e = key === null ? undefined : lock?.models[key];
  return e?.source === m.source ? (e as Extract<LockEntry, { source: S }>) : undefined;
}

/**
 * The manifest entries of one model: the definition's own values first, the
 * lock's where the definition has none. A whole repo becomes one entry per
 * locked file, `<into>/<repo name>/<path>`; without a lock entry it has none
 * (validation refuses that before anything is rendered).
 */
export function manifestModels(m: ModelSource, lock?: ModelLock | null): ManifestModel[] {
  switch (m.source) {
    case 'hf': {
      const e = lockedEntry(m, lock);
      const file = modelFileName(m)!;
      return [
        {
          id: `${m.into}/${file}`,
          into: m.into,
          file,
          sha256: m.sha256 ?? e?.sha256 ?? null,
          bytes: m.bytes ?? e?.bytes ?? null,
          source: 'hf',
          url: hfUrl(m.repo, m.file, m.revision ?? e?.revision),
          auth: 'HF_TOKEN',
        },
      ];
    }
    case 'hf-repo': {
      const e = lockedEntry(m, lock);
      const top = `${m.into}/${repoFolder(m)}`;
      return (e?.files ?? []).map((f) => {
        const parts = f.path.split('/');
        const file = parts.pop()!;
        return {
          id: `${top}/${f.path}`,
          into: [top, ...parts].join('/'),
          file,
          sha256: f.sha256,
          bytes: f.bytes,
          source: 'hf',
          url: hfUrl(m.repo, f.path, e!.revision),
          auth: 'HF_TOKEN',
        };
      });
    }
    case 'civitai': {
      const e = lockedEntry(m, lock);
      const file = m.as ?? e?.file ?? null;
      return [
        {
          id: file ? `${m.into}/${file}` : modelId(m),
          into: m.into,
          file,
          sha256: m.sha256 ?? e?.sha256 ?? null,
          bytes: m.bytes ?? null,
          source: 'civitai',
          versionId: m.versionId,
          auth: 'CIVITAI_TOKEN',
        },
      ];
    }
    case 'url':
      return [{ id: modelId(m), into: m.into, file: m.file, sha256: m.sha256 ?? null, bytes: m.bytes ?? null, source: 'url', url: m.href, auth: null }];
  }
}

export function templateFiles(def: TemplateDefinition, lock?: ModelLock | null): TemplateFiles {
  return {
    template: def.name,
    models: (def.models ?? []).flatMap((m) => manifestModels(m, lock)),
    nodes: (def.nodes ?? []).map((n) => ({ name: n.name, repo: n.repo, commit: n.commit })),
  };
}
