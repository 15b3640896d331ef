// docs/runtime.md documents every environment variable the runtime reads.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCRIPTS } from './helpers/util.ts';

// The env tables live in the README (the issue asks for every variable there).
const DOC = fileURLToPath(new URL('../../README.md', import.meta.url));

test('every environment variable read by scripts/ is in the README tables', async (t) => {
  const doc = await readFile(DOC, 'utf8');
  const documented = new Set<string>();
  for (const line of doc.split('\n')) {
    if (!line.startsWith('| `')) continue;
    for (const m of (line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) documented.add(m[1]!);
  }
  const used = new Set<string>();
  for (const f of ['start.sh', 'comfyctl']) {
    const text = await readFile(join(SCRIPTS, f), 'utf8');
    for (const m of text.matchAll(/^([A-Z][A-Z0-9_]*)="\$\{\1:-/gm)) used.add(m[1]!);
  }
  // The fetcher reads env.get("X") and declares its numeric settings as env="X".
  for (const f of ['fetch_models.py', ...(await readdir(join(SCRIPTS, 'kiln_fetch'))).filter((n) => n.endsWith('.py')).map((n) => `kiln_fetch/${n}`)]) {
    const py = await readFile(join(SCRIPTS, f), 'utf8');
    for (const m of py.matchAll(/env(?:\.get\(|=)"([A-Z][A-Z0-9_]*)"/g)) used.add(m[1]!);
  }
  for (const v of ['HF_TOKEN', 'CIVITAI_TOKEN', 'HOME']) used.add(v);
  t.true(used.size > 40, `found ${used.size} variables`);
  const missing = [...used].filter((v) => !documented.has(v)).sort();
  t.deepEqual(missing, [], `undocumented: ${missing.join(', ')}`);
  t.log(`${used.size} variables, all documented`);
});
