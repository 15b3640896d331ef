/**
 * `kiln lock` end to end against loopback fakes of the Hugging Face Hub and
 * the CivitAI API (test/helpers/fake-hub.ts, two servers so the two tokens'
 * hosts differ): a template without a hash gets its lock, `generate` accepts
 * it, `--check` names what moved upstream, and API failures (gated, 404,
 * 429) name the template, the model and what to do, writing nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { digestDir } from '../src/dsl/load.ts';
import { FakeHub, type HubFile } from './helpers/fake-hub.ts';
import { repoRoot, tempRepo } from './helpers/fixtures.ts';

const HF_TOKEN = 'hf_LOCKtestTOKEN0123456789abcdefABCD';
const CIVITAI_TOKEN = 'civ_LOCKtestTOKEN9876543210';
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const bytes = (n: number, seed: string): Buffer => Buffer.concat(Array.from({ length: Math.ceil(n / 64) }, (_, i) => createHash('sha512').update(`${seed}${i}`).digest())).subarray(0, n);

const kiln = (cwd: string, args: string[], env: Record<string, string>) =>
  execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], {
    cwd,
    reject: false,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
    extendEnv: false,
    timeout: 120_000,
  });

/** A UI-format workflow whose loaders load these (node type, widget value) pairs. */
function workflow(loaders: readonly [string, string][]): string {
  const nodes = loaders.map(([type, value], i) => ({
    id: i + 1,
    type,
    pos: [0, i * 100],
    size: [300, 100],
    flags: {},
    order: i,
    mode: 0,
    properties: {},
    widgets_values: type === 'LoraLoader' ? [value, 1, 1] : type === 'UNETLoader' ? [value, 'default'] : [value],
  }));
  return JSON.stringify({ last_node_id: nodes.length, last_link_id: 0, nodes, links: [], groups: [], config: {}, extra: {}, version: 0.4 }, null, 2);
}

function addTemplate(root: string, name: string, models: string, workflows: Record<string, string> = {}): void {
  const dir = join(root, 'templates', name);
  mkdirSync(join(dir, 'workflows'), { recursive: true });
  writeFileSync(
    join(dir, 'template.ts'),
    `import rtx4090 from '../../base/rtx4090.ts';
import { civitai, defineTemplate, hf, hfRepo } from '../../src/dsl/index.ts';

export default defineTemplate({
  name: '${name}',
  description: 'models without a single hand-copied hash',
  gpus: [rtx4090],
  models: [
${models}
  ],
});
`,
  );
  for (const [file, text] of Object.entries(workflows)) writeFileSync(join(dir, 'workflows', file), text);
}

// acme/diffusion: LFS weights, a small config in git, and git's own .gitattributes.
const files = (ae: Buffer): HubFile[] => [
  { path: '.gitattributes', data: Buffer.from('*.safetensors filter=lfs\n'), lfs: false },
  { path: 'README.md', data: Buffer.from('# acme/diffusion\n'), lfs: false },
  { path: 'model.safetensors', data: bytes(3000, 'model') },
  { path: 'text_encoder/config.json', data: Buffer.from('{"hidden": 8}\n'), lfs: false },
  { path: 'text_encoder/model.safetensors', data: bytes(2000, 'te') },
  { path: 'vae/ae.safetensors', data: ae },
];

