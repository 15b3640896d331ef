// A full disk, for real: each scenario runs the fetcher on a small tmpfs
// mounted in a private mount namespace (`unshare -rm`, no root needed where
// user namespaces are allowed). Where they are not, the tests skip and say so.
import test from 'ava';
import { execa, execaSync } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { urlModel, withServer, writeManifest } from './helpers/fetch.ts';
import { makeData } from './helpers/server.ts';
import { baseEnv, FETCHER, tempDir } from './helpers/util.ts';

const MIB = 1024 * 1024;
const probe = execaSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=1m none /tmp && true'], { reject: false });
const why = probe.exitCode === 0 ? '' : `unshare -rm + tmpfs unavailable here (${String(probe.stderr || probe.message).split('\n')[0] ?? ''})`;
const diskTest = why ? (title: string) => test.skip(`${title} [skipped: ${why}]`, () => {}) : test;

interface Run {
  exit: number;
  out: string;
}

/**
 * Runs the fetcher once per argument list, in order, on one fresh tmpfs of
 * `mib` MiB mounted at <dir>/models (or at <dir>/<mountAt>, `setup` then
 * linking it somewhere). A run ['!', cmd] runs a shell command there instead.
 */
async function onTmpfs(dir: string, mib: number, runs: string[][], mountAt = 'models', setup: string[] = []): Promise<Run[]> {
  const models = join(dir, 'models');
  const mount = join(dir, mountAt);
  const lines = ['set -u', `mkdir -p '${models}' '${mount}'`, `mount -t tmpfs -o size=${mib}m none '${mount}'`, ...setup];
  runs.forEach((args, i) => {
    if (args[0] === '!') return void lines.push(`{ ${args[1]}; } > '${dir}/out${i}' 2>&1; echo $? > '${dir}/exit${i}'`);
    const quoted = args.map((a) => `'${a}'`).join(' ');
    lines.push(`python3 '${FETCHER}' --models-dir '${models}' --backoff 0.05 --timeout 30 ${quoted} > '${dir}/out${i}' 2>&1; echo $? > '${dir}/exit${i}'`);
  });
  await writeFile(join(dir, 'run.sh'), `${lines.join('\n')}\n`);
  const r = await execa('unshare', ['-rm', 'bash', join(dir, 'run.sh')], { env: baseEnv(), extendEnv: false, reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`tmpfs script failed: ${r.stderr}`);
  return Promise.all(
    runs.map(async (_, i) => ({ exit: Number(await readFile(join(dir, `exit${i}`), 'utf8')), out: await readFile(join(dir, `out${i}`), 'utf8') })),
  );
}

diskTest('disk full during a download: the partial is removed, and the next start fetches what fits', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const huge = makeData(12 * MIB, 'huge');
  const small = makeData(1 * MIB, 'small');
  srv.routes.set('/huge.bin', { data: huge.data });
  srv.routes.set('/small.bin', { data: small.data });
  // The huge one's size is unknown beforehand (no bytes in the manifest), so only the write finds out.
  const first = await writeManifest(dir, [urlModel('huge', `${srv.base}/huge.bin`, 'checkpoints', 'huge.bin', null, null)], 'first.json');
  // The next start still asks for the huge one (it fails again), and for a small one, fetched first (--jobs 1).
  const later = await writeManifest(dir, [
    urlModel('small', `${srv.base}/small.bin`, 'loras', 'small.bin', small.sha256, small.data.length),
    urlModel('huge', `${srv.base}/huge.bin`, 'checkpoints', 'huge.bin', null, null),
  ], 'later.json');
  const [a, b] = await onTmpfs(dir, 8, [
    ['--manifest', first, '--min-free-mb', '0.5'],
    ['--manifest', later, '--min-free-mb', '0.5', '--jobs', '1'],
  ]);
  t.log(a!.out, b!.out);
  t.is(a!.exit, 1);
  // Where the write stops depends on what else the tmpfs holds (the sidecar, page rounding).
  t.regex(a!.out, /'huge' .*FAILED: disk full at [\d.]+ MiB of 12\.0 MiB \(the partial file was removed so it does not block later starts\)/);
  t.is(b!.exit, 1, 'the huge one still does not fit');
  t.regex(b!.out, /'small' .*done in/, 'the next start is not blocked by the first one\'s partial');
});

