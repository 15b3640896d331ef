/**
 * `kiln matrix` against a registry (src/ci/published.ts): what is built is
 * what the registry lacks, by content identity tag. A fake `docker` answers
 * `buildx imagetools inspect` the way buildx does (exit 0 and a digest; or
 * "ERROR: <ref>: not found"; or a transport error), from a list of refs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import type { IdentityFile } from '../src/emit/identity.ts';
import { repoRoot } from './helpers/fixtures.ts';

const REGISTRY = 'registry.test/acme';
const ids = (JSON.parse(readFileSync(join(repoRoot, 'bake/identities.json'), 'utf8')) as IdentityFile).targets;
const pushed = Object.entries(ids).filter(([, e]) => e.image !== null);

/** A PATH whose docker knows the refs in `published`; a ref containing "unreachable" fails like a dead registry. */
function fakeRegistry(t: { teardown(fn: () => void): void }, published: readonly string[]): { PATH: string; asked: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-fake-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'published'), `${published.join('\n')}\n`);
  writeFileSync(
    join(dir, 'docker'),
    `#!/bin/sh
[ "$1 $2 $3" = "buildx imagetools inspect" ] || { echo "fake docker: unexpected $*" >&2; exit 99; }
for ref; do :; done
echo "$ref" >> "${dir}/asked"
case "$ref" in *unreachable*) echo "ERROR: failed to do request: Head \\"https://$ref\\": dial tcp: connection refused" >&2; exit 1 ;; esac
grep -qxF "$ref" "${dir}/published" && { echo '"sha256:0000000000000000000000000000000000000000000000000000000000000000"'; exit 0; }
echo "ERROR: $ref: not found" >&2; exit 1
`,
    { mode: 0o755 },
  );
  return { PATH: `${dir}:${dirname(process.execPath)}:/usr/bin:/bin`, asked: join(dir, 'asked') };
}

const kiln = (args: string[], env: Record<string, string>) =>
  execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd: repoRoot, reject: false, env, extendEnv: false, timeout: 120_000 });

test('the registry has everything but one template and one shared stage: the matrix is exactly those two, each in its level', async (t) => {
  const [template] = pushed.filter(([, e]) => e.kind === 'template').map(([n]) => n).sort();
  const shared = 'sage-rtx5090';
  const published = pushed.filter(([n]) => n !== template && n !== shared).map(([, e]) => `${REGISTRY}/${e.image}`);
  const fake = fakeRegistry(t, published);
  const r = await kiln(['matrix'], { PATH: fake.PATH, REGISTRY });
  t.is(r.exitCode, 0, r.stderr);
  const m = JSON.parse(r.stdout) as { include: { target: string; reason: string }[]; shared: string[] };
  t.deepEqual(m.shared, [shared]);
  t.deepEqual(m.include.map((e) => e.target), [template]);
  t.regex(m.include[0]!.reason, new RegExp(`${REGISTRY}/${ids[template!]!.image!.replace(/[.]/g, '\\.')} is not in the registry`));
  // One question per pushed target (templates and shared stages; node checkouts are never pushed).
  t.is(readFileSync(fake.asked, 'utf8').trim().split('\n').length, pushed.length);
});

test('everything published: an empty matrix; nothing published (a new registry): every target', async (t) => {
  const all = fakeRegistry(t, pushed.map(([, e]) => `${REGISTRY}/${e.image}`));
  t.is((await kiln(['matrix'], { PATH: all.PATH, REGISTRY })).stdout, '{"include":[],"shared":[]}');
  const none = fakeRegistry(t, []);
  const m = JSON.parse((await kiln(['matrix'], { PATH: none.PATH, REGISTRY: 'registry.test/new' })).stdout) as { include: { target: string }[]; shared: string[] };
  t.is(m.include.length + m.shared.length, pushed.length);
});

test('a registry that cannot be asked is an error, never "unpublished" (which would rebuild all) nor "published"', async (t) => {
  const fake = fakeRegistry(t, []);
  const r = await kiln(['matrix'], { PATH: fake.PATH, REGISTRY: 'unreachable.test/acme' });
  t.is(r.exitCode, 2, 'a KilnError: a message, no stack');
  t.regex(r.stderr, /cannot ask the registry whether unreachable\.test\/acme\/\S+ exists: .*connection refused/);
  t.regex(r.stderr, /fix: log in \(docker login <registry>\)/);
  t.is(r.stdout, '');
  const none = await kiln(['matrix'], { PATH: fake.PATH });
  t.is(none.exitCode, 2);
  t.regex(none.stderr, /no registry to ask[\s\S]*fix: set REGISTRY/);
});

test("a pull request's identity tags (scoped) never count for main; they do for the same pull request's next run", async (t) => {
  const [name, entry] = pushed.find(([, e]) => e.kind === 'template')!;
  const others = pushed.filter(([n]) => n !== name).map(([, e]) => `${REGISTRY}/${e.image}`);
  const fake = fakeRegistry(t, [...others, `${REGISTRY}/${entry.image}--pr-42`]);
  const main = JSON.parse((await kiln(['matrix'], { PATH: fake.PATH, REGISTRY })).stdout) as { include: { target: string }[] };
  t.deepEqual(main.include.map((e) => e.target), [name], 'main builds what only a pull request pushed');
  const pr = JSON.parse((await kiln(['matrix'], { PATH: fake.PATH, REGISTRY, CACHE_SCOPE: 'pr-42' })).stdout) as { include: { target: string }[] };
  t.deepEqual(pr.include, [], 'the pull request itself already pushed it');
  const other = JSON.parse((await kiln(['matrix'], { PATH: fake.PATH, REGISTRY, CACHE_SCOPE: 'pr-7' })).stdout) as { include: { target: string }[] };
  t.deepEqual(other.include.map((e) => e.target), [name], "another pull request's tags are not this one's");
});
