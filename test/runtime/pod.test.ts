// Issue 16's pod controls against a fake ComfyUI in a temp workspace:
// ENABLE_MANAGER_UI applied by a restart, `comfyctl stop-pod`, `comfyctl nuke`
// and NUKE_ON_STOP, the status endpoint, the GPU check and COMFY_PERF_FLAGS.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, lstatSync, statSync } from 'node:fs';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeData, startServer } from './helpers/server.ts';
import { comfyctl, comfyPid, isAlive, launches, runStart, sandbox, servicePid, writeExec, writeManifest } from './helpers/start.ts';
import { listFiles, putFile as put, SCRIPTS, tempDir } from './helpers/util.ts';

async function getJson(port: number, path: string): Promise<{ status: number; text: string; json: any }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(15_000) });
  const text = await r.text();
  return { status: r.status, text, json: JSON.parse(text) };
}

const READY = 45_000; // generous: CI runs these beside engine builds on 2 cores

test('ENABLE_MANAGER_UI: off by default; comfyctl manager-ui on|off applies it through a restart; the env turns it on from the start', async (t) => {
  const s = await sandbox(t);
  // The Manager as the image has it: a legacy clone in custom_nodes/ (moved to custom_nodes.baked and linked).
  await put(join(s.comfy, 'custom_nodes', 'ComfyUI-Manager', '__init__.py'), '# stand-in\n');
  const flag = join(s.comfy, 'custom_nodes.baked', 'ComfyUI-Manager', '.enable-cli-only-mode');

  const run = runStart(t, s, { SKIP_MODEL_DOWNLOAD: 'true' });
  await run.waitLog(/ComfyUI ready in/, READY);
  t.regex(run.out(), /ComfyUI-Manager UI: off \(cli-only mode/);
  t.regex(run.out(), /GPU: \S+no-nvidia-smi not found .*GPU check skipped/, 'no nvidia-smi: the check says so and goes on');
  t.regex(run.out(), /status endpoint: off \(ENABLE_STATUS=false\)/);
  t.false(existsSync(join(s.run, 'services', 'status')));
  t.is((await launches(s))[0]?.manager_cli_only, true, 'first launch: the Manager finds its cli-only flag');
  t.true(existsSync(flag), 'the flag is in the Manager directory itself (where its __init__.py looks)');

  const on = await comfyctl(s, ['manager-ui', 'on']);
  t.is(on.exitCode, 0, on.all);
  t.regex(on.all ?? '', /ComfyUI restarted: pid \d+/);
  let l = await launches(s);
  t.is(l.length, 2);
  t.is(l[1]?.manager_cli_only, false, 'after `manager-ui on` + restart: no flag at launch');
  t.not(l[1]?.pid, l[0]?.pid);
  t.false(existsSync(flag));

  const off = await comfyctl(s, ['manager-ui', 'off', '--no-restart']);
  t.is(off.exitCode, 0, off.all);
  t.is((await launches(s)).length, 2, '--no-restart: ComfyUI keeps running as it is');
  t.false(existsSync(flag), 'nothing changes before the restart');
  const r = await comfyctl(s, ['restart']);
  t.is(r.exitCode, 0, r.all);
  l = await launches(s);
  t.is(l[2]?.manager_cli_only, true, 'the restart applies the change');
  t.regex((await comfyctl(s, ['manager-ui'])).all ?? '', /ComfyUI-Manager UI: off at the last ComfyUI start/);
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);

  // Same workspace, a new container with ENABLE_MANAGER_UI=true: on from the first launch.
  const again = runStart(t, s, { SKIP_MODEL_DOWNLOAD: 'true', ENABLE_MANAGER_UI: 'true', COMFY_ARGS: '--enable-manager' });
  await again.waitLog(/ComfyUI ready in/, READY);
  t.is((await launches(s))[3]?.manager_cli_only, false);
  t.regex(again.out(), /ComfyUI-Manager UI: on/);
  t.regex(again.out(), /COMFY_ARGS: --enable-manager\* \/ --disable-manager-ui drive ComfyUI's pip package comfyui_manager/);
  again.proc.kill('SIGTERM');
  t.is((await again.exited).code, 0);
});

test('comfyctl stop-pod ends start.sh and every child; NUKE_ON_STOP + NUKE_MODELS then delete user data and models', async (t) => {
  const s = await sandbox(t);
  const run = runStart(t, s, { SKIP_MODEL_DOWNLOAD: 'true', NUKE_ON_STOP: 'true', NUKE_MODELS: 'true', ENABLE_STATUS: 'true' });
  await run.waitLog(/ComfyUI ready in/, READY);
  const data = join(s.ws, 'ComfyUI');
  await put(join(data, 'output', 'a.png'));
  await put(join(data, 'models', 'checkpoints', 'm.safetensors'));
  await put(join(s.ws, 'notes.txt'), 'not in the nuke list');
  const comfy = await comfyPid(s);
  const statusPid = await servicePid(s, 'status');
  t.true(isAlive(statusPid), 'the status endpoint runs');

  const r = await comfyctl(s, ['stop-pod']);
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /start\.sh \(pid \d+\) has exited/);
  const ex = await run.exited;
  t.is(ex.code, 0, 'start.sh (the container entrypoint) exited: the container ends');
  for (const pid of [comfy, statusPid]) t.false(isAlive(pid), `child ${pid} ended`);
  const out = run.out();
  t.regex(out, /stop \(comfyctl stop-pod\): stopping ComfyUI and services/);
  t.regex(out, /NUKE_ON_STOP: ComfyUI was ready in this container; deleting nuke models/);
  t.false(existsSync(join(data, 'output', 'a.png')));
  t.false(existsSync(join(data, 'models', 'checkpoints')), 'NUKE_MODELS=true: the models went too');
  t.true(existsSync(join(data, 'output')), 'directories stay, only their contents go');
  t.true(existsSync(join(s.ws, 'notes.txt')));
  const record = JSON.parse(await readFile(join(s.ws, '.kiln', 'last-cleanup.json'), 'utf8'));
  t.is(record.trigger, 'comfyctl stop-pod, NUKE_ON_STOP');
  t.deepEqual(record.sets, 'nuke models');
  t.false(existsSync(join(s.run, 'supervisor.pid')));
  t.is((await comfyctl(s, ['stop-pod'])).exitCode, 1, 'nothing left to stop');
});

