// The model fetcher (scripts/fetch_models.py) against a local HTTP server.
import test from 'ava';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { CIVITAI_TOKEN, HF_TOKEN, runFetcher, withServer, writeManifest, type ManifestModel } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';
import { allText, listFiles, tempDir } from './helpers/util.ts';

const URL_SECRET = 'qsSECRETsignature42';

test('good files complete and verified; failures leave nothing in model folders and name the model; no token leaks', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const f = (n: number, seed: string) => makeData(n, seed);

  const good = f(300_000, 'good');
  const nosum = f(120_000, 'nosum');
  const flaky = f(200_000, 'flaky');
  const dropped = f(1_000_000, 'dropped');
  const wrong = f(100_000, 'wrong');
  const gated = f(50_000, 'gated');
  const priv = f(50_000, 'priv');
  const civ = f(256_000, 'civ');
  const hfExtra = f(64_000, 'hfextra');
  const signed = f(70_000, 'signed');

  // HF resolve URL redirects to a "CDN" that must not receive the token.
  // (localhost vs 127.0.0.1: another host for the client.)
  srv.routes.set('/org/repo/resolve/abc123/good.safetensors', { token: HF_TOKEN, redirect: `${srv.base.replace('127.0.0.1', 'localhost')}/cdn/good` });
  // A same-host redirect (renamed repo) keeps the token.
  srv.routes.set('/org/old-name/resolve/main/renamed.safetensors', { token: HF_TOKEN, redirect: '/org/new-name/resolve/main/renamed.safetensors' });
  srv.routes.set('/org/new-name/resolve/main/renamed.safetensors', { data: nosum.data, token: HF_TOKEN });
  srv.routes.set('/cdn/good', { data: good.data });
  srv.routes.set('/files/nosum.safetensors', { data: nosum.data });
  srv.routes.set('/files/flaky.safetensors', { data: flaky.data, fail500: 2 });
  srv.routes.set('/files/busy.safetensors', { data: nosum.data, fail500: 1, failStatus: 429 });
  srv.routes.set('/files/dropped.safetensors', { data: dropped.data, dropAfter: 600_000 });
  srv.routes.set('/files/missing.safetensors', { status: 404 });
  srv.routes.set('/files/wrong.safetensors', { data: wrong.data, corrupt: true });
  srv.routes.set('/org/gated/resolve/main/gated.safetensors', { data: gated.data, token: 'a-different-token' });
  srv.routes.set('/files/private.safetensors', { data: priv.data, token: 'needs-private' });
  srv.routes.set('/files/signed.safetensors', { data: signed.data });
  // Fake CivitAI API + download.
  srv.routes.set('/api/v1/model-versions/1001', {
    token: CIVITAI_TOKEN,
    json: {
      id: 1001,
      model: { name: 'Some LoRA', type: 'LORA' },
      files: [
        { name: 'extra.yaml', primary: false, downloadUrl: `${srv.base}/civ/dl/other`, hashes: {}, sizeKB: 1 },
        {
          name: 'some_lora_v1.safetensors',
          primary: true,
          downloadUrl: `${srv.base}/civ/dl/1001`,
          hashes: { SHA256: civ.sha256.toUpperCase() },
          sizeKB: civ.data.length / 1024,
        },
      ],
    },
  });
  srv.routes.set('/civ/dl/1001', { data: civ.data, token: CIVITAI_TOKEN });
  srv.routes.set('/api/v1/model-versions/1002', { status: 404 });
  srv.routes.set('/hf/someone/extras/resolve/main/sub/extra.safetensors', { data: hfExtra.data, token: HF_TOKEN });

  const manifest = await writeManifest(dir, [
    {
      id: 'good-hf', source: 'hf', url: `${srv.base}/org/repo/resolve/abc123/good.safetensors`, into: 'checkpoints',
      file: 'good.safetensors', sha256: good.sha256, bytes: good.data.length, auth: 'HF_TOKEN',
    },
    { id: 'hf-renamed', source: 'hf', url: `${srv.base}/org/old-name/resolve/main/renamed.safetensors`, into: 'clip', file: 'renamed.safetensors', sha256: nosum.sha256, bytes: nosum.data.length, auth: 'HF_TOKEN' },
    { id: 'no-checksum', source: 'url', url: `${srv.base}/files/nosum.safetensors`, into: 'vae', file: 'nosum.safetensors', sha256: null, bytes: null, auth: null },
    { id: 'busy-429', source: 'url', url: `${srv.base}/files/busy.safetensors`, into: 'loras', file: 'busy.safetensors', sha256: nosum.sha256, bytes: nosum.data.length, auth: null },
    { id: 'flaky-500', source: 'url', url: `${srv.base}/files/flaky.safetensors`, into: 'loras', file: 'flaky.safetensors', sha256: flaky.sha256, bytes: flaky.data.length, auth: null },
    { id: 'dropped-once', source: 'url', url: `${srv.base}/files/dropped.safetensors`, into: 'unet', file: 'dropped.safetensors', sha256: dropped.sha256, bytes: dropped.data.length, auth: null },
    { id: 'gone-404', source: 'url', url: `${srv.base}/files/missing.safetensors`, into: 'loras', file: 'missing.safetensors', sha256: null, bytes: null, auth: null },
    { id: 'bad-bytes', source: 'url', url: `${srv.base}/files/wrong.safetensors`, into: 'vae', file: 'wrong.safetensors', sha256: wrong.sha256, bytes: wrong.data.length, auth: null },
    { id: 'gated-403', source: 'hf', url: `${srv.base}/org/gated/resolve/main/gated.safetensors`, into: 'checkpoints', file: 'gated.safetensors', sha256: gated.sha256, bytes: gated.data.length, auth: 'HF_TOKEN' },
    { id: 'private-401', source: 'url', url: `${srv.base}/files/private.safetensors`, into: 'controlnet', file: 'private.safetensors', sha256: null, bytes: null, auth: 'PRIVATE_TOKEN' },
    { id: 'civitai-lora', source: 'civitai', versionId: 1001, into: 'loras', file: null, sha256: null, bytes: null, auth: 'CIVITAI_TOKEN' },
  ]);
  const report = join(dir, 'report.json');
  const r = await runFetcher(['--manifest', manifest, '--models-dir', models, '--jobs', '4', '--report', report], {
    HF_TOKEN,
    CIVITAI_TOKEN,
    HF_ENDPOINT: `${srv.base}/hf`,
    CIVITAI_API_BASE: `${srv.base}/api/v1`,
    HF_MODELS: 'text_encoders:someone/extras/sub/extra.safetensors',
    CIVITAI_MODELS: '1002',
    // The second entry's bare #<64 hex> is a checksum too (a wrong one here).
    MODEL_URLS: `embeddings/renamed.safetensors:${srv.base}/files/signed.safetensors?token=${URL_SECRET}&x=1#sha256=${signed.sha256} ` +
      `vae/bare.safetensors:${srv.base}/files/nosum.safetensors#${'0'.repeat(64)}`,
  });
  t.log(r.all);
  t.is(r.exitCode, 1, 'some models failed, so the exit code is 1');

  const expectOk: [string, Buffer][] = [
    ['checkpoints/good.safetensors', good.data],
    ['vae/nosum.safetensors', nosum.data],
    ['clip/renamed.safetensors', nosum.data],
    ['loras/flaky.safetensors', flaky.data],
    ['loras/busy.safetensors', nosum.data],
    ['unet/dropped.safetensors', dropped.data],
    ['loras/some_lora_v1.safetensors', civ.data],
    ['text_encoders/extra.safetensors', hfExtra.data],
    ['embeddings/renamed.safetensors', signed.data],
  ];
  for (const [rel, data] of expectOk) {
    const got = await readFile(join(models, rel)).catch(() => undefined);
    t.truthy(got, `${rel} exists`);
    t.true(got?.equals(data), `${rel} has the right bytes`);
  }
  // Model folders hold exactly the good files: no partial, no temp file.
  const visible = (await listFiles(models)).filter((p) => !p.startsWith('.kiln/'));
  t.deepEqual(visible, expectOk.map(([rel]) => rel).sort());
  const leftovers = (await listFiles(join(models, '.kiln', 'tmp'))).filter((p) => p.endsWith('.part'));
  t.deepEqual(leftovers, [], 'failed verifications leave no partial behind');

  // Every failure names its model, with the right hint.
  const out = r.all ?? '';
  t.regex(out, /'gone-404' \(loras\/missing\.safetensors\).*404/);
  t.regex(out, /'bad-bytes' \(vae\/wrong\.safetensors\).*sha256 mismatch/);
  t.regex(out, /'bare\.safetensors' \(vae\/bare\.safetensors\).*sha256 mismatch: got \S+, expected 0{64}/);
  t.regex(out, /'gated-403'.*HTTP 403.*HF_TOKEN is set/);
  t.regex(out, /'private-401'.*HTTP 401.*set PRIVATE_TOKEN/);
  t.regex(out, /'civitai-1002'.*CivitAI version 1002.*404/);
  t.regex(out, /ID\s+FILE\s+STATUS/, 'prints a summary table');
  // No retry on 4xx, retries on 5xx and drops.
  t.is(srv.stats('/files/missing.safetensors').requests, 1);
  t.is(srv.stats('/files/private.safetensors').requests, 1);
  t.is(srv.stats('/files/flaky.safetensors').requests, 3);
  t.is(srv.stats('/files/busy.safetensors').requests, 2, '429 is retried');
  const drop = srv.stats('/files/dropped.safetensors');
  t.is(drop.requests, 2);
  // The server cut the body at byte 600000: exactly the rest is asked for, nothing is fetched twice.
  t.deepEqual(drop.ranges, ['bytes=0-', `bytes=600000-${dropped.data.length - 1}`]);
  t.deepEqual(drop.ifRange, [undefined, `"${createHash('sha1').update(dropped.data).digest('hex').slice(0, 16)}"`], 'the resume carries the ETag');
  t.is(drop.bytes, dropped.data.length, 'resumed in-run: every byte served once');
  // Tokens: sent where due, never forwarded to the redirect target.
  t.deepEqual(srv.stats('/org/repo/resolve/abc123/good.safetensors').authorization, [`Bearer ${HF_TOKEN}`]);
  t.deepEqual(srv.stats('/cdn/good').authorization, [undefined]);
  t.deepEqual(srv.stats('/org/new-name/resolve/main/renamed.safetensors').authorization, [`Bearer ${HF_TOKEN}`]);
  t.deepEqual(srv.stats('/civ/dl/1001').authorization, [`Bearer ${CIVITAI_TOKEN}`]);

  const rep = JSON.parse(await readFile(report, 'utf8')) as { ok: boolean; missing: string[] };
  t.false(rep.ok);
  t.deepEqual(
    [...rep.missing].sort(),
    ['?/<civitai version 1002>', 'checkpoints/gated.safetensors', 'controlnet/private.safetensors', 'loras/missing.safetensors', 'vae/bare.safetensors', 'vae/wrong.safetensors'].sort(),
  );

  // No token anywhere: output, report, state files.
  const everything = `${r.stdout}\n${r.stderr}\n${await allText(dir)}`;
  for (const secret of [HF_TOKEN, CIVITAI_TOKEN, URL_SECRET]) t.false(everything.includes(secret), `leaked ${secret.slice(0, 6)}...`);
});