test('lock pins an HF file, a whole repo and a CivitAI version; generate accepts the template; --check names what moved upstream', async (t) => {
  const hub = await FakeHub.start(t);
  const civ = await FakeHub.start(t);
  const ae1 = bytes(1500, 'ae-1');
  const first = hub.commit('acme/diffusion', files(ae1), { pageSize: 3 });
  const lora = bytes(1200, 'lora');
  const civitaiBase = civ.civitai(4242, 'detail_lora.safetensors', lora, { token: CIVITAI_TOKEN });
  const env = { HF_ENDPOINT: hub.endpoint, CIVITAI_API_BASE: civitaiBase, HF_TOKEN, CIVITAI_TOKEN };
  // The Hub sends the small config from another host (as it sends files from its CDNs): the token must not follow.
  const config = files(ae1).find((f) => f.path === 'text_encoder/config.json')!.data;
  hub.srv.routes.set(`/acme/diffusion/resolve/${first}/text_encoder/config.json`, { redirect: `${civ.endpoint}/cdn/config.json` });
  civ.srv.routes.set('/cdn/config.json', { data: config });

  const repo = tempRepo();
  t.teardown(repo.cleanup);
  addTemplate(
    repo.root,
    'locked-demo',
    `    hf('acme/diffusion', 'model.safetensors', { into: 'checkpoints' }),
    hfRepo('acme/diffusion', { into: 'diffusion_models', include: ['*.safetensors', 'text_encoder/'], exclude: ['model.safetensors'] }),
    civitai(4242, { into: 'loras' }),`,
    {
      'flow.json': workflow([
        ['CheckpointLoaderSimple', 'model.safetensors'],
        ['UNETLoader', 'diffusion/vae/ae.safetensors'],
        ['LoraLoader', 'detail_lora.safetensors'],
      ]),
    },
  );
  const lockPath = join(repo.root, 'templates/locked-demo/models.lock.json');

  // Before the lock: not pinned, and the fix says how.
  const before = await kiln(repo.root, ['generate', '--check'], {});
  t.is(before.exitCode, 2, before.stderr);
  t.regex(before.stderr, /templates\/locked-demo\/template\.ts: template "locked-demo", field models\[0\]: is not pinned.*\n {2}fix: run `npx kiln lock locked-demo`/);
  t.regex(before.stderr, /field models\[1\]: is not locked/);

  const locked = await kiln(repo.root, ['lock', 'locked-demo'], env);
  t.is(locked.exitCode, 0, locked.stderr);
  t.regex(locked.stdout, /wrote templates\/locked-demo\/models\.lock\.json \(3 models\)/);
  const lock = JSON.parse(readFileSync(lockPath, 'utf8')) as { '//': string; schema: number; models: Record<string, Record<string, unknown>> };
  t.regex(lock['//'], /GENERATED by `kiln lock`.*DO NOT EDIT/);
  const all = files(ae1);
  const of = (path: string) => all.find((f) => f.path === path)!.data;
  t.deepEqual(Object.keys(lock.models), [
    'civitai:4242',
    'hf-repo:acme/diffusion@main[include=*.safetensors,text_encoder/;exclude=model.safetensors]',
    'hf:acme/diffusion@main/model.safetensors',
  ]);
  t.deepEqual(lock.models['hf:acme/diffusion@main/model.safetensors'], {
    source: 'hf', repo: 'acme/diffusion', ref: 'main', file: 'model.safetensors', revision: first, sha256: sha256(of('model.safetensors')), bytes: 3000,
  });
  // The glob takes the .safetensors anywhere and everything below text_encoder/ (its config from git, hashed by the lock),
  // but not the root model.safetensors (excluded), README.md or the hidden .gitattributes.
  t.deepEqual(lock.models['hf-repo:acme/diffusion@main[include=*.safetensors,text_encoder/;exclude=model.safetensors]']!.files, [
    { path: 'text_encoder/config.json', sha256: sha256(of('text_encoder/config.json')), bytes: of('text_encoder/config.json').length },
    { path: 'text_encoder/model.safetensors', sha256: sha256(of('text_encoder/model.safetensors')), bytes: 2000 },
    { path: 'vae/ae.safetensors', sha256: sha256(ae1), bytes: 1500 },
  ]);
  t.deepEqual(lock.models['civitai:4242'], { source: 'civitai', versionId: 4242, file: 'detail_lora.safetensors', sha256: sha256(lora), sizeKB: 1200 / 1024 });
  // The pages of the tree were followed.
  t.true(hub.srv.seen.some((l) => l.includes(`/tree/${first}?recursive=true&cursor=1 `)), 'page 2 of the tree was asked for');

  // generate accepts it; the manifest has the pinned URLs, sums and the repo's layout; the workflow check found every file.
  const gen = await kiln(repo.root, ['generate'], {});
  t.is(gen.exitCode, 0, gen.stderr);
  const manifest = JSON.parse(readFileSync(join(repo.root, 'bake/manifests/locked-demo/models.json'), 'utf8')) as { models: Record<string, unknown>[] };
  t.deepEqual(
    manifest.models.map((m) => [m.id, m.into, m.file, m.sha256, m.bytes, m.url ?? m.versionId]),
    [
      ['checkpoints/model.safetensors', 'checkpoints', 'model.safetensors', sha256(of('model.safetensors')), 3000, `https://huggingface.co/acme/diffusion/resolve/${first}/model.safetensors`],
      ['diffusion_models/diffusion/text_encoder/config.json', 'diffusion_models/diffusion/text_encoder', 'config.json', sha256(of('text_encoder/config.json')), of('text_encoder/config.json').length, `https://huggingface.co/acme/diffusion/resolve/${first}/text_encoder/config.json`],
      ['diffusion_models/diffusion/text_encoder/model.safetensors', 'diffusion_models/diffusion/text_encoder', 'model.safetensors', sha256(of('text_encoder/model.safetensors')), 2000, `https://huggingface.co/acme/diffusion/resolve/${first}/text_encoder/model.safetensors`],
      ['diffusion_models/diffusion/vae/ae.safetensors', 'diffusion_models/diffusion/vae', 'ae.safetensors', sha256(ae1), 1500, `https://huggingface.co/acme/diffusion/resolve/${first}/vae/ae.safetensors`],
      ['loras/detail_lora.safetensors', 'loras', 'detail_lora.safetensors', sha256(lora), null, 4242],
    ],
  );
  t.is((await kiln(repo.root, ['generate', '--check'], {})).exitCode, 0);
  const fresh = await kiln(repo.root, ['lock', 'locked-demo', '--check'], env);
  t.is(fresh.exitCode, 0, fresh.stderr);
  t.regex(fresh.stdout, /locks are up to date/);

  // Tokens: each only to its own API's origin, and nowhere in output or files.
  const hfAuth = hub.srv.seen.filter((l) => l.includes(HF_TOKEN)).length;
  t.true(hfAuth > 0, 'HF_TOKEN went to the Hub');
  t.false(hub.srv.seen.some((l) => l.includes(CIVITAI_TOKEN)), 'CIVITAI_TOKEN never went to the Hub');
  t.true(civ.srv.seen.some((l) => l.includes(CIVITAI_TOKEN)), 'CIVITAI_TOKEN went to CivitAI');
  t.false(civ.srv.seen.some((l) => l.includes(HF_TOKEN)), 'HF_TOKEN never went to CivitAI');
  const cdn = civ.srv.stats('/cdn/config.json').authorization;
  t.true(cdn.length > 0 && cdn.every((a) => a === undefined), 'a redirect to another host drops the token');
  const resolve = hub.srv.stats(`/acme/diffusion/resolve/${first}/text_encoder/config.json`).authorization;
  t.true(resolve.length > 0 && resolve.every((a) => a === `Bearer ${HF_TOKEN}`), 'the Hub itself gets it');
  const written = [readFileSync(lockPath, 'utf8'), ...digestDir(join(repo.root, 'bake')).map((f) => readFileSync(join(repo.root, 'bake', f.path), 'utf8'))].join('\n');
  for (const secret of [HF_TOKEN, CIVITAI_TOKEN]) {
    t.false(written.includes(secret), 'no token in the lock or bake/');
    t.false(`${locked.stdout}${locked.stderr}${gen.stdout}${gen.stderr}`.includes(secret), 'no token printed');
  }

  // Upstream changes: main moves to a commit whose vae differs. --check names template, models and file; writes nothing.
  const ae2 = bytes(1600, 'ae-2');
  const second = hub.commit('acme/diffusion', files(ae2));
  const lockText = readFileSync(lockPath, 'utf8');
  const drift = await kiln(repo.root, ['lock', 'locked-demo', '--check'], env);
  t.is(drift.exitCode, 1, drift.stderr);
  const at = 'templates/locked-demo/models.lock.json: template "locked-demo", ';
  t.true(drift.stderr.includes(`${at}models[0] hf("acme/diffusion", "model.safetensors"): main moved from ${first.slice(0, 12)} to ${second.slice(0, 12)}`), drift.stderr);
  t.true(drift.stderr.includes(`${at}models[1] hfRepo("acme/diffusion"): vae/ae.safetensors changed: sha256 ${sha256(ae1).slice(0, 12)}... -> ${sha256(ae2).slice(0, 12)}..., 1500 -> 1600 bytes`), drift.stderr);
  t.false(drift.stderr.includes('model.safetensors changed'), 'an unchanged file is not reported');
  t.is(readFileSync(lockPath, 'utf8'), lockText, '--check writes nothing');

  t.is((await kiln(repo.root, ['lock', 'locked-demo'], env)).exitCode, 0);
  t.regex(readFileSync(lockPath, 'utf8'), new RegExp(second));
  t.is((await kiln(repo.root, ['lock', 'locked-demo', '--check'], env)).exitCode, 0);
  // The bake/ manifest is stale until generate runs (generate --check says so).
  t.is((await kiln(repo.root, ['generate', '--check'], {})).exitCode, 1);
});

