// Drives scripts/start.sh against a fake ComfyUI and fake services, all in
// temp dirs. Every process the test starts is ended by pid at teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import { reservePort } from '../../helpers/ports.ts';
import { baseEnv, SCRIPTS, sleep, tempDir, waitFor } from './util.ts';

export const START = join(SCRIPTS, 'start.sh');
export const COMFYCTL = join(SCRIPTS, 'comfyctl');

/**
 * A tiny ComfyUI stand-in: answers /system_stats, records its argv and what
 * the runtime set up for it (umask, uid, env switches, whether the
 * ComfyUI-Manager clone it would load is in cli-only mode).
 */
export const FAKE_COMFY_MAIN = `
import http.server, json, os, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
here = os.path.dirname(os.path.abspath(__file__))
mask = os.umask(0); os.umask(mask)
manager = os.path.join(here, "custom_nodes", "ComfyUI-Manager")
record = {"pid": os.getpid(), "argv": sys.argv, "umask": mask, "uid": os.getuid(),
          "manager_cli_only": os.path.exists(os.path.join(manager, ".enable-cli-only-mode")) if os.path.isdir(manager) else None,
          "env": {k: os.environ.get(k) for k in ("PYTHONDONTWRITEBYTECODE", "HISTFILE", "HF_HUB_DISABLE_TELEMETRY", "DO_NOT_TRACK", "GRADIO_ANALYTICS_ENABLED", "HOME")}}
with open(os.environ.get("FAKE_COMFY_RECORD") or os.path.join(here, "argv.log"), "a") as f:
    f.write(json.dumps(record) + "\\n")
if os.environ.get("FAKE_COMFY_EXIT"):
    sys.exit(int(os.environ["FAKE_COMFY_EXIT"]))
if os.environ.get("FAKE_COMFY_TOUCH") == "1":
    with open(os.path.join(here, "output", "written-by-comfy.txt"), "w") as f:
        f.write("ok\\n")
if os.environ.get("FAKE_COMFY_IGNORE_TERM") == "1":
    import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)
delay = float(os.environ.get("FAKE_COMFY_DELAY", "0.3"))
import time; time.sleep(delay)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/system_stats":
            b = json.dumps({"system": {"os": "fake", "python_version": sys.version}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
        else:
            self.send_response(404)
            self.end_headers()
    def log_message(self, *a):
        pass
print(f"fake ComfyUI listening on {port}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
`;

export async function writeExec(path: string, body: string): Promise<void> {
  await writeFile(path, body);
  await chmod(path, 0o755);
}

export interface Sandbox {
  root: string;
  comfy: string;
  ws: string;
  run: string;
  state: string;
  manifest: string;
  bin: string;
  pids: string;
  /** KILN_TMP_DIR: start.sh's /tmp (nuke and paranoid mode empty it). */
  tmp: string;
  /** HOME of the runs. */
  home: string;
  port: number;
  /** The status endpoint (127.0.0.1 only; off unless a test sets ENABLE_STATUS=true). */
  statusPort: number;
  env: Record<string, string>;
}

/** Temp dirs for one start.sh run, with a fake ComfyUI and a fake python. */
export async function sandbox(t: { teardown(fn: () => unknown): void }): Promise<Sandbox> {
  const root = await tempDir(t, 'kiln-start-');
  const s: Sandbox = {
    root,
    comfy: join(root, 'opt', 'ComfyUI'),
    ws: join(root, 'workspace'),
    run: join(root, 'run'),
    state: join(root, 'state'),
    manifest: join(root, 'opt', 'kiln', 'manifest'),
    bin: join(root, 'bin'),
    pids: join(root, 'pids'),
    tmp: join(root, 'tmp'),
    home: join(root, 'home'),
    port: await reservePort(),
    statusPort: await reservePort(),
    env: {},
  };
  for (const d of [s.comfy, s.ws, s.manifest, s.bin, s.pids, s.tmp, s.home, join(s.comfy, 'custom_nodes'), join(s.comfy, 'models', 'checkpoints')]) {
    await mkdir(d, { recursive: true });
  }
  await writeFile(join(s.comfy, 'main.py'), FAKE_COMFY_MAIN);
  // KILN_PYTHON: logs pip calls, runs everything else with python3.
  await writeExec(
    join(s.bin, 'kiln-python'),
    `#!/usr/bin/env bash\nif [[ \${1:-} == -m && \${2:-} == pip ]]; then printf '%s\\n' "$*" >> "${join(root, 'pip.log')}"; exit 0; fi\nexec python3 "$@"\n`,
  );
  await writeFile(join(s.manifest, 'models.json'), JSON.stringify({ schema: 1, template: 'test', models: [] }));
  s.env = baseEnv({
    WORKSPACE_DIR: s.ws,
    COMFYUI_DIR: s.comfy,
    KILN_PYTHON: join(s.bin, 'kiln-python'),
    KILN_HOME: join(root, 'opt', 'kiln'),
    KILN_RUN_DIR: s.run,
    KILN_STATE_DIR: s.state,
    KILN_BIN_DIR: s.bin,
    COMFYUI_PORT: String(s.port),
    COMFY_BACKOFF_START: '1',
    COMFY_BACKOFF_MAX: '2',
    KILN_STOP_TIMEOUT: '5',
    FILEBROWSER_BIN: join(s.bin, 'no-filebrowser'),
    SSH_HOST_KEY_DIR: join(root, 'etc-ssh'),
    HOME: s.home,
    KILN_TMP_DIR: s.tmp,
    // Nothing here may reach the machine's own /etc/hosts or GPU, whatever a test enables.
    KILN_HOSTS_FILE: join(root, 'etc-hosts'),
    KILN_NVIDIA_SMI: join(s.bin, 'no-nvidia-smi'),
    // The status endpoint only where a test looks at it (ENABLE_STATUS=true): one process less.
    ENABLE_STATUS: 'false',
    STATUS_HOST: '127.0.0.1',
    STATUS_PORT: String(s.statusPort),
    FETCH_BACKOFF: '0.05',
    FETCH_MIN_FREE_MB: '1',
    FAKE_PIDS: s.pids,
  });
  return s;
}

