import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { allowedCudaVersions, runpodTemplate, type RunpodInput, type RunpodPod, type RunpodTemplate } from '../src/emit/runpod.ts';
import { RUNPOD_CUDA_VERSIONS, RUNPOD_GPU_TYPE_IDS } from '../src/facts/runpod.ts';
import { repoRoot } from './helpers/fixtures.ts';
import { reservePort } from './helpers/ports.ts';

const KEY = 'rpa_TESTKEY0123456789abcdefghijklmnopqrstuv';
const HF = 'hf_SECRETHFTOKEN0123456789abcdefghij';

const baseEnv = (): Record<string, string> => ({ PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' });
const kiln = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd: repoRoot, reject: false, env: { ...baseEnv(), ...env }, extendEnv: false, timeout: 60_000 });

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback stand-in for the RunPod REST API; `reply` decides status and body. Closed by teardown. */
async function fakeApi(t: { teardown: (f: () => void | Promise<void>) => void }, reply: (req: Seen) => { status: number; body: string }) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(r.body);
    });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(
    () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  );
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen };
}

/** Every string in a JSON value, recursively. */
const strings = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(strings) : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : [];

/** Anything shaped like a credential: known prefixes, or a long unbroken run of token characters. */
const TOKEN_LIKE = /\b(hf_[A-Za-z0-9]{8,}|rpa_[A-Za-z0-9]{8,}|sk-[A-Za-z0-9]{8,}|[A-Za-z0-9_]{32,})\b/;

const noKey = (t: { false: (b: boolean, m?: string) => void }, r: { stdout: string; stderr: string }) => {
  t.false(r.stdout.includes(KEY), 'key in stdout');
  t.false(r.stderr.includes(KEY), 'key in stderr');
  t.false((r.stdout + r.stderr).includes(KEY.slice(4)), 'key fragment in output');
};