test('lock failures (gated repo, 404s, a rate limit that does not end) name template, model and fix; one 429 is retried; nothing is written', async (t) => {
  const hub = await FakeHub.start(t);
  const civ = await FakeHub.start(t);
  hub.commit('acme/gated', [{ path: 'g.safetensors', data: bytes(500, 'g') }], { token: HF_TOKEN });
  const busy = hub.commit('acme/busy', [{ path: 'b.safetensors', data: bytes(500, 'b') }]);
  // One 429 (Retry-After: 0), then the answer.
  hub.srv.routes.get('/api/models/acme/busy/revision/main')!.fail500 = 1;
  hub.srv.routes.get('/api/models/acme/busy/revision/main')!.failStatus = 429;
  // A rate limit that never lifts; Hugging Face's RateLimit header says when the window resets.
  hub.srv.routes.set('/api/models/acme/throttled/revision/main', { status: 429, headers: { RateLimit: '"api";r=0;t=0' } });
  const civitaiBase = `${civ.endpoint}/api/v1`;
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  addTemplate(
    repo.root,
    'broken-demo',
    `    hf('acme/gated', 'g.safetensors', { into: 'loras' }),
    hf('acme/nope', 'x.safetensors', { into: 'vae' }),
    civitai(999, { into: 'loras' }),
    hf('acme/throttled', 't.safetensors', { into: 'checkpoints' }),
    hf('acme/busy', 'b.safetensors', { into: 'checkpoints' }),`,
  );
  const bakeBefore = digestDir(join(repo.root, 'bake'));
  const r = await kiln(repo.root, ['lock', 'broken-demo'], { HF_ENDPOINT: hub.endpoint, CIVITAI_API_BASE: civitaiBase });
  t.is(r.exitCode, 2);
  const at = 'templates/broken-demo/template.ts: template "broken-demo", ';
  t.regex(r.stderr, /4 models could not be locked \(nothing was written\)/);
  t.true(r.stderr.includes(`${at}models[0] hf("acme/gated", "g.safetensors"): acme/gated is a gated repo: accept its license on ${hub.endpoint}/acme/gated with the account HF_TOKEN belongs to, and set HF_TOKEN (HTTP 401`), r.stderr);
  t.true(r.stderr.includes(`${at}models[1] hf("acme/nope", "x.safetensors"): acme/nope is not on ${hub.endpoint}: check the owner/name (HTTP 404`), r.stderr);
  t.true(r.stderr.includes(`${at}models[2] civitai(999): CivitAI has no published model version 999: check the number after modelVersionId=`), r.stderr);
  t.true(r.stderr.includes(`${at}models[3] hf("acme/throttled", "t.safetensors"): Hugging Face keeps rate-limiting: wait a while`), r.stderr);
  t.regex(r.stderr, /rate limited \(HTTP 429\) from \S+acme\/throttled\/revision\/main after 4 retries/);
  t.regex(r.stderr, /^kiln lock: rate limited \(HTTP 429\) from \S+\/acme\/busy\/revision\/main; retry 1\/4 in 0 s$/m, 'the retry is announced');
  t.false(r.stderr.includes('models[4]'), 'the model behind one 429 was locked');
  t.is(hub.srv.stats('/api/models/acme/throttled/revision/main').requests, 5, 'the first try and 4 retries, then a clear error');
  t.is(hub.srv.stats('/api/models/acme/busy/revision/main').requests, 2, 'one 429, then the answer');
  t.true(hub.srv.stats(`/api/models/acme/busy/tree/${busy}`).requests === 1);
  t.false(existsSync(join(repo.root, 'templates/broken-demo/models.lock.json')), 'nothing written');
  t.deepEqual(digestDir(join(repo.root, 'bake')), bakeBefore);

  // With a token whose account has not accepted the license: said so.
  const again = await kiln(repo.root, ['lock', 'broken-demo'], { HF_ENDPOINT: hub.endpoint, CIVITAI_API_BASE: civitaiBase, HF_TOKEN: 'hf_notTheRightOne0123456789' });
  t.is(again.exitCode, 2);
  t.regex(again.stderr, /acme\/gated is a gated repo: .* \(HF_TOKEN is set: its account has no access yet\) \(HTTP 403/);
  t.false(again.stderr.includes('hf_notTheRightOne0123456789'), 'the token is not printed');
});

test('lock on an unknown template, or a template whose definitions are broken, refuses before any request', async (t) => {
  const hub = await FakeHub.start(t);
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const unknown = await kiln(repo.root, ['lock', 'sd15-basik'], { HF_ENDPOINT: hub.endpoint });
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /no template "sd15-basik" \(did you mean "sd15-basic"\?\)/);
  addTemplate(repo.root, 'bad-demo', `    hfRepo('acme/diffusion', { into: 'diffusion_model' } as never),`);
  const bad = await kiln(repo.root, ['lock', 'bad-demo'], { HF_ENDPOINT: hub.endpoint });
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /templates\/bad-demo\/template\.ts: template "bad-demo", field models\[0\]\.into: "diffusion_model" is not a ComfyUI model folder/);
  t.is(hub.srv.seen.length, 0, 'no request was made');
});

test('a lock left behind by a template that no longer has a Hugging Face or CivitAI model: --check names it, lock removes it', async (t) => {
  const hub = await FakeHub.start(t);
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  addTemplate(repo.root, 'url-demo', `    { source: 'url', href: 'https://example.com/m.pth', into: 'upscale_models', file: 'm.pth', sha256: '${'a'.repeat(64)}' },`);
  const stale = join(repo.root, 'templates/url-demo/models.lock.json');
  writeFileSync(stale, JSON.stringify({ schema: 1, template: 'url-demo', models: {} }));
  const check = await kiln(repo.root, ['lock', 'url-demo', '--check'], { HF_ENDPOINT: hub.endpoint });
  t.is(check.exitCode, 1);
  t.regex(check.stderr, /^templates\/url-demo\/models\.lock\.json: template "url-demo", there is a lock, but template\.ts has no Hugging Face or CivitAI model to lock$/m);
  t.true(existsSync(stale), '--check writes nothing');
  const r = await kiln(repo.root, ['lock', 'url-demo'], { HF_ENDPOINT: hub.endpoint });
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /removed templates\/url-demo\/models\.lock\.json/);
  t.false(existsSync(stale));
  t.is(hub.srv.seen.length, 0, 'a url() model needs no API');
});
