/**
 * Which content identities a registry already has: one `docker buildx
 * imagetools inspect <ref>` per identity tag (buildx reads the same
 * credentials as the push, `docker login`). "not found" means unpublished;
 * any other failure (no credentials, no network) is an error, never taken for
 * "unpublished" (which would rebuild everything) nor for "published" (which
 * would skip a build).
 */
import { execa } from 'execa';
import { KilnError } from '../errors.ts';

/** Whether an image ref exists in its registry. */
export type Lookup = (ref: string) => Promise<boolean>;

/** buildx's answer for a tag the registry does not have ("ERROR: <ref>: not found"; "manifest unknown" from some registries). */
const NOT_FOUND = /: not found\s*$|manifest unknown|MANIFEST_UNKNOWN|name unknown|NAME_UNKNOWN/m;

export function imagetoolsLookup(options: { readonly builder?: string; readonly timeoutMs?: number } = {}): Lookup {
  return async (ref) => {
    const args = ['buildx', 'imagetools', 'inspect', ...(options.builder ? ['--builder', options.builder] : []), '--format', '{{json .Manifest.Digest}}', ref];
    const r = await execa('docker', args, { reject: false, timeout: options.timeoutMs ?? 60_000 });
    if (r.exitCode === 0) return true;
    const why = String(r.stderr || r.stdout || r.message).trim();
    if (NOT_FOUND.test(why)) return false;
    throw new KilnError(
      `cannot ask the registry whether ${ref} exists: ${why.split('\n').slice(-2).join(' ')}\n` +
        '  fix: log in (docker login <registry>) with read access to its packages, check REGISTRY, or use `kiln matrix --since REF` / `--all`, which ask no registry',
    );
  };
}

/** The refs that exist, asking at most `concurrency` at a time. */
export async function publishedRefs(refs: readonly string[], lookup: Lookup, concurrency = 4): Promise<Set<string>> {
  const found = new Set<string>();
  let next = 0;
  const worker = async () => {
    while (next < refs.length) {
      const ref = refs[next++]!;
      if (await lookup(ref)) found.add(ref);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, refs.length) }, worker));
  return found;
}
