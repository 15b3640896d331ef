// docs/runtime.md and the README document what the runtime reads and does.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCRIPTS } from './helpers/util.ts';

// The env tables live in the README (the issue asks for every variable there).
const DOC = fileURLToPath(new URL('../../README.md', import.meta.url));
const RUNTIME_DOC = fileURLToPath(new URL('../../docs/runtime.md', import.meta.url));

/** Rows of the markdown table that follows `heading` (cells trimmed, header and rule dropped). */
function table(doc: string, heading: string): string[][] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const rows: string[][] = [];
  let i = lines.findIndex((l, j) => j > start && l.startsWith('|'));
  for (; i >= 0 && i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(lines[i]!.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
  return rows.slice(2);
}

/** Data lines of a scripts/lib list file: whitespace-separated fields before any "#". */
async function listFile(name: string): Promise<string[][]> {
  return (await readFile(join(SCRIPTS, 'lib', name), 'utf8'))
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => l.split(/\s+/));
}

test('every environment variable read by scripts/ is in the README tables', async (t) => {
  const doc = await readFile(DOC, 'utf8');
  const documented = new Set<string>();
  for (const line of doc.split('\n')) {
    if (!line.startsWith('| `')) continue;
    for (const m of (line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) documented.add(m[1]!);
  }
  const used = new Set<string>();
  const shells = ['start.sh', 'comfyctl', ...(await readdir(join(SCRIPTS, 'lib'))).filter((f) => f.endsWith('.sh')).map((f) => `lib/${f}`)];
  for (const f of shells) {
    const text = await readFile(join(SCRIPTS, f), 'utf8');
    for (const m of text.matchAll(/^([A-Z][A-Z0-9_]*)="\$\{\1:-/gm)) used.add(m[1]!);
  }
  // The fetcher (scripts/kiln_fetch) reads env.get("X") and declares its numeric settings as env="X";
  // scripts/lib/*.py (status endpoint, ...) read os.environ.get("X").
  const pys = [
    'fetch_models.py',
    ...(await readdir(join(SCRIPTS, 'kiln_fetch'))).filter((n) => n.endsWith('.py')).map((n) => `kiln_fetch/${n}`),
    ...(await readdir(join(SCRIPTS, 'lib'))).filter((f) => f.endsWith('.py')).map((f) => `lib/${f}`),
  ];
  for (const f of pys) {
    const py = await readFile(join(SCRIPTS, f), 'utf8');
    for (const m of py.matchAll(/env(?:iron)?(?:\.get\(|=)"([A-Z][A-Z0-9_]*)"/g)) used.add(m[1]!);
  }
  for (const v of ['HF_TOKEN', 'CIVITAI_TOKEN', 'HOME']) used.add(v);
  t.true(used.size > 50, `found ${used.size} variables`);
  const missing = [...used].filter((v) => !documented.has(v)).sort();
  t.deepEqual(missing, [], `undocumented: ${missing.join(', ')}`);
  t.log(`${used.size} variables, all documented`);
});

test('the nuke / paranoid table in docs/runtime.md is scripts/lib/cleanup.list', async (t) => {
  const doc = await readFile(RUNTIME_DOC, 'utf8');
  const documented = table(doc, '#### What nuke and paranoid mode delete').map((r) => r.slice(0, 3).map((c) => c.replace(/`/g, '')).join(' '));
  const data = (await listFile('cleanup.list')).map((f) => f.slice(0, 3).join(' '));
  t.true(data.length >= 20);
  t.deepEqual(documented, data);
});

test('the telemetry blocklist in docs/runtime.md is scripts/lib/telemetry-hosts.txt, each host with a source', async (t) => {
  const doc = await readFile(RUNTIME_DOC, 'utf8');
  const rows = table(doc, '#### Blocked telemetry hosts');
  const block = (await listFile('telemetry-hosts.txt')).filter((f) => f[0] === 'block').map((f) => f[1]);
  t.deepEqual(
    rows.map((r) => r[0]!.replace(/`/g, '')),
    block,
  );
  for (const r of rows) t.true((r[1] ?? '').length > 20, `${r[0]} has a source`);
  const keep = (await listFile('telemetry-hosts.txt')).filter((f) => f[0] === 'keep').map((f) => f[1]!);
  for (const h of keep) t.true(doc.includes(`\`${h}\``), `the needed host ${h} is named in the docs`);
});
