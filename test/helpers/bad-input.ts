/**
 * Runner for bad-input cases: each project goes through the real generate
 * path (validate, render, write into a copy of the committed bake/), which
 * must refuse it with a problem on the expected file, definition and field,
 * say how to fix it, and leave bake/ byte for byte as it was.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { digestDir, type Project } from '../../src/dsl/load.ts';
import { ValidationError } from '../../src/errors.ts';
import { writeGenerated } from '../../src/io/output.ts';
import { Testing } from '../../src/testing.ts';
import { repoRoot } from './fixtures.ts';

export interface BadInput {
  readonly title: string;
  readonly project: () => Project;
  readonly file: string;
  readonly definition: string;
  readonly field: string;
  /** A phrase the problem or the fix must contain. */
  readonly says: RegExp;
  /** A phrase neither may contain (a fix that would mislead). */
  readonly never?: RegExp;
}

/** One ava test per case, all against one copy of bake/ that none of them may touch. */
export function badInputs(prefix: string, cases: readonly BadInput[]): void {
  const root = mkdtempSync(join(tmpdir(), 'kiln-bad-input-'));
  cpSync(join(repoRoot, 'bake'), join(root, 'bake'), { recursive: true });
  const before = digestDir(join(root, 'bake'));
  test.after.always(() => rmSync(root, { recursive: true, force: true }));

  for (const c of cases) {
    test(`${prefix}: ${c.title}`, (t) => {
      // What `kiln generate` does once the definitions are loaded.
      const err = t.throws(() => writeGenerated(root, Testing.synth(c.project())), { instanceOf: ValidationError });
      const p = err!.problems.find((x) => x.field === c.field && x.file === c.file);
      t.truthy(p, `expected a problem on ${c.file} field ${c.field}, got:\n${err!.message}`);
      t.is(p!.definition, c.definition);
      t.regex(`${p!.problem} ${p!.fix}`, c.says);
      if (c.never) t.notRegex(`${p!.problem} ${p!.fix}`, c.never);
      t.true(p!.fix.length > 0, 'every problem says how to fix it');
      // The printed message carries all coordinates and the fix.
      t.true(err!.message.includes(`${c.file}: ${c.definition}, field ${c.field}: ${p!.problem}\n  fix: ${p!.fix}`));
      t.regex(err!.message, /nothing was written/);
      t.deepEqual(digestDir(join(root, 'bake')), before, 'bake/ is untouched');
    });
  }
}
