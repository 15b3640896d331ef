// Issue 16's privacy features against a fake ComfyUI in a temp workspace:
// PRIVACY_MODE (hosts blocklist, writable and read-only; connection log),
// PARANOID_MODE (no secret in any environment or file) and KILN_USER.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeData, startServer } from './helpers/server.ts';
import { comfyPid, FAKE_FILEBROWSER_ADMIN, launches, processTree, processUid, runStart, sandbox, servicePid, START, writeExec, writeManifest, type Sandbox } from './helpers/start.ts';
import { allText, putFile as put, SCRIPTS, tempDir, waitFor } from './helpers/util.ts';

const READY = 45_000; // generous: CI runs these beside engine builds on 2 cores

/** The block / keep lists of scripts/lib/telemetry-hosts.txt. */
async function telemetryLists(): Promise<{ block: string[]; keep: string[] }> {
  const out = { block: [] as string[], keep: [] as string[] };
  for (const line of (await readFile(join(SCRIPTS, 'lib', 'telemetry-hosts.txt'), 'utf8')).split('\n')) {
    const [kind, host] = line.trim().split(/\s+/);
    if ((kind === 'block' || kind === 'keep') && host) out[kind].push(host);
  }
  return out;
}

/** One model from a local server, so that the fetcher really downloads. */
async function oneModel(t: Parameters<typeof sandbox>[0], s: Sandbox, token?: string) {
  const srv = await startServer();
  t.teardown(() => srv.close());
  const m = makeData(30_000, `model-${s.port}`);
  srv.routes.set('/m.safetensors', { data: m.data, ...(token ? { token } : {}) });
  await writeManifest(s, [
    { id: 'm', source: 'url', url: `${srv.base}/m.safetensors`, into: 'checkpoints', file: 'm.safetensors', sha256: m.sha256, bytes: m.data.length, auth: token ? 'HF_TOKEN' : null },
  ]);
  return { srv, path: join(s.ws, 'ComfyUI', 'models', 'checkpoints', 'm.safetensors') };
}

test('PRIVACY_MODE: telemetry hosts in a writable hosts file (0.0.0.0 and ::) before the download, needed hosts untouched, opt-out env, a connection log; a second start keeps one block', async (t) => {
  const s = await sandbox(t);
  const hostsFile = join(s.root, 'etc-hosts');
  const original = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost'; // no final newline on purpose
  await writeFile(hostsFile, original);
  const model = await oneModel(t, s);
  const run = runStart(t, s, { PRIVACY_MODE: 'true', PRIVACY_LOG_INTERVAL: '1' });
  await run.waitLog(/ComfyUI ready in/, READY);
  const out = run.out();

  const { block, keep } = await telemetryLists();
  t.true(block.includes('api.gradio.app') && keep.includes('huggingface.co'), 'the lists hold what docs/runtime.md says');
  const hosts = await readFile(hostsFile, 'utf8');
  t.true(hosts.startsWith(original + '\n'), 'the original lines are untouched');
  const lines = new Set(hosts.split('\n'));
  for (const h of block) {
    t.true(lines.has(`0.0.0.0 ${h}`), `IPv4 block for ${h}`);
    t.true(lines.has(`:: ${h}`), `IPv6 block for ${h}`);
  }
  for (const h of keep) t.false(hosts.includes(` ${h}`), `${h} stays reachable`);
  const blocked = out.search(/PRIVACY_MODE: \d+ telemetry hosts blocked/);
  const fetching = out.search(/models: fetching into/);
  t.true(blocked >= 0 && fetching > blocked, 'the hosts are blocked before the fetcher starts');
  t.true(existsSync(model.path), 'the model still downloads');

  const [rec] = await launches(s);
  t.like(rec?.env, { HF_HUB_DISABLE_TELEMETRY: '1', DO_NOT_TRACK: '1', GRADIO_ANALYTICS_ENABLED: 'False' });
  const connLog = join(s.run, 'logs', 'connections.log');
  const samples = await waitFor(
    async () => {
      const n = (await readFile(connLog, 'utf8').catch(() => '')).split('\n').filter((l) => / \d+ outbound, \d+ inbound, \d+ loopback$/.test(l));
      return n.length >= 2 && n;
    },
    30_000,
    'two samples in connections.log',
  );
  t.regex(samples[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \d+ outbound/);
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);

  // Same container (same hosts file), start.sh again: still exactly one block.
  const again = runStart(t, s, { PRIVACY_MODE: 'true', SKIP_MODEL_DOWNLOAD: 'true' });
  await again.waitLog(/ComfyUI ready in/, READY);
  const twice = await readFile(hostsFile, 'utf8');
  t.is(twice.split('\n').filter((l) => l.startsWith('# BEGIN kiln PRIVACY_MODE')).length, 1);
  t.true(twice.startsWith(original + '\n'));
  again.proc.kill('SIGTERM');
  t.is((await again.exited).code, 0);
});

