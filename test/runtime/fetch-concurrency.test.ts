// Two fetchers at once, and two models whose paths once mapped to one temp name.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFetcher, urlModel, withServer, writeManifest } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';
import { tempDir, waitFor } from './helpers/util.ts';

test('a second fetcher waits for a download the first one holds, then reports it present (not MISSING)', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const d = makeData(2 * 1024 * 1024, 'held');
  // The first fetcher's transfer stays in progress until the test says so.
  srv.routes.set('/held.bin', { data: d.data, holdAfter: 100_000 });
  const manifest = await writeManifest(dir, [urlModel('held', `${srv.base}/held.bin`, 'checkpoints', 'held.bin', d.sha256, d.data.length)]);
  const args = ['--manifest', manifest, '--models-dir', models];
  const first = runFetcher(args, {});
  await waitFor(() => srv.stats('/held.bin').bytes >= 100_000, 20_000, 'the first fetcher to be mid-transfer');
  let out = '';
  const second = runFetcher(args, {});
  second.all?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  await waitFor(() => /in progress in another fetcher \(pid \d+\); waiting for it/.test(out), 20_000, 'the second fetcher to wait');
  srv.release();
  const [a, b] = await Promise.all([first, second]);
  t.is(a.exitCode, 0, a.all);
  t.is(b.exitCode, 0, b.all);
  t.regex(b.all ?? '', /'held' \(checkpoints\/held\.bin\): present: sha256 verified; downloaded by another fetcher/);
  t.notRegex(b.all ?? '', /MISSING/);
  t.is(srv.stats('/held.bin').requests, 1, 'downloaded once');
  t.true((await readFile(join(models, 'checkpoints', 'held.bin'))).equals(d.data));
});

test('two model paths never share a temp name (loras/a__b.x and loras__a/b.x)', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const one = makeData(3 * 1024 * 1024, 'one');
  const two = makeData(3 * 1024 * 1024, 'two');
  // Both bodies wait until both requests are open: the two transfers overlap.
  srv.routes.set('/one.bin', { data: one.data, barrier: { key: 'both', n: 2 } });
  srv.routes.set('/two.bin', { data: two.data, barrier: { key: 'both', n: 2 } });
  const manifest = await writeManifest(dir, [
    urlModel('one', `${srv.base}/one.bin`, 'loras', 'a__b.safetensors', one.sha256, one.data.length),
    urlModel('two', `${srv.base}/two.bin`, 'loras__a', 'b.safetensors', two.sha256, two.data.length),
  ]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', models], {});
  t.is(r.exitCode, 0, r.all);
  t.notRegex(r.all ?? '', /in progress in another fetcher/, 'neither waits for the other');
  t.true((await readFile(join(models, 'loras', 'a__b.safetensors'))).equals(one.data));
  t.true((await readFile(join(models, 'loras__a', 'b.safetensors'))).equals(two.data));
});
