// What the fetcher refuses to install, mostly without a checksum: web pages,
// bodies it cannot prove complete, resumes of a file that changed; and how it
// treats slow and flaky links.
import test from 'ava';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFetcher, urlModel, withServer, writeManifest } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';
import { listFiles, tempDir } from './helpers/util.ts';

const MIB = 1024 * 1024;
const HTML = Buffer.from('<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in</body></html>\n');

test('without a checksum: a web page is never installed as a model (by Content-Type or by its first bytes)', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  srv.routes.set('/login', { data: HTML, contentType: 'text/html; charset=utf-8' });
  srv.routes.set('/sneaky', { data: Buffer.concat([Buffer.from('  \n'), HTML]) });
  const ok = makeData(20_000, 'fine');
  srv.routes.set('/fine.safetensors', { data: ok.data });
  const manifest = await writeManifest(dir, [
    urlModel('login', `${srv.base}/login`, 'checkpoints', 'a.safetensors', null, null),
    urlModel('sneaky', `${srv.base}/sneaky`, 'checkpoints', 'b.safetensors', null, null),
    urlModel('fine', `${srv.base}/fine.safetensors`, 'checkpoints', 'fine.safetensors', null, null),
  ]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', models], {});
  t.is(r.exitCode, 1, r.all);
  t.regex(r.all ?? '', /'login' .*FAILED: the server sent a web page \(Content-Type text\/html\)/);
  t.regex(r.all ?? '', /'sneaky' .*FAILED: the server sent a web page \(the body starts with HTML\)/);
  t.deepEqual(await listFiles(join(models, 'checkpoints')), ['fine.safetensors']);
  t.deepEqual((await listFiles(join(models, '.kiln', 'tmp'))).filter((f) => f.includes('.part')), [], 'no partial kept');
  t.is(srv.stats('/login').requests, 1, 'not retried');
});

test('without a checksum: Content-Length is enforced and a body without a size is refused', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const d = makeData(300_000, 'len');
  // Content-Length 300000, connection cut at 100000, no retries left.
  srv.routes.set('/cut.safetensors', { data: d.data, dropAfter: 100_000 });
  // No Content-Length, not chunked: the body "ends" when the connection closes (truncated here).
  srv.routes.set('/nolen.safetensors', { data: d.data, noLength: true, truncateAt: 150_000 });
  // The same close-delimited body is fine when a sha256 can prove it complete.
  srv.routes.set('/nolen-sum.safetensors', { data: d.data, noLength: true });
  const manifest = await writeManifest(dir, [
    urlModel('cut', `${srv.base}/cut.safetensors`, 'vae', 'cut.safetensors', null, null),
    urlModel('nolen', `${srv.base}/nolen.safetensors`, 'vae', 'nolen.safetensors', null, null),
    urlModel('nolen-sum', `${srv.base}/nolen-sum.safetensors`, 'vae', 'sum.safetensors', d.sha256, null),
  ]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', models, '--retries', '0'], {});
  t.is(r.exitCode, 1, r.all);
  t.regex(r.all ?? '', /'cut' .*FAILED: connection closed at 97\.7 KiB/);
  t.regex(r.all ?? '', /'nolen' .*FAILED: the server does not say how big the file is \(no Content-Length\) and there is no sha256/);
  t.deepEqual(await listFiles(join(models, 'vae')), ['sum.safetensors']);
  t.true((await readFile(join(models, 'vae', 'sum.safetensors'))).equals(d.data));
});

test('a resume carries If-Range: a file changed upstream is fetched again whole, never spliced', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const old = makeData(6 * MIB, 'old');
  const now = makeData(6 * MIB, 'new');
  const single = { data: old.data, dropAfter: 1_000_000 };
  const multi = { data: old.data, dropAfter: 1_000_000, dropTimes: 3 };
  srv.routes.set('/one.safetensors', single);
  srv.routes.set('/multi.safetensors', multi);
  const one = urlModel('one', `${srv.base}/one.safetensors`, 'loras', 'one.safetensors', null, null);
  const multi3 = urlModel('multi', `${srv.base}/multi.safetensors`, 'loras', 'multi.safetensors', null, null);
  const manifest = await writeManifest(dir, [one, multi3]);
  const args = ['--manifest', manifest, '--models-dir', models];
  const cutRun = async (m: typeof one, extra: string[]) =>
    runFetcher(['--manifest', await writeManifest(dir, [m], `${m.id}.json`), '--models-dir', models, '--retries', '0', ...extra], {});
  const first = await cutRun(one, ['--segments', '1']);
  const firstMulti = await cutRun(multi3, ['--min-segment-mb', '2']);
  t.is(first.exitCode, 1, first.all);
  t.is(firstMulti.exitCode, 1, firstMulti.all);
  // Upstream replaces both files (new ETag); the link is fine again.
  for (const r of [single, multi]) Object.assign(r, { data: now.data, dropTimes: 0 });
  const before = srv.stats('/one.safetensors').requests;
  const second = await runFetcher([...args, '--min-segment-mb', '2'], {});
  t.is(second.exitCode, 0, second.all);
  t.true((await readFile(join(models, 'loras', 'one.safetensors'))).equals(now.data), 'one connection: the new file, whole');
  t.true((await readFile(join(models, 'loras', 'multi.safetensors'))).equals(now.data), 'segments: the new file, whole');
  const st = srv.stats('/one.safetensors');
  t.is(st.ranges[before], `bytes=1000000-${now.data.length - 1}`, 'the resume asked for the rest...');
  t.truthy(st.ifRange[before], '...only if the ETag is unchanged');
  t.regex(second.all ?? '', /'one' .*the server sent the whole file instead of the rest .*starting it over/);
  t.regex(second.all ?? '', /'multi' .*the server answered a range request with the whole file .*starting over/);
  t.deepEqual((await listFiles(join(models, '.kiln', 'tmp'))), []);
});

