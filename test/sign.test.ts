/**
 * `kiln sign`: keyless cosign signatures on the digests a push wrote into
 * buildx's metadata file. cosign is replaced by a logging stand-in on PATH (no
 * network, no OIDC): what is asserted is what Kiln asks cosign to sign.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { pushedImages, repositoryOf } from '../src/ci/pushed.ts';
import { repoRoot } from './helpers/fixtures.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

/**
 * Shaped like buildx's --metadata-file (docs/reference/buildx_bake.md of
 * docker/buildx: per target containerimage.* and buildx.build.*, plus
 * top-level buildx keys), with image.name as BuildKit's image exporter writes
 * it on a push: the pushed names joined by commas.
 */
const metadata = {
  'buildx.build.warnings': [],
  'torch-rtx5090': {
    'buildx.build.ref': 'builder/builder0/abc',
    'containerimage.config.digest': `sha256:${'c'.repeat(64)}`,
    'containerimage.descriptor': { digest: D1, mediaType: 'application/vnd.oci.image.index.v1+json', size: 1609 },
    'containerimage.digest': D1,
    'image.name': 'ghcr.io/acme/kiln-torch:rtx5090-id-0123abcd',
  },
  'sd15-basic-rtx5090': {
    'buildx.build.ref': 'builder/builder0/def',
    'containerimage.digest': D2,
    'image.name': 'ghcr.io/acme/sd15-basic:rtx5090-sha-1234567,ghcr.io/acme/sd15-basic:rtx5090-latest,ghcr.io/acme/sd15-basic:rtx5090-id-89abcdef',
  },
};

test('pushedImages: <repository>@<digest> once per repository and digest, tags dropped, buildx keys skipped', (t) => {
  t.deepEqual(pushedImages(JSON.stringify(metadata), 'm.json'), [`ghcr.io/acme/kiln-torch@${D1}`, `ghcr.io/acme/sd15-basic@${D2}`]);
});

test('repositoryOf: strips the tag, never a registry port', (t) => {
  t.is(repositoryOf('ghcr.io/acme/sd15-basic:rtx5090-latest'), 'ghcr.io/acme/sd15-basic');
  t.is(repositoryOf('127.0.0.1:5000/kiln/sd15-basic:rtx4090-dev'), '127.0.0.1:5000/kiln/sd15-basic');
  t.is(repositoryOf('127.0.0.1:5000/kiln/sd15-basic'), '127.0.0.1:5000/kiln/sd15-basic');
  t.is(repositoryOf(`ghcr.io/acme/x:t@${D1}`), 'ghcr.io/acme/x');
});

test('pushedImages: a target that pushed no image or no digest, no target at all, or not JSON is an error naming the file', (t) => {
  const bad: [unknown, RegExp][] = [
    [{ a: { 'containerimage.digest': D1 } }, /m\.json: target a pushed no image \("image\.name" missing\): was it baked with --push\?/],
    [{ a: { 'image.name': 'ghcr.io/x/y:t' } }, /m\.json: target a pushed ghcr\.io\/x\/y:t but has no sha256 "containerimage\.digest" to sign \(got undefined\)/],
    [{ a: { 'image.name': 'ghcr.io/x/y:t', 'containerimage.digest': 'latest' } }, /has no sha256 "containerimage\.digest"/],
    [{ 'buildx.build.warnings': [] }, /m\.json: no bake target in it/],
    [[], /m\.json: expected an object of bake targets/],
  ];
  for (const [json, want] of bad) t.throws(() => pushedImages(JSON.stringify(json), 'm.json'), { message: want }, JSON.stringify(json));
  t.throws(() => pushedImages('{"a":', 'm.json'), { message: /m\.json: not JSON/ });
});

/** A temp dir with the metadata file and a cosign stand-in that logs its argv and exits with $COSIGN_EXIT. */
function sandbox(t: { teardown: (f: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-sign-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'cosign'), '#!/bin/sh\nprintf \'%s\\n\' "$*" >> "$COSIGN_LOG"\nexit "${COSIGN_EXIT:-0}"\n');
  chmodSync(join(bin, 'cosign'), 0o755);
  const file = join(dir, 'metadata.json');
  writeFileSync(file, JSON.stringify(metadata));
  return { dir, bin, file, log: join(dir, 'cosign.log') };
}

const kiln = (args: string[], env: Record<string, string>) =>
  execa(process.execPath, [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd: repoRoot, reject: false, env, extendEnv: false, timeout: 60_000 });

test('kiln sign FILE: cosign sign --yes on each <repository>@<digest>, never a tag; a job summary in Actions', async (t) => {
  const s = sandbox(t);
  const summary = join(s.dir, 'summary.md');
  writeFileSync(summary, '');
  const env = { PATH: `${s.bin}:/usr/bin:/bin`, HOME: s.dir, COSIGN_LOG: s.log, GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: join(s.dir, 'out') };
  const r = await kiln(['sign', s.file], env);
  t.is(r.exitCode, 0, r.stderr);
  const calls = readFileSync(s.log, 'utf8').trim().split('\n');
  t.deepEqual(calls, [`sign --yes ghcr.io/acme/kiln-torch@${D1}`, `sign --yes ghcr.io/acme/sd15-basic@${D2}`]);
  for (const c of calls) t.regex(c, /^sign --yes [^:@]+(:\d+)?\/[^:@]+@sha256:[0-9a-f]{64}$/, 'a digest reference, no tag');
  t.regex(readFileSync(summary, 'utf8'), new RegExp(`ghcr\\.io/acme/sd15-basic@${D2}`));
});

test('kiln sign: a cosign failure fails the command and names the image; no cosign says how to install it', async (t) => {
  const s = sandbox(t);
  const failed = await kiln(['sign', s.file], { PATH: `${s.bin}:/usr/bin:/bin`, HOME: s.dir, COSIGN_LOG: s.log, COSIGN_EXIT: '3' });
  t.is(failed.exitCode, 1);
  t.regex(failed.stderr, new RegExp(`cosign failed on ghcr\\.io/acme/kiln-torch@${D1} \\(exit 3\\)`));
  t.is(readFileSync(s.log, 'utf8').trim().split('\n').length, 1, 'stops at the first failure');
  const none = await kiln(['sign', s.file], { PATH: s.dir, HOME: s.dir });
  t.is(none.exitCode, 1);
  t.regex(none.stderr, /cosign is not installed \(CI: sigstore\/cosign-installer/);
});

test('kiln sign --dry-run prints the commands; a missing file says how to make it', async (t) => {
  const s = sandbox(t);
  const dry = await kiln(['sign', s.file, '--dry-run'], { PATH: s.dir, HOME: s.dir });
  t.is(dry.exitCode, 0, dry.stderr);
  t.deepEqual(dry.stdout.split('\n'), [`cosign sign --yes ghcr.io/acme/kiln-torch@${D1}`, `cosign sign --yes ghcr.io/acme/sd15-basic@${D2}`]);
  const missing = await kiln(['sign', join(s.dir, 'nope.json')], { PATH: s.dir, HOME: s.dir });
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /cannot read .*nope\.json \(ENOENT\): run `kiln bake \.\.\. --push --metadata-file/);
});