test('kiln runpod sd15-basic --gpu rtx5090: valid template JSON without any secret', async (t) => {
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090'], { HF_TOKEN: HF, CIVITAI_TOKEN: HF, RUNPOD_API_KEY: KEY });
  t.is(r.exitCode, 0, r.stderr);
  const tpl = JSON.parse(r.stdout) as RunpodTemplate;
  t.is(tpl.name, 'kiln-sd15-basic-rtx5090');
  t.is(tpl.imageName, 'kiln/sd15-basic:rtx5090-dev');
  t.deepEqual(tpl.ports, ['8188/http', '8080/http', '8888/http', '9188/http', '22/tcp']);
  t.regex(tpl.readme, /\| 9188\/http \| Kiln status, JSON \(GET \/status; ENABLE_STATUS\) \|/);
  // The pod features of issue 16, with start.sh's defaults.
  t.like(tpl.env, {
    ENABLE_MANAGER_UI: 'false',
    ENABLE_STATUS: 'true',
    NUKE_ON_STOP: 'false',
    NUKE_MODELS: 'false',
    PRIVACY_MODE: 'false',
    PARANOID_MODE: 'false',
    KILN_USER: '',
    COMFY_PERF_FLAGS: '',
  });
  t.is(tpl.containerDiskInGb, 40);
  t.is(tpl.volumeInGb, 100);
  t.is(tpl.volumeMountPath, '/workspace');
  t.false(tpl.isServerless);
  t.is(tpl.env.HF_TOKEN, '{{ RUNPOD_SECRET_HF_TOKEN }}');
  t.is(tpl.env.CIVITAI_TOKEN, '{{ RUNPOD_SECRET_CIVITAI_TOKEN }}');
  t.is(tpl.env.FILEBROWSER_PASSWORD, '{{ RUNPOD_SECRET_FILEBROWSER_PASSWORD }}');
  t.is(tpl.env.JUPYTER_TOKEN, '{{ RUNPOD_SECRET_JUPYTER_TOKEN }}');
  t.is(tpl.env.PUBLIC_KEY, '');
  for (const v of Object.values(tpl.env)) t.true(v === '' || /^\{\{ RUNPOD_SECRET_[A-Z_]+ \}\}$/.test(v) || v.length < 16, `env value ${v}`);
  // Secret references are names, not values: take them out, then nothing may look like a credential.
  for (const s of strings(tpl)) t.notRegex(s.replace(/\{\{ RUNPOD_SECRET_[A-Z_]+ \}\}/g, ''), TOKEN_LIKE);
  t.false(r.stdout.includes(HF));
  noKey(t, r);
  // The readme is generated from the template.
  t.regex(tpl.readme, /^# sd15-basic \(RTX 5090\)/);
  t.regex(tpl.readme, /Stable Diffusion 1\.5/);
  t.regex(tpl.readme, /\| checkpoints\/v1-5-pruned-emaonly-fp16\.safetensors \| <https:\/\/huggingface\.co\/Comfy-Org\//);
  t.regex(tpl.readme, /rgthree-comfy\]\(https:\/\/github\.com\/rgthree\/rgthree-comfy\)@32142fe\b/);
  t.regex(tpl.readme, /GPU: RTX 5090 \(sm_120\)/);
  // The template cannot carry the host CUDA constraint (REST v1): the readme says what to pick, from the profile's 12.8.1.
  t.regex(tpl.readme, /- Host CUDA: 12\.8, 12\.9, 13\.0 \(older drivers refuse the image\)\. A template cannot restrict it/);
  t.false('allowedCudaVersions' in tpl, 'POST /v1/templates has no such field (TemplateCreateInput)');
  t.regex(tpl.readme, /Features: none/);
  t.regex(tpl.readme, /\| HF_TOKEN \| `\{\{ RUNPOD_SECRET_HF_TOKEN \}\}` \|/);
});

test('image name from REGISTRY/TAG env or flags; the template\'s own ports and env; --gpu required when it has two', async (t) => {
  const r = await kiln(['runpod', 'llm-prompt', '--gpu', 'rtx4090', '--tag', '1.2.3'], { REGISTRY: 'ghcr.io/acme', TAG: 'ignored' });
  t.is(r.exitCode, 0, r.stderr);
  const tpl = JSON.parse(r.stdout) as RunpodTemplate;
  t.is(tpl.imageName, 'ghcr.io/acme/llm-prompt:rtx4090-1.2.3');
  t.deepEqual(tpl.ports, ['8188/http', '8080/http', '8888/http', '9188/http', '8081/http', '22/tcp']);
  t.is(tpl.env.ENABLE_LLM, 'true');
  t.regex(tpl.readme, /Features: llama/);
  const two = await kiln(['runpod', 'sd15-basic']);
  t.is(two.exitCode, 2);
  t.regex(two.stderr, /choose one with --gpu \(rtx4090\|rtx5090\)/);
  const unknown = await kiln(['runpod', 'nope', '--gpu', 'rtx5090']);
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /unknown template "nope" \(templates: .*sd15-basic/);
});

test('--out FILE writes the JSON', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-runpod-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'sd15.json');
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx4090', '--out', out]);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, '');
  t.is((JSON.parse(readFileSync(out, 'utf8')) as RunpodTemplate).name, 'kiln-sd15-basic-rtx4090');
});

const input = (o: Partial<RunpodInput> = {}): RunpodInput => ({
  template: 'demo',
  description: 'demo',
  gpu: { name: 'rtx5090', title: 'RTX 5090', sm: 'sm_120', cuda: '12.8.1', torch: '2.7.1' },
  imageName: 'r/demo:rtx5090-dev',
  ports: [],
  env: {},
  features: [],
  attention: '',
  models: [],
  nodes: [],
  disk: { containerGb: 40, volumeGb: 100 },
  ...o,
});

test('renderer: disk from the template, tcp ports after http, secret names in a template env become placeholders', (t) => {
  const tpl = runpodTemplate(
    input({
      disk: { containerGb: 80, volumeGb: 250 },
      ports: [{ port: 7000, protocol: 'tcp', name: 'x' }, { port: 8188, protocol: 'http', name: 'dup' }],
      env: { HF_TOKEN: 'hf_literal_should_not_pass', LOG_LEVEL: 'info' },
    }),
  );
  t.is(tpl.containerDiskInGb, 80);
  t.is(tpl.volumeInGb, 250);
  t.deepEqual(tpl.ports, ['8188/http', '8080/http', '8888/http', '9188/http', '22/tcp', '7000/tcp']);
  t.is(tpl.env.HF_TOKEN, '{{ RUNPOD_SECRET_HF_TOKEN }}');
  t.is(tpl.env.LOG_LEVEL, 'info');
  t.deepEqual(Object.keys(tpl.env), [...Object.keys(tpl.env)].sort());
});

test('renderer: a service moved by its port variable in the template env is published where it listens', (t) => {
  const tpl = runpodTemplate(input({ env: { COMFYUI_PORT: '8189', STATUS_PORT: '9300', SSH_PORT: '2222' } }));
  t.deepEqual(tpl.ports, ['8189/http', '8080/http', '8888/http', '9300/http', '2222/tcp']);
  t.regex(tpl.readme, /\| 8189\/http \| ComfyUI \|/);
});

