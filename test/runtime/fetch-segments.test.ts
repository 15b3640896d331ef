// Segmented transfers: ranges asked for, parallel connections, bounds,
// fallback to one connection, resume of every segment across runs.
import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFetcher, urlModel, withServer, writeManifest } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';
import { listFiles, tempDir, waitFor } from './helpers/util.ts';

const MIB = 1024 * 1024;

/** The ranges a file of `size` bytes is cut into with segments of `seg` bytes (ends inclusive). */
const ranges = (size: number, n: number): string[] => {
  const step = Math.ceil(size / n);
  const out: string[] = [];
  for (let s = 0; s < size; s += step) out.push(`bytes=${s}-${Math.min(size, s + step) - 1}`);
  return out;
};

test('a large file goes over size/min-segment parallel connections, each asking exactly its range', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const big = makeData(8 * MIB + 123, 'seg');
  // The server holds every body until 4 requests are open: the download can
  // only finish when the 4 segments really run at the same time.
  srv.routes.set('/big.bin', { data: big.data, barrier: { key: 'big', n: 4 } });
  const manifest = await writeManifest(dir, [urlModel('big', `${srv.base}/big.bin`, 'checkpoints', 'big.bin', big.sha256, big.data.length)]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--min-segment-mb', '2'], {});
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /over 4 connections/);
  t.true((await readFile(join(dir, 'models', 'checkpoints', 'big.bin'))).equals(big.data), 'one sha256 over the whole file, installed');
  const st = srv.stats('/big.bin');
  // 8 MiB + 123 B / 2 MiB -> 4 segments (size // min-segment, at most --segments).
  t.deepEqual([...st.ranges].sort(), ranges(big.data.length, 4).sort());
  t.is(st.maxOpen, 4);
  t.is(st.bytes, big.data.length, 'every byte served once');
  t.deepEqual(await listFiles(join(dir, 'models', '.kiln', 'tmp')), [], 'no partial, sidecar or lock left');
});

test('--segments caps a file; --connections caps all files together', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const a = makeData(8 * MIB, 'capa');
  const b = makeData(8 * MIB, 'capb');
  // Every body waits (headers sent) until the test releases them: connections pile up to the cap.
  srv.routes.set('/a.bin', { data: a.data, holdAfter: 0 });
  srv.routes.set('/b.bin', { data: b.data, holdAfter: 0 });
  const manifest = await writeManifest(dir, [
    urlModel('a', `${srv.base}/a.bin`, 'loras', 'a.bin', a.sha256, a.data.length),
    urlModel('b', `${srv.base}/b.bin`, 'loras', 'b.bin', b.sha256, b.data.length),
  ]);
  // 2 files x 3 segments want 6 connections; 4 are allowed, so 2 segments must wait for a slot.
  const run = runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--min-segment-mb', '1', '--segments', '3', '--connections', '4', '--debug'], {});
  let out = '';
  run.all?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await waitFor(() => (out.match(/all 4 connections in use; waiting for one/g) ?? []).length >= 2, 60_000, 'two segments waiting for a connection');
  await waitFor(() => srv.maxOpenAll() >= 4, 60_000, 'the four allowed connections to reach the server');
  srv.release();
  const r = await run;
  t.is(r.exitCode, 0, r.all);
  t.is(srv.maxOpenAll(), 4, 'never more than four at once');
  t.regex(r.all ?? '', /'a' \(loras\/a\.bin\): downloading .* over 3 connections/);
  t.true(srv.stats('/a.bin').maxOpen <= 3, `a: ${srv.stats('/a.bin').maxOpen} open at once`);
  t.true((await readFile(join(dir, 'models', 'loras', 'a.bin'))).equals(a.data));
  t.true((await readFile(join(dir, 'models', 'loras', 'b.bin'))).equals(b.data));
});

test('a server that ignores Range gets one connection and the whole file once', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(6 * MIB, 'norange');
  srv.routes.set('/n.bin', { data: d.data, noRange: true });
  const manifest = await writeManifest(dir, [urlModel('n', `${srv.base}/n.bin`, 'vae', 'n.bin', d.sha256, d.data.length)]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--min-segment-mb', '1'], {});
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /over 1 connection \(the server does not serve ranges\)/);
  t.is(srv.stats('/n.bin').requests, 1);
  t.is(srv.stats('/n.bin').bytes, d.data.length);
  t.true((await readFile(join(dir, 'models', 'vae', 'n.bin'))).equals(d.data));
});

test('a file of unknown size is planned from the first answer (Content-Range) and split', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(4 * MIB, 'unknown');
  srv.routes.set('/u.bin', { data: d.data, barrier: { key: 'u', n: 4 } });
  const manifest = await writeManifest(dir, [urlModel('u', `${srv.base}/u.bin`, 'vae', 'u.bin', null, null)]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--min-segment-mb', '1'], {});
  t.is(r.exitCode, 0, r.all);
  const asked = srv.stats('/u.bin').ranges;
  t.is(asked[0], 'bytes=0-', 'the first request asks from 0 (size unknown)');
  t.deepEqual(asked.slice(1).sort(), ranges(d.data.length, 4).slice(1).sort(), 'then the other 3 segments, validated by the ETag');
  t.true((await readFile(join(dir, 'models', 'vae', 'u.bin'))).equals(d.data));
});

