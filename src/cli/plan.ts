import { compareSince } from '../ci/since.ts';
import { IDENTITY_FILE } from '../emit/identity.ts';
import { templateSizes } from '../graph/sizes.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { count, table } from './table.ts';

const options = {
  since: { type: 'string', default: 'HEAD', value: 'REF', help: 'git ref to compare with' },
  json: { type: 'boolean', default: false, help: 'machine-readable output' },
  all: { type: 'boolean', default: false, help: 'list unchanged targets too' },
} satisfies Options;

export const plan: Command = {
  name: 'plan',
  summary: 'what a change rebuilds: per target the first invalidated layer, the re-run layers and minutes',
  usage: 'kiln plan [--since REF] [--json] [--all]',
  options,
  async run(argv, io) {
    const { values } = parseCommandArgs('plan', options, argv);
    const { plan: p, graph, refHasIdentities } = await compareSince(io.root, values.since, io);
    if (!refHasIdentities) io.err(`note: ${values.since} has no ${IDENTITY_FILE} (it predates content identities): only definition changes are compared, not changes of Kiln's generators`);
    const sizes = templateSizes(graph);
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
              // Estimated image size (size model, README "Image sizes"): on disk, and what a pod pulls.
              ...(sizes[t.target] ? { size: sizes[t.target] } : {}),
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
    const rows = table(
      [
        ['target', 'status', 'first invalidated', 're-run', 'minutes'],
        ...shown.map((t) => [t.target, t.status, t.firstInvalidated ?? '-', count(t.rerun.length, 'layer'), t.minutes.toFixed(2)]),
      ],
      [3, 4],
    );
    io.out(rows[0]!);
    for (const [i, t] of shown.entries()) {
      io.out(rows[i + 1]!);
      if (t.rerun.length > 0) io.out(`    re-runs: ${t.rerun.map((l) => l.id).join(', ')}`);
      else if (t.status !== 'unchanged') io.out(`    ${t.reason}`);
    }
    io.out(`total: ~${p.totalMinutes.toFixed(2)} build minutes (each shared stage counted once: bake builds it once per invocation)`);
    return 0;
  },
};

const round = (n: number) => Math.round(n * 100) / 100;
