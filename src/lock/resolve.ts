/**
 * `kiln lock` for one template: each Hugging Face file, whole repo and
 * CivitAI version of template.ts resolved through the APIs into lock
 * entries. A model that cannot be resolved is a problem naming the model and
 * saying what to do; the others are still resolved, so one run reports all.
 */
import type { TemplateSource } from '../dsl/load.ts';
import { entryKey, lockKey, type LockEntry, type LockedFile, type ModelLock } from '../dsl/lock.ts';
import type { ModelSource } from '../dsl/types.ts';
import { MODEL_FILE_NAME } from '../graph/validate/models.ts';
import { closest } from '../suggest.ts';
import { civitaiVersion } from './civitai.ts';
import { selectPaths } from './glob.ts';
import { Api, ApiError } from './http.ts';
import { Hub } from './hub.ts';

/** How messages name a model: `models[1] hf("o/r", "x.safetensors")`. */
export function modelLabel(m: ModelSource, i: number): string {
  switch (m.source) {
    case 'hf':
      return `models[${i}] hf("${m.repo}", "${m.file}")`;
    case 'hf-repo':
      return `models[${i}] hfRepo("${m.repo}")`;
    case 'civitai':
      return `models[${i}] civitai(${m.versionId})`;
    case 'url':
      return `models[${i}] url("${m.href}")`;
  }
}

/** What an API error means for this model, and what to do. */
function explain(err: unknown, m: ModelSource, api: Api): string {
  if (!(err instanceof ApiError)) throw err;
  const raw = `(${err.message})`;
  if (m.source === 'civitai') {
    if (err.status === 401 || err.status === 403) {
      return api.hasToken('civitai')
        ? `CivitAI refused CIVITAI_TOKEN for version ${m.versionId}: check that the token is valid ${raw}`
        : `CivitAI wants a login for version ${m.versionId}: set CIVITAI_TOKEN (an API key from your CivitAI account settings) ${raw}`;
    }
    if (err.status === 404) return `CivitAI has no published model version ${m.versionId}: check the number after modelVersionId= in the model page's URL ${raw}`;
    if (err.status === 429) return `CivitAI keeps rate-limiting: wait a while and run \`kiln lock\` again ${raw}`;
    return `CivitAI: ${err.message}`;
  }
  const repo = m.source === 'hf' || m.source === 'hf-repo' ? m.repo : '';
  const page = `${api.endpoint('hf')}/${repo}`;
  if (err.code === 'GatedRepo') {
    return `${repo} is a gated repo: accept its license on ${page} with the account HF_TOKEN belongs to, and set HF_TOKEN${api.hasToken('hf') ? ' (HF_TOKEN is set: its account has no access yet)' : ''} ${raw}`;
  }
  if (err.status === 401 || err.status === 403) {
    return api.hasToken('hf')
      ? `Hugging Face refused HF_TOKEN for ${repo}: check the token, and that its account can read the repo (a gated repo: accept its license on ${page}) ${raw}`
      : `${repo} needs a login (private, or gated: accept its license on ${page}), or does not exist: set HF_TOKEN, and check the name ${raw}`;
  }
  if (err.status === 404) {
    if (err.code === 'RevisionNotFound') return `${repo} has no revision "${m.source === 'hf' || m.source === 'hf-repo' ? (m.revision ?? 'main') : ''}": check the commit ${raw}`;
    return `${repo} is not on ${api.endpoint('hf')}: check the owner/name ${raw}`;
  }
  if (err.status === 429) return `Hugging Face keeps rate-limiting: wait a while (a set HF_TOKEN gets higher limits) and run \`kiln lock\` again ${raw}`;
  return `Hugging Face: ${err.message}`;
}

export interface LockResult {
  readonly lock: ModelLock;
  /** One line per model that could not be locked: `models[1] hf("o/r", "x"): ...`. */
  readonly problems: readonly string[];
  /** Lock key -> the model's label, for drift lines. */
  readonly labels: ReadonlyMap<string, string>;
}

