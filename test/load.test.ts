import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { CONTEXT_IGNORES, digestDir, loadProject } from '../src/dsl/load.ts';
import { repoRoot, tempRepo } from './helpers/fixtures.ts';

test('scripts/.dockerignore (what buildx leaves out of the runtime context) says what the loader leaves out of its digests', (t) => {
  const lines = readFileSync(join(repoRoot, 'scripts/.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  t.deepEqual(lines, [...CONTEXT_IGNORES]);
});

test('bytecode caches and the ignore file do not change the runtime digests; a real edit does', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const scripts = join(repo.root, 'scripts');
  const before = digestDir(scripts);
  t.false(before.some((f) => f.path === '.dockerignore' || f.path.includes('__pycache__')));
  mkdirSync(join(scripts, '__pycache__'), { recursive: true });
  writeFileSync(join(scripts, '__pycache__', 'fetch_models.cpython-312.pyc'), 'bytecode');
  writeFileSync(join(scripts, 'stray.pyc'), 'bytecode');
  t.deepEqual(digestDir(scripts), before);
  writeFileSync(join(scripts, 'start.sh'), `${readFileSync(join(scripts, 'start.sh'), 'utf8')}\n# edit\n`);
  t.notDeepEqual(digestDir(scripts), before);
});

test('workflows: only top-level *.json count (the Dockerfile copies exactly *.json)', async (t) => {
  const repo = tempRepo();
  t.teardown(repo.cleanup);
  const wf = join(repo.root, 'templates/sd15-basic/workflows');
  const names = async () => (await loadProject(repo.root)).templates.find((x) => x.folder === 'sd15-basic')!.workflows.map((f) => f.path);
  const before = await names();
  mkdirSync(join(wf, 'drafts'), { recursive: true });
  writeFileSync(join(wf, 'drafts', 'wip.json'), '{}');
  writeFileSync(join(wf, 'README.md'), 'notes');
  t.deepEqual(await names(), before);
  t.true(before.length > 0 && before.every((p) => p.endsWith('.json') && !p.includes('/')));
});