test('NUKE_ON_STOP: SIGTERM after a ready ComfyUI deletes user data and keeps models; after a start that never got ready it deletes nothing', async (t) => {
  // 1. ComfyUI crashes at every launch: never ready, so the data stays for debugging.
  const failed = await sandbox(t);
  const bad = runStart(t, failed, { SKIP_MODEL_DOWNLOAD: 'true', NUKE_ON_STOP: 'true', FAKE_COMFY_EXIT: '3' });
  await bad.waitLog(/ComfyUI exited with code 3 .*restart #1/, READY);
  await put(join(failed.ws, 'ComfyUI', 'output', 'keep.png'));
  await put(join(failed.ws, 'ComfyUI', 'user', 'default', 'comfy.settings.json'), '{}');
  bad.proc.kill('SIGTERM');
  t.is((await bad.exited).code, 0);
  t.regex(bad.out(), /NUKE_ON_STOP: ComfyUI never became ready in this container; nothing deleted \(kept for debugging\)/);
  t.notRegex(bad.out(), /cleanup \(nuke/);
  t.true(existsSync(join(failed.ws, 'ComfyUI', 'output', 'keep.png')));
  t.true(existsSync(join(failed.ws, 'ComfyUI', 'user', 'default', 'comfy.settings.json')));

  // 2. Ready once: SIGTERM nukes; models are kept without NUKE_MODELS.
  const s = await sandbox(t);
  const run = runStart(t, s, { SKIP_MODEL_DOWNLOAD: 'true', NUKE_ON_STOP: 'true' });
  await run.waitLog(/ComfyUI ready in/, READY);
  await put(join(s.ws, 'ComfyUI', 'output', 'gone.png'));
  await put(join(s.ws, 'ComfyUI', 'models', 'loras', 'kept.safetensors'));
  await put(join(s.tmp, 'scratch'));
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);
  t.regex(run.out(), /cleanup \(nuke, delete, by SIGTERM, NUKE_ON_STOP\)/);
  t.false(existsSync(join(s.ws, 'ComfyUI', 'output', 'gone.png')));
  t.false(existsSync(join(s.tmp, 'scratch')));
  t.true(existsSync(join(s.ws, 'ComfyUI', 'models', 'loras', 'kept.safetensors')));
});

test('comfyctl nuke: lists without --yes; with --yes deletes exactly the documented set (files inside go, files outside stay, links are not followed); --models adds the models', async (t) => {
  const s = await sandbox(t);
  const run = runStart(t, s, { SKIP_MODEL_DOWNLOAD: 'true' });
  await run.waitLog(/ComfyUI ready in/, READY);
  const data = join(s.ws, 'ComfyUI');
  const logs = join(s.run, 'logs');
  // Inside the nuke set (docs/runtime.md "Nuke"; scripts/lib/cleanup.list).
  const inside = [
    join(data, 'user', 'default', 'workflows', 'w.json'),
    join(data, 'input', 'in.png'),
    join(data, 'output', 'out.png'),
    join(data, 'output', 'sub', 'deep.png'),
    join(s.comfy, 'temp', 'preview.png'),
    join(s.tmp, 'scratch.bin'),
    join(s.tmp, 'dir', 'x'),
    join(s.home, '.cache', 'pip', 'wheel'),
    join(s.home, '.cache', 'huggingface', 'hub', 'blob'),
    join(s.home, '.triton', 'cache', 'kernel'),
    join(s.home, '.bash_history'),
    join(s.home, '.python_history'),
    join(s.home, '.ipython', 'profile_default', 'history.sqlite'),
    join(s.home, '.lesshst'),
    join(s.home, '.viminfo'),
    join(logs, 'extra.log'),
  ];
  // Outside it: must survive.
  const outsideDir = join(s.root, 'outside');
  const outside = [
    join(data, 'models', 'checkpoints', 'm.safetensors'),
    join(data, 'custom_nodes', 'MyNode', '__init__.py'),
    join(s.ws, '.kiln', 'keep.txt'),
    join(s.ws, 'notes.txt'),
    join(s.home, '.bashrc'),
    join(s.home, '.ssh', 'authorized_keys'),
    join(s.home, '.triton', 'other.txt'),
    join(outsideDir, 'target.txt'),
    join(outsideDir, 'dir', 'file.txt'),
    join(outsideDir, 'nv', 'ComputeCache', 'c'),
  ];
  for (const f of [...inside, ...outside]) await put(f);
  // Links inside the set that point outside it: the link goes, never its target.
  await symlink(join(outsideDir, 'target.txt'), join(data, 'output', 'link-to-file'));
  await symlink(join(outsideDir, 'dir'), join(data, 'input', 'link-to-dir'));
  // An entry below a link that leaves its root ($HOME/.nv -> outside): not touched.
  await symlink(join(outsideDir, 'nv'), join(s.home, '.nv'));
  const before = await listFiles(s.root);

  const dry = await comfyctl(s, ['nuke']);
  t.is(dry.exitCode, 2, dry.all);
  t.regex(dry.all ?? '', /nuke \(nuke\) would delete the contents of:/);
  t.regex(dry.all ?? '', /DATA\/output/);
  t.regex(dry.all ?? '', /models are kept/);
  t.deepEqual(await listFiles(s.root), before, 'without --yes nothing is deleted');

  const r = await comfyctl(s, ['nuke', '--yes']);
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /cleanup \(nuke, delete, by comfyctl nuke\): \d+ location\(s\)/);
  for (const f of inside) t.false(existsSync(f), `deleted: ${f.slice(s.root.length)}`);
  for (const f of outside) t.true(existsSync(f), `kept: ${f.slice(s.root.length)}`);
  for (const l of [join(data, 'output', 'link-to-file'), join(data, 'input', 'link-to-dir')]) {
    t.throws(() => lstatSync(l), undefined, `link deleted: ${l.slice(s.root.length)}`);
  }
  for (const d of [join(data, 'user'), join(data, 'input'), join(data, 'output'), join(s.comfy, 'temp'), s.tmp, logs, join(s.home, '.cache')]) {
    t.true(statSync(d).isDirectory(), `directory kept: ${d.slice(s.root.length)}`);
  }
  // Exactly: everything that was there, minus what lies under the documented set.
  const rel = (p: string) => p.slice(s.root.length + 1);
  const underSet = (f: string) =>
    [data + '/user/', data + '/input/', data + '/output/', s.comfy + '/temp/', s.tmp + '/', logs + '/', s.home + '/.cache/', s.home + '/.triton/cache/', s.home + '/.nv/ComputeCache/'].some((p) =>
      join(s.root, f).startsWith(p),
    ) || ['.bash_history', '.python_history', '.ipython/profile_default/history.sqlite', '.lesshst', '.viminfo'].some((h) => join(s.root, f) === join(s.home, h));
  const record = rel(join(s.ws, '.kiln', 'last-cleanup.json')); // what the status endpoint reports as the last cleanup
  t.deepEqual(await listFiles(s.root), [...before.filter((f) => !underSet(f)), record].sort(), 'nothing else changed');
  t.true(before.filter(underSet).length >= inside.length + 2, 'the set was not empty');
  t.true(before.includes(rel(join(data, 'models', 'checkpoints', 'm.safetensors'))));

  const m = await comfyctl(s, ['nuke', '--yes', '--models']);
  t.is(m.exitCode, 0, m.all);
  t.false(existsSync(join(data, 'models', 'checkpoints', 'm.safetensors')));
  t.true(existsSync(join(data, 'custom_nodes', 'MyNode', '__init__.py')));
  t.true(isAlive(await comfyPid(s)), 'ComfyUI kept running through the nuke');
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);
});