test('PRIVACY_MODE with a read-only hosts file: a clear warning, no failure', async (t) => {
  if (process.getuid?.() !== 0) {
    t.log(`SKIPPED: a read-only hosts file needs a read-only bind mount in a private mount namespace (root); this run is uid ${process.getuid?.()}`);
    t.pass();
    return;
  }
  const probe = await execa('unshare', ['-m', '--propagation', 'private', 'true'], { reject: false, timeout: 10_000 });
  if (probe.exitCode !== 0) {
    t.log(`SKIPPED: unshare -m is not permitted here (${probe.stderr.trim()}); cannot make a read-only hosts file`);
    t.pass();
    return;
  }
  const s = await sandbox(t);
  const hostsFile = join(s.root, 'etc-hosts');
  await writeFile(hostsFile, '127.0.0.1\tlocalhost\n');
  // In its own mount namespace, the hosts file is bind-mounted read-only over itself;
  // the wrapper proves that a write really fails before it execs start.sh (same pid).
  const wrapper = [
    'mount --bind "$KILN_HOSTS_FILE" "$KILN_HOSTS_FILE" && mount -o remount,bind,ro "$KILN_HOSTS_FILE" || exit 98',
    'if (echo probe >> "$KILN_HOSTS_FILE") 2>/dev/null; then echo "the hosts file is still writable" >&2; exit 99; fi',
    'exec bash "$0"',
  ].join('\n');
  const run = runStart(t, s, { PRIVACY_MODE: 'true', SKIP_MODEL_DOWNLOAD: 'true' }, ['unshare', '-m', '--propagation', 'private', 'bash', '-c', wrapper, START]);
  await run.waitLog(/ComfyUI ready in/, READY);
  t.regex(run.out(), /WARN +PRIVACY_MODE: cannot write \S+etc-hosts \(read-only here\); telemetry hosts are NOT blocked/);
  t.is(await readFile(hostsFile, 'utf8'), '127.0.0.1\tlocalhost\n', 'unchanged');
  t.like(JSON.parse(await readFile(join(s.run, 'privacy.json'), 'utf8')), { blocked: false });
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);
});

