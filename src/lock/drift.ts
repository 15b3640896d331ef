/**
 * What changed upstream since a template's lock was written (`kiln lock
 * --check`): a branch that moved, a file whose sha256 or size changed, files
 * a repo gained or lost, a CivitAI version whose file changed; and entries
 * template.ts no longer asks for, or asks for without a lock entry yet.
 */
import type { CivitaiLock, HfFileLock, HfRepoLock, LockEntry, ModelLock } from '../dsl/lock.ts';

const short = (sha: string): string => sha.slice(0, 12);

function moved(a: HfFileLock | HfRepoLock, b: HfFileLock | HfRepoLock): string[] {
  return a.revision === b.revision ? [] : [`${a.ref} moved from ${short(a.revision)} to ${short(b.revision)}`];
}

function fileChange(path: string, a: { sha256: string; bytes: number }, b: { sha256: string; bytes: number }): string[] {
  if (a.sha256 === b.sha256 && a.bytes === b.bytes) return [];
  const size = a.bytes === b.bytes ? '' : `, ${a.bytes} -> ${b.bytes} bytes`;
  return [`${path} changed: sha256 ${short(a.sha256)}... -> ${short(b.sha256)}...${size}`];
}

function entryChanges(a: LockEntry, b: LockEntry): string[] {
  if (a.source === 'hf' && b.source === 'hf') return [...moved(a, b), ...fileChange(a.file, a, b)];
  if (a.source === 'hf-repo' && b.source === 'hf-repo') {
    const before = new Map(a.files.map((f) => [f.path, f]));
    const after = new Map(b.files.map((f) => [f.path, f]));
    const out = moved(a, b);
    for (const [path, f] of after) {
      const old = before.get(path);
      out.push(...(old ? fileChange(path, old, f) : [`${path} is new`]));
    }
    for (const path of before.keys()) if (!after.has(path)) out.push(`${path} is gone`);
    return out;
  }
  if (a.source === 'civitai' && b.source === 'civitai') {
    const c = a as CivitaiLock;
    const d = b as CivitaiLock;
    if (c.file !== d.file) return [`its file is now ${d.file} (was ${c.file})`];
    return c.sha256 === d.sha256 ? [] : [`${c.file} changed: sha256 ${short(c.sha256)}... -> ${short(d.sha256)}...`];
  }
  return ['is now another kind of source'];
}

/**
 * Lines naming each model and what changed; empty when the lock is what
 * upstream has now. `labels` names models by lock key.
 */
export function lockDrift(old: ModelLock | null, now: ModelLock, labels: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const before = old?.models ?? {};
  for (const [key, entry] of Object.entries(now.models)) {
    const name = labels.get(key) ?? key;
    const prev = before[key];
    if (!prev) out.push(`${name}: not in the lock yet`);
    else for (const change of entryChanges(prev, entry)) out.push(`${name}: ${change}`);
  }
  for (const key of Object.keys(before)) if (!(key in now.models)) out.push(`${key}: in the lock, but template.ts no longer asks for it`);
  return out;
}