test('status endpoint: JSON with ComfyUI state and restarts, models present/failed, services, disk and the last cleanup; no secret in it or in its environment', async (t) => {
  const s = await sandbox(t);
  const srv = await startServer();
  t.teardown(() => srv.close());
  const good = makeData(40_000, 'status-good');
  const HF_TOKEN = 'hf_statusSECRET_0123456789abcdef';
  srv.routes.set('/good.safetensors', { data: good.data, token: HF_TOKEN });
  srv.routes.set('/gone.safetensors', { status: 404 });
  await writeManifest(s, [
    { id: 'good', source: 'url', url: `${srv.base}/good.safetensors`, into: 'checkpoints', file: 'good.safetensors', sha256: good.sha256, bytes: good.data.length, auth: 'HF_TOKEN' },
    { id: 'gone', source: 'url', url: `${srv.base}/gone.safetensors`, into: 'loras', file: 'gone.safetensors', sha256: null, bytes: null, auth: null },
  ]);
  await writeExec(join(s.bin, 'jupyter'), '#!/usr/bin/env bash\ntrap "exit 0" TERM\nwhile :; do sleep 0.2; done\n');
  const secrets = {
    HF_TOKEN,
    CIVITAI_TOKEN: 'civitai_statusSECRET_0123456789',
    RUNPOD_API_KEY: 'rpa_statusSECRET_0123456789',
    JUPYTER_TOKEN: 'jupyter_statusSECRET_0123456789',
  };
  // HF_ENDPOINT names the test server as the Hugging Face host: tokens go only to their own host.
  const run = runStart(t, s, { ...secrets, HF_ENDPOINT: srv.base, ENABLE_STATUS: 'true', ENABLE_JUPYTER: 'true', JUPYTER_BIN: join(s.bin, 'jupyter'), JUPYTER_PORT: '18889', KILN_TEMPLATE: 'test', KILN_GPU: 'rtx4090', KILN_SM: 'sm_89' });
  await run.waitLog(/ComfyUI ready in/, READY);

  const health = await getJson(s.statusPort, '/healthz');
  t.is(health.status, 200);
  t.deepEqual(health.json, { ok: true });
  t.is((await getJson(s.statusPort, '/nope')).status, 404);
  const st = await getJson(s.statusPort, '/status');
  t.is(st.status, 200);
  const doc = st.json;
  t.is(doc.schema, 1);
  t.like(doc.container, { template: 'test', gpu_profile: 'rtx4090', mode: 'persistent', supervisor_running: true });
  t.like(doc.comfyui, { state: 'running', ready: true, ever_ready: true, restarts: 0, port: s.port, pid: await comfyPid(s) });
  t.deepEqual(doc.models.present, ['checkpoints/good.safetensors']);
  t.deepEqual(doc.models.missing, []);
  t.is(doc.models.failed.length, 1);
  t.is(doc.models.failed[0].path, 'loras/gone.safetensors');
  t.like(doc.models.fetch, { state: 'failed', exit: 1 });
  t.like(doc.services.status, { running: true, port: s.statusPort });
  t.like(doc.services.jupyter, { running: true, port: 18889 });
  t.true(doc.disk.workspace.free_bytes > 0 && doc.disk.workspace.total_bytes >= doc.disk.workspace.free_bytes);
  t.like(doc.gpu, { checked: false, image_gpu: 'rtx4090', image_sm: 'sm_89' });
  t.is(doc.last_cleanup, null);

  // A crash counts as a restart; a manual nuke becomes the last cleanup.
  process.kill(await comfyPid(s), 'SIGKILL');
  const mark = run.out().length;
  await run.waitLog(/ComfyUI ready in/, READY, mark);
  const nuke = await comfyctl(s, ['nuke', '--yes']);
  t.is(nuke.exitCode, 0, nuke.all);
  const after = (await getJson(s.statusPort, '/status')).json;
  t.is(after.comfyui.restarts, 1);
  t.like(after.last_cleanup, { trigger: 'comfyctl nuke', mode: 'delete', sets: 'nuke' });
  t.true(after.last_cleanup.locations.includes('DATA/output'));

  const texts = [st.text, JSON.stringify(after)];
  for (const [name, value] of Object.entries(secrets)) {
    for (const text of texts) t.false(text.includes(value), `${name} not in the status document`);
  }
  const statusPid = await servicePid(s, 'status');
  const environ = await readFile(`/proc/${statusPid}/environ`, 'latin1');
  for (const [name, value] of Object.entries(secrets)) t.false(environ.includes(value), `${name} not in the status server's environment`);
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);
});

