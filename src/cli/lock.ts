import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject, type TemplateSource } from '../dsl/load.ts';
import { LOCK_FILE, lockKey, readLock } from '../dsl/lock.ts';
import { renderModelLock } from '../emit/lock-file.ts';
import { KilnError } from '../errors.ts';
import { validateProject } from '../graph/validate.ts';
import { lockDrift } from '../lock/drift.ts';
import { Api } from '../lock/http.ts';
import { Hub } from '../lock/hub.ts';
import { lockTemplate, type LockResult } from '../lock/resolve.ts';
import { didYouMean } from '../suggest.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';

const options = {
  check: { type: 'boolean', default: false, help: 'write nothing; exit 1 naming each model whose upstream moved or changed since its lock' },
} satisfies Options;

/** Writes `text` to `path` through a temp file and a rename, so a lock is always whole. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export const lock: Command = {
  name: 'lock',
  summary: 'pin models from the Hugging Face and CivitAI APIs into templates/<t>/models.lock.json (--check: report drift)',
  usage: 'kiln lock [<template>...] [--check]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('lock', options, argv, { positionals: true });
    const wanted: readonly string[] = positionals;
    const project = await loadProject(io.root, io);
    // Everything but the pins this command is about to write must already be sound.
    validateProject(project, { forLock: true });
    const names = project.templates.map((t) => t.def.name);
    for (const p of wanted) if (!names.includes(p)) throw new KilnError(`no template "${p}"${didYouMean(p, names)}; templates: ${names.join(', ')}`);
    const chosen = project.templates.filter((t) => wanted.length === 0 || wanted.includes(t.def.name));

    const api = new Api({ env: io.env, log: io.err });
    const hub = new Hub(api);
    const results: { t: TemplateSource; path: string; result: LockResult | null }[] = [];
    const problems: string[] = [];
    for (const t of chosen) {
      const path = join('templates', t.folder, LOCK_FILE);
      const lockable = (t.def.models ?? []).some((m) => lockKey(m) !== null);
      const result = lockable ? await lockTemplate(t, api, hub) : null;
      for (const p of result?.problems ?? []) problems.push(`${t.file}: template "${t.def.name}", ${p}`);
      results.push({ t, path, result });
    }
    if (problems.length > 0) {
      throw new KilnError(`${problems.length} model${problems.length === 1 ? '' : 's'} could not be locked (nothing was written):\n${problems.join('\n')}`);
    }

    let drift = 0;
    let written = 0;
    for (const { t, path, result } of results) {
      const full = join(io.root, path);
      const before = existsSync(full) ? readFileSync(full, 'utf8') : null;
      const text = result ? renderModelLock(result.lock) : null;
      if (text === before) continue;
      if (values.check) {
        const old = before === null ? null : readLock(before).lock;
        const lines = result ? lockDrift(old, result.lock, result.labels) : ['there is a lock, but template.ts has no Hugging Face or CivitAI model to lock'];
        // Same entries, other text (an edited or reformatted file): still not what `kiln lock` writes.
        if (lines.length === 0) lines.push(before === null ? 'no lock file yet' : 'the file differs from what `kiln lock` writes (edited by hand?)');
        for (const l of lines) io.err(`${path}: template "${t.def.name}", ${l}`);
        drift += lines.length;
        continue;
      }
      if (text === null) rmSync(full);
      else writeAtomic(full, text);
      written++;
      io.out(text === null ? `removed ${path} (template.ts has no Hugging Face or CivitAI model)` : `wrote ${path} (${Object.keys(result!.lock.models).length} models)`);
    }
    if (values.check) {
      if (drift > 0) {
        io.err('Upstream moved since the lock: run `npx kiln lock`, review the diff, then `npx kiln generate` and commit both.');
        return 1;
      }
      io.out(`locks are up to date (${results.length} template${results.length === 1 ? '' : 's'})`);
      return 0;
    }
    io.out(written === 0 ? `locks unchanged (${results.length} template${results.length === 1 ? '' : 's'})` : 'next: `npx kiln generate`, then commit the locks with bake/');
    return 0;
  },
};