diskTest('short of space: partials of models no longer asked for are removed to make room', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const old = makeData(5 * MIB, 'gone');
  const next = makeData(4 * MIB, 'next');
  srv.routes.set('/gone.bin', { data: old.data, dropAfter: 4 * MIB });
  srv.routes.set('/next.bin', { data: next.data });
  const first = await writeManifest(dir, [urlModel('gone', `${srv.base}/gone.bin`, 'checkpoints', 'gone.bin', old.sha256, old.data.length)], 'first.json');
  const later = await writeManifest(dir, [urlModel('next', `${srv.base}/next.bin`, 'checkpoints', 'next.bin', next.sha256, next.data.length)], 'later.json');
  const [a, b] = await onTmpfs(dir, 7, [
    ['--manifest', first, '--min-free-mb', '0.5', '--retries', '0'],
    ['--manifest', later, '--min-free-mb', '0.5'],
  ]);
  t.log(a!.out, b!.out);
  t.is(a!.exit, 1, 'the first run was cut: a 4 MiB partial stays for a resume');
  t.is(b!.exit, 0);
  t.regex(b!.out, /removed the unusable partial checkpoints%2Fgone\.bin\.part \(4\.0 MiB\) to make room/);
});

diskTest('the free-space check counts the bytes a partial already holds', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(6 * MIB, 'counted');
  srv.routes.set('/c.bin', { data: d.data, dropAfter: 5 * MIB });
  const m = await writeManifest(dir, [urlModel('c', `${srv.base}/c.bin`, 'unet', 'c.bin', d.sha256, d.data.length)]);
  // 8 MiB disk: the 5 MiB partial leaves 3 MiB, which holds the missing 1 MiB (not the whole 6).
  const [a, b] = await onTmpfs(dir, 8, [
    ['--manifest', m, '--min-free-mb', '0.5', '--retries', '0'],
    ['--manifest', m, '--min-free-mb', '0.5', '--debug'],
  ]);
  t.log(a!.out, b!.out);
  t.is(a!.exit, 1);
  t.is(b!.exit, 0, b!.out);
  t.regex(b!.out, /disk: need 1\.0 MiB \(5\.0 MiB already in partials/);
  t.regex(b!.out, /resuming at 5\.0 MiB of 6\.0 MiB/);
  t.is(srv.stats('/c.bin').ranges.at(-1), `bytes=${5 * MIB}-${6 * MIB - 1}`);
});

diskTest('a model folder linked to another filesystem keeps its partial in a hidden .kiln-tmp beside it (rename stays atomic)', async (t) => {
  const dir = await tempDir(t);
  const srv = await withServer(t);
  const d = makeData(2 * MIB, 'linked');
  srv.routes.set('/l.bin', { data: d.data, dropAfter: MIB });
  const m = await writeManifest(dir, [urlModel('l', `${srv.base}/l.bin`, 'loras', 'l.bin', d.sha256, d.data.length)]);
  // models/ on the temp dir's filesystem; models/loras -> a tmpfs (another filesystem).
  const other = join(dir, 'other');
  const [a, between, b, after] = await onTmpfs(dir, 8, [
    ['--manifest', m, '--min-free-mb', '0.5', '--retries', '0'],
    ['!', `find '${other}' -type f | sort`],
    ['--manifest', m, '--min-free-mb', '0.5'],
    ['!', `find '${other}' -type f | sort; sha256sum '${other}/l.bin'`],
  ], 'other', [`ln -s '${other}' '${join(dir, 'models', 'loras')}'`]);
  t.is(a!.exit, 1, a!.out);
  t.deepEqual(between!.out.trim().split('\n'), [`${other}/.kiln-tmp/loras%2Fl.bin.part`, `${other}/.kiln-tmp/loras%2Fl.bin.part.json`]);
  t.is(b!.exit, 0, b!.out);
  t.regex(b!.out, /resuming at 1\.0 MiB of 2\.0 MiB/, 'the partial was kept beside the folder and resumed');
  t.is(after!.out.trim(), `${other}/l.bin\n${d.sha256}  ${other}/l.bin`, 'installed on the other filesystem, nothing else left');
});
