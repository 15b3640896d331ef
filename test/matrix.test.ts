import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import hcl2 from 'hcl2-json-parser';
import type { Matrix } from '../src/emit/matrix.ts';
import { repoRoot, tempRepo, twinTorch } from './helpers/fixtures.ts';

const { parseToObject } = hcl2;

/** Env without the runner's GITHUB_* variables (tests may themselves run inside Actions). */
const cleanEnv = (): Record<string, string> =>
  Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith('GITHUB_') && !k.startsWith('RUNNER_') && v !== undefined)) as Record<
    string,
    string
  >;

const kiln = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  execa('node', [join(repoRoot, 'bin/kiln.mjs'), ...args], { cwd, reject: false, env: { ...cleanEnv(), ...env }, extendEnv: false, timeout: 120_000 });

/** tempRepo() plus a git repository with one commit of the definitions, so `--since HEAD` has a base. */
async function gitRepo(options: { twin?: boolean } = {}): Promise<{ root: string; cleanup: () => void }> {
  const repo = tempRepo();
  if (options.twin) {
    twinTorch(repo.root);
    // A commit carries its generated files (CI's generate --check): --since reads REF's identities from them.
    const g = await kiln(repo.root, ['generate']);
    if (g.exitCode !== 0) throw new Error(g.stderr);
  }
  const git = (args: string[]) => execa('git', ['-c', 'user.email=kiln@test', '-c', 'user.name=kiln test', ...args], { cwd: repo.root });
  await git(['init', '-q', '-b', 'main']);
  await git(['add', 'base', 'templates', 'scripts', 'bake']);
  await git(['commit', '-q', '-m', 'definitions']);
  return repo;
}

const editNodes = (root: string) => {
  const file = join(root, 'templates/sd15-basic/template.ts');
  const text = readFileSync(file, 'utf8');
  const edited = text.replace(
    '  nodes: [\n',
    "  nodes: [\n    node('https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite', '115de7a9d9e34410cffb9ecfd268e993b11a50fb'),\n",
  );
  if (edited === text) throw new Error('fixture drift: templates/sd15-basic/template.ts has no "  nodes: [" line');
  writeFileSync(file, edited);
};

/** The value of `name` in a GITHUB_OUTPUT file: `name<<DELIM\nvalue\nDELIM` blocks (or `name=value` lines). */
function readOutput(file: string, name: string): string | undefined {
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(`${name}=`)) return line.slice(name.length + 1);
    if (line.startsWith(`${name}<<`)) {
      const delim = line.slice(name.length + 2);
      const end = lines.indexOf(delim, i + 1);
      return lines.slice(i + 1, end).join('\n');
    }
  }
  return undefined;
}

function actionsFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-gha-'));
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  return { env: { GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary }, output, summary, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('after editing sd15-basic nodes, matrix --since HEAD lists exactly its two targets (stdout JSON outside Actions)', async (t) => {
  const repo = await gitRepo();
  t.teardown(repo.cleanup);
  editNodes(repo.root);
  const r = await kiln(repo.root, ['matrix', '--since', 'HEAD']);
  t.is(r.exitCode, 0, r.stderr);
  const m = JSON.parse(r.stdout) as Matrix;
  t.deepEqual(
    m.include.map((e) => e.target),
    ['sd15-basic-rtx4090', 'sd15-basic-rtx5090'],
  );
  for (const e of m.include) {
    t.is(e.template, 'sd15-basic');
    t.true(['rtx4090', 'rtx5090'].includes(e.gpu));
    t.true(e.minutes > 0);
    t.regex(e.reason, /node-copy:ComfyUI-VideoHelperSuite changed/);
    t.deepEqual(Object.keys(e), ['target', 'template', 'gpu', 'minutes', 'reason']);
  }
});

test('inside Actions: outputs matrix + count (name<<delimiter blocks) and a job summary table', async (t) => {
  const repo = await gitRepo({ twin: true });
  t.teardown(repo.cleanup);
  const gha = actionsFiles();
  t.teardown(gha.cleanup);
  editNodes(repo.root);
  const r = await kiln(repo.root, ['matrix', '--since', 'HEAD'], gha.env);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(readFileSync(gha.output, 'utf8'), /^matrix<<ghadelimiter_/m);
  const m = JSON.parse(readOutput(gha.output, 'matrix')!) as Matrix;
  t.deepEqual(
    m.include.map((e) => e.target),
    ['sd15-basic-rtx4090', 'sd15-basic-rtx5090'],
  );
  t.is(readOutput(gha.output, 'count'), '2');
  // A node list edit touches no shared stage: level 1 has nothing to do.
  t.is(readOutput(gha.output, 'shared'), '');
  t.is(readOutput(gha.output, 'shared_count'), '0');
  const summary = readFileSync(gha.summary, 'utf8');
  t.regex(summary, /<table>/);
  t.regex(summary, /<th>level<\/th><th>target<\/th><th>why it rebuilds<\/th><th>estimated minutes<\/th>/);
  t.regex(summary, /<td>2 template<\/td><td>sd15-basic-rtx4090<\/td><td>node-copy:ComfyUI-VideoHelperSuite changed<\/td><td>\d+\.\d<\/td>/);
  // With twin torch pins rtx5090 has the same files as rtx4090 (no kernel): its image is FROM that one.
  t.regex(summary, /<td>2 template<\/td><td>sd15-basic-rtx5090<\/td><td>same files as sd15-basic-rtx4090: node-copy:ComfyUI-VideoHelperSuite changed<\/td><td>\d+\.\d<\/td>/);
  t.regex(r.stdout, /0 shared and 2 template target\(s\)/);
});

test('nothing changed: an empty but valid matrix, count 0 (the build job is skipped on count == 0)', async (t) => {
  const repo = await gitRepo();
  t.teardown(repo.cleanup);
  const gha = actionsFiles();
  t.teardown(gha.cleanup);
  const r = await kiln(repo.root, ['matrix', '--since', 'HEAD'], gha.env);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(JSON.parse(readOutput(gha.output, 'matrix')!), { include: [] });
  t.is(readOutput(gha.output, 'count'), '0');
  t.regex(readFileSync(gha.summary, 'utf8'), /Nothing to build: no target's content changed since HEAD/);
  const plain = await kiln(repo.root, ['matrix', '--since', 'HEAD']);
  t.is(plain.stdout, '{"include":[],"shared":[]}');
  t.is(readOutput(gha.output, 'shared'), '');
  t.is(readOutput(gha.output, 'shared_count'), '0');
});

test('a change to a shared stage shows up in every template built on it (keys chain), with the origin named', async (t) => {
  const repo = await gitRepo({ twin: true });
  t.teardown(repo.cleanup);
  const file = join(repo.root, 'base/common.ts');
  const text = readFileSync(file, 'utf8');
  const edited = text.replace(/ninja: '([0-9.]+)'/, "ninja: '1.11.1.1'");
  t.not(edited, text, 'fixture drift: base/common.ts pins no ninja version');
  writeFileSync(file, edited);
  const r = await kiln(repo.root, ['matrix', '--since', 'HEAD']);
  t.is(r.exitCode, 0, r.stderr);
  const m = JSON.parse(r.stdout) as Matrix;
  const all = JSON.parse((await kiln(repo.root, ['matrix', '--all'])).stdout) as Matrix;
  t.deepEqual(
    m.include.map((e) => e.target),
    all.include.map((e) => e.target),
  );
  const sd = m.include.find((e) => e.target === 'sd15-basic-rtx5090')!;
  t.regex(sd.reason, /shared stage changed: .*base-common-/);
  // sd15-basic-rtx5090 is FROM sd15-basic-rtx4090 (equal files): the reason is the primary's, and
  // no target is named as an origin of its own rebuild.
  t.regex(sd.reason, /^same files as sd15-basic-rtx4090: shared stage changed: /);
  for (const e of m.include) t.false(e.reason.includes(`${e.target} (`), `${e.target}: ${e.reason}`);
});

test('matrix --all lists every template x GPU target: the bake file\'s default group, sorted', async (t) => {
  const r = await kiln(repoRoot, ['matrix', '--all']);
  t.is(r.exitCode, 0, r.stderr);
  const m = JSON.parse(r.stdout) as Matrix;
  const parsed = (await parseToObject(readFileSync(join(repoRoot, 'bake/docker-bake.hcl'), 'utf8'))) as { group: Record<string, { targets: string[] }[]> };
  const defaults = parsed.group.default![0]!.targets;
  t.true(defaults.length > 0);
  t.deepEqual(
    m.include.map((e) => e.target),
    [...defaults].sort(),
  );
  for (const e of m.include) {
    t.is(e.target, `${e.template}-${e.gpu}`);
    t.true(e.minutes > 0);
  }
  t.is((await kiln(repoRoot, ['matrix', '--all', '--since', 'HEAD'])).exitCode, 2);
});
