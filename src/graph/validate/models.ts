/**
 * Models of a template: source, folder, pin, and a destination that stays
 * inside its folder. A pin comes from template.ts (sha256, a commit revision)
 * or from the template's lock (`kiln lock`, templates/<t>/models.lock.json).
 */
import type { ModelLock } from '../../dsl/lock.ts';
import { MODEL_OPTIONS, MODEL_SHAPES } from '../../dsl/schema.ts';
import { MODEL_FOLDERS, type ModelSource, type TemplateDefinition } from '../../dsl/types.ts';
import { lockedEntry, manifestModels } from '../manifests.ts';
import { checkHttps, shown, type Report } from './report.ts';
import { checkHelperItem } from './strict.ts';

const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const HF_REPO = /^[\w.-]+\/[\w.-]+$/;
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
  'hf-repo': { options: MODEL_OPTIONS['hf-repo'], literal: MODEL_SHAPES['hf-repo'], name: 'hfRepo()' },
} as const;

const lockRun = (template: string): string => `run \`npx kiln lock ${template}\` and add templates/${template}/models.lock.json to git`;

/** How to pin a model of this source (a CivitAI version has no commit to pin; a URL has no API to ask). */
function pinFix(source: ModelSource['source'], template: string): string {
  switch (source) {
    case 'hf':
      return `${lockRun(template)} (it records the file's sha256, size and commit), or add sha256 (and bytes) or revision: the 40-hex commit by hand; or set allowUnpinnedModels: true on the template`;
    case 'civitai':
      return `${lockRun(template)} (it records the version's file name and SHA256), or add sha256 from the version's files by hand; or set allowUnpinnedModels: true on the template`;
    case 'url':
      return 'add sha256 (and bytes) of the file (`kiln lock` resolves Hugging Face and CivitAI sources only); or set allowUnpinnedModels: true on the template';
    case 'hf-repo':
      return lockRun(template);
  }
}

/** Report `field` unless `name` is one plain file name (no folder, no "..", nothing the fetcher refuses). */
function checkFileName(report: Report, field: string, name: unknown, fix: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || !MODEL_FILE_NAME.test(name)) {
    report(field, `${shown(name)} is not a plain file name inside the model folder (no "/", no "..", not empty; letters, digits and _ . + = -)`, fix);
  }
}

/** Fields well enough typed to compute where the model lands (the rest is reported by the checks above). */
export function wellFormed(m: ModelSource): boolean {
  if (typeof m.into !== 'string') return false;
  if (m.source === 'hf') return typeof m.repo === 'string' && typeof m.file === 'string';
  if (m.source === 'url') return typeof m.file === 'string';
  if (m.source === 'hf-repo') return typeof m.repo === 'string';
  return true;
}

export interface ModelCheckOptions {
  /** The template's lock; null when it has none or when `kiln lock` validates (it writes the lock). */
  readonly lock: ModelLock | null;
  /** `kiln lock`: no pin is checked (the lock it writes provides them). @default false */
  readonly forLock?: boolean;
}

