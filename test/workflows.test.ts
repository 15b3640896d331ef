/**
 * .github/workflows: schema-valid (action-validator: the SchemaStore workflow
 * schema compiled into its WASM, so no network), and wired to the CLI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateWorkflow, type ValidationError } from '@action-validator/core';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from './helpers/fixtures.ts';

const dir = join(repoRoot, '.github/workflows');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const read = (f: string) => readFileSync(join(dir, f), 'utf8');

const describe = (errors: readonly ValidationError[]): string =>
  errors.map((e) => `${'path' in e ? e.path : ''} ${e.title}${e.detail ? `: ${e.detail}` : ''}`).join('\n');

test('test.yml and build.yml exist', (t) => {
  t.true(files.includes('test.yml'));
  t.true(files.includes('build.yml'));
});

for (const f of files) {
  test(`${f} is a valid GitHub Actions workflow (action-validator)`, (t) => {
    const state = validateWorkflow(read(f));
    t.is(state.actionType, 'workflow');
    t.deepEqual(state.errors, [], describe(state.errors));
  });

  test(`${f}: every action is pinned at least by major version`, (t) => {
    const uses = [...read(f).matchAll(/^\s*(?:-\s*)?uses:\s*(\S+)/gm)].map((m) => m[1]!);
    t.true(uses.length > 0);
    for (const u of uses) t.regex(u, /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/, u);
  });
}

test('the validator really rejects a broken workflow (guards against a no-op check)', (t) => {
  const broken = read('build.yml').replace('runs-on: ubuntu-24.04', 'runs_on: ubuntu-24.04');
  t.true(validateWorkflow(broken).errors.length > 0);
});

test('test.yml: npm ci then npm test, on push and pull_request', (t) => {
  const y = read('test.yml');
  t.regex(y, /^on:\n\s+push:\n\s+pull_request:/m);
  t.true(y.indexOf('run: npm ci') > 0 && y.indexOf('run: npm test') > y.indexOf('run: npm ci'));
});

test('build.yml: plan job calls kiln matrix (--since base, --all), build job bakes each entry with kiln tags', (t) => {
  const y = read('build.yml');
  t.regex(y, /npx kiln matrix --since "\$base"/);
  t.regex(y, /npx kiln matrix --all/);
  t.regex(y, /inputs:\n\s+all:\n[\s\S]*?type: boolean/);
  t.regex(y, /matrix: \$\{\{ steps\.matrix\.outputs\.matrix \}\}/);
  t.regex(y, /count: \$\{\{ steps\.matrix\.outputs\.count \}\}/);
  t.regex(y, /if: needs\.plan\.outputs\.count != '0'/);
  t.regex(y, /matrix: \$\{\{ fromJSON\(needs\.plan\.outputs\.matrix\) \}\}/);
  t.regex(y, /npm run bake -- "\$TARGET" --push "\$\{SET\[@\]\}"/);
  t.regex(y, /npx kiln tags "\$TARGET"/);
  t.regex(y, /npx kiln tags --primary/);
  t.regex(y, /REGISTRY: ghcr\.io\/\$\{\{ github\.repository_owner \}\}/);
  t.regex(y, /uses: docker\/setup-buildx-action@v\d/);
  t.regex(y, /uses: docker\/login-action@v\d[\s\S]*?registry: ghcr\.io[\s\S]*?password: \$\{\{ secrets\.GITHUB_TOKEN \}\}/);
  t.regex(y, /packages: write/);
  for (const path of ['/usr/share/dotnet', '/opt/ghc', '/usr/local/lib/android']) t.true(y.includes(path), path);
  t.regex(y, /docker image prune/);
  t.regex(y, /fetch-depth: 0/);
  // Shared stages come through bake contexts, never a tag pushed by another job.
  t.notRegex(y, /docker (pull|buildx imagetools)/);
});

test('every `npx kiln <command>` in the workflows is a registered command', async (t) => {
  const help = await execa('node', [join(repoRoot, 'bin/kiln.mjs'), 'help'], { cwd: repoRoot, timeout: 60_000 });
  const known = new Set([...help.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]!));
  const used = new Set(files.flatMap((f) => [...read(f).matchAll(/npx kiln (\w+)/g)].map((m) => m[1]!)));
  t.true(used.size >= 2);
  for (const c of used) t.true(known.has(c), `kiln ${c} is not a command (known: ${[...known].join(', ')})`);
});
