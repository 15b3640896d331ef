// The fetcher's whole-repo HF_MODELS form against a loopback Hub (test/helpers/fake-hub.ts).
import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeHub } from '../helpers/fake-hub.ts';
import { HF_TOKEN, runFetcher } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';
import { allText, listFiles, tempDir } from './helpers/util.ts';

test('a whole repo: the selected files land in <folder>/<repo>/<path>, fetched at once, each verified; a bad file, a gated repo and a bad entry fail alone', async (t) => {
  const dir = await tempDir(t);
  const models = join(dir, 'models');
  const hub = await FakeHub.start(t);
  const flux = makeData(300_000, 'flux');
  const ae = makeData(200_000, 'ae');
  const config = Buffer.from('{"hidden": 8}\n');
  const fluxSha = hub.commit(
    'acme/flux',
    [
      { path: '.gitattributes', data: Buffer.from('*.safetensors filter=lfs\n'), lfs: false },
      { path: 'README.md', data: Buffer.from('# flux\n'), lfs: false },
      { path: 'flux1.safetensors', data: flux.data },
      { path: 'flux1-fp32.safetensors', data: makeData(1000, 'fp32').data },
      { path: 'text_encoder/config.json', data: config, lfs: false },
      { path: 'vae/ae.safetensors', data: ae.data },
    ],
    { pageSize: 2 },
  );
  // The three selected files answer only once all three are being downloaded: proof they are fetched in parallel.
  for (const p of ['flux1.safetensors', 'text_encoder/config.json', 'vae/ae.safetensors']) hub.srv.routes.get(`/acme/flux/resolve/${fluxSha}/${p}`)!.barrier = { key: 'flux', n: 3 };
  const good = makeData(50_000, 'good');
  const badSha = hub.commit('acme/bad', [
    { path: 'good.safetensors', data: good.data },
    { path: 'x.safetensors', data: makeData(60_000, 'x').data },
  ]);
  hub.srv.routes.get(`/acme/bad/resolve/${badSha}/x.safetensors`)!.corrupt = true;
  hub.commit('acme/gated', [{ path: 'g.safetensors', data: makeData(10_000, 'g').data }], { token: HF_TOKEN });

  const report = join(dir, 'report.json');
  const env = {
    HF_ENDPOINT: hub.endpoint,
    HF_MODELS: [
      'diffusion_models:acme/flux[include=*.safetensors,text_encoder/;exclude=*fp32*]',
      `loras:acme/bad@${badSha}[]`,
      'vae:acme/gated[]',
      'vae:acme/flux[size=big]',
    ].join(' '),
  };
  const r = await runFetcher(['--manifest', join(dir, 'none.json'), '--models-dir', models, '--report', report], env);
  t.log(r.all);
  t.is(r.exitCode, 1, 'some files failed');
  const got = async (rel: string) => readFile(join(models, rel)).catch(() => undefined);
  t.true((await got('diffusion_models/flux/flux1.safetensors'))?.equals(flux.data));
  t.true((await got('diffusion_models/flux/vae/ae.safetensors'))?.equals(ae.data));
  t.true((await got('diffusion_models/flux/text_encoder/config.json'))?.equals(config));
  t.true((await got('loras/bad/good.safetensors'))?.equals(good.data));
  t.deepEqual(
    (await listFiles(models)).filter((p) => !p.startsWith('.kiln/')),
    ['diffusion_models/flux/flux1.safetensors', 'diffusion_models/flux/text_encoder/config.json', 'diffusion_models/flux/vae/ae.safetensors', 'loras/bad/good.safetensors'],
    'README, .gitattributes, the excluded fp32 file, the corrupt file and the gated repo are not there',
  );
  t.true(hub.srv.maxOpenAll() >= 3, 'the repo files were fetched at the same time');
  const out = r.all ?? '';
  t.regex(out, /'acme\/bad\/x\.safetensors' \(loras\/bad\/x\.safetensors\).*sha256 mismatch/, 'each file is verified by the LFS sha256');
  t.regex(out, /vae\/gated\/\*.*acme\/gated is a gated repo: accept its license on http:\/\/127\.0\.0\.1:\d+\/acme\/gated and set HF_TOKEN \(HTTP 401\)/);
  t.regex(out, /INVALID HF_MODELS entry 'vae:acme\/flux\[size=big\]': 'size=big' is not include=<globs> or exclude=<globs>/);
  // Downloads name the commit, not the branch.
  t.is(hub.srv.stats(`/acme/flux/resolve/${fluxSha}/flux1.safetensors`).requests, 1);
  t.true(hub.srv.seen.some((l) => l.includes(`/tree/${fluxSha}?recursive=true&cursor=2 `)), 'the listing pages were followed');
  const rep = JSON.parse(await readFile(report, 'utf8')) as { missing: string[] };
  t.deepEqual([...rep.missing].sort(), ['loras/bad/x.safetensors', 'vae/gated/*']);

  // With the token: the gated repo lists and downloads, the token goes to the Hub host only, and nothing prints it.
  const again = await runFetcher(['--manifest', join(dir, 'none.json'), '--models-dir', models], { HF_ENDPOINT: hub.endpoint, HF_TOKEN, HF_MODELS: 'vae:acme/gated[]' });
  t.is(again.exitCode, 0, again.all);
  t.true(existsSync(join(models, 'vae/gated/g.safetensors')));
  t.deepEqual(hub.srv.stats('/api/models/acme/gated/revision/main').authorization.at(-1), `Bearer ${HF_TOKEN}`);
  t.false(`${r.all}${again.all}${await allText(dir)}`.includes(HF_TOKEN));
});
