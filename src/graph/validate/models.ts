/** Models of a template: source, folder, pin, and a destination that stays inside its folder. */
import { MODEL_OPTIONS, MODEL_SHAPES } from '../../dsl/schema.ts';
import { MODEL_FOLDERS, type ModelSource, type TemplateDefinition } from '../../dsl/types.ts';
import { modelFileName } from '../manifests.ts';
import { checkHttps, shown, type Report } from './report.ts';
import { checkHelperItem } from './strict.ts';

const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
/**
 * A file name the in-image fetcher accepts: scripts/kiln_fetch/manifest.py SEGMENT_RE
 * (check_file), which refuses anything else at container start. Keep the two equal
 * (test/validate.test.ts compares them).
 */
export const MODEL_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$/;

const HELPERS = {
  hf: { options: MODEL_OPTIONS.hf, literal: MODEL_SHAPES.hf, name: 'hf()' },
  civitai: { options: MODEL_OPTIONS.civitai, literal: MODEL_SHAPES.civitai, name: 'civitai()' },
  url: { options: MODEL_OPTIONS.url, literal: MODEL_SHAPES.url, name: 'url()' },
} as const;

/** How to pin a model of this source (a CivitAI version has no commit to pin). */
const PIN_FIX: Readonly<Record<ModelSource['source'], string>> = {
  hf: 'add sha256 (and bytes) from the file page, or revision: the 40-hex commit of the repo; or set allowUnpinnedModels: true on the template',
  civitai: 'add sha256 (and bytes): the SHA256 listed under the model version\'s files; or set allowUnpinnedModels: true on the template',
  url: 'add sha256 (and bytes) of the file; or set allowUnpinnedModels: true on the template',
};

function modelPinned(m: ModelSource): boolean {
  if (m.sha256) return true;
  return m.source === 'hf' && SHA1.test(m.revision ?? '');
}

/** Report `field` unless `name` is one plain file name (no folder, no "..", nothing the fetcher refuses). */
function checkFileName(report: Report, field: string, name: unknown, fix: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || !MODEL_FILE_NAME.test(name)) {
    report(field, `${shown(name)} is not a plain file name inside the model folder (no "/", no "..", not empty; letters, digits and _ . + = -)`, fix);
  }
}

export function checkModels(d: TemplateDefinition, report: Report): void {
  const dest = new Map<string, number>();
  for (const [i, m] of (d.models ?? []).entries()) {
    const f = `models[${i}]`;
    const helper = HELPERS[(m as { source?: string }).source as keyof typeof HELPERS];
    if (!helper) {
      report(`${f}.source`, 'unknown model source', 'create models with hf(), civitai() or url()');
      continue;
    }
    checkHelperItem(m, helper, report, `${f}.`);
    if (m.into !== undefined && !(MODEL_FOLDERS as readonly string[]).includes(m.into)) {
      report(`${f}.into`, `${shown(m.into)} is not a ComfyUI model folder`, `use one of: ${MODEL_FOLDERS.join(', ')}`);
    }
    if (m.sha256 !== undefined && !SHA256.test(m.sha256)) report(`${f}.sha256`, `${shown(m.sha256)} is not 64 lowercase hex digits`, 'copy the SHA256 from the file page (lowercase)');
    if (m.bytes !== undefined && (!Number.isInteger(m.bytes) || m.bytes <= 0)) report(`${f}.bytes`, `${shown(m.bytes)} is not a positive size`, 'give the size in bytes or leave it out');
    if (m.source === 'hf') {
      if (typeof m.repo !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(m.repo)) report(`${f}.repo`, `${shown(m.repo)} is not an "owner/name" Hugging Face repo`, 'write hf("owner/name", "path/in/repo.safetensors", {...})');
      if (m.revision !== undefined && !SHA1.test(m.revision)) report(`${f}.revision`, `${shown(m.revision)} is not a 40-hex commit`, 'use the commit SHA from the repo history, or leave it out and give sha256');
      const segments = typeof m.file === 'string' ? m.file.split('/') : [];
      if (typeof m.file !== 'string' || m.file.includes('\\') || segments.some((s) => s === '' || s === '.' || s === '..')) {
        report(`${f}.file`, `${shown(m.file)} is not a path inside the repo (empty, absolute, or with "." / ".." segments)`, 'write the path as the repo\'s file list shows it, e.g. "split_files/vae/vae.safetensors"');
      } else if (m.as !== undefined) {
        checkFileName(report, `${f}.as`, m.as, 'name the file on disk plainly, e.g. as: "model.safetensors"');
      } else {
        checkFileName(report, `${f}.file`, segments.at(-1), 'give it a plain name on disk with as: "model.safetensors"');
      }
    } else if (m.source === 'civitai') {
      if (!Number.isInteger(m.versionId) || m.versionId <= 0) report(`${f}.versionId`, `${shown(m.versionId)} is not a CivitAI model version id`, 'use the number after modelVersionId= in the CivitAI URL');
      if (m.as !== undefined) checkFileName(report, `${f}.as`, m.as, 'name the file on disk plainly, e.g. as: "lora.safetensors"');
    } else {
      checkHttps(report, `${f}.href`, m.href, 'the file (an https download URL)');
      checkFileName(report, `${f}.file`, m.file, 'name the file on disk plainly, e.g. file: "model.safetensors"');
    }
    if (!modelPinned(m) && d.allowUnpinnedModels !== true) report(f, `is not pinned: no sha256${m.source === 'hf' ? ' and no commit revision' : ''}`, PIN_FIX[m.source]);
    const file = typeof m.into === 'string' && (m.source !== 'hf' || typeof m.file === 'string') ? modelFileName(m) : null;
    if (file) {
      const path = `${m.into}/${file}`;
      const prev = dest.get(path);
      if (prev !== undefined) report(f, `writes ${path}, as models[${prev}] does`, 'give one of them another file name with { as: "..." }');
      dest.set(path, i);
    }
  }
}