test('a file with neither a validator nor a sha256 gets one connection (its parts could not be proven one version)', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(4 * MIB, 'unproven');
  srv.routes.set('/p.bin', { data: d.data, etag: null });
  const manifest = await writeManifest(dir, [urlModel('p', `${srv.base}/p.bin`, 'vae', 'p.bin', null, d.data.length)]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--min-segment-mb', '1'], {});
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /over 1 connection/);
  t.is(srv.stats('/p.bin').requests, 1);
  t.true((await readFile(join(dir, 'models', 'vae', 'p.bin'))).equals(d.data));
});

test('a free connection takes half of the slowest segment', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(8 * MIB, 'steal');
  const half = 4 * MIB;
  // The second segment's connection is stuck (no byte) until a request for its tail shows up.
  // No body starts before both segments' requests are in: under load the first segment could
  // otherwise finish, and its connection steal, before the second segment's request arrived.
  // Whether a second steal follows (of either segment) depends on load; it is served whenever
  // it comes, as the barrier stays down once both segments were open.
  srv.routes.set('/s.bin', { data: d.data, holdStart: half, barrier: { key: 'steal', n: 2 } });
  const manifest = await writeManifest(dir, [urlModel('s', `${srv.base}/s.bin`, 'vae', 's.bin', d.sha256, d.data.length)]);
  // Two segments of 4 MiB; a segment with >= 2 x 1 MiB left may be split.
  const run = runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--min-segment-mb', '1', '--segments', '2', '--debug'], {});
  const asked = srv.stats('/s.bin').ranges;
  await waitFor(() => asked.slice(2).length > 0, 60_000, 'a request for the tail of the stuck segment');
  srv.release();
  const r = await run;
  t.is(r.exitCode, 0, r.all);
  t.deepEqual(asked.slice(0, 2).sort(), ranges(d.data.length, 2).sort(), 'two segments first');
  // The free connection asked for the second half of the stuck segment: [6 MiB, 8 MiB).
  t.is(asked[2], `bytes=${half + 2 * MIB}-${d.data.length - 1}`);
  t.regex(r.all ?? '', /a free connection takes .* from the slowest segment/);
  t.true((await readFile(join(dir, 'models', 'vae', 's.bin'))).equals(d.data));
});

test('resume across runs: every segment continues exactly where its bytes end (server cuts at a known offset)', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const big = makeData(8 * MIB, 'resume');
  const cut = 1_000_000;
  // Every segment's first answer is cut after `cut` body bytes; with --retries 0 the run gives up.
  const route = { data: big.data, dropAfter: cut, dropTimes: 4 };
  srv.routes.set('/r.bin', route);
  const manifest = await writeManifest(dir, [urlModel('r', `${srv.base}/r.bin`, 'checkpoints', 'r.bin', big.sha256, big.data.length)]);
  const args = ['--manifest', manifest, '--models-dir', models, '--min-segment-mb', '2'];
  const first = await runFetcher([...args, '--retries', '0'], {});
  t.is(first.exitCode, 1, first.all);
  t.deepEqual(await listFiles(join(models, 'checkpoints')), [], 'the model folder never holds a partial');
  const tmp = join(models, '.kiln', 'tmp');
  t.deepEqual(await listFiles(tmp), ['checkpoints%2Fr.bin.part', 'checkpoints%2Fr.bin.part.json']);
  const side = JSON.parse(await readFile(join(tmp, 'checkpoints%2Fr.bin.part.json'), 'utf8')) as { segments: [number, number, number][] };
  const have = side.segments.reduce((n, [s, , p]) => n + (p - s), 0);
  t.true(have >= cut, `the sidecar records what arrived: ${have} B`);
  t.true(side.segments.every(([s, , p]) => p - s <= cut), 'no segment claims more than the server sent it');
  const servedFirst = srv.stats('/r.bin').bytes;
  const firstRequests = srv.stats('/r.bin').requests;
  route.dropTimes = 0; // the link is fine now

  const second = await runFetcher(args, {});
  t.is(second.exitCode, 0, second.all);
  t.true((await readFile(join(models, 'checkpoints', 'r.bin'))).equals(big.data));
  const st = srv.stats('/r.bin');
  const resumed = st.ranges.slice(firstRequests);
  const expected = side.segments.filter(([, e, p]) => p < e).map(([, e, p]) => `bytes=${p}-${e - 1}`);
  t.deepEqual([...resumed].sort(), expected.sort(), 'each unfinished segment asks exactly for its missing bytes');
  t.true(st.ifRange.slice(firstRequests).every((v) => v !== undefined), 'with If-Range (the ETag of the first run)');
  t.is(st.bytes - servedFirst, big.data.length - have, 'the second run fetched exactly the bytes that were missing');
  t.false(existsSync(join(tmp, 'checkpoints%2Fr.bin.part.json')));
});
