import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadProject } from '../dsl/load.ts';
import { planChanges, type Plan } from '../graph/plan.ts';
import { resolveGraph } from '../graph/resolve.ts';
import type { BuildGraph } from '../graph/types.ts';
import { checkoutDefinitions } from '../io/git-ref.ts';
import type { Command } from './command.ts';
import { synthesize } from './project.ts';

/** The graph as of a git ref, or null when the ref has no definitions yet. */
export async function graphAtRef(root: string, ref: string): Promise<BuildGraph | null> {
  const { dir, cleanup } = await checkoutDefinitions(root, ref);
  try {
    if (!existsSync(join(dir, 'base')) && !existsSync(join(dir, 'templates'))) return null;
    return resolveGraph(await loadProject(dir));
  } finally {
    cleanup();
  }
}

/** Plan of the working tree against `since` (default HEAD). */
export async function planSince(root: string, since: string): Promise<{ plan: Plan; graph: BuildGraph }> {
  const before = await graphAtRef(root, since);
  const { graph } = await synthesize(root);
  return { plan: planChanges(before, graph), graph };
}

export const plan: Command = {
  name: 'plan',
  summary: 'what a change rebuilds: per target the first invalidated layer, the re-run layers and minutes',
  usage: 'kiln plan [--since REF] [--json] [--all]',
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        since: { type: 'string', default: 'HEAD' },
        json: { type: 'boolean', default: false },
        all: { type: 'boolean', default: false },
      },
    });
    const { plan: p } = await planSince(io.root, values.since);
    const shown = values.all ? p.targets : p.targets.filter((t) => t.status !== 'unchanged');
    if (values.json) {
      io.out(
        JSON.stringify(
          {
            since: values.since,
            totalMinutes: round(p.totalMinutes),
            targets: shown.map((t) => ({
              target: t.target,
              status: t.status,
              reason: t.reason,
              firstInvalidated: t.firstInvalidated ?? null,
              rerun: t.rerun.map((l) => l.id),
              minutes: round(t.minutes),
            })),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    if (shown.length === 0) {
      io.out(`nothing to rebuild since ${values.since}: every target's content key is unchanged`);
      return 0;
    }
    io.out(`kiln plan since ${values.since}: ${shown.length} target(s) affected`);
    io.out(`${'target'.padEnd(26)} ${'status'.padEnd(9)} ${'first invalidated'.padEnd(28)} ${'re-run'.padStart(6)} ${'minutes'.padStart(8)}`);
    for (const t of shown) {
      io.out(
        `${t.target.padEnd(26)} ${t.status.padEnd(9)} ${(t.firstInvalidated ?? '-').padEnd(28)} ${String(t.rerun.length).padStart(6)} ${t.minutes.toFixed(2).padStart(8)}`,
      );
      if (t.rerun.length > 0) io.out(`    re-runs: ${t.rerun.map((l) => l.id).join(', ')}`);
      else if (t.status !== 'unchanged') io.out(`    ${t.reason}`);
    }
    io.out(`total: ~${p.totalMinutes.toFixed(2)} build minutes (each shared stage counted once: bake builds it once per invocation)`);
    return 0;
  },
};

const round = (n: number) => Math.round(n * 100) / 100;