test('a verified file is skipped without re-hashing; a changed file is verified again and replaced', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const d = makeData(200_000, 'skip');
  srv.routes.set('/s.safetensors', { data: d.data });
  const manifest = await writeManifest(dir, [
    { id: 'skip-me', source: 'url', url: `${srv.base}/s.safetensors`, into: 'checkpoints', file: 's.safetensors', sha256: d.sha256, bytes: d.data.length, auth: null },
  ]);
  const args = ['--manifest', manifest, '--models-dir', models];
  t.is((await runFetcher(args, {})).exitCode, 0);
  t.is(srv.stats('/s.safetensors').requests, 1);
  const again = await runFetcher(args, {});
  t.is(again.exitCode, 0);
  t.regex(again.all ?? '', /verified earlier \(cached\)/);
  t.is(srv.stats('/s.safetensors').requests, 1, 'nothing downloaded the second time');

  // Same size, other bytes, other mtime: the cache entry no longer matches.
  const p = join(models, 'checkpoints', 's.safetensors');
  await writeFile(p, Buffer.alloc(d.data.length, 1));
  await utimes(p, new Date(), new Date(Date.now() + 5000));
  const third = await runFetcher(args, {});
  t.is(third.exitCode, 0, third.all);
  t.regex(third.all ?? '', /sha256 does not match; downloading again/);
  t.true((await readFile(p)).equals(d.data));
  t.is(srv.stats('/s.safetensors').requests, 2);
});

