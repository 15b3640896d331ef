import type { ModelSource, TemplateDefinition } from '../dsl/types.ts';
import type { ManifestModel, TemplateFiles } from './types.ts';

export function hfUrl(repo: string, file: string, revision = 'main'): string {
  return `https://huggingface.co/${repo}/resolve/${revision}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** File name a model is saved under, or null when only the CivitAI API knows it. */
export function modelFileName(m: ModelSource): string | null {
  switch (m.source) {
    case 'hf':
      return m.as ?? m.file.split('/').at(-1) ?? m.file;
    case 'civitai':
      return m.as ?? null;
    case 'url':
      return m.file;
  }
}

/** Stable id of a model inside a template: its destination, or its CivitAI version. */
export function modelId(m: ModelSource): string {
  const file = modelFileName(m);
  return file ? `${m.into}/${file}` : `${m.into}/civitai-${m.source === 'civitai' ? m.versionId : ''}`;
}

function manifestModel(m: ModelSource): ManifestModel {
  const common = { id: modelId(m), into: m.into, file: modelFileName(m), sha256: m.sha256 ?? null, bytes: m.bytes ?? null };
  switch (m.source) {
    case 'hf':
      return { ...common, source: 'hf', url: hfUrl(m.repo, m.file, m.revision), auth: 'HF_TOKEN' };
    case 'civitai':
      return { ...common, source: 'civitai', versionId: m.versionId, auth: 'CIVITAI_TOKEN' };
    case 'url':
      return { ...common, source: 'url', url: m.href, auth: null };
  }
}

export function templateFiles(def: TemplateDefinition): TemplateFiles {
  return {
    template: def.name,
    models: (def.models ?? []).map(manifestModel),
    nodes: (def.nodes ?? []).map((n) => ({ name: n.name, repo: n.repo, commit: n.commit })),
  };
}