test('GPU check: nvidia-smi logged, an rtx4090 image on an RTX 5090 warns clearly; COMFY_PERF_FLAGS passes only flags this ComfyUI has, once per exclusive group', async (t) => {
  const s = await sandbox(t);
  await writeExec(
    join(s.bin, 'nvidia-smi'),
    `#!/usr/bin/env bash
if [[ \${1:-} == --query-gpu=* ]]; then echo "0, NVIDIA GeForce RTX 5090, 12.0, 575.51.03, 32607 MiB"; exit 0; fi
echo "| NVIDIA-SMI 575.51.03    Driver Version: 575.51.03    CUDA Version: 12.9 |"
echo "|   0  NVIDIA GeForce RTX 5090   Off |   00000000:01:00.0 Off |   N/A |"
`,
  );
  // The image's ComfyUI argument parser: has these flags, not --fast.
  await put(
    join(s.comfy, 'comfy', 'cli_args.py'),
    ['--cuda-malloc', '--bf16-unet', '--highvram', '--lowvram'].map((f) => `parser.add_argument("${f}", action="store_true")`).join('\n') + '\n',
  );
  const run = runStart(t, s, {
    SKIP_MODEL_DOWNLOAD: 'true',
    KILN_NVIDIA_SMI: join(s.bin, 'nvidia-smi'),
    KILN_GPU: 'rtx4090',
    KILN_SM: 'sm_89',
    KILN_ATTENTION: 'sage',
    COMFY_ARGS: '--lowvram',
    COMFY_PERF_FLAGS: 'bf16-unet, cuda-malloc highvram bogus fast',
  });
  await run.waitLog(/ComfyUI ready in/, READY);
  const out = run.out();
  t.regex(out, /nvidia-smi \| \| NVIDIA-SMI 575\.51\.03/, 'nvidia-smi output is logged');
  t.regex(out, /GPU 0: NVIDIA GeForce RTX 5090, sm_120, driver 575\.51\.03, 32607 MiB/);
  t.regex(out, /WARN +GPU MISMATCH: this image is built for rtx4090 \(sm_89\) but GPU 0 is NVIDIA GeForce RTX 5090 \(sm_120\)\. Its compiled kernels \(SageAttention\) target sm_89/);
  t.regex(out, /COMFY_PERF_FLAGS: unknown 'bogus'; known: bf16-text-enc bf16-unet bf16-vae cuda-malloc fast gpu-only highvram/);
  t.regex(out, /COMFY_PERF_FLAGS: this ComfyUI has no --fast/);
  t.regex(out, /COMFY_PERF_FLAGS: highvram skipped: --lowvram is already set/);
  const argv = (await launches(s))[0]?.argv ?? [];
  t.true(argv.includes('--bf16-unet') && argv.includes('--cuda-malloc'));
  t.false(argv.includes('--highvram') || argv.includes('--fast'));
  t.deepEqual(argv.slice(-1), ['--lowvram'], 'COMFY_ARGS stays last');
  const gpu = JSON.parse(await readFile(join(s.run, 'gpu.json'), 'utf8'));
  t.like(gpu, { checked: true, match: false, image_sm: 'sm_89' });
  t.like(gpu.gpus[0], { index: 0, sm: 'sm_120', name: 'NVIDIA GeForce RTX 5090' });
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);
});

test('COMFY_PERF_FLAGS: a bf16 flag is skipped on a GPU older than sm_80 (gpu.sh on its own)', async (t) => {
  const cli = join(SCRIPTS, 'lib', 'gpu.sh');
  const script = `
log() { echo "LOG $*"; }; warn() { echo "WARN $*"; }
source "${cli}"
COMFYUI_DIR=$1 COMFY_ARGS="" KILN_SM=sm_89 COMFY_PERF_FLAGS="bf16-unet cuda-malloc"
GPU_SM=sm_75
COMFY_CMD=()
perf_flags
echo "CMD \${COMFY_CMD[*]}"`;
  const dir = await tempDir(t, 'kiln-gpu-');
  await put(join(dir, 'comfy', 'cli_args.py'), 'parser.add_argument("--bf16-unet")\nparser.add_argument("--cuda-malloc")\n');
  const r = await execa('bash', ['-c', script, 'gpu-test', dir], { reject: false, timeout: 30_000 });
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /WARN COMFY_PERF_FLAGS: bf16-unet skipped: it needs sm_80 or newer and this GPU is sm_75/);
  t.regex(r.stdout, /^CMD --cuda-malloc$/m);
});