test('not enough free disk: nothing is downloaded and the message says how much is needed', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  srv.routes.set('/huge.safetensors', { data: Buffer.alloc(10) });
  const manifest = await writeManifest(dir, [
    { id: 'huge', source: 'url', url: `${srv.base}/huge.safetensors`, into: 'checkpoints', file: 'huge.safetensors', sha256: null, bytes: 2 ** 52, auth: null },
  ]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models')], {});
  t.is(r.exitCode, 3);
  t.regex(r.all ?? '', /not enough disk space.*need 4096\.0 TiB/);
  t.is(srv.stats('/huge.safetensors').requests, 0);
});

test('a bad entry or setting is reported and skipped; everything else, the manifest included, downloads (exit 2, no traceback)', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const srv = await withServer(t);
  const baked = makeData(50_000, 'baked');
  const comma = makeData(40_000, 'comma');
  const hf = makeData(30_000, 'hfok');
  srv.routes.set('/baked.safetensors', { data: baked.data });
  srv.routes.set('/dl', { data: comma.data });
  srv.routes.set('/hf/o/r/resolve/main/ok.safetensors', { data: hf.data });
  const manifest = await writeManifest(dir, [
    { id: 'baked', source: 'url', url: `${srv.base}/baked.safetensors`, into: 'checkpoints', file: 'baked.safetensors', sha256: baked.sha256, bytes: baked.data.length, auth: null },
    { id: 'broken', source: 'url', url: 'ftp://example.invalid/x', into: 'vae', file: 'x.safetensors', sha256: null, bytes: null, auth: null },
  ]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', models, '--report', join(dir, 'report.json')], {
    HF_ENDPOINT: `${srv.base}/hf`,
    // A repo without a file path, then a good entry after a comma.
    HF_MODELS: 'loras:owner/repo,text_encoders:o/r/ok.safetensors',
    // A URL with its own commas (kept whole), and one whose sha256 has 63 digits.
    MODEL_URLS: `vae/c.safetensors:${srv.base}/dl?ids=1,2,3 vae/short.safetensors:${srv.base}/baked.safetensors#sha256=${'a'.repeat(63)}`,
    CIVITAI_MODELS: 'loras:abc',
    FETCH_JOBS: 'four',
    FETCH_STALL_SECS: '-1',
    KILN_ARIA2C: 'true',
  });
  t.log(r.all);
  t.is(r.exitCode, 2, 'invalid input: exit 2, after everything valid was fetched');
  t.false(/Traceback/.test(r.all ?? ''), 'no Python traceback');
  t.true((await readFile(join(models, 'checkpoints', 'baked.safetensors'))).equals(baked.data), 'the baked manifest still downloads');
  t.true((await readFile(join(models, 'vae', 'c.safetensors'))).equals(comma.data), 'a URL with commas stays one entry');
  t.true((await readFile(join(models, 'text_encoders', 'ok.safetensors'))).equals(hf.data), 'the entry after the bad one downloads');
  t.deepEqual(srv.stats('/dl').requests, 1);
  t.true(srv.seen.some((l) => l.startsWith('GET /dl?ids=1,2,3 ')), 'the query string reached the server whole');
  const out = r.all ?? '';
  t.regex(out, /HF_MODELS entry 'loras:owner\/repo': expected <folder>:<owner>\/<repo>\[@<revision>\]\/<path\/in\/repo> \(one file\), or <folder>:<owner>\/<repo>\[@<revision>\]\[include=<globs>;exclude=<globs>\] \(a whole repo\); skipped/);
  t.regex(out, /MODEL_URLS entry .*#sha256= needs exactly 64 hex digits \(got 63 characters\); skipped/);
  t.regex(out, /CIVITAI_MODELS entry 'loras:abc'/);
  t.regex(out, /model 'broken': url must be an http\(s\) URL; skipped/);
  t.regex(out, /FETCH_JOBS='four' is not a whole number >= 1; using the default 8/);
  t.regex(out, /FETCH_STALL_SECS='-1' is not a number > 0; using the default 60/);
  t.false(existsSync(join(models, 'vae', 'short.safetensors')), 'a malformed checksum never means "no checksum"');
  t.regex(out, /WARN  KILN_ARIA2C is ignored: the aria2c mode is gone/);
  t.regex(out, /ERROR INVALID HF_MODELS entry 'loras:owner\/repo'/, 'listed again at the end');

  const rep = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as { ok: boolean; missing: string[]; invalid: { origin: string }[] };
  t.false(rep.ok);
  t.deepEqual(rep.missing, []);
  t.deepEqual(rep.invalid.map((i) => i.origin).sort(), ['CIVITAI_MODELS', 'HF_MODELS', 'MODEL_URLS', 'manifest', 'settings', 'settings']);

  // A bad flag is the caller's mistake: argparse's message, exit 2, nothing fetched.
  const flag = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'm2'), '--jobs', 'four'], {});
  t.is(flag.exitCode, 2);
  t.regex(flag.all ?? '', /argument --jobs: 'four' is not a whole number >= 1/);
  t.false(/Traceback/.test(flag.all ?? ''));
});

