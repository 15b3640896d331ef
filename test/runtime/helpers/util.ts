import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCRIPTS = fileURLToPath(new URL('../../../scripts/', import.meta.url));
export const FETCHER = join(SCRIPTS, 'fetch_models.py');

/** A fresh temp dir, removed when the test ends. */
export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix = 'kiln-rt-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under dir (relative paths), hidden ones included. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Concatenated content of every file under dir (to look for leaked secrets). */
export async function allText(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of await listFiles(dir)) {
    const p = join(dir, f);
    const s = await stat(p).catch(() => undefined);
    if (s?.isFile() && s.size < 64 * 1024 * 1024) parts.push(f, (await readFile(p)).toString('latin1'));
  }
  return parts.join('\n');
}

/** A minimal environment: no proxies, no tokens from the developer's shell. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    ...extra,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Writes a file, creating its directories. */
export async function putFile(path: string, body = 'x'): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}
