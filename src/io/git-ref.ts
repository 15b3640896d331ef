import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { KilnError } from '../errors.ts';

/** Definition folders that feed the graph; src/ (and package.json: ESM) are today's, so keys compare like for like. */
const SOURCES = ['base', 'templates', 'scripts'];

/**
 * Extract the definitions as of git `ref` into a temp dir (git archive),
 * with src/ and node_modules/ linked from `root`. Call cleanup() when done.
 */
export async function checkoutDefinitions(root: string, ref: string): Promise<{ dir: string; cleanup: () => void }> {
  const rev = await execa('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, reject: false });
  if (rev.exitCode !== 0) throw new KilnError(`git ref "${ref}" does not name a commit in ${root}`);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ref-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const ls = await execa('git', ['ls-tree', '--name-only', rev.stdout.trim()], { cwd: root });
    const present = SOURCES.filter((s) => ls.stdout.split('\n').includes(s));
    if (present.length > 0) {
      const archive = execa('git', ['archive', '--format=tar', rev.stdout.trim(), ...present], { cwd: root, encoding: 'buffer' });
      await execa('tar', ['-x', '-C', dir], { input: (await archive).stdout });
    }
    for (const link of ['src', 'node_modules', 'package.json']) symlinkSync(join(root, link), join(dir, link));
    return { dir, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** A file's text as committed at `ref` (`git show ref:path`); null when the commit has no such file. */
export async function readAtRef(root: string, ref: string, path: string): Promise<string | null> {
  const r = await execa('git', ['show', `${ref}:${path}`], { cwd: root, reject: false, stripFinalNewline: false });
  return r.exitCode === 0 ? r.stdout : null;
}