/** Returns where the models land: `<into>/<file>` -> index in models. */
export function checkModels(d: TemplateDefinition, report: Report, o: ModelCheckOptions): ReadonlyMap<string, number> {
  const dest = new Map<string, number>();
  for (const [i, m] of (d.models ?? []).entries()) {
    const f = `models[${i}]`;
    const helper = HELPERS[(m as { source?: string }).source as keyof typeof HELPERS];
    if (!helper) {
      report(`${f}.source`, 'unknown model source', 'create models with hf(), hfRepo(), civitai() or url()');
      continue;
    }
    checkHelperItem(m, helper, report, `${f}.`);
    if (m.into !== undefined && !(MODEL_FOLDERS as readonly string[]).includes(m.into)) {
      report(`${f}.into`, `${shown(m.into)} is not a ComfyUI model folder`, `use one of: ${MODEL_FOLDERS.join(', ')}`);
    }
    if (m.source !== 'hf-repo') {
      if (m.sha256 !== undefined && !SHA256.test(m.sha256)) report(`${f}.sha256`, `${shown(m.sha256)} is not 64 lowercase hex digits`, 'copy the SHA256 from the file page (lowercase)');
      if (m.bytes !== undefined && (!Number.isInteger(m.bytes) || m.bytes <= 0)) report(`${f}.bytes`, `${shown(m.bytes)} is not a positive size`, 'give the size in bytes or leave it out');
    }
    if (m.source === 'hf' || m.source === 'hf-repo') {
      if (typeof m.repo !== 'string' || !HF_REPO.test(m.repo)) {
        report(`${f}.repo`, `${shown(m.repo)} is not an "owner/name" Hugging Face repo`, m.source === 'hf' ? 'write hf("owner/name", "path/in/repo.safetensors", {...})' : 'write hfRepo("owner/name", {...})');
      }
      if (m.revision !== undefined && !SHA1.test(m.revision)) {
        report(`${f}.revision`, `${shown(m.revision)} is not a 40-hex commit`, `use the commit SHA from the repo history, or leave it out and let \`kiln lock\` pin the commit main points to`);
      }
    }
    if (m.source === 'hf') {
      const segments = typeof m.file === 'string' ? m.file.split('/') : [];
      if (typeof m.file !== 'string' || m.file.includes('\\') || segments.some((s) => s === '' || s === '.' || s === '..')) {
        report(`${f}.file`, `${shown(m.file)} is not a path inside the repo (empty, absolute, or with "." / ".." segments)`, 'write the path as the repo\'s file list shows it, e.g. "split_files/vae/vae.safetensors"');
      } else if (m.as !== undefined) {
        checkFileName(report, `${f}.as`, m.as, 'name the file on disk plainly, e.g. as: "model.safetensors"');
      } else {
        checkFileName(report, `${f}.file`, segments.at(-1), 'give it a plain name on disk with as: "model.safetensors"');
      }
    } else if (m.source === 'hf-repo') {
      for (const k of ['include', 'exclude'] as const) {
        const globs: unknown = m[k];
        if (globs === undefined) continue;
        if (!Array.isArray(globs) || globs.length === 0) report(`${f}.${k}`, `${shown(globs)} is not a list of globs`, `write ${k}: ['*.safetensors'] (or leave it out)`);
        else {
          for (const [j, g] of globs.entries()) {
            if (typeof g !== 'string' || g.trim() === '' || g.startsWith('/') || g.includes('\\')) {
              report(`${f}.${k}[${j}]`, `${shown(g)} is not a glob of repo paths`, 'write it as the repo\'s file list shows paths, e.g. "*.safetensors" or "text_encoder_2/" (no leading "/")');
            }
          }
        }
      }
      if (typeof m.repo === 'string') checkFileName(report, `${f}.repo`, m.repo.split('/').at(-1), 'the repo name becomes a folder on disk: use hf() per file for this repo');
    } else if (m.source === 'civitai') {
      if (!Number.isInteger(m.versionId) || m.versionId <= 0) report(`${f}.versionId`, `${shown(m.versionId)} is not a CivitAI model version id`, 'use the number after modelVersionId= in the CivitAI URL');
      if (m.as !== undefined) checkFileName(report, `${f}.as`, m.as, 'name the file on disk plainly, e.g. as: "lora.safetensors"');
    } else {
      checkHttps(report, `${f}.href`, m.href, 'the file (an https download URL)');
      checkFileName(report, `${f}.file`, m.file, 'name the file on disk plainly, e.g. file: "model.safetensors"');
    }
    if (!o.forLock) checkPin(d, m, f, report, o.lock);

    if (!wellFormed(m)) continue;
    for (const entry of manifestModels(m, o.lock)) {
      if (!entry.file) continue;
      const path = `${entry.into}/${entry.file}`;
      const prev = dest.get(path);
      if (prev !== undefined) {
        report(f, `writes ${path}, as models[${prev}] does`, m.source === 'hf-repo' ? 'exclude the file from one of them (exclude: [...])' : 'give one of them another file name with { as: "..." }');
      }
      dest.set(path, i);
    }
  }
  return dest;
}