test('no validator and no checksum: a partial from an earlier run is not trusted', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const d = makeData(2 * MIB, 'noval');
  const route = { data: d.data, etag: null, dropAfter: 500_000 };
  srv.routes.set('/nv.safetensors', route);
  const manifest = await writeManifest(dir, [urlModel('nv', `${srv.base}/nv.safetensors`, 'vae', 'nv.safetensors', null, null)]);
  const args = ['--manifest', manifest, '--models-dir', models];
  t.is((await runFetcher([...args, '--retries', '0'], {})).exitCode, 1);
  const second = await runFetcher(args, {});
  t.is(second.exitCode, 0, second.all);
  t.regex(second.all ?? '', /neither a validator \(ETag\/Last-Modified\) nor a sha256 to prove the file is unchanged; starting over/);
  t.deepEqual(srv.stats('/nv.safetensors').ranges, ['bytes=0-', 'bytes=0-'], 'the second run starts at 0');
  t.true((await readFile(join(models, 'vae', 'nv.safetensors'))).equals(d.data));
});

test('a trickling server is dropped by the minimum-throughput deadline, not waited on forever', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const d = makeData(100_000, 'trickle');
  // 1 byte every 200 ms: a read never times out, yet nothing useful arrives.
  srv.routes.set('/t.safetensors', { data: d.data, trickle: { bytes: 1, everyMs: 200 } });
  const manifest = await writeManifest(dir, [urlModel('t', `${srv.base}/t.safetensors`, 'vae', 't.safetensors', d.sha256, d.data.length)]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', models, '--stall-secs', '1', '--min-speed-kb', '1', '--retries', '1'], {});
  t.is(r.exitCode, 1, r.all);
  t.regex(r.all ?? '', /'t' .*stalled: \d+ B\/s over \d+s, below the minimum 1\.0 KiB\/s; retry 1\/1/);
  t.regex(r.all ?? '', /'t' .*FAILED: .*stalled.*gave up after 1 retries without progress/);
  t.is(srv.stats('/t.safetensors').requests, 2, 'a stall is retried but is no progress: the retries run out');
  t.false(existsSync(join(models, 'vae', 't.safetensors')));
});

test('retries count attempts without progress: a link that drops every 100 kB still delivers a large file', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const d = makeData(1_000_000, 'flaky');
  srv.routes.set('/f.safetensors', { data: d.data, dropEvery: 100_000 });
  const manifest = await writeManifest(dir, [urlModel('f', `${srv.base}/f.safetensors`, 'loras', 'f.safetensors', d.sha256, d.data.length)]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', models, '--retries', '2'], {});
  t.is(r.exitCode, 0, r.all);
  t.is(srv.stats('/f.safetensors').requests, 10, '10 pieces of 100 kB, 9 retries with only 2 allowed in a row');
  t.is(srv.stats('/f.safetensors').bytes, d.data.length, 'each byte once');
  t.true((await readFile(join(models, 'loras', 'f.safetensors'))).equals(d.data));
});

test('a socket that goes silent times out (FETCH_TIMEOUT) and is retried', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(200_000, 'silent');
  // The body stops after 50 kB and is never released.
  srv.routes.set('/q.safetensors', { data: d.data, holdAfter: 50_000 });
  const manifest = await writeManifest(dir, [urlModel('q', `${srv.base}/q.safetensors`, 'vae', 'q.safetensors', d.sha256, d.data.length)]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--timeout', '2', '--retries', '1'], {});
  t.is(r.exitCode, 1, r.all);
  t.regex(r.all ?? '', /'q' .*TimeoutError.*retry 1\/1/);
  t.regex(r.all ?? '', /'q' .*FAILED: download: TimeoutError: timed out \(gave up after 1 retries without progress\)/);
  // However long the machine takes to answer, the last request resumes where the body stopped.
  const st = srv.stats('/q.safetensors');
  t.true(st.requests >= 2, `${st.requests} requests`);
  t.is(st.ranges.at(-1), `bytes=50000-${d.data.length - 1}`, 'the retry resumes');
  t.false(existsSync(join(dir, 'models', 'vae', 'q.safetensors')));
});

test('a sha256 mismatch after resuming an earlier partial downloads once more from scratch', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const d = makeData(1_000_000, 'rot');
  const route = { data: d.data, dropAfter: 400_000 };
  srv.routes.set('/rot.safetensors', route);
  const manifest = await writeManifest(dir, [urlModel('rot', `${srv.base}/rot.safetensors`, 'vae', 'rot.safetensors', d.sha256, d.data.length)]);
  const args = ['--manifest', manifest, '--models-dir', models];
  t.is((await runFetcher([...args, '--retries', '0'], {})).exitCode, 1);
  // The kept partial rots on disk (its first bytes overwritten).
  const part = join(models, '.kiln', 'tmp', 'vae%2Frot.safetensors.part');
  const fh = await open(part, 'r+');
  await fh.write(Buffer.alloc(1000, 0x55), 0, 1000, 0);
  await fh.close();
  const r = await runFetcher(args, {});
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /sha256 mismatch: .* after resuming an earlier partial; downloading once more from scratch/);
  t.deepEqual(srv.stats('/rot.safetensors').ranges, ['bytes=0-', `bytes=400000-${d.data.length - 1}`, 'bytes=0-']);
  t.true((await readFile(join(models, 'vae', 'rot.safetensors'))).equals(d.data));
});
