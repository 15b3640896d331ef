// Which host gets a token. The fetcher runs with http_proxy pointing at the
// test server, so URLs can name civitai.com, evilcivitai.com, ... without
// DNS; the server records what each host/path received.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CIVITAI_TOKEN, HF_TOKEN, runFetcher, urlModel, withServer, writeManifest } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';
import { allText, tempDir } from './helpers/util.ts';

test('MODEL_URLS: a token goes to its host and true subdomains only (dot boundary), never to look-alikes', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(10_000, 'auth');
  srv.routes.set('/m.safetensors', { data: d.data });
  const hosts: [string, string | undefined][] = [
    ['civitai.com', `Bearer ${CIVITAI_TOKEN}`],
    ['cdn.civitai.com', `Bearer ${CIVITAI_TOKEN}`],
    ['evilcivitai.com', undefined],
    ['civitai.com.evil.net', undefined],
    ['huggingface.co', `Bearer ${HF_TOKEN}`],
    ['hf.co', `Bearer ${HF_TOKEN}`],
    ['evilhuggingface.co', undefined],
    ['example.com', undefined],
  ];
  const urls = hosts.map(([h], i) => `loras/m${i}.safetensors:http://${h}/m.safetensors#sha256=${d.sha256}`).join(' ');
  const r = await runFetcher(['--manifest', join(dir, 'none.json'), '--models-dir', join(dir, 'models')], {
    HF_TOKEN,
    CIVITAI_TOKEN,
    MODEL_URLS: urls,
    http_proxy: srv.base,
  });
  t.is(r.exitCode, 0, r.all);
  for (const [host, want] of hosts) t.deepEqual(srv.stats(`${host}/m.safetensors`).authorization, [want], host);
  t.false(`${r.all}${await allText(dir)}`.includes(HF_TOKEN) || `${r.all}`.includes(CIVITAI_TOKEN), 'no token printed');
});

test('HF_ENDPOINT and CIVITAI_API_BASE: their exact host gets the token, not its subdomains', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(10_000, 'mirror');
  srv.routes.set('/o/r/resolve/main/x.safetensors', { data: d.data });
  srv.routes.set('/y.safetensors', { data: d.data });
  const r = await runFetcher(['--manifest', join(dir, 'none.json'), '--models-dir', join(dir, 'models')], {
    HF_TOKEN,
    HF_ENDPOINT: 'http://hf-mirror.internal',
    HF_MODELS: 'vae:o/r/x.safetensors',
    MODEL_URLS: `vae/y.safetensors:http://sub.hf-mirror.internal/y.safetensors#sha256=${d.sha256}`,
    http_proxy: srv.base,
  });
  t.is(r.exitCode, 0, r.all);
  t.deepEqual(srv.stats('hf-mirror.internal/o/r/resolve/main/x.safetensors').authorization, [`Bearer ${HF_TOKEN}`]);
  t.deepEqual(srv.stats('sub.hf-mirror.internal/y.safetensors').authorization, [undefined]);
});

test('segmented, with redirects: every request to the service carries the token, none to the CDN it redirects to', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const big = makeData(4 * 1024 * 1024, 'cdn');
  // civitai.com/api/download -> 302 -> cdn.civitai.com (a true subdomain, but another host: no token).
  srv.routes.set('/api/download/models/5', { token: CIVITAI_TOKEN, redirect: 'http://cdn.civitai.com/signed/5?sig=SIGNATURE123' });
  srv.routes.set('/signed/5', { data: big.data });
  // A same-origin redirect (HF renamed repo) keeps it.
  srv.routes.set('/old/repo/resolve/main/w.safetensors', { token: HF_TOKEN, redirect: '/new/repo/resolve/main/w.safetensors' });
  srv.routes.set('/new/repo/resolve/main/w.safetensors', { token: HF_TOKEN, data: big.data });
  const manifest = await writeManifest(dir, [
    urlModel('civ', 'http://civitai.com/api/download/models/5', 'loras', 'c.safetensors', big.sha256, big.data.length, 'CIVITAI_TOKEN'),
    { ...urlModel('hf', 'http://huggingface.co/old/repo/resolve/main/w.safetensors', 'loras', 'w.safetensors', big.sha256, big.data.length, 'HF_TOKEN'), source: 'hf' },
  ]);
  const r = await runFetcher(['--manifest', manifest, '--models-dir', join(dir, 'models'), '--min-segment-mb', '1'], {
    HF_TOKEN,
    CIVITAI_TOKEN,
    http_proxy: srv.base,
  });
  t.is(r.exitCode, 0, r.all);
  const api = srv.stats('civitai.com/api/download/models/5');
  t.is(api.requests, 4, 'one request per segment');
  t.deepEqual(new Set(api.authorization), new Set([`Bearer ${CIVITAI_TOKEN}`]));
  const cdn = srv.stats('cdn.civitai.com/signed/5');
  t.is(cdn.requests, 4);
  t.deepEqual(new Set(cdn.authorization), new Set([undefined]), 'the CDN never sees the token');
  t.is(cdn.ranges.length, 4, 'ranges survive the redirect');
  t.deepEqual(new Set(srv.stats('huggingface.co/new/repo/resolve/main/w.safetensors').authorization), new Set([`Bearer ${HF_TOKEN}`]));
  t.true((await readFile(join(dir, 'models', 'loras', 'c.safetensors'))).equals(big.data));
  t.false(`${r.all}${await allText(dir)}`.includes('SIGNATURE123'), 'signed query parameters are redacted');
});
