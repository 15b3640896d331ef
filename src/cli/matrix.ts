import * as core from '@actions/core';
import { changedMatrix, fullMatrix, renderMatrix, summaryRows, type Matrix } from '../emit/matrix.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { table } from './table.ts';
import { planSince } from './plan.ts';
import { synthesize } from './project.ts';

/** Inside a GitHub Actions step: both files the runner provides are set. */
export function inActions(env: NodeJS.ProcessEnv): boolean {
  return !!env.GITHUB_OUTPUT && !!env.GITHUB_STEP_SUMMARY;
}

const options = {
  since: { type: 'string', value: 'REF', help: 'git ref to compare with (default: HEAD)' },
  all: { type: 'boolean', default: false, help: 'every template x GPU target, whatever changed' },
} satisfies Options;

export const matrix: Command = {
  name: 'matrix',
  summary: 'GitHub Actions matrix of the template targets a change rebuilds (outputs matrix + count in Actions)',
  usage: 'kiln matrix [--since REF] [--all]',
  options,
  async run(argv, io) {
    const { values } = parseCommandArgs('matrix', options, argv);
    if (values.all && values.since) {
      io.err('--all and --since exclude each other: --all lists every template x GPU target');
      return 2;
    }
    const since = values.since ?? 'HEAD';
    let m: Matrix;
    let why: string;
    if (values.all) {
      m = fullMatrix((await synthesize(io.root, io)).graph);
      why = 'every template x GPU target (--all)';
    } else {
      const { plan, graph } = await planSince(io.root, since, io);
      m = changedMatrix(graph, plan);
      why = `template targets whose content changed since ${since}`;
    }
    const json = renderMatrix(m);
    if (inActions(io.env)) {
      await writeActions(m, json, why);
      io.out(`kiln matrix: ${m.include.length} target(s), ${why}`);
      for (const l of table(m.include.map((e) => [`  ${e.target}`, `~${e.minutes.toFixed(1)} min`, e.reason]), [1])) io.out(l);
      return 0;
    }
    io.out(json);
    return 0;
  },
};

/** Outputs `matrix` and `count`, and a job summary table. */
async function writeActions(m: Matrix, json: string, why: string): Promise<void> {
  core.setOutput('matrix', json);
  core.setOutput('count', m.include.length);
  const { header, rows, total } = summaryRows(m);
  const s = core.summary.addHeading('Kiln build matrix', 2).addRaw(`${m.include.length} target(s): ${why}.`, true);
  if (rows.length === 0) {
    s.addRaw('Nothing to rebuild: every template target has the same content key. The build job is skipped.', true);
  } else {
    s.addTable([header.map((h) => ({ data: h, header: true })), ...rows]).addRaw(
      `Total: ~${total.toFixed(1)} build minutes (each job builds its target's closure; shared stages come from the registry cache when unchanged).`,
      true,
    );
  }
  await s.write();
}
