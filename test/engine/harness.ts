/**
 * Shared helpers for engine tests (DESIGN.md "Testing pyramid" item 5): tests
 * that build bake graphs on a real dockerd + BuildKit + loopback registry
 * (tools/engine.sh) over the stub world (tools/stub-world/).
 *
 * Typical use:
 *
 *   const engine = await engineAvailable();
 *   const etest = engineTest(test, engine);          // serial tests, or visible skips
 *   etest('graph builds', async t => engineLock(async () => {
 *     await buildStubWorld([STUB_BASE_IMAGE]);
 *     const r = await bake({ cwd: dir, targets: ['app'], vars: { TAG: 'x' } });
 *     t.true(r.ok, r.errorText);
 *     t.deepEqual(uncachedSteps(r.steps), []);
 *   }));
 *
 * Engine tests share ONE daemon and ONE BuildKit cache, and some of them
 * prune it; run every build sequence whose outcome depends on the cache
 * (build, rebuild, count CACHED) inside engineLock(), which serializes engine
 * work across ava workers and test files. bake() takes the lock itself when
 * not already inside one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext, Implementation, TestFn } from 'ava';
import { execa } from 'execa';
import semver from 'semver';
import { pidAlive } from '../../src/io/pid.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const STUB_WORLD_BUILD = path.join(REPO_ROOT, 'tools/stub-world/build.sh');
/** The CUDA base image name the generated graph starts from, as a stub. */
export const STUB_BASE_IMAGE = 'nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04';
/** Loopback registry started by tools/engine.sh. */
export const REGISTRY = process.env['KILN_REGISTRY'] ?? '127.0.0.1:5000';
/** Where every stub-world shim appends its log line inside an image. */
export const SHIM_LOG_PATH = '/var/log/kiln/shims.log';
export const MIN_BUILDX = '0.13.0';
export const ENGINE_HINT =
  'run `tools/engine.sh up` then `eval "$(tools/engine.sh env)"` (CI: .ci/run does both)';

// ------------------------------------------------------------------ engine

export interface EngineInfo {
  available: boolean;
  /** Why the engine is unusable (set when !available), one short clause. */
  reason?: string;
  /** The underlying error message, if any. */
  detail?: string;
  serverVersion?: string;
  buildxVersion?: string;
  dockerHost?: string;
}

let engineInfo: Promise<EngineInfo> | undefined;

/**
 * Whether a Docker engine answers at DOCKER_HOST (or the default socket) and
 * the buildx plugin is >= 0.13. Memoized per process.
 */
export function engineAvailable(): Promise<EngineInfo> {
  engineInfo ??= probeEngine();
  return engineInfo;
}

async function probeEngine(): Promise<EngineInfo> {
  const dockerHost = process.env['DOCKER_HOST'];
  const where = dockerHost ? `DOCKER_HOST=${dockerHost}` : 'the default Docker socket (DOCKER_HOST unset)';
  const server = await execa('docker', ['version', '--format', '{{.Server.Version}}'], {
    reject: false,
    timeout: 15_000,
  });
  if (server.failed || !String(server.stdout).trim()) {
    const detail = String(server.stderr || server.shortMessage || '').split('\n')[0];
    return { available: false, reason: `no Docker engine at ${where}`, detail, ...(dockerHost ? { dockerHost } : {}) };
  }
  const serverVersion = String(server.stdout).trim();
  const bx = await execa('docker', ['buildx', 'version'], { reject: false, timeout: 15_000 });
  // "github.com/docker/buildx 0.13.1+ds1 <commit>" or "... v0.13.1 <commit>"
  const raw = String(bx.stdout).trim().split(/\s+/)[1] ?? '';
  const buildxVersion = semver.coerce(raw)?.version;
  if (bx.failed || !buildxVersion) {
    return {
      available: false,
      reason: `docker buildx plugin not found (DOCKER_CONFIG=${process.env['DOCKER_CONFIG'] ?? 'unset'})`,
      serverVersion,
    };
  }
  if (semver.lt(buildxVersion, MIN_BUILDX)) {
    return { available: false, reason: `buildx ${raw} is older than ${MIN_BUILDX}`, serverVersion, buildxVersion };
  }
  return { available: true, serverVersion, buildxVersion, ...(dockerHost ? { dockerHost } : {}) };
}

