/**
 * Content identities (src/emit/identity.ts) and what `--since` sees with them
 * (src/ci/since.ts): a change of Kiln's own generators, which no definition
 * key can see, changes exactly the targets whose generated Dockerfile changed
 * and the targets built on them; `kiln plan` and `kiln matrix --since` list them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import hcl2 from 'hcl2-json-parser';
import type { IdentityFile } from '../src/emit/identity.ts';
import { Testing } from '../src/testing.ts';
import { repoRoot } from './helpers/fixtures.ts';
import { editPartial } from './helpers/generator-change.ts';

const { parseToObject } = hcl2;

const kilnIn = (root: string, args: string[]) =>
  execa('node', [join(root, 'bin/kiln.mjs'), ...args], { cwd: root, reject: false, timeout: 120_000, env: { GITHUB_OUTPUT: '', GITHUB_STEP_SUMMARY: '' } });

const identities = (root: string) => (JSON.parse(readFileSync(join(root, 'bake/identities.json'), 'utf8')) as IdentityFile).targets;

/** A copy of the repo with its own src/ (to edit a partial) and a git commit of everything, so `--since HEAD` has a base. */
async function repoWithCode(t: { teardown(fn: () => void): void }) {
  const repo = Testing.copyProject(repoRoot, { withCode: true });
  t.teardown(repo.cleanup);
  const git = (args: string[]) => execa('git', ['-c', 'user.email=kiln@test', '-c', 'user.name=kiln test', ...args], { cwd: repo.root });
  await git(['init', '-q', '-b', 'main']);
  await git(['add', 'base', 'templates', 'scripts', 'bake', 'src', 'bin']);
  await git(['commit', '-q', '-m', 'all']);
  return repo;
}

test('every pushed target carries its identity tag in the bake file, as identities.json names it', async (t) => {
  const ids = identities(repoRoot);
  const hcl = readFileSync(join(repoRoot, 'bake/docker-bake.hcl'), 'utf8');
  const parsed = (await parseToObject(hcl)) as { target: Record<string, { tags?: string[] }[]> };
  t.deepEqual(Object.keys(ids).sort(), Object.keys(parsed.target).sort());
  for (const [name, e] of Object.entries(ids)) {
    t.regex(e.identity, /^[0-9a-f]{16}$/, name);
    const tags = parsed.target[name]![0]!.tags;
    if (e.image === null) {
      t.is(e.kind, 'node', `${name}: only node checkouts are never pushed`);
      t.is(tags, undefined);
      continue;
    }
    const [repository, tag] = e.image.split(':') as [string, string];
    t.true(tag.endsWith(`-id-${e.identity}`), name);
    t.true(tags!.includes(`\${identity("${repository}", "${tag}")}`), `${name}: ${tags!.join(', ')}`);
  }
});

test('a generator change (a partial under src/emit/partials) moves exactly the identities of the targets whose Dockerfile changed and of those built on them; plan and matrix --since HEAD list them', async (t) => {
  const repo = await repoWithCode(t);
  const change = await editPartial(repo.root);
  const before = identities(repo.root);

  // Nothing regenerated yet: plan and matrix render today's files themselves.
  const plan = await kilnIn(repo.root, ['plan', '--since', 'HEAD', '--json']);
  t.is(plan.exitCode, 0, plan.stderr);
  const matrix = await kilnIn(repo.root, ['matrix', '--since', 'HEAD']);
  t.is(matrix.exitCode, 0, matrix.stderr);

  t.is((await kilnIn(repo.root, ['generate'])).exitCode, 0);
  const after = identities(repo.root);
  t.deepEqual(change.dockerfileChanged(), ['llama-rtx4090', 'llama-rtx5090'], 'only the llama.cpp builders render cmake-build.hbs');
  const expected = change.expected();
  t.deepEqual(expected, ['llama-rtx4090', 'llama-rtx5090', 'llm-prompt-rtx4090', 'llm-prompt-rtx5090']);
  t.deepEqual(Object.keys(after).filter((n) => after[n]!.identity !== before[n]!.identity).sort(), expected);

  const planned = JSON.parse(plan.stdout) as { targets: { target: string; status: string; reason: string; firstInvalidated: string | null }[] };
  t.deepEqual(planned.targets.map((x) => x.target).sort(), expected);
  const llama = planned.targets.find((x) => x.target === 'llama-rtx5090')!;
  t.is(llama.status, 'rebuild');
  t.is(llama.firstInvalidated, 'build', 'the step that renders cmake-build.hbs, not the clone before it');
  t.regex(llama.reason, /generated Dockerfile changed at build \(a generator change/);
  const llm = planned.targets.find((x) => x.target === 'llm-prompt-rtx5090')!;
  t.regex(llm.reason, /parent image changed \(llama-rtx5090: generated files changed\)/);

  const levels = JSON.parse(matrix.stdout) as { include: { target: string }[]; shared: string[] };
  t.deepEqual(levels.shared, ['llama-rtx4090', 'llama-rtx5090']);
  t.deepEqual(levels.include.map((e) => e.target), ['llm-prompt-rtx4090', 'llm-prompt-rtx5090']);

  // Regenerated and committed: nothing is left to build since HEAD.
  await execa('git', ['-c', 'user.email=kiln@test', '-c', 'user.name=kiln test', 'commit', '-qam', 'regenerate'], { cwd: repo.root });
  const none = await kilnIn(repo.root, ['matrix', '--since', 'HEAD']);
  t.is(none.stdout, '{"include":[],"shared":[]}');
});

test('a ref without bake/identities.json (older than identities) still compares definitions, and says so', async (t) => {
  const repo = await repoWithCode(t);
  await execa('git', ['rm', '-q', 'bake/identities.json'], { cwd: repo.root });
  await execa('git', ['-c', 'user.email=kiln@test', '-c', 'user.name=kiln test', 'commit', '-qm', 'old'], { cwd: repo.root });
  const r = await kilnIn(repo.root, ['plan', '--since', 'HEAD']);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stderr, /HEAD has no bake\/identities\.json \(it predates content identities\)/);
  const m = await kilnIn(repo.root, ['matrix', '--since', 'HEAD']);
  t.is(m.stdout, '{"include":[],"shared":[]}', 'no definition changed: nothing to build (not every target)');
});