/** userModels: files the workflows load that the image does not ship, each with its reason. */
export function checkUserModels(d: TemplateDefinition, report: Report, dest: ReadonlyMap<string, number>): void {
  const seen = new Map<string, number>();
  const list: unknown = d.userModels;
  for (const [i, item] of (Array.isArray(list) ? (list as unknown[]) : []).entries()) {
    const f = `userModels[${i}]`;
    if (typeof item !== 'object' || item === null) continue; // the strict check reports it
    const u = item as { readonly into?: unknown; readonly file?: unknown; readonly why?: unknown };
    if (u.into !== undefined && !(MODEL_FOLDERS as readonly unknown[]).includes(u.into)) {
      report(`${f}.into`, `${shown(u.into)} is not a ComfyUI model folder`, `use one of: ${MODEL_FOLDERS.join(', ')}`);
    }
    if (u.file !== undefined && (typeof u.file !== 'string' || u.file.split('/').some((part) => !MODEL_FILE_NAME.test(part)))) {
      report(`${f}.file`, `${shown(u.file)} is not a file name inside the model folder`, 'write the name as the workflow loads it, e.g. "my_lora.safetensors" or "sdxl/my_lora.safetensors"');
    }
    if (u.why !== undefined && (typeof u.why !== 'string' || !u.why.trim())) report(`${f}.why`, 'is empty', 'say why the image does not ship it (e.g. "the user\'s own LoRA")');
    if (typeof u.into !== 'string' || typeof u.file !== 'string') continue;
    const path = `${u.into}/${u.file}`;
    const model = dest.get(path);
    if (model !== undefined) report(f, `${path} is provided by models[${model}]`, 'remove it from userModels');
    const prev = seen.get(path);
    if (prev !== undefined) report(f, `${path} is also userModels[${prev}]`, 'list each file once');
    seen.set(path, i);
  }
}

/** The model is pinned by template.ts or by the lock, and the two agree. */
function checkPin(d: TemplateDefinition, m: ModelSource, f: string, report: Report, lock: ModelLock | null): void {
  const unpinned = (what: string): void => {
    if (d.allowUnpinnedModels !== true) report(f, `is not pinned: ${what}`, pinFix(m.source, d.name));
  };
  const lockFix = `correct it, or remove it and let the lock pin the file (${lockRun(d.name)})`;
  switch (m.source) {
    case 'url':
      if (!m.sha256) unpinned('no sha256');
      return;
    case 'hf-repo': {
      const entry = lockedEntry(m, lock);
      if (!entry) {
        report(f, 'is not locked: a whole repo becomes files (paths, sha256, sizes at a commit) only in the lock', pinFix('hf-repo', d.name));
        return;
      }
      for (const file of entry.files) {
        const bad = file.path.split('/').find((part) => !MODEL_FILE_NAME.test(part));
        if (bad !== undefined) report(f, `its locked file "${file.path}" has a path part ("${bad}") the in-image fetcher refuses`, 'leave it out with exclude: [...], then run `npx kiln lock`');
      }
      return;
    }
    case 'hf': {
      const entry = lockedEntry(m, lock);
      if (!m.sha256 && !SHA1.test(m.revision ?? '') && !entry) unpinned('no sha256, no commit revision and no entry in the lock');
      if (entry && m.sha256 !== undefined && m.sha256 !== entry.sha256) report(`${f}.sha256`, `differs from the lock's ${entry.sha256} (what ${m.repo} has at ${entry.revision})`, lockFix);
      if (entry && m.bytes !== undefined && m.bytes !== entry.bytes) report(`${f}.bytes`, `differs from the lock's ${entry.bytes} (${m.repo} at ${entry.revision})`, 'correct it, or remove it (the lock has the size)');
      return;
    }
    case 'civitai': {
      const entry = lockedEntry(m, lock);
      if (!m.sha256 && !entry) unpinned('no sha256 and no entry in the lock');
      if (entry && m.sha256 !== undefined && m.sha256 !== entry.sha256) report(`${f}.sha256`, `differs from the lock's ${entry.sha256} (what CivitAI lists for version ${m.versionId})`, lockFix);
      if (entry && m.as === undefined) checkFileName(report, f, entry.file, 'name the file on disk with as: "lora.safetensors" (CivitAI\'s own name is not one the fetcher accepts)');
      return;
    }
  }
}