test('--deploy POSTs the template to <base>/templates with Bearer auth and prints the id', async (t) => {
  const api = await fakeApi(t, () => ({ status: 200, body: JSON.stringify({ id: 'tpl_abc123', name: 'kiln-sd15-basic-rtx5090' }) }));
  const printed = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090']);
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--deploy', '--verbose'], { RUNPOD_API_KEY: KEY, RUNPOD_API_BASE: api.base });
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, 'tpl_abc123');
  t.is(api.seen.length, 1);
  const req = api.seen[0]!;
  t.is(req.method, 'POST');
  t.is(req.url, '/v1/templates');
  t.is(req.headers.authorization, `Bearer ${KEY}`);
  t.is(req.headers['content-type'], 'application/json');
  t.deepEqual(JSON.parse(req.body), JSON.parse(printed.stdout));
  t.regex(r.stderr, /Authorization: Bearer \*\*\*/);
  noKey(t, r);
});

test('--deploy without RUNPOD_API_KEY: clear error, no request', async (t) => {
  const api = await fakeApi(t, () => ({ status: 200, body: '{"id":"x"}' }));
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--deploy'], { RUNPOD_API_BASE: api.base });
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /--deploy needs RUNPOD_API_KEY/);
  t.is(api.seen.length, 0);
});

test('--deploy with a bad key (401): says so, never shows the key even when the server echoes it', async (t) => {
  const api = await fakeApi(t, (req) => ({ status: 401, body: JSON.stringify({ error: 'invalid api key', got: req.headers.authorization }) }));
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--deploy', '--verbose'], { RUNPOD_API_KEY: KEY, RUNPOD_API_BASE: api.base });
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /RunPod refused the API key \(401 Unauthorized\): check RUNPOD_API_KEY/);
  t.is(r.stdout, '');
  noKey(t, r);
});

test('--deploy rejected with a validation body (400): the body is shown (key redacted)', async (t) => {
  const body = JSON.stringify({ error: 'validation failed', details: [{ field: 'name', message: 'template name already in use' }], echo: KEY });
  const api = await fakeApi(t, () => ({ status: 400, body }));
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--deploy'], { RUNPOD_API_KEY: KEY, RUNPOD_API_BASE: api.base });
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /RunPod rejected the template \(400 Bad Request\)/);
  t.regex(r.stderr, /template name already in use/);
  t.regex(r.stderr, /"echo":"\*\*\*"/);
  noKey(t, r);
});

test('--deploy against a server error (500) and a 2xx without id', async (t) => {
  let n = 0;
  const api = await fakeApi(t, () => (n++ === 0 ? { status: 500, body: 'upstream exploded' } : { status: 200, body: '{"ok":true}' }));
  const env = { RUNPOD_API_KEY: KEY, RUNPOD_API_BASE: api.base };
  const a = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--deploy'], env);
  t.is(a.exitCode, 1);
  t.regex(a.stderr, /RunPod API error \(500 Internal Server Error\).*\n.*upstream exploded/);
  const b = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--deploy'], env);
  t.is(b.exitCode, 1);
  t.regex(b.stderr, /no template id/);
  noKey(t, a);
  noKey(t, b);
});

test('--deploy when nothing listens (connection refused): names the URL and the cause', async (t) => {
  // A reserved port nothing binds (a just-freed one could be taken by another test meanwhile).
  const port = await reservePort();
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--deploy', '--verbose'], {
    RUNPOD_API_KEY: KEY,
    RUNPOD_API_BASE: `http://127.0.0.1:${port}/v1`,
  });
  t.is(r.exitCode, 1);
  t.regex(r.stderr, new RegExp(`cannot reach the RunPod API at http://127\\.0\\.0\\.1:${port}/v1/templates \\(ECONNREFUSED`));
  noKey(t, r);
});