test('netlog.py: outbound connections from /proc/net/tcp and tcp6; inbound and loopback are only counted', async (t) => {
  const dir = await tempDir(t, 'kiln-netlog-');
  // The kernel prints each address as 32-bit words in host byte order (little-endian on x86).
  const hexAddr = (bytes: number[]) => {
    const words: string[] = [];
    for (let i = 0; i < bytes.length; i += 4) words.push(Buffer.from(bytes.slice(i, i + 4).reverse()).toString('hex').toUpperCase());
    return words.join('');
  };
  const v4 = (ip: string) => ip.split('.').map(Number);
  const v6 = (groups: number[]) => groups.flatMap((g) => [g >> 8, g & 0xff]);
  const ep = (bytes: number[], port: number) => `${hexAddr(bytes)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const row = (i: number, local: string, remote: string, st: string) => `  ${i}: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000     0        0 ${1000 + i} 1 0000000000000000 20 4 30 10 -1`;
  const head = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
  const me = v4('172.17.0.2');
  await put(
    join(dir, 'net', 'tcp'),
    [
      head,
      row(0, ep(v4('0.0.0.0'), 8188), ep(v4('0.0.0.0'), 0), '0A'), // ComfyUI listening
      row(1, ep(me, 8188), ep(v4('10.0.0.5'), 51000), '01'), // a browser on ComfyUI: inbound
      row(2, ep(me, 40000), ep(v4('93.184.216.34'), 443), '01'),
      row(3, ep(me, 40001), ep(v4('93.184.216.34'), 443), '01'),
      row(4, ep(v4('127.0.0.1'), 40100), ep(v4('127.0.0.1'), 8188), '01'), // loopback
      row(5, ep(me, 40200), ep(v4('1.1.1.1'), 80), '02'), // connecting (SYN_SENT)
      row(6, ep(me, 40300), ep(v4('8.8.8.8'), 53), '06'), // TIME_WAIT: not a connection any more
    ].join('\n') + '\n',
  );
  const mapped = (ip: string) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4(ip)];
  await put(
    join(dir, 'net', 'tcp6'),
    [
      head,
      row(0, ep(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]), 40400), ep(v6([0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111]), 443), '01'),
      row(1, ep(mapped('172.17.0.2'), 40500), ep(mapped('8.8.4.4'), 443), '01'),
      row(2, ep(v6([0, 0, 0, 0, 0, 0, 0, 1]), 40600), ep(v6([0, 0, 0, 0, 0, 0, 0, 1]), 8188), '01'),
    ].join('\n') + '\n',
  );
  const outFile = join(dir, 'connections.log');
  const r = await execa('python3', [join(SCRIPTS, 'lib', 'netlog.py'), '--proc', dir, '--out', outFile, '--once'], { reject: false, timeout: 30_000 });
  t.is(r.exitCode, 0, r.stderr);
  const lines = (await readFile(outFile, 'utf8')).trim().split('\n').map((l) => l.replace(/^\S+ /, ''));
  t.deepEqual(lines, [
    '5 outbound, 1 inbound, 2 loopback',
    '  -> 1.1.1.1:80 (process unknown)',
    '  -> 8.8.4.4:443 (process unknown)',
    '  -> 93.184.216.34:443 x2 (process unknown)',
    '  -> [2606:4700::1111]:443 (process unknown)',
  ]);
});

test('PARANOID_MODE: no secret in the environment of start.sh or of any child (each service keeps only its own); umask 077, no bytecode, no history; at exit token files, histories, temp and logs are shredded and no secret is in any file', async (t) => {
  const s = await sandbox(t);
  const secrets = {
    HF_TOKEN: 'hf_paranoidSECRET_0123456789abcdef',
    CIVITAI_TOKEN: 'civitai_paranoidSECRET_0123456789',
    RUNPOD_API_KEY: 'rpa_paranoidSECRET_0123456789',
    FILEBROWSER_PASSWORD: 'fb_paranoidSECRET_0123456789',
    JUPYTER_TOKEN: 'jupyter_paranoidSECRET_0123456789',
    MY_APP_SECRET: 'app_paranoidSECRET_0123456789',
  };
  const model = await oneModel(t, s, secrets.HF_TOKEN); // the server wants HF_TOKEN: only the fetcher may have it
  await writeFile(join(s.root, 'etc-hosts'), '127.0.0.1\tlocalhost\n');
  // Services that record nothing (a recorded argv or token would be a file with a secret in it).
  const quiet = '#!/usr/bin/env bash\n[[ $1 == -t ]] && exit 0\n[[ $1 == config || $1 == users ]] && exit 0\ntrap "exit 0" TERM\nwhile :; do sleep 0.2; done\n';
  for (const name of ['sshd', 'jupyter', 'llama-server']) await writeExec(join(s.bin, name), quiet);
  await writeExec(join(s.bin, 'filebrowser'), quiet.replace('\n', `\n${FAKE_FILEBROWSER_ADMIN}\n`));
  await put(join(s.ws, 'ComfyUI', 'models', 'llm', 'tiny.gguf'), 'GGUF');
  const run = runStart(t, s, {
    ...secrets,
    HF_ENDPOINT: model.srv.base, // the test server stands in for huggingface.co: HF_TOKEN goes only there
    PARANOID_MODE: 'true',
    PRIVACY_MODE: 'true',
    ENABLE_STATUS: 'true',
    FILEBROWSER_BIN: join(s.bin, 'filebrowser'),
    SSHD_BIN: join(s.bin, 'sshd'),
    PUBLIC_KEY: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnTestKeyOnlyForTests kiln@test',
    ENABLE_JUPYTER: 'true',
    JUPYTER_BIN: join(s.bin, 'jupyter'),
    JUPYTER_PORT: '18890',
    ENABLE_LLM: 'true',
    LLAMA_SERVER_BIN: join(s.bin, 'llama-server'),
    LLM_PORT: '18082',
  });
  await run.waitLog(/ComfyUI ready in/, READY);
  const out = run.out();
  t.true(existsSync(model.path), 'the fetcher had HF_TOKEN (the server answers 401 without it)');
  t.regex(out, /paranoid mode: 6 secret\(s\) out of every environment/);
  t.regex(out, /paranoid mode: the fetcher is done; start\.sh forgot 6 secret\(s\)/);

  // Every process: start.sh (re-executed, same pid) and everything below it.
  const jupyter = await servicePid(s, 'jupyter');
  const jupyterTree = new Set(processTree(jupyter));
  const tree = processTree(run.proc.pid!);
  for (const name of ['sshd', 'filebrowser', 'llama-server', 'status', 'netlog']) t.true(tree.includes(await servicePid(s, name)), `${name} runs under start.sh`);
  t.true(tree.includes(await comfyPid(s)));
  t.true(tree.length >= 9, `${tree.length} processes checked`);
  let checked = 0;
  for (const pid of tree) {
    let environ: string;
    try {
      environ = await readFile(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // ended meanwhile (a sleep of a fake service)
    }
    checked++;
    for (const [name, value] of Object.entries(secrets)) {
      if (name === 'JUPYTER_TOKEN' && jupyterTree.has(pid)) continue;
      t.false(environ.includes(value), `${name} in the environment of pid ${pid} (${await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')})`);
    }
  }
  t.true(checked >= 9);
  t.true((await readFile(`/proc/${jupyter}/environ`, 'latin1')).split('\0').includes(`JUPYTER_TOKEN=${secrets.JUPYTER_TOKEN}`), 'Jupyter still gets its own token');

  const [rec] = await launches(s);
  t.is(rec?.umask, 0o077);
  t.like(rec?.env, { PYTHONDONTWRITEBYTECODE: '1', HISTFILE: '/dev/null' });
  t.regex(await readFile(join(s.run, 'sshd_config'), 'utf8'), /^SetEnv HISTFILE=\/dev\/null /m);

  // Traces a session could leave, some holding secrets.
  const traces = [
    join(s.home, '.cache', 'huggingface', 'token'),
    join(s.home, '.git-credentials'),
    join(s.home, '.bash_history'),
    join(s.home, '.local', 'share', 'jupyter', 'runtime', 'jpserver-1.json'),
    join(s.tmp, 'notes.txt'),
    join(s.run, 'logs', 'session.log'),
  ];
  for (const [i, f] of traces.entries()) await put(f, `${Object.values(secrets)[i % 6]}\n`);
  const keptCache = join(s.home, '.cache', 'pip', 'wheel');
  await put(keptCache);
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);
  t.regex(run.out(), /cleanup \(paranoid, shred, by SIGTERM, PARANOID_MODE\)/);
  for (const f of traces) t.false(existsSync(f), `gone: ${f.slice(s.root.length)}`);
  t.true(existsSync(keptCache), 'caches are nuke material, not paranoid material');
  t.deepEqual(readdirSync(s.tmp), []);
  const everything = (await allText(s.root)) + run.out();
  for (const [name, value] of Object.entries(secrets)) t.false(everything.includes(value), `${name} in no file and not in the log`);
});

