/**
 * What a `kiln bake --push --metadata-file FILE` pushed, read from buildx's
 * metadata file: per target `containerimage.digest` and `image.name` (the
 * comma-joined names BuildKit's image exporter pushed), next to keys that are
 * not targets (`buildx.build.warnings`). Format: docs/reference/buildx_bake.md
 * of docker/buildx, "--metadata-file".
 *
 * Signatures go on `<repository>@<digest>`: the digest is what was pushed, a
 * tag can be moved to other content later.
 */
import { KilnError } from '../errors.ts';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The repository of an image name: without its tag (a ':' after the last '/') and any digest. */
export function repositoryOf(name: string): string {
  const bare = name.split('@')[0]!;
  const slash = bare.lastIndexOf('/');
  const colon = bare.lastIndexOf(':');
  return colon > slash ? bare.slice(0, colon) : bare;
}

/**
 * `<repository>@sha256:<hex>` of every image in the metadata file's JSON text,
 * once per repository and digest, sorted; `file` names it in errors. Every
 * target must have pushed an image (each one Kiln pushes carries at least its
 * identity tag): one without a name or digest means the push did not happen
 * as expected, and signing nothing for it must not pass silently.
 */
export function pushedImages(text: string, file: string): string[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new KilnError(`${file}: not JSON (${(err as Error).message}); it should be what \`kiln bake --push --metadata-file ${file}\` wrote`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new KilnError(`${file}: expected an object of bake targets`);
  const refs = new Set<string>();
  let targets = 0;
  for (const [key, value] of Object.entries(data)) {
    // buildx's own keys (buildx.build.warnings, ...) sit beside the targets.
    if (key.startsWith('buildx.') || !value || typeof value !== 'object' || Array.isArray(value)) continue;
    targets++;
    const v = value as Record<string, unknown>;
    const digest = v['containerimage.digest'];
    const names = v['image.name'];
    if (typeof names !== 'string' || names === '') {
      throw new KilnError(`${file}: target ${key} pushed no image ("image.name" ${names === undefined ? 'missing' : 'empty'}): was it baked with --push?`);
    }
    if (typeof digest !== 'string' || !DIGEST.test(digest)) {
      throw new KilnError(`${file}: target ${key} pushed ${names} but has no sha256 "containerimage.digest" to sign (got ${JSON.stringify(digest)})`);
    }
    for (const n of names.split(',')) refs.add(`${repositoryOf(n.trim())}@${digest}`);
  }
  if (targets === 0) throw new KilnError(`${file}: no bake target in it; was it written by \`kiln bake --push --metadata-file\`?`);
  return [...refs].sort();
}