/** Whether the loopback registry answers /v2/. */
export async function registryAvailable(registry = REGISTRY): Promise<boolean> {
  try {
    const res = await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Tags of a repository in the loopback registry ([] when it has none). */
export async function registryTags(repo: string, registry = REGISTRY): Promise<string[]> {
  const res = await fetch(`http://${registry}/v2/${repo}/tags/list`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) return [];
  const body = (await res.json()) as { tags?: string[] | null };
  return body.tags ?? [];
}

/**
 * Registers engine tests: serial ava tests when the engine is available; when
 * it is not, each becomes a skipped test whose title carries the reason, and
 * one passing test logs the reason (so it is visible in every reporter).
 */
export function engineTest(
  test: TestFn,
  engine: EngineInfo,
): (title: string, impl: Implementation<[]>) => void {
  if (engine.available) return (title, impl) => test.serial(title, impl);
  const message = `engine tests skipped: ${engine.reason}; ${ENGINE_HINT}`;
  test('engine availability', t => {
    t.log(message);
    if (engine.detail) t.log(engine.detail);
    t.pass();
  });
  return title => test.skip(`${title} (engine tests skipped: ${engine.reason})`, () => {});
}

// ------------------------------------------------------------------ lock

const lockHeld = new AsyncLocalStorage<boolean>();
const LOCK_DIR = path.join(tmpdir(), 'kiln-engine-tests.lock');

/**
 * Runs fn holding an exclusive, cross-process lock on the engine (a mkdir
 * lock in the temp dir; a lock whose owning process died is taken over).
 * Re-entrant within one async call chain.
 */
export async function engineLock<T>(fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  if (lockHeld.getStore()) return fn();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      await writeFile(path.join(LOCK_DIR, 'owner'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await readFile(path.join(LOCK_DIR, 'owner'), 'utf8').catch(() => ''));
      if (owner && !pidAlive(owner)) {
        await rm(LOCK_DIR, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`engine lock ${LOCK_DIR} still held by pid ${owner || '?'}`);
      await new Promise(r => setTimeout(r, 200));
    }
  }
  try {
    return await lockHeld.run(true, fn);
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ docker helpers

export async function docker(args: string[], opts: { input?: string; timeout?: number } = {}) {
  return execa('docker', args, { timeout: opts.timeout ?? 120_000, ...(opts.input ? { input: opts.input } : {}) });
}

/** Makes the stub-world images (idempotent; see tools/stub-world/README.md). */
export async function buildStubWorld(names: string[] = [STUB_BASE_IMAGE]): Promise<void> {
  await engineLock(() => execa(STUB_WORLD_BUILD, names, { timeout: 120_000 }));
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  Config: { Env?: string[]; Labels?: Record<string, string> | null; Cmd?: string[] | null; Entrypoint?: string[] | null; WorkingDir?: string; ExposedPorts?: Record<string, object> | null };
  RootFS?: { Layers?: string[] };
  [k: string]: unknown;
}

export async function imageInspect(image: string): Promise<ImageInspect> {
  const r = await docker(['image', 'inspect', image]);
  const list = JSON.parse(String(r.stdout)) as ImageInspect[];
  if (!list[0]) throw new Error(`no such image ${image}`);
  return list[0];
}

export async function imageExists(image: string): Promise<boolean> {
  const r = await execa('docker', ['image', 'inspect', image], { reject: false });
  return r.exitCode === 0;
}

export async function imageLabels(image: string): Promise<Record<string, string>> {
  return (await imageInspect(image)).Config.Labels ?? {};
}

export async function imageEnv(image: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const kv of (await imageInspect(image)).Config.Env ?? []) {
    const i = kv.indexOf('=');
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export interface HistoryEntry {
  id: string;
  createdBy: string;
  size: string;
  comment: string;
}

/** `docker history --no-trunc`, newest layer first. */
export async function imageHistory(image: string): Promise<HistoryEntry[]> {
  const r = await docker(['history', '--no-trunc', '--format', '{{json .}}', image]);
  return String(r.stdout)
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const h = JSON.parse(line) as Record<string, string>;
      return { id: h['ID'] ?? '', createdBy: h['CreatedBy'] ?? '', size: h['Size'] ?? '', comment: h['Comment'] ?? '' };
    });
}

/** Reads a file out of an image (docker create + docker cp, then docker rm). */
export async function readFileFromImage(image: string, file: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-cp-'));
  const created = await docker(['create', image, '/bin/true']);
  const id = String(created.stdout).trim();
  try {
    const dest = path.join(dir, 'out');
    await docker(['cp', `${id}:${file}`, dest]);
    return await readFile(dest, 'utf8');
  } finally {
    await execa('docker', ['rm', '-f', id], { reject: false });
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes images by reference; missing ones are ignored. */
export async function removeImages(refs: string[]): Promise<void> {
  if (refs.length) await execa('docker', ['image', 'rm', '-f', ...refs], { reject: false });
}

/**
 * `docker builder prune -af`: drops ALL BuildKit cache of the daemon (takes the engine lock).
 * With the native snapshotter every record is a full copy, so dropping the whole graph's cache
 * took over 2 minutes once on a busy 2-core machine (41 s for the small smoke fixture): the
 * bound is 10 minutes.
 */
export async function pruneBuildCache(): Promise<void> {
  await engineLock(() => docker(['builder', 'prune', '-af'], { timeout: 10 * 60_000 }));
}

// ------------------------------------------------------------------ bake

export interface BakeOptions {
  /** Directory the bake file's relative contexts are resolved from. */
  cwd: string;
  /** Bake files (-f), relative to cwd; default: buildx's own lookup. */
  files?: string[];
  targets?: string[];
  /** --set entries, e.g. 'wheels.cache-to=type=registry,ref=...,mode=max'. */
  set?: string[];
  /** Values for HCL `variable` blocks (passed as environment variables). */
  vars?: Record<string, string>;
  load?: boolean;
  push?: boolean;
  noCache?: boolean;
  extraArgs?: string[];
  timeoutMs?: number;
}

export interface BakeResult {
  ok: boolean;
  exitCode: number | undefined;
  command: string[];
  durationMs: number;
  steps: Step[];
  /** Raw stderr: the rawjson progress stream plus any plain-text lines. */
  stderr: string;
  stdout: string;
  /** Non-JSON stderr lines and vertex errors, for assertion messages. */
  errorText: string;
}

/**
 * `docker buildx bake --progress=rawjson ...` with execa. Never throws on a
 * failed build: check `ok` (and print `errorText`). Takes the engine lock.
 */
export async function bake(opts: BakeOptions): Promise<BakeResult> {
  const args = ['buildx', 'bake', '--progress=rawjson'];
  for (const f of opts.files ?? []) args.push('-f', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  if (opts.load) args.push('--load');
  if (opts.push) args.push('--push');
  if (opts.noCache) args.push('--no-cache');
  args.push(...(opts.extraArgs ?? []), ...(opts.targets ?? []));
  return engineLock(async () => {
    const t0 = Date.now();
    const r = await execa('docker', args, {
      cwd: opts.cwd,
      env: { ...opts.vars },
      reject: false,
      timeout: opts.timeoutMs ?? 10 * 60_000,
    });
    const stderr = String(r.stderr);
    const progress = parseRawjson(stderr, opts.targets?.length === 1 ? { defaultTarget: opts.targets[0]! } : {});
    const errors = progress.steps.filter(s => s.error && s.kind !== 'cache').map(s => `${s.rawName}: ${s.error}\n${s.logs}`);
    return {
      ok: r.exitCode === 0,
      exitCode: r.exitCode,
      command: ['docker', ...args],
      durationMs: Date.now() - t0,
      steps: progress.steps,
      stderr,
      stdout: String(r.stdout),
      errorText: [...progress.text, ...errors].join('\n'),
    };
  });
}

/**
 * `kiln bake ... --progress rawjson` from `cwd` (its own bin/kiln.mjs), under the engine lock:
 * the CLI's own flags (--push, --deps-read-only, --base-mirror) end to end, with the steps parsed.
 */
export async function kilnBake(cwd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 10 * 60_000): Promise<BakeResult> {
  const command = ['node', path.join(cwd, 'bin/kiln.mjs'), 'bake', ...args, '--progress', 'rawjson'];
  return engineLock(async () => {
    const t0 = Date.now();
    const r = await execa(command[0]!, command.slice(1), { cwd, env, reject: false, timeout: timeoutMs });
    const stderr = String(r.stderr);
    const progress = parseRawjson(stderr);
    const errors = progress.steps.filter((s) => s.error && s.kind !== 'cache').map((s) => `${s.rawName}: ${s.error}\n${s.logs}`);
    return {
      ok: r.exitCode === 0,
      exitCode: r.exitCode,
      command,
      durationMs: Date.now() - t0,
      steps: progress.steps,
      stderr,
      stdout: String(r.stdout),
      errorText: [...progress.text, ...errors].join('\n'),
    };
  });
}

/**
 * Deletes what a tag names from the loopback registry (storage delete is on, tools/engine.sh):
 * the manifest the tag resolves to, so the tag is gone. Returns false when the tag did not exist.
 */
export async function deleteRegistryTag(repo: string, tag: string, registry = REGISTRY): Promise<boolean> {
  const accept = [
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
  ].join(', ');
  const head = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: accept }, signal: AbortSignal.timeout(10_000) });
  if (head.status === 404) return false;
  const digest = head.headers.get('docker-content-digest');
  if (!head.ok || !digest) throw new Error(`registry: HEAD ${repo}:${tag} -> ${head.status}`);
  const del = await fetch(`http://${registry}/v2/${repo}/manifests/${digest}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
  if (del.status !== 202) throw new Error(`registry: DELETE ${repo}@${digest} -> ${del.status} (is storage delete enabled?)`);
  return true;
}

/** `docker buildx bake --print` as parsed JSON. */
export async function bakePrint(opts: Pick<BakeOptions, 'cwd' | 'files' | 'targets' | 'vars' | 'set'>) {
  const args = ['buildx', 'bake', '--print'];
  for (const f of opts.files ?? []) args.push('-f', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  args.push(...(opts.targets ?? []));
  const r = await execa('docker', args, { cwd: opts.cwd, env: { ...opts.vars } });
  return JSON.parse(String(r.stdout)) as {
    group?: Record<string, { targets: string[] }>;
    target: Record<string, Record<string, unknown>>;
  };
}

// ------------------------------------------------------------------ the generated graph

export const GENERATED_BAKE_FILE = 'bake/docker-bake.hcl';

export interface GeneratedBakeOptions extends Omit<BakeOptions, 'cwd' | 'files'> {
  /** Value for the bake file's REGISTRY variable; default `${REGISTRY}/kiln-test` (loopback). */
  registry?: string;
  /** Value for the TAG variable; default 'test'. */
  tag?: string;
  /**
   * 'off' (default): `--set *.cache-to= --set *.cache-from=`, i.e. only the
   * daemon's local BuildKit cache (fast, no registry traffic);
   * 'registry': keep the file's registry cache-from/cache-to (pointed at the
   * loopback registry through `registry`).
   */
  cache?: 'off' | 'registry';
}

/**
 * Bakes the committed generated graph (bake/docker-bake.hcl) from the repo
 * root, with REGISTRY pointed at the loopback registry so no cache ref or tag
 * names a remote registry. Build the stub world first: prepareStubWorld().
 */
export function bakeGenerated(opts: GeneratedBakeOptions = {}): Promise<BakeResult> {
  const { registry = `${REGISTRY}/kiln-test`, tag = 'test', cache = 'off', vars, set, ...rest } = opts;
  return bake({
    ...rest,
    cwd: REPO_ROOT,
    files: [GENERATED_BAKE_FILE],
    vars: { REGISTRY: registry, TAG: tag, ...vars },
    set: [...(cache === 'off' ? ['*.cache-to=', '*.cache-from='] : []), ...(set ?? [])],
  });
}

/**
 * The external base images (FROM lines that are neither a named context of
 * the target, nor a stage, nor scratch) of every target in a bake file.
 */
export async function baseImagesOf(opts: Pick<BakeOptions, 'cwd' | 'files' | 'targets' | 'vars'>): Promise<string[]> {
  const printed = await bakePrint(opts);
  const images = new Set<string>();
  for (const target of Object.values(printed.target)) {
    const context = String(target['context'] ?? '.');
    const dockerfile = String(target['dockerfile'] ?? 'Dockerfile');
    const file = path.resolve(opts.cwd, context, dockerfile);
    const named = new Set(Object.keys((target['contexts'] as Record<string, string> | undefined) ?? {}));
    const stages = new Set<string>();
    const args = (target['args'] as Record<string, string> | undefined) ?? {};
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
      if (!m) continue;
      const ref = m[1]!.replace(/\$\{?(\w+)\}?/g, (_, k: string) => args[k] ?? '');
      if (m[2]) stages.add(m[2]);
      if (ref !== 'scratch' && !named.has(ref) && !stages.has(ref)) images.add(ref);
    }
  }
  return [...images].sort();
}

/** Makes a stub-world image for every external base image of the generated graph (or `names`). */
export async function prepareStubWorld(names?: string[]): Promise<string[]> {
  const images = names ?? (await baseImagesOf({ cwd: REPO_ROOT, files: [GENERATED_BAKE_FILE] }));
  if (images.length) await buildStubWorld(images);
  return images;
}

// ------------------------------------------------------------------ rawjson

/**
 * One BuildKit vertex of a bake run, merged over every progress message that
 * mentions its digest.
 *
 * buildx 0.13 `--progress=rawjson` writes pretty-printed SolveStatus objects
 * ({vertexes, statuses, logs, warnings}) one after another on stderr. When a
 * bake builds several targets (also the ones pulled in through
 * `contexts = { x = "target:y" }`), every target is its own build whose vertex
 * names get the target as prefix: "[wheels 3/5] RUN ...",
 * "[app stage-0 1/4] RUN ...", "[common internal] load ...",
 * "[app] exporting to image". BuildKit shares identical vertices between the
 * builds, so a vertex of `common` is reported by the common, wheels and app
 * builds alike, under each prefix: `targets` lists them all, and `target` is
 * the OWNER, the reporting build with the fewest vertices, i.e. the most
 * upstream one (for a chain of named contexts: the target whose Dockerfile
 * holds the step). With a single target buildx adds no prefix; then `target`
 * is `defaultTarget`.
 */
export interface Step {
  digest: string;
  /** Name without the bracket prefix, e.g. 'RUN pip wheel . ...', 'exporting to image'. */
  name: string;
  /** First full name seen, e.g. '[wheels 3/5] RUN pip wheel . ...'. */
  rawName: string;
  target: string | undefined;
  targets: string[];
  /** Stage label when buildx prints one ('stage-0', 'builder'). */
  stage?: string;
  /** [n, total] from 'n/total'. */
  index?: [number, number];
  /**
   * step: a Dockerfile instruction that executes (RUN, COPY, ADD, WORKDIR...);
   * from: a FROM source (never reported CACHED); internal: '[... internal]'
   * and '[T context NAME] load ...' (named local contexts);
   * export: exporting/pushing the image; cache: importing/exporting registry
   * cache (an import of a missing ref carries an `error` but is harmless);
   * other: anything else.
   */
  kind: 'step' | 'from' | 'internal' | 'export' | 'cache' | 'other';
  cached: boolean;
  started?: string;
  completed?: string;
  error?: string;
  /** Output the vertex printed (decoded), for failure messages. */
  logs: string;
}

export interface Progress {
  steps: Step[];
  /** Non-JSON lines of the stream (e.g. "ERROR: failed to solve: ..."). */
  text: string[];
  /** Number of SolveStatus objects parsed. */
  messages: number;
}

interface RawVertex {
  digest: string;
  name?: string;
  cached?: boolean;
  started?: string;
  completed?: string;
  error?: string;
}
interface RawLog {
  vertex: string;
  data?: string;
}
interface RawStatus {
  vertexes?: RawVertex[];
  logs?: RawLog[];
}

/** Splits the rawjson stream into JSON objects (pretty-printed or one per line) and text lines. */
export function splitRawjson(stream: string): { objects: RawStatus[]; text: string[] } {
  const objects: RawStatus[] = [];
  const text: string[] = [];
  let buf: string[] | undefined;
  for (const line of stream.split('\n')) {
    if (buf) {
      buf.push(line);
      if (line === '}') {
        objects.push(JSON.parse(buf.join('\n')) as RawStatus);
        buf = undefined;
      }
      continue;
    }
    if (line === '{') {
      buf = [line];
      continue;
    }
    if (line.startsWith('{') && line.endsWith('}')) {
      try {
        objects.push(JSON.parse(line) as RawStatus);
        continue;
      } catch {
        // not JSON after all: keep as text
      }
    }
    if (line.trim()) text.push(line);
  }
  if (buf) text.push(...buf);
  return { objects, text };
}

const PREFIX = /^\[([^\]]*)\]\s*(.*)$/s;
const INDEX = /^(\d+)\/(\d+)$/;

export function parseRawjson(stream: string, opts: { defaultTarget?: string; targets?: string[] } = {}): Progress {
  const { objects, text } = splitRawjson(stream);
  const names = new Map<string, Set<string>>();
  const merged = new Map<string, RawVertex>();
  const logs = new Map<string, string[]>();
  const order: string[] = [];
  for (const o of objects) {
    for (const v of o.vertexes ?? []) {
      const prev = merged.get(v.digest);
      if (!prev) order.push(v.digest);
      merged.set(v.digest, {
        ...prev,
        ...v,
        cached: Boolean(prev?.cached || v.cached),
        ...(prev?.started && (!v.started || prev.started < v.started) ? { started: prev.started } : {}),
        name: prev?.name ?? v.name ?? '',
      });
      if (v.name) (names.get(v.digest) ?? names.set(v.digest, new Set()).get(v.digest)!).add(v.name);
    }
    for (const l of o.logs ?? []) {
      if (!l.data) continue;
      (logs.get(l.vertex) ?? logs.set(l.vertex, []).get(l.vertex)!).push(Buffer.from(l.data, 'base64').toString('utf8'));
    }
  }

  // Target names: given, or learned from "[T internal] ..." / "[T] exporting ...".
  const known = new Set(opts.targets ?? []);
  for (const set of names.values()) {
    for (const n of set) {
      const m = PREFIX.exec(n);
      if (!m) continue;
      const toks = m[1]!.split(' ');
      if (toks.length === 2 && toks[1] === 'internal') known.add(toks[0]!);
      if (toks.length === 1 && toks[0] !== 'internal' && !INDEX.test(toks[0]!) && /^export|^push|^naming|^writing/.test(m[2]!))
        known.add(toks[0]!);
    }
  }

  interface Parsed {
    target?: string;
    stage?: string;
    index?: [number, number];
    internal: boolean;
    rest: string;
  }
  const parseName = (n: string): Parsed => {
    const m = PREFIX.exec(n);
    if (!m) return { internal: false, rest: n };
    const toks = m[1]!.split(' ').filter(Boolean);
    const p: Parsed = { internal: false, rest: m[2]! };
    if (toks[0] && known.has(toks[0]) && !(toks.length === 1 && INDEX.test(toks[0]))) p.target = toks.shift();
    for (let i = 0; i < toks.length; i++) {
      const tok = toks[i]!;
      const im = INDEX.exec(tok);
      if (im) p.index = [Number(im[1]), Number(im[2])];
      else if (tok === 'internal') p.internal = true;
      else if (tok === 'context' && !p.index) {
        // "[T context runtime] load .dockerignore": a named local context
        p.internal = true;
        i++;
      } else p.stage = tok;
    }
    return p;
  };

  // Vertices per target, to choose owners.
  const size = new Map<string, number>();
  const parsedNames = new Map<string, Parsed[]>();
  for (const [digest, set] of names) {
    const ps = [...set].map(parseName);
    parsedNames.set(digest, ps);
    for (const t of new Set(ps.map(p => p.target).filter((t): t is string => Boolean(t)))) size.set(t, (size.get(t) ?? 0) + 1);
  }

  const steps: Step[] = order.map(digest => {
    const v = merged.get(digest)!;
    const ps = parsedNames.get(digest) ?? [parseName(v.name ?? '')];
    const first = ps[0] ?? parseName(v.name ?? '');
    const targets = [...new Set(ps.map(p => p.target).filter((t): t is string => Boolean(t)))].sort();
    const owner =
      [...targets].sort((a, b) => (size.get(a) ?? 0) - (size.get(b) ?? 0) || a.localeCompare(b))[0] ?? opts.defaultTarget;
    const rest = first.rest;
    let kind: Step['kind'];
    if (first.internal) kind = 'internal';
    else if (/^(importing cache manifest|exporting cache|writing cache|preparing build cache)/.test(rest)) kind = 'cache';
    else if (/^(exporting|pushing|naming|writing image|unpacking|preparing layers|sending tarball)/.test(rest)) kind = 'export';
    else if (first.index && /^FROM\s/i.test(rest)) kind = 'from';
    else if (first.index) kind = 'step';
    else kind = 'other';
    const step: Step = {
      digest,
      name: rest,
      rawName: v.name ?? '',
      target: owner,
      targets,
      kind,
      cached: Boolean(v.cached),
      logs: (logs.get(digest) ?? []).join(''),
    };
    if (first.stage) step.stage = first.stage;
    if (first.index) step.index = first.index;
    if (v.started) step.started = v.started;
    if (v.completed) step.completed = v.completed;
    if (v.error) step.error = v.error;
    return step;
  });
  return { steps, text, messages: objects.length };
}

/** Dockerfile steps (kind 'step') that were NOT cached. */
export function uncachedSteps(steps: Step[]): Step[] {
  return steps.filter(s => s.kind === 'step' && !s.cached);
}

export interface TargetCounts {
  executed: number;
  cached: number;
  executedNames: string[];
}

/** Per owning target: how many Dockerfile steps ran and how many were CACHED. */
export function countByTarget(steps: Step[]): Record<string, TargetCounts> {
  const out: Record<string, TargetCounts> = {};
  for (const s of steps) {
    if (s.kind !== 'step') continue;
    const c = (out[s.target ?? '?'] ??= { executed: 0, cached: 0, executedNames: [] });
    if (s.cached) c.cached++;
    else {
      c.executed++;
      c.executedNames.push(s.name);
    }
  }
  return out;
}

/** Finds the step whose name (without prefix) contains `needle`. */
export function findStep(steps: Step[], needle: string | RegExp, target?: string): Step | undefined {
  return steps.find(
    s => (typeof needle === 'string' ? s.name.includes(needle) : needle.test(s.name)) && (!target || s.target === target),
  );
}

// ------------------------------------------------------------------ shim log

export interface ShimCall {
  tool: string;
  cwd: string;
  env: Record<string, string>;
  argv: string[];
}

/**
 * Undoes bash `printf %q` (backslash escapes, '...' and $'...' quoting) for
 * one word.
 */
export function unquoteShellWord(word: string): string {
  let out = '';
  for (let i = 0; i < word.length; ) {
    const c = word[i]!;
    if (c === '\\') {
      out += word[i + 1] ?? '';
      i += 2;
    } else if (c === "'") {
      const end = word.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${word}`);
      out += word.slice(i + 1, end);
      i = end + 1;
    } else if (c === '$' && word[i + 1] === "'") {
      i += 2;
      while (i < word.length && word[i] !== "'") {
        if (word[i] === '\\') {
          const e = word[i + 1] ?? '';
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
          if (e in simple) {
            out += simple[e];
            i += 2;
          } else if (e === 'x') {
            const hex = /^[0-9a-fA-F]{1,2}/.exec(word.slice(i + 2))![0];
            out += String.fromCharCode(parseInt(hex, 16));
            i += 2 + hex.length;
          } else if (/[0-7]/.test(e)) {
            const oct = /^[0-7]{1,3}/.exec(word.slice(i + 1))![0];
            out += String.fromCharCode(parseInt(oct, 8));
            i += 1 + oct.length;
          } else {
            out += '\\' + e;
            i += 2;
          }
        } else {
          out += word[i];
          i++;
        }
      }
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Splits a space-separated list of %q-quoted words (the ENV field). */
function splitQuotedWords(field: string): string[] {
  const words: string[] = [];
  let cur = '';
  for (let i = 0; i < field.length; i++) {
    const c = field[i]!;
    if (c === '\\') {
      cur += c + (field[i + 1] ?? '');
      i++;
    } else if (c === "'" || (c === '$' && field[i + 1] === "'")) {
      const start = c === '$' ? i + 2 : i + 1;
      let j = start;
      while (j < field.length && field[j] !== "'") j += field[j] === '\\' && c === '$' ? 2 : 1;
      cur += field.slice(i, j + 1);
      i = j;
    } else if (c === ' ') {
      if (cur) words.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) words.push(cur);
  return words;
}

/** Parses /var/log/kiln/shims.log (format: tools/stub-world/README.md). */
export function parseShimLog(text: string): ShimCall[] {
  return text
    .split('\n')
    .filter(line => line.length > 0)
    .map(line => {
      const [tool = '', cwd = '', envField = '', ...args] = line.split('\t');
      const env: Record<string, string> = {};
      for (const w of splitQuotedWords(envField)) {
        const i = w.indexOf('=');
        env[w.slice(0, i)] = unquoteShellWord(w.slice(i + 1));
      }
      return { tool, cwd: unquoteShellWord(cwd), env, argv: args.map(unquoteShellWord) };
    });
}

/** The shim log of an image (every shim call in its history). */
export async function readShimLog(image: string): Promise<ShimCall[]> {
  return parseShimLog(await readFileFromImage(image, SHIM_LOG_PATH));
}

/** For assertion messages: one readable line per call. */
export function formatShimCalls(calls: ShimCall[]): string {
  return calls
    .map(c => `${c.tool} (${c.cwd}) ${Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' ')} :: ${c.argv.join(' ')}`)
    .join('\n');
}

export type { ExecutionContext };