test('KILN_USER: ComfyUI and the services run as a created non-root user that owns what they write (with PARANOID_MODE\'s umask 077)', async (t) => {
  if (process.getuid?.() !== 0) {
    t.log(`SKIPPED: KILN_USER needs start.sh to run as root (it creates the user and switches to it); this run is uid ${process.getuid?.()}`);
    t.pass();
    return;
  }
  for (const tool of ['useradd', 'userdel', 'setpriv']) {
    if ((await execa('sh', ['-c', `command -v ${tool}`], { reject: false })).exitCode !== 0) {
      t.log(`SKIPPED: ${tool} is not installed here`);
      t.pass();
      return;
    }
  }
  // A throw-away user with a name no real account has; removed (with its home) at the end.
  const user = `kilnrt${process.pid}${Math.floor(Math.random() * 1e4)}`.slice(0, 30);
  const removeUser = () => execa('userdel', ['-r', user], { reject: false, timeout: 30_000 });
  t.teardown(removeUser);
  const s = await sandbox(t);
  await chmod(s.root, 0o755); // mkdtemp makes it 0700; the user must reach main.py
  const records = join(s.root, 'records');
  await mkdir(records);
  await chmod(records, 0o777); // only for the fake's own record of its launches
  // Everything the user runs must be reachable without root's home (pyenv lives there).
  const path = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  await writeExec(join(s.bin, 'kiln-python'), '#!/bin/sh\nexec /usr/bin/python3 "$@"\n');
  await writeExec(join(s.bin, 'filebrowser'), `#!/usr/bin/env bash\n${FAKE_FILEBROWSER_ADMIN}\ntrap "exit 0" TERM\nwhile :; do sleep 0.2; done\n`);
  // The user runs start.sh's helpers (the status endpoint's python): like the
  // image's /opt/kiln/scripts, they must be readable by anyone, wherever this
  // checkout lives (a clone under `mktemp -d` is 0700: the endpoint died with
  // "can't open file ... Permission denied").
  const scripts = join(s.root, 'opt', 'kiln', 'scripts');
  await cp(SCRIPTS, scripts, { recursive: true, filter: (src) => !src.includes('__pycache__') });
  const model = await oneModel(t, s);
  const run = runStart(t, s, {
    PATH: path,
    KILN_USER: user,
    PARANOID_MODE: 'true',
    ENABLE_STATUS: 'true',
    FAKE_COMFY_TOUCH: '1',
    FAKE_COMFY_RECORD: join(records, 'argv.log'),
    FILEBROWSER_BIN: join(s.bin, 'filebrowser'),
  }, ['bash', join(scripts, 'start.sh')]);
  await run.waitLog(/ComfyUI ready in/, READY);
  t.regex(run.out(), new RegExp(`KILN_USER: created user ${user}`));
  const uid = Number((await execa('id', ['-u', user])).stdout.trim());
  t.true(uid > 0);

  const [rec] = await launches(s, join(records, 'argv.log'));
  t.is(rec?.uid, uid, 'ComfyUI runs as the user');
  t.is(rec?.umask, 0o077);
  t.is(rec?.env.HOME, (await execa('getent', ['passwd', user])).stdout.split(':')[5], "HOME is the user's");
  const comfy = await comfyPid(s);
  t.is(processUid(comfy), uid);
  const written = join(s.ws, 'ComfyUI', 'output', 'written-by-comfy.txt');
  await waitFor(() => existsSync(written), 10_000, 'ComfyUI to write into output/');
  t.is(statSync(written).uid, uid, 'ComfyUI could write its output');
  t.is(statSync(model.path).uid, uid, 'fetched models are handed to the user');
  t.is(statSync(join(s.ws, 'ComfyUI', 'output')).uid, uid);
  t.is(processUid(await servicePid(s, 'filebrowser')), uid, 'FileBrowser runs as the user');
  t.is(processUid(await servicePid(s, 'status')), uid, 'the status endpoint runs as the user');
  t.is(processUid(run.proc.pid!), 0, 'start.sh stays root');
  // The status endpoint, as the user, can read what it needs (umask 077 everywhere else).
  const doc = await (await fetch(`http://127.0.0.1:${s.statusPort}/status`, { signal: AbortSignal.timeout(15_000) })).json();
  t.like(doc.comfyui, { ready: true, state: 'running' });
  t.deepEqual(doc.models.present, ['checkpoints/m.safetensors']);
  run.proc.kill('SIGTERM');
  t.is((await run.exited).code, 0);
  t.is((await removeUser()).exitCode, 0, 'the test user is removed');
});
