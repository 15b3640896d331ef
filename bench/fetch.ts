/**
 * `npm run bench:fetch`: the model fetcher against a loopback server that
 * throttles every connection (as a CDN or a slow peer does). Prints figures
 * and ratios measured in this one run; asserts nothing.
 *  1. one large file: built-in segmented vs built-in on one connection vs
 *     `aria2c -x8 -s8` (Debian's aria2, when installed);
 *  2. many files at once: wall time vs the slowest of the same files alone.
 * Every run verifies the sha256 (aria2c with --checksum), so each does the same work.
 * Targets (issue 13): large file <= 0.35x one connection and within 10% of
 * aria2c; many files <= 1.2x the slowest single file.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { makeData, startServer } from '../test/runtime/helpers/server.ts';

const MIB = 1024 * 1024;
const RATE = 10 * MIB; // per connection, as in the measurement
const LARGE = 200 * MIB;
const MANY = 8; // = FETCH_JOBS' default
const SMALL = 20 * MIB;

const root = join(fileURLToPath(import.meta.url), '..', '..');
const FETCHER = join(root, 'scripts', 'fetch_models.py');
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
const work = mkdtempSync(join(tmpdir(), 'kiln-bench-fetch-'));
const srv = await startServer();

interface Model {
  id: string;
  source: 'url';
  url: string;
  into: string;
  file: string;
  sha256: string;
  bytes: number;
  auth: null;
}

let runNo = 0;
async function fetcher(models: Model[], extra: string[] = []): Promise<number> {
  const dir = join(work, `run${++runNo}`);
  const manifest = join(work, `m${runNo}.json`);
  writeFileSync(manifest, JSON.stringify({ schema: 1, template: 'bench', models }));
  const t0 = performance.now();
  const r = await execa('python3', [FETCHER, '--manifest', manifest, '--models-dir', dir, '--min-free-mb', '0', ...extra], {
    env,
    extendEnv: false,
    reject: false,
    all: true,
  });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`fetcher failed (exit ${r.exitCode}):\n${r.all}`);
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

async function aria2c(url: string, sha256: string): Promise<number | undefined> {
  const has = await execa('aria2c', ['--version'], { reject: false });
  if (has.exitCode !== 0) return undefined;
  const dir = join(work, 'aria2c');
  const t0 = performance.now();
  const r = await execa(
    'aria2c',
    ['-x8', '-s8', `--checksum=sha-256=${sha256}`, '--file-allocation=none', '--allow-overwrite=true',
      '--console-log-level=warn', '--summary-interval=0', '--download-result=hide', `--dir=${dir}`, '--out=large.bin', url],
    { env, extendEnv: false, reject: false, all: true },
  );
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`aria2c failed (exit ${r.exitCode}):\n${r.all}`);
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const x = (a: number, b: number) => (a / b).toFixed(2);

try {
  const aria2Version = (await execa('aria2c', ['--version'], { reject: false })).stdout.split('\n')[0] || 'not installed';
  console.log(`Fetch benchmark: loopback server at ${RATE / MIB} MiB/s per connection; python3 ${
    (await execa('python3', ['--version'])).stdout.replace('Python ', '')}; ${aria2Version}`);

  // 1. One large file.
  const big = makeData(LARGE, 'large');
  srv.routes.set('/large.bin', { data: big.data, rate: RATE });
  const model: Model = { id: 'large', source: 'url', url: `${srv.base}/large.bin`, into: 'checkpoints', file: 'large.bin', sha256: big.sha256, bytes: LARGE, auth: null };
  const segmented = await fetcher([model]);
  const segmentedConnections = srv.stats('/large.bin').maxOpen;
  const before = srv.stats('/large.bin').requests;
  const single = await fetcher([model], ['--segments', '1']);
  const singleRequests = srv.stats('/large.bin').requests - before;
  const aria = await aria2c(model.url, big.sha256);
  srv.routes.delete('/large.bin');

  console.log(`\n1. One ${LARGE / MIB} MiB file (sha256 verified in every run)`);
  console.log('| transfer | wall | vs one connection |');
  console.log('|---|---|---|');
  console.log(`| built-in, one connection (--segments 1; ${singleRequests} request) | ${s(single)} | 1.00 |`);
  console.log(`| built-in, segmented (defaults; ${segmentedConnections} connections open at most) | ${s(segmented)} | ${x(segmented, single)} |`);
  if (aria !== undefined) console.log(`| aria2c -x8 -s8 | ${s(aria)} | ${x(aria, single)} |`);
  console.log(`segmented / one connection = ${x(segmented, single)} (target <= 0.35)`);
  if (aria !== undefined) console.log(`segmented / aria2c = ${x(segmented, aria)} (target <= 1.10)`);
  else console.log('aria2c not installed: no comparison (apt-get install aria2)');

  // 2. Many files.
  const files: Model[] = [];
  for (let i = 0; i < MANY; i++) {
    const d = makeData(SMALL, `many${i}`);
    srv.routes.set(`/many/${i}.bin`, { data: d.data, rate: RATE });
    files.push({ id: `f${i}`, source: 'url', url: `${srv.base}/many/${i}.bin`, into: 'loras', file: `${i}.bin`, sha256: d.sha256, bytes: SMALL, auth: null });
  }
  const singles: number[] = [];
  for (const f of files) singles.push(await fetcher([f]));
  const slowest = Math.max(...singles);
  const all = await fetcher(files);
  console.log(`\n2. ${MANY} files of ${SMALL / MIB} MiB`);
  console.log(`each alone: ${singles.map((v) => (v / 1000).toFixed(2)).join(', ')} s (slowest ${s(slowest)})`);
  console.log(`all ${MANY} in one run (defaults): ${s(all)}`);
  console.log(`all / slowest single = ${x(all, slowest)} (target <= 1.20)`);
  console.log(`most connections open at once over the whole benchmark: ${srv.maxOpenAll()}`);
} finally {
  await srv.close();
  rmSync(work, { recursive: true, force: true });
}