test('allowedCudaVersions: RunPod versions >= the image\'s major.minor, ascending, compared as versions', (t) => {
  // 12.8.1 images gate on cuda>=12.8 (NVIDIA_REQUIRE_CUDA): a 12.8 host is fine, 12.7 is not.
  t.deepEqual(allowedCudaVersions('12.8.1'), ['12.8', '12.9', '13.0']);
  t.deepEqual(allowedCudaVersions('12.8'), ['12.8', '12.9', '13.0']);
  t.deepEqual(allowedCudaVersions('13.0.2'), ['13.0']);
  t.deepEqual(allowedCudaVersions('12.4.1'), ['12.4', '12.5', '12.6', '12.7', '12.8', '12.9', '13.0']);
  t.deepEqual(allowedCudaVersions('11.8.0'), [...RUNPOD_CUDA_VERSIONS].reverse());
  // As versions, not strings: "12.10" > "12.9" (a string comparison says the opposite).
  t.deepEqual(allowedCudaVersions('12.9.1', ['12.10', '12.9', '12.8', '12.1']), ['12.9', '12.10']);
  t.deepEqual(allowedCudaVersions('12.2.0', ['12.10', '12.9', '12.1']), ['12.9', '12.10']);
});

test('allowedCudaVersions: an image newer than every RunPod version is refused (an empty list would mean "any host")', (t) => {
  const e = t.throws(() => allowedCudaVersions('13.2.1'));
  t.regex(e.message, /no CUDA version RunPod lists \(13\.0, 12\.9, .*\) is >= 13\.2, the image's CUDA \(13\.2\.1\)/);
  t.regex(e.message, /src\/facts\/runpod\.ts/);
  t.throws(() => allowedCudaVersions('cuda-twelve'), { message: /CUDA version "cuda-twelve" of the GPU profile is not a version/ });
});

test('RunPod facts: every CUDA version parses; the GPU profiles\' titles name RunPod GPU types', async (t) => {
  for (const v of RUNPOD_CUDA_VERSIONS) t.regex(v, /^\d+\.\d+$/);
  for (const gpu of ['rtx4090', 'rtx5090']) {
    const { default: def } = (await import(`../base/${gpu}.ts`)) as { default: { title: string } };
    t.truthy(RUNPOD_GPU_TYPE_IDS[def.title], `${gpu}: title "${def.title}" is no RunPod display name`);
  }
  t.is(RUNPOD_GPU_TYPE_IDS['RTX 5090'], 'NVIDIA GeForce RTX 5090');
});

test('--pod --template-id: the documented pod create body, hosts limited to CUDA >= the profile\'s', async (t) => {
  const r = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx4090', '--pod', '--template-id', 'tpl_abc123']);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout) as RunpodPod, {
    name: 'kiln-sd15-basic-rtx4090',
    templateId: 'tpl_abc123',
    gpuTypeIds: ['NVIDIA GeForce RTX 4090'],
    gpuCount: 1,
    allowedCudaVersions: ['12.8', '12.9', '13.0'],
  });
  const other = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx4090', '--pod', '--template-id', 'x', '--gpu-type', 'NVIDIA L40S', '--name', 'mine']);
  t.is(other.exitCode, 0, other.stderr);
  t.like(JSON.parse(other.stdout), { name: 'mine', gpuTypeIds: ['NVIDIA L40S'] });
});

test('--pod without --template-id, and --template-id without --pod: exit 2, say what to pass', async (t) => {
  const a = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--pod']);
  t.is(a.exitCode, 2);
  t.regex(a.stderr, /--pod: needs --template-id ID, the id `kiln runpod <template> --gpu G --deploy` printed/);
  const b = await kiln(['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--gpu-type', 'NVIDIA L4']);
  t.is(b.exitCode, 2);
  t.regex(b.stderr, /--gpu-type only applies with --pod/);
});

test('--pod --deploy POSTs the pod to <base>/pods and prints its id; the key never shows', async (t) => {
  const api = await fakeApi(t, () => ({ status: 201, body: JSON.stringify({ id: 'pod_xyz', desiredStatus: 'RUNNING' }) }));
  const args = ['runpod', 'sd15-basic', '--gpu', 'rtx5090', '--pod', '--template-id', 'tpl_abc123'];
  const printed = await kiln(args);
  const r = await kiln([...args, '--deploy', '--verbose'], { RUNPOD_API_KEY: KEY, RUNPOD_API_BASE: api.base });
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, 'pod_xyz');
  t.is(api.seen.length, 1);
  t.is(api.seen[0]!.url, '/v1/pods');
  t.is(api.seen[0]!.headers.authorization, `Bearer ${KEY}`);
  t.deepEqual(JSON.parse(api.seen[0]!.body), JSON.parse(printed.stdout));
  t.regex(r.stderr, /created RunPod pod kiln-sd15-basic-rtx5090 \(template tpl_abc123\)/);
  noKey(t, r);
});
