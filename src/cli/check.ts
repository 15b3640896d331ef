import { bakeArgs, checkDocker, runBake, type BakeInvocation } from '../docker/buildx.ts';
import { STAGE_NAMES } from '../emit/dockerfile.ts';
import type { CheckSpec } from '../graph/checks.ts';
import { selectTargets } from '../graph/select.ts';
import type { BuildGraph, Target } from '../graph/types.ts';
import { diffGenerated } from '../io/output.ts';
import { parseCommandArgs } from './args.ts';
import { missingLines } from './bake.ts';
import type { Command, Options } from './command.ts';
import { synthesize } from './project.ts';
import { commandLine } from './shell.ts';

/**
 * The image checks of template targets, alone: `--list` says what each runs
 * (no engine needed); otherwise bake builds each image up to its checks stage
 * (cached like any build: an unchanged image does not re-run them) and shows
 * their output.
 */
const options = {
  gpu: { type: 'string', value: 'GPU', help: 'only the targets of this GPU profile' },
  list: { type: 'boolean', default: false, help: 'print what each image checks (no engine needed)' },
  'dry-run': { type: 'boolean', default: false, help: 'print the buildx command instead of running it' },
  builder: { type: 'string', value: 'NAME', help: 'buildx builder to run on' },
} satisfies Options;

export const check: Command = {
  name: 'check',
  summary: 'run (or --list) the build-time checks of template images, without producing the images',
  usage: 'kiln check [<template|group|target>...] [--gpu G] [--list] [--dry-run] [--builder NAME]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('check', options, argv, { positionals: true });
    const { graph, files } = await synthesize(io.root, io);
    const runs = checkRuns(graph, selectTargets(graph, positionals, values.gpu));
    if (values.list) {
      for (const { target, spec, cost } of runs) {
        io.out(`${target.name}${spec.targets.length > 1 ? ` (also ${spec.targets.slice(1).join(', ')})` : ''}: ${spec.checks.length} checks, ~${cost} min`);
        for (const c of spec.checks) io.out(`  ${c.id.padEnd(18)} ${c.what}`);
      }
      return 0;
    }
    const drift = diffGenerated(io.root, files);
    if (drift.changed.length + drift.missing.length + drift.extra.length > 0) {
      io.err('bake/ is stale: run `npx kiln generate` first (the checks run from the generated Dockerfiles).');
      return 2;
    }
    const names = runs.map((r) => r.target.name);
    const invocation: BakeInvocation = {
      file: 'bake/docker-bake.hcl',
      targets: names,
      progress: 'plain',
      // Build each image up to its checks stage and keep only the build cache (no image).
      set: ['*.cache-to=', ...names.flatMap((n) => [`${n}.target=${STAGE_NAMES.checks}`, `${n}.output=type=cacheonly`])],
      ...(values.builder ? { builder: values.builder } : {}),
    };
    const command = commandLine(['docker', ...bakeArgs(invocation)]);
    if (values['dry-run']) {
      io.out(`command: ${command}`);
      return 0;
    }
    const status = await checkDocker({ needEngine: !values.builder });
    if (!status.ok) {
      io.err('kiln check: cannot run the checks:');
      for (const line of missingLines(status.missing, graph, names, '  ')) io.err(line);
      io.err(`  would run: ${command}`);
      return 3;
    }
    io.err(`$ ${command}`);
    return runBake(io.root, invocation);
  },
};

interface CheckRun {
  readonly target: Target;
  readonly spec: CheckSpec;
  readonly cost: number;
}

/** The targets whose builds run checks for `names` (a GPU variant's checks run in its primary). */
function checkRuns(graph: BuildGraph, names: readonly string[]): CheckRun[] {
  const byName = new Map(graph.targets.map((t) => [t.name, t]));
  const primaries = [...new Set(names.map((n) => byName.get(n)!).filter((t) => t.kind === 'template').map((t) => t.variantOf ?? t.name))];
  return primaries.map((n) => {
    const target = byName.get(n)!;
    const layers = target.layers.filter((l) => l.stage !== 'image');
    const spec = layers.find((l) => l.kind === 'check-spec')!.params.spec as CheckSpec;
    return { target, spec, cost: Math.round(layers.reduce((s, l) => s + l.cost, 0) * 100) / 100 };
  });
}