/** A fake long-running service: records argv, writes its pid, sleeps. */
/**
 * The admin commands of a fake FileBrowser, as start.sh drives them (config init makes the db;
 * `users export` writes the user list that fb_password.py rewrites with a bcrypt hash; the rest
 * succeed). A fake without `users export` leaves start.sh no file to hash into: FileBrowser
 * is then skipped, as it should be.
 */
export const FAKE_FILEBROWSER_ADMIN = `case "$1 $2" in
  "config init") : > "$4"; exit 0 ;;
  "users export") printf '[{"id":1,"username":"admin","password":"$2a$10$throwaway"}]' > "$3"; exit 0 ;;
  config*|users*) exit 0 ;;
esac`;

export function fakeService(name: string, extra = ''): string {
  return `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_PIDS/${name}.argv"
${extra}
echo $$ > "$FAKE_PIDS/${name}.$$.pid"
trap 'exit 0' TERM
while :; do sleep 0.2; done
`;
}

export interface Running {
  proc: ChildProcess;
  out(): string;
  waitLog(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * Starts start.sh. `command` replaces `bash start.sh` (it must end up exec-ing
 * start.sh, so that the pid stays start.sh's), e.g. to run it in a private
 * mount namespace.
 */
export function runStart(
  t: { teardown(fn: () => unknown): void; log(...v: unknown[]): void },
  s: Sandbox,
  env: Record<string, string> = {},
  command: readonly string[] = ['bash', START],
): Running {
  const proc = spawn(command[0]!, command.slice(1), { env: { ...s.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  proc.stdout?.on('data', (b: Buffer) => (text += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (text += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  // Hard bound: no start.sh outlives a minute, whatever the test does.
  const guard = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  guard.unref();
  t.teardown(async () => {
    clearTimeout(guard);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    await killRecorded(s);
  });
  return {
    proc,
    out: () => text,
    exited,
    waitLog: (re, timeoutMs = 15_000, from = 0) =>
      waitFor(() => text.slice(from).match(re) ?? undefined, timeoutMs, `log ${re}\n--- log so far ---\n${text}`),
  };
}

/** Pids that fakes and start.sh recorded: end them if something is left (start.sh was killed, or a test failed). */
export async function killRecorded(s: Sandbox): Promise<void> {
  const pids: number[] = [];
  for (const f of await readdir(s.pids).catch(() => [] as string[])) {
    if (f.endsWith('.pid')) pids.push(Number((await readFile(join(s.pids, f), 'utf8')).trim()));
  }
  for (const f of ['comfyui.pid', 'supervisor.pid']) {
    const v = await readFile(join(s.run, f), 'utf8').catch(() => '');
    if (v.trim()) pids.push(Number(v.trim()));
  }
  // Services in their own sessions (status endpoint, connection log, ...) outlive a killed start.sh.
  for (const f of await readdir(join(s.run, 'services')).catch(() => [] as string[])) {
    const v = (await readFile(join(s.run, 'services', f), 'utf8').catch(() => '')).split(' ')[0] ?? '';
    if (/^\d+$/.test(v)) pids.push(Number(v));
  }
  for (const pid of pids) {
    if (pid > 1 && isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill 0: look at /proc.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function comfyPid(s: Sandbox): Promise<number> {
  return Number((await readFile(join(s.run, 'comfyui.pid'), 'utf8')).trim());
}

// Generous bounds: in CI these tests share 2 cores with the engine tests (a registry-cache
// prune there took 187 s), and a fake ComfyUI that is ready in 0.5 s idle once took 4.4 s;
// a 15 s wait for a soft restart timed out once. The tests assert behaviour, not speed.
export function comfyctl(s: Sandbox, args: string[], timeoutMs = 75_000) {
  return execa(COMFYCTL, args, {
    env: { ...s.env, COMFYCTL_TIMEOUT: '60' },
    extendEnv: false,
    reject: false,
    timeout: timeoutMs,
    forceKillAfterDelay: 1000,
    all: true,
  });
}

/** pid and every process below it (from /proc/<pid>/stat's parent pid). */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* ended meanwhile */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out;
}

/** Real uid of a process (/proc/<pid>/status). */
export function processUid(pid: number): number {
  const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? -1);
}

/** What the fake ComfyUI recorded at each launch (FAKE_COMFY_MAIN). */
export interface LaunchRecord {
  pid: number;
  argv: string[];
  uid: number;
  umask: number;
  manager_cli_only: boolean | null;
  env: Record<string, string | null>;
}

export async function launches(s: Sandbox, path = join(s.comfy, 'argv.log')): Promise<LaunchRecord[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LaunchRecord);
}

/** Pid of a service start.sh recorded for the status endpoint ($KILN_RUN_DIR/services/<name>). */
export async function servicePid(s: Sandbox, name: string): Promise<number> {
  return Number((await readFile(join(s.run, 'services', name), 'utf8')).split(' ')[0]);
}

/** The baked models manifest of the sandbox. */
export async function writeManifest(s: Sandbox, models: readonly Record<string, unknown>[]): Promise<void> {
  await writeFile(join(s.manifest, 'models.json'), JSON.stringify({ schema: 1, template: 'test', models }));
}