test('a present CivitAI model needs no API call at the next run (resolution cached)', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(40_000, 'civcache');
  const api = '/api/v1/model-versions/77';
  srv.routes.set(api, {
    token: CIVITAI_TOKEN,
    json: { id: 77, model: { type: 'Checkpoint' }, files: [{ name: 'm.safetensors', primary: true, downloadUrl: `${srv.base}/dl/77`, hashes: { SHA256: d.sha256 }, sizeKB: 39.0625 }] },
  });
  srv.routes.set('/dl/77', { data: d.data, token: CIVITAI_TOKEN });
  const env = { CIVITAI_TOKEN, CIVITAI_API_BASE: `${srv.base}/api/v1`, CIVITAI_MODELS: '77' };
  const args = ['--manifest', join(dir, 'none.json'), '--models-dir', join(dir, 'models')];
  const first = await runFetcher(args, env);
  t.is(first.exitCode, 0, first.all);
  t.true((await readFile(join(dir, 'models', 'checkpoints', 'm.safetensors'))).equals(d.data), 'folder guessed from the model type');
  srv.routes.set(api, { status: 500 });
  const second = await runFetcher(args, env);
  t.is(second.exitCode, 0, second.all);
  t.regex(second.all ?? '', /verified earlier \(cached\)/);
  t.is(srv.stats(api).requests, 1, 'no API call the second time');
  t.false(`${first.all}${second.all}${await allText(dir)}`.includes(CIVITAI_TOKEN));
});
