// scripts/start.sh and scripts/comfyctl with a fake ComfyUI (a tiny python
// http.server in a temp COMFYUI_DIR) and fake services. Nothing touches the
// real /workspace or /opt.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeData, startServer } from './helpers/server.ts';
import { comfyctl, comfyPid, fakeService, isAlive, runStart, sandbox, writeExec, writeManifest } from './helpers/start.ts';
import { allText, SCRIPTS, tempDir, waitFor } from './helpers/util.ts';

const PUBKEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnTestKeyOnlyForTests kiln@test';

async function argvLog(comfyDir: string): Promise<{ pid: number; argv: string[] }[]> {
  const text = await readFile(join(comfyDir, 'argv.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { pid: number; argv: string[] });
}

test('start.sh: ready, crash restart, soft restart, stop/start, SIGTERM within 10 s; services and layout', async (t) => {
  const s = await sandbox(t);
  // Fake services: FileBrowser (creates its db on `config init`), sshd, llama-server.
  await writeExec(
    join(s.bin, 'filebrowser'),
    `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_PIDS/filebrowser.calls"
case "$1" in
  config) [[ $2 == init ]] && : > "$4"; exit 0 ;;
  users) case "$2" in
      find) grep -q '^users add' "$FAKE_PIDS/filebrowser.calls"; exit $? ;;
      export) printf '[{"id":1,"username":"admin","password":"$2a$10$throwaway","perm":{"admin":true}}]' > "$3"; exit 0 ;;
      import) cp "$3" "$FAKE_PIDS/filebrowser.imported.json"; exit 0 ;;
    esac; exit 0 ;;
esac
${fakeService('filebrowser').split('\n').slice(2).join('\n')}`,
  );
  await writeExec(join(s.bin, 'sshd'), fakeService('sshd', '[[ $1 == -t ]] && exit 0'));
  await writeExec(join(s.bin, 'llama-server'), fakeService('llama'));
  // Fake Jupyter: records whether the token came through its environment.
  await writeExec(join(s.bin, 'jupyter'), fakeService('jupyter', 'printf \'%s\\n\' "${JUPYTER_TOKEN:-}" > "$FAKE_PIDS/jupyter.token"'));
  await mkdir(join(s.ws, 'ComfyUI', 'models', 'llm'), { recursive: true });
  await writeFile(join(s.ws, 'ComfyUI', 'models', 'llm', 'tiny-q4.gguf'), 'GGUF');
  // A node baked into the image, and its lock file.
  await mkdir(join(s.comfy, 'custom_nodes', 'ComfyUI-Baked'), { recursive: true });
  await writeFile(
    join(s.manifest, 'nodes.lock.json'),
    JSON.stringify({ schema: 1, template: 'test', nodes: [{ name: 'ComfyUI-Baked', repo: 'https://github.com/x/ComfyUI-Baked', commit: 'a'.repeat(40) }] }),
  );

  const run = runStart(t, s, {
    KILN_ATTENTION: 'flash',
    COMFY_ARGS: '--preview-method auto',
    FILEBROWSER_BIN: join(s.bin, 'filebrowser'),
    SSHD_BIN: join(s.bin, 'sshd'),
    PUBLIC_KEY: PUBKEY,
    ENABLE_JUPYTER: 'true',
    JUPYTER_BIN: join(s.bin, 'jupyter'),
    JUPYTER_PORT: '18888',
    ENABLE_LLM: 'true',
    LLAMA_SERVER_BIN: join(s.bin, 'llama-server'),
    LLM_PORT: '18081',
  });
  const t0 = Date.now();
  const ready = await run.waitLog(/ComfyUI ready in ([\d.]+) s/, 20_000);
  t.log(`first start: ready after ${Date.now() - t0} ms (start.sh says ${ready[1]} s)`);
  const out = run.out();
  t.regex(out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[kiln\] INFO /m, 'timestamped log lines');

  // ComfyUI arguments.
  const [first] = await argvLog(s.comfy);
  const argv = first?.argv ?? [];
  t.deepEqual(argv.slice(0, 4), ['main.py', '--listen', '--port', String(s.port)]);
  t.true(argv.includes('--use-flash-attention'));
  t.false(argv.includes('--use-sage-attention'));
  t.deepEqual(argv.slice(-2), ['--preview-method', 'auto']);
  const yamlPath = argv[argv.indexOf('--extra-model-paths-config') + 1] ?? '';
  const yaml = await readFile(yamlPath, 'utf8');
  t.regex(yaml, new RegExp(`base_path: "${join(s.ws, 'ComfyUI', 'models')}"`));
  t.regex(yaml, /^ {2}checkpoints: checkpoints$/m);
  t.regex(yaml, /^ {2}llm: llm$/m);

  // Persistent layout: output/input/user/custom_nodes live in the workspace.
  for (const d of ['output', 'input', 'user', 'custom_nodes']) {
    t.is(readlinkSync(join(s.comfy, d)), join(s.ws, 'ComfyUI', d), `${d} is persistent`);
  }
  t.true(lstatSync(join(s.ws, 'ComfyUI', 'custom_nodes', 'ComfyUI-Baked')).isSymbolicLink(), 'baked node linked next to the extra nodes');
  t.regex(out, /baked custom nodes: ComfyUI-Baked@aaaaaaaaaaaa/);

  // Services.
  t.regex(out, /SSH: key-only sshd on port 22/);
  const sshdConf = await readFile(join(s.run, 'sshd_config'), 'utf8');
  t.regex(sshdConf, /^PasswordAuthentication no$/m);
  t.regex(sshdConf, /^KbdInteractiveAuthentication no$/m);
  t.is((await readFile(join(s.root, 'home', '.ssh', 'authorized_keys'), 'utf8')).trim(), PUBKEY);
  const pw = /FileBrowser: generated password \(shown once[^)]*\): (\S+)/.exec(out)?.[1] ?? '';
  t.true(pw.length >= 20, 'a generated FileBrowser password is shown');
  const fbCalls = await readFile(join(s.pids, 'filebrowser.calls'), 'utf8');
  t.regex(fbCalls, /--port 8080/);
  // The password is in no argv: the user is added with a throwaway one, then
  // the real one goes in as a bcrypt hash through an export/import file.
  t.false(fbCalls.includes(pw), 'the password is on no FileBrowser command line');
  t.regex(fbCalls, /^users add admin [0-9a-f]{24} --perm\.admin -d \S+$/m);
  t.regex(fbCalls, /^users export \S+\/users\.json -d \S+\nusers import \S+\/users\.json --overwrite -d \S+$/m);
  const imported = JSON.parse(await readFile(join(s.pids, 'filebrowser.imported.json'), 'utf8')) as { username: string; password: string }[];
  const hash = imported.find((u) => u.username === 'admin')?.password ?? '';
  t.regex(hash, /^\$2b\$10\$/, 'a bcrypt hash (cost 10, as FileBrowser makes them)');
  // libcrypt's crypt() re-hashes the password with the salt in the hash (what bcrypt.CompareHashAndPassword does).
  const verify = 'import ctypes, ctypes.util, os, sys\nc = ctypes.CDLL(ctypes.util.find_library("crypt"))\nc.crypt.restype = ctypes.c_char_p\n' +
    'h = os.environ["H"].encode()\nsys.exit(0 if c.crypt(os.environ["PW"].encode(), h) == h else 1)';
  const check = await execa('python3', ['-c', verify], {
    env: { PW: pw, H: hash },
    reject: false,
  });
  t.is(check.exitCode, 0, 'the hash verifies the password shown once');
  const token = /Jupyter: generated token \(shown once\): (\S+)/.exec(out)?.[1] ?? '';
  t.true(token.length >= 20, 'a generated Jupyter token is shown once');
  const jupyterArgv = await waitFor(() => readFile(join(s.pids, 'jupyter.argv'), 'utf8').catch(() => undefined), 5000, 'jupyter argv');
  t.regex(jupyterArgv, /^lab --ip=0\.0\.0\.0 --port=18888 --no-browser --allow-root --ServerApp\.root_dir=\S+$/m);
  t.false(jupyterArgv.includes(token), 'the token is not on the command line');
  t.is((await readFile(join(s.pids, 'jupyter.token'), 'utf8')).trim(), token, 'the token reaches Jupyter through JUPYTER_TOKEN');
  t.regex(out, /LLM: llama-server on port 18081 with tiny-q4\.gguf/);
  const llamaArgv = await waitFor(() => readFile(join(s.pids, 'llama.argv'), 'utf8').catch(() => undefined), 5000, 'llama argv');
  t.regex(llamaArgv, /-m \S+\/llm\/tiny-q4\.gguf --host 0\.0\.0\.0 --port 18081 -ngl 99/);

  // A killed ComfyUI comes back.
  const pid1 = await comfyPid(s);
  process.kill(pid1, 'SIGKILL');
  const mark = run.out().length;
  await run.waitLog(/exited with code 137 .* restart #1 in 1s/, 10_000, mark);
  await run.waitLog(/ComfyUI ready in/, 15_000, mark);
  const pid2 = await comfyPid(s);
  t.not(pid2, pid1);
  t.false(isAlive(pid1));

  // Soft restart through comfyctl.
  const r = await comfyctl(s, ['restart']);
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /ComfyUI restarted: pid \d+, ready/);
  const pid3 = await comfyPid(s);
  t.not(pid3, pid2);
  t.false(isAlive(pid2));
  const st = await comfyctl(s, ['status']);
  t.is(st.exitCode, 0, st.all);
  t.regex(st.all ?? '', new RegExp(`state running, pid ${pid3}, port ${s.port}, ready yes, restarts 1`));

  // Stop keeps it down (services stay), start brings it back.
  const stop = await comfyctl(s, ['stop']);
  t.is(stop.exitCode, 0, stop.all);
  t.false(isAlive(pid3));
  t.is((await comfyctl(s, ['status'])).exitCode, 3);
  const start = await comfyctl(s, ['start']);
  t.is(start.exitCode, 0, start.all);
  const pid4 = await comfyPid(s);
  t.true(isAlive(pid4));

  // SIGTERM: every child ends, start.sh exits cleanly within 10 s.
  const servicePids: number[] = [];
  for (const f of await readdir(s.pids)) {
    if (f.endsWith('.pid')) servicePids.push(Number((await readFile(join(s.pids, f), 'utf8')).trim()));
  }
  t.true(servicePids.length >= 4, 'fake sshd, filebrowser, jupyter and llama-server run');
  const sent = Date.now();
  run.proc.kill('SIGTERM');
  const ex = await run.exited;
  const took = ex.at - sent;
  t.log(`SIGTERM -> exit in ${took} ms (code ${ex.code})`);
  t.is(ex.code, 0);
  t.true(took < 10_000);
  for (const pid of [pid4, ...servicePids]) t.false(isAlive(pid), `pid ${pid} stopped`);
  t.false(existsSync(join(s.run, 'supervisor.pid')));
  t.is(readlinkSync(join(s.bin, 'comfyctl')), join(SCRIPTS, 'comfyctl'), 'comfyctl linked onto PATH');
});

test('start.sh: a failing fetch still starts ComfyUI and names the missing models; ephemeral without /workspace; a missing service is skipped; no token in output', async (t) => {
  const s = await sandbox(t);
  const srv = await startServer();
  t.teardown(() => srv.close());
  const good = makeData(50_000, 'start-good');
  srv.routes.set('/good.safetensors', { data: good.data });
  srv.routes.set('/gone.safetensors', { status: 404 });
  await writeManifest(s, [
    { id: 'good', source: 'url', url: `${srv.base}/good.safetensors`, into: 'checkpoints', file: 'good.safetensors', sha256: good.sha256, bytes: good.data.length, auth: null },
    { id: 'gone', source: 'hf', url: `${srv.base}/gone.safetensors`, into: 'loras', file: 'gone.safetensors', sha256: null, bytes: null, auth: 'HF_TOKEN' },
  ]);
  const HF_TOKEN = 'hf_startSECRET_abcdefghijklmnop';
  const run = runStart(t, s, {
    WORKSPACE_DIR: join(s.root, 'no-such-workspace'),
    HF_TOKEN,
    DEBUG_MODE: 'true',
    ENABLE_JUPYTER: 'true',
    JUPYTER_BIN: join(s.bin, 'no-jupyter'),
  });
  await run.waitLog(/ComfyUI ready in/, 20_000);
  const out = run.out();
  t.regex(out, /Jupyter: ENABLE_JUPYTER=true but jupyter is not installed in this image; skipped/);
  t.regex(out, /workspace: no writable .*no-such-workspace; models, outputs and extra nodes are ephemeral/);
  t.regex(out, /models: the fetcher failed \(exit 1\); ComfyUI starts anyway\. Missing: loras\/gone\.safetensors/);
  t.regex(out, /\[kiln\] DEBUG/, 'DEBUG_MODE=true adds debug lines');
  t.true((await readFile(join(s.comfy, 'models', 'checkpoints', 'good.safetensors'))).equals(good.data), 'ephemeral models under COMFYUI_DIR');
  const [first] = await argvLog(s.comfy);
  t.false(first?.argv.includes('--extra-model-paths-config'), 'no extra paths needed in ephemeral mode');
  t.false(existsSync(join(s.root, 'no-such-workspace')));
  run.proc.kill('SIGTERM');
  const ex = await run.exited;
  t.is(ex.code, 0);
  t.false((run.out() + (await allText(s.root))).includes(HF_TOKEN), 'token never written');
});

test('start.sh: CUSTOM_NODES must be pinned; pinned nodes are cloned at the ref with constrained requirements', async (t) => {
  const s = await sandbox(t);
  // A local git repository stands in for GitHub (no network).
  const repo = join(await tempDir(t), 'ComfyUI-Extra');
  const git = (...a: string[]) => execa('git', ['-C', repo, ...a], { timeout: 10_000, env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t', HOME: s.root } });
  await mkdir(repo);
  await execa('git', ['init', '-q', '-b', 'main', repo], { timeout: 10_000 });
  await writeFile(join(repo, '__init__.py'), 'NODE_CLASS_MAPPINGS = {}\n');
  await writeFile(join(repo, 'requirements.txt'), 'numpy\n');
  await git('add', '.');
  await git('commit', '-qm', 'v1');
  await git('tag', 'v1.0.0');
  const v1 = (await git('rev-parse', 'HEAD')).stdout.trim();
  await writeFile(join(repo, 'later.py'), '# later\n');
  await git('add', '.');
  await git('commit', '-qm', 'v2');
  await writeFile(join(s.root, 'opt', 'kiln', 'constraints.txt'), 'torch==2.7.1\n');

  const url = `file://${repo}`;
  const run = runStart(t, s, {
    SKIP_MODEL_DOWNLOAD: 'true',
    CUSTOM_NODES: `${url} https://github.com/someone/Unpinned-Node,${url}@main --upload-pack=${join(s.root, 'evil.sh')}@v1 ${url}@v1.0.0`,
  });
  await run.waitLog(/ComfyUI ready in/, 20_000);
  const out = run.out();
  t.regex(out, /CUSTOM_NODES: '--upload-pack=\S+@v1' starts with '-': that is a command-line option, not a repository/);
  t.regex(out, /CUSTOM_NODES: 'file:\/\/\S+ComfyUI-Extra' is not pinned; write <repo url>@<tag or commit>/);
  t.regex(out, /CUSTOM_NODES: 'https:\/\/github\.com\/someone\/Unpinned-Node' is not pinned/);
  t.regex(out, /'main' is a branch of ComfyUI-Extra, not a pin/);
  t.regex(out, new RegExp(`custom node ComfyUI-Extra: at ${v1.slice(0, 12)} \\(v1\\.0\\.0\\)`));
  t.regex(out, /models: SKIP_MODEL_DOWNLOAD=true/);
  const dest = join(s.ws, 'ComfyUI', 'custom_nodes', 'ComfyUI-Extra');
  t.is((await execa('git', ['-C', dest, 'rev-parse', 'HEAD'], { timeout: 10_000 })).stdout.trim(), v1);
  t.false(existsSync(join(dest, 'later.py')));
  const pip = await readFile(join(s.root, 'pip.log'), 'utf8');
  t.regex(pip, new RegExp(`-m pip install .*-r ${dest}/requirements\\.txt -c ${join(s.root, 'opt', 'kiln', 'constraints.txt')}`));
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);

  // Second boot: already at the pin, requirements not installed again.
  const again = runStart(t, s, { SKIP_MODEL_DOWNLOAD: 'true', CUSTOM_NODES: `${url}@v1.0.0` });
  await again.waitLog(/ComfyUI ready in/, 20_000);
  t.is((await readFile(join(s.root, 'pip.log'), 'utf8')).trim().split('\n').length, 1, 'pip ran once');
  again.proc.kill('SIGTERM');
  t.is((await again.exited).code, 0);
});

test('shell scripts pass shellcheck', async (t) => {
  const sc = await execa('shellcheck', ['--version'], { reject: false }).catch(() => undefined);
  if (!sc || sc.exitCode !== 0) {
    t.log('SKIPPED: shellcheck is not installed here (CI installs it: apt-get install -y shellcheck)');
    t.pass();
    return;
  }
  const files = [
    ...(await readdir(SCRIPTS)).filter((f) => f.endsWith('.sh') || f === 'comfyctl').map((f) => join(SCRIPTS, f)),
    ...(await readdir(join(SCRIPTS, 'lib'))).filter((f) => f.endsWith('.sh')).map((f) => join(SCRIPTS, 'lib', f)),
  ];
  const r = await execa('shellcheck', ['-x', ...files], { reject: false, timeout: 30_000 });
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  t.log(`shellcheck clean: ${files.map((f) => f.slice(SCRIPTS.length)).join(', ')}`);
});

test('start.sh: SIGTERM during the model fetch exits within 10 s and leaves no partial in the model folder', async (t) => {
  const s = await sandbox(t);
  const srv = await startServer();
  t.teardown(() => srv.close());
  const big = makeData(4 * 1024 * 1024, 'slow');
  srv.routes.set('/slow.safetensors', { data: big.data, rate: 256 * 1024 });
  await writeManifest(s, [
    { id: 'slow', source: 'url', url: `${srv.base}/slow.safetensors`, into: 'checkpoints', file: 'slow.safetensors', sha256: big.sha256, bytes: big.data.length, auth: null },
  ]);
  const run = runStart(t, s);
  await waitFor(() => srv.stats('/slow.safetensors').bytes > 100_000, 15_000, 'the download to start');
  const sent = Date.now();
  run.proc.kill('SIGTERM');
  const ex = await run.exited;
  t.log(`SIGTERM during fetch -> exit in ${ex.at - sent} ms`);
  t.is(ex.code, 0);
  t.true(ex.at - sent < 10_000);
  t.deepEqual(await readdir(join(s.ws, 'ComfyUI', 'models', 'checkpoints')), []);
  t.false(existsSync(join(s.comfy, 'argv.log')), 'ComfyUI never started');
  const before = srv.stats('/slow.safetensors').bytes;
  await new Promise((r) => setTimeout(r, 300));
  t.is(srv.stats('/slow.safetensors').bytes, before, 'the fetcher is gone (no more bytes served)');
});

test('start.sh: a ComfyUI that ignores SIGTERM is killed and start.sh still exits within 10 s (default KILN_STOP_TIMEOUT)', async (t) => {
  const s = await sandbox(t);
  const env = { ...s.env };
  delete env.KILN_STOP_TIMEOUT;
  s.env = env;
  const run = runStart(t, s, { SKIP_MODEL_DOWNLOAD: 'true', FAKE_COMFY_IGNORE_TERM: '1' });
  await run.waitLog(/ComfyUI ready in/, 20_000);
  const pid = await comfyPid(s);
  const sent = Date.now();
  run.proc.kill('SIGTERM');
  const ex = await run.exited;
  t.log(`SIGTERM with a stubborn ComfyUI -> exit in ${ex.at - sent} ms`);
  t.is(ex.code, 0);
  t.true(ex.at - sent < 10_000);
  t.false(isAlive(pid));
  t.regex(run.out(), /comfyui \(pid \d+\) ignored SIGTERM for 7s; killing it/);
});