async function lockModel(m: ModelSource, hub: Hub, api: Api): Promise<LockEntry | string> {
  switch (m.source) {
    case 'hf': {
      const ref = m.revision ?? 'main';
      const revision = await hub.commit(m.repo, ref);
      const files = await hub.files(m.repo, revision);
      const f = files.find((x) => x.path === m.file);
      if (!f) {
        const near = closest(m.file, files.map((x) => x.path));
        return `${m.repo} at ${revision.slice(0, 7)} has no file "${m.file}"${near ? ` (did you mean "${near}"?)` : ''}`;
      }
      const sha256 = await hub.sha256(m.repo, revision, f);
      if (m.sha256 !== undefined && m.sha256 !== sha256) return `template.ts says sha256 ${m.sha256}, but ${m.repo} at ${revision.slice(0, 7)} has ${sha256} for ${m.file}: correct sha256 (or remove it), or pin the revision it was copied from`;
      return { source: 'hf', repo: m.repo, ref, file: m.file, revision, sha256, bytes: f.size };
    }
    case 'hf-repo': {
      const ref = m.revision ?? 'main';
      const revision = await hub.commit(m.repo, ref);
      const all = await hub.files(m.repo, revision);
      const chosen = new Set(selectPaths(all.map((f) => f.path), m.include, m.exclude));
      const files = all.filter((f) => chosen.has(f.path));
      if (files.length === 0) return `no file of ${m.repo} at ${revision.slice(0, 7)} is selected (${all.length} files; include ${JSON.stringify(m.include ?? [])}, exclude ${JSON.stringify(m.exclude ?? [])})`;
      const bad = files.filter((f) => f.path.split('/').some((s) => !MODEL_FILE_NAME.test(s))).map((f) => f.path);
      if (bad.length > 0) return `the in-image fetcher refuses these paths (letters, digits and _ . + = - only): ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', ...' : ''}: leave them out with exclude`;
      const locked: LockedFile[] = [];
      for (const f of files) locked.push({ path: f.path, sha256: await hub.sha256(m.repo, revision, f), bytes: f.size });
      return { source: 'hf-repo', repo: m.repo, ref, include: [...new Set(m.include ?? [])].sort(), exclude: [...new Set(m.exclude ?? [])].sort(), revision, files: locked };
    }
    case 'civitai': {
      const v = await civitaiVersion(api, m.versionId);
      if (m.sha256 !== undefined && m.sha256 !== v.sha256) return `template.ts says sha256 ${m.sha256}, but CivitAI lists ${v.sha256} for ${v.file}: correct sha256 or remove it`;
      return { source: 'civitai', versionId: m.versionId, file: v.file, sha256: v.sha256, sizeKB: v.sizeKB };
    }
    case 'url':
      throw new Error('url models have no lock entry');
  }
}

/** Resolve every lockable model of the template (one at a time: a template has a handful). */
export async function lockTemplate(t: TemplateSource, api: Api, hub: Hub = new Hub(api)): Promise<LockResult> {
  const models: Record<string, LockEntry> = {};
  const problems: string[] = [];
  const labels = new Map<string, string>();
  for (const [i, m] of (t.def.models ?? []).entries()) {
    const key = lockKey(m);
    if (key === null) continue;
    const name = modelLabel(m, i);
    labels.set(key, name);
    if (models[key]) continue; // the same source twice (into differs): one entry
    let entry: LockEntry | string;
    try {
      entry = await lockModel(m, hub, api);
    } catch (err) {
      entry = explain(err, m, api);
    }
    if (typeof entry === 'string') problems.push(`${name}: ${entry}`);
    else models[entryKey(entry)] = entry;
  }
  const sorted = Object.fromEntries(Object.keys(models).sort().map((k) => [k, models[k]!]));
  return { lock: { template: t.def.name, models: sorted }, problems, labels };
}
