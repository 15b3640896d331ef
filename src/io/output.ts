import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** Everything under this folder is generated; nothing else lives there. */
export const OUTPUT_DIR = 'bake';

/**
 * Replace bake/ with exactly `files`: written into a temp dir beside it,
 * then swapped in by rename, so a failure never leaves a half-written bake/.
 */
export function writeGenerated(root: string, files: ReadonlyMap<string, string>): void {
  const tmp = mkdtempSync(join(root, '.kiln-generate-'));
  try {
    for (const [path, content] of files) {
      if (!path.startsWith(`${OUTPUT_DIR}/`)) throw new Error(`refusing to write outside ${OUTPUT_DIR}/: ${path}`);
      const dest = join(tmp, relative(OUTPUT_DIR, path));
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, content);
    }
    const out = join(root, OUTPUT_DIR);
    const old = `${tmp}.old`;
    if (existsSync(out)) renameSync(out, old);
    renameSync(tmp, out);
    rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
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
