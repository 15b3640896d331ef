/**
 * The CLI explains itself: --help per command, --version, unknown options in
 * Kiln's words, the project found from a subdirectory, `kiln new` refusing
 * names every later command would refuse, stray files in templates/, aligned
 * tables. In-process (main() with captured output) where nothing is edited.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { main } from '../src/cli/main.ts';
import { repoRoot, tempRepo } from './helpers/fixtures.ts';

async function run(argv: string[], cwd = repoRoot, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { cwd, env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const COMMANDS = ['generate', 'lock', 'bake', 'plan', 'matrix', 'tags', 'sign', 'runpod', 'new'];

for (const name of COMMANDS) {
  test(`kiln ${name} --help: usage, summary and every option it parses`, async (t) => {
    const r = await run([name, '--help'], tmpdir()); // help needs no project
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`^usage: kiln ${name}`));
    // Every --flag of the usage line is described under options.
    const flags = [...r.stdout.split('\n')[0]!.matchAll(/--([a-z-]+)/g)].map((m) => m[1]!);
    for (const f of flags) t.regex(r.stdout, new RegExp(`^  --${f}\\b.* {2}\\S`, 'm'), `--${f} has a description`);
    t.deepEqual(await run([name, '-h'], tmpdir()), r);
    t.deepEqual(await run(['help', name], tmpdir()), r);
  });
}

test('kiln --version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const r = await run(['--version'], tmpdir());
  t.is(r.code, 0);
  t.is(r.stdout, `kiln ${pkg.version}`);
});

test("unknown options and bad values are reported in Kiln's words, with a did-you-mean", async (t) => {
  const cases: [string[], RegExp][] = [
    [['plan', '--sinse', 'HEAD~1'], /^kiln plan: unknown option --sinse \(did you mean --since\?\); see `kiln plan --help`$/],
    [['bake', '--dryrun'], /^kiln bake: unknown option --dryrun \(did you mean --dry-run\?\)/],
    [['generate', '-c'], /^kiln generate: unknown option -c; see `kiln generate --help`$/],
    [['plan', '--since'], /^kiln plan: option --since needs a value: --since REF/],
    [['generate', '--check=yes'], /^kiln generate: option --check takes no value/],
    [['generate', 'bake/'], /^kiln generate: takes no arguments \(got "bake\/"\)/],
    [['--frobnicate'], /^kiln: unknown option "--frobnicate"/],
    [['genrate'], /^kiln: unknown command "genrate" \(did you mean "generate"\?\)/],
  ];
  for (const [argv, want] of cases) {
    const r = await run(argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, want, argv.join(' '));
    t.notRegex(r.stderr, /Unknown option '|To specify a positional argument|ERR_PARSE_ARGS/, 'not Node\'s raw text');
  }
});

test('commands find the project from any subdirectory; outside one they say so', async (t) => {
  for (const sub of ['templates/sd15-basic/workflows', 'base', 'src/dsl']) {
    const r = await run(['generate', '--check'], join(repoRoot, sub));
    t.is(r.code, 0, `${sub}: ${r.stderr}`);
    t.regex(r.stdout, /bake\/ is up to date/);
  }
  const outside = mkdtempSync(join(tmpdir(), 'kiln-nowhere-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  const r = await run(['generate', '--check'], outside);
  t.is(r.code, 2);
  t.regex(r.stderr, /no Kiln project in .*kiln-nowhere-\w+ or above it \(a project has base\/\*\.ts/);
  t.notRegex(r.stderr, /found 0/);
});

test('files in templates/ that are not template folders are ignored, with a note under KILN_DEBUG=1', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  writeFileSync(join(repo.root, 'templates/README.md'), '# templates\n');
  writeFileSync(join(repo.root, 'templates/.DS_Store'), Buffer.from([0, 0, 0, 1, 66, 117, 100, 49]));
  const quiet = await run(['generate', '--check'], repo.root);
  t.is(quiet.code, 0, quiet.stderr);
  t.is(quiet.stderr, '');
  const debug = await run(['generate', '--check'], repo.root, { KILN_DEBUG: '1' });
  t.is(debug.code, 0, debug.stderr);
  t.regex(debug.stderr, /^kiln: debug: templates\/\.DS_Store: not a template folder, ignored$/m);
  t.regex(debug.stderr, /^kiln: debug: templates\/README\.md: not a template folder, ignored$/m);
});

test('kiln new refuses reserved names, GPU names, existing templates and names that clash with an image; writes nothing then', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const before = readdirSync(join(repo.root, 'templates')).sort();
  const refused: [string, RegExp][] = [
    ['rtx4090', /is a GPU profile \(base\/rtx4090\.ts\)/],
    ['default', /is the group bake builds/],
    ['sage', /is a feature name/],
    ['base-common', /is a stage/],
    ['torch-rtx5090', /starts with "torch-"/],
    ['base-rtx4090', /starts with "base-"/],
    ['sd15-basic', /templates\/sd15-basic exists already/],
    ['sd15-basic-rtx4090', /would make the group sd15-basic-rtx4090 \(template "sd15-basic-rtx4090"\), but sd15-basic-rtx4090 is already the target sd15-basic-rtx4090 \(template "sd15-basic" on rtx4090\)/],
  ];
  for (const [name, why] of refused) {
    const r = await run(['new', name], repo.root);
    t.is(r.code, 2, name);
    t.regex(r.stderr, why, name);
  }
  t.deepEqual(readdirSync(join(repo.root, 'templates')).sort(), before);
});

test('kiln new works next to stray files in templates/', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  writeFileSync(join(repo.root, 'templates/README.md'), '# templates\n');
  const r = await run(['new', 'upscale', '--gpu', 'rtx4090'], repo.root);
  t.is(r.code, 0, r.stderr);
  t.true(existsSync(join(repo.root, 'templates/upscale/template.ts')));
});

test('kiln plan --all: columns stay aligned with long node target names, and "1 layer" is singular', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const git = (...a: string[]) => execa('git', ['-c', 'user.email=t@kiln', '-c', 'user.name=kiln', ...a], { cwd: repo.root });
  await git('init', '-q');
  await git('add', 'base', 'templates', 'scripts', 'bake');
  await git('commit', '-qm', 'base');
  // A node with a long folder name: its checkout target is longer than any column used to be.
  const file = join(repo.root, 'templates/sd15-basic/template.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace('  nodes: [\n', `  nodes: [\n    node('https://github.com/o/ComfyUI-A-Custom-Node-With-A-Long-Name', '${'a'.repeat(40)}'),\n`));
  const r = await execa('node', [join(repoRoot, 'bin/kiln.mjs'), 'plan', '--all'], { cwd: repo.root, reject: false, timeout: 60_000 });
  t.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const header = lines.findIndex((l) => l.startsWith('target '));
  const rows = lines.slice(header).filter((l) => /^[a-z]/.test(l) && !l.startsWith('total'));
  t.true(rows.some((l) => l.startsWith('node-comfyui-a-custom-node-with-a-long-name-aaaaaaa ')));
  // Each column starts where its header does; numbers end where theirs do.
  const h = rows[0]!;
  for (const row of rows.slice(1)) {
    t.is(row.indexOf(row.split(/ {2,}/)[1]!), h.indexOf('status'), row);
    t.is(row.length, h.length, `minutes right-aligned: ${row}`);
  }
  t.notRegex(r.stdout, /\b1 layers\b/);
  t.regex(r.stdout, /\b1 layer\b/);
});

test('kiln bake --dry-run: one column per field, however long the target names', async (t) => {
  const r = await run(['bake', 'wan-video', '--dry-run'], repoRoot, { PATH: '/nonexistent' });
  t.is(r.code, 0, r.stderr);
  const rows = r.stdout.split('\n').filter((l) => / ~\d+\.\d min cold/.test(l));
  t.true(rows.some((l) => l.includes('node-comfyui-videohelpersuite-115de7a')));
  t.is(new Set(rows.map((l) => l.indexOf(' min cold'))).size, 1, 'minutes right-aligned');
  t.is(new Set(rows.map((l) => l.indexOf(' layer'))).size, 1, 'layer counts right-aligned');
  t.notRegex(r.stdout, /\b1 layers\b/);
});
