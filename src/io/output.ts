import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pidAlive } from './pid.ts';

/** Everything under this folder is generated; nothing else lives there. */
export const OUTPUT_DIR = 'bake';

/** Where `kiln generate` stages the new tree (repo root, so renames stay on one filesystem); ignored by git. */
export const STAGING_PREFIX = '.kiln-generate-';

/** The file that names all the others (Dockerfiles): replaced after them, so it never names a missing one. */
const BAKE_FILE = `${OUTPUT_DIR}/docker-bake.hcl`;

/**
 * Make bake/ hold exactly `files`, so that a kill between any two system
 * calls leaves a usable bake/:
 *
 * 1. the files that change are written into a staging dir beside bake/;
 * 2. each new or changed file is renamed into bake/: rename(2) replaces one
 *    file atomically, so every file is always a whole old or a whole new
 *    version, and bake/ itself is never absent (swapping whole directories
 *    takes two renames, and a kill between them leaves no bake/);
 * 3. the bake file goes last, so it only ever names Dockerfiles that exist,
 *    then files no longer generated are deleted.
 *
 * A kill in step 2 or 3 leaves a mix of old and new files, which
 * `kiln generate --check` reports and the next `kiln generate` completes; it
 * also removes the staging dirs that killed runs left behind.
 */
export function writeGenerated(root: string, files: ReadonlyMap<string, string>): void {
  removeStaleStaging(root);
  for (const path of files.keys()) if (!path.startsWith(`${OUTPUT_DIR}/`)) throw new Error(`refusing to write outside ${OUTPUT_DIR}/: ${path}`);
  const drift = diffGenerated(root, files);
  const replace = [...drift.missing, ...drift.changed].sort((a, b) => Number(a === BAKE_FILE) - Number(b === BAKE_FILE));
  if (replace.length === 0 && drift.extra.length === 0) return;
  const step = killSwitch();
  const staging = mkdtempSync(join(root, `${STAGING_PREFIX}${process.pid}-`));
  try {
    // Only what changes is staged: an unchanged bake/ is not written at all.
    for (const path of replace) {
      mkdirSync(dirname(join(staging, path)), { recursive: true });
      writeFileSync(join(staging, path), files.get(path)!);
    }
    step();
    for (const path of replace) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      step();
      renameSync(join(staging, path), join(root, path));
    }
    for (const path of drift.extra) {
      step();
      unlinkSync(join(root, path));
    }
    removeEmptyDirs(join(root, OUTPUT_DIR));
    step();
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Staging dirs of runs that were killed: named `<prefix><pid>-<random>`, left
 * alone while that pid is alive (a concurrent `kiln generate`); names without
 * a pid come from older Kiln versions and are stale too.
 */
export function removeStaleStaging(root: string): string[] {
  const removed: string[] = [];
  for (const name of existsSync(root) ? readdirSync(root) : []) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const pid = /^(\d+)-/.exec(name.slice(STAGING_PREFIX.length))?.[1];
    if (pid && pidAlive(Number(pid))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Test hook: KILN_TEST_KILL_AT_STEP=n makes the n-th step of a write SIGKILL
 * this process, so a test can check what a kill at every point leaves.
 */
function killSwitch(): () => void {
  const at = Number(process.env.KILN_TEST_KILL_AT_STEP ?? 0);
  let n = 0;
  return () => {
    if (++n === at) process.kill(process.pid, 'SIGKILL');
  };
}

function removeEmptyDirs(dir: string): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (!statSync(full).isDirectory()) continue;
    removeEmptyDirs(full);
    if (readdirSync(full).length === 0) rmdirSync(full);
  }
}

export interface Drift {
  /** On disk but different. */
  readonly changed: string[];
  /** Expected but absent. */
  readonly missing: string[];
  /** On disk under bake/ but no longer generated. */
  readonly extra: string[];
}

export function diffGenerated(root: string, files: ReadonlyMap<string, string>): Drift {
  const changed: string[] = [];
  const missing: string[] = [];
  for (const [path, content] of files) {
    const full = join(root, path);
    if (!existsSync(full)) missing.push(path);
    else if (readFileSync(full, 'utf8') !== content) changed.push(path);
  }
  const extra = listFiles(join(root, OUTPUT_DIR))
    .map((f) => `${OUTPUT_DIR}/${f}`)
    .filter((f) => !files.has(f));
  return { changed, missing, extra };
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? listFiles(full, `${prefix}${name}/`) : [`${prefix}${name}`];
    });
}

