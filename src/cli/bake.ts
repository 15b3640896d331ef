import { parseArgs } from 'node:util';
import { bakeArgs, checkDocker, runBake, type BakeInvocation } from '../docker/buildx.ts';
import { bakeModel } from '../emit/bake-file.ts';
import type { CheckSpec } from '../graph/checks.ts';
import { buildClosure, selectTargets } from '../graph/select.ts';
import type { BuildGraph } from '../graph/types.ts';
import { diffGenerated, writeGenerated } from '../io/output.ts';
import type { Command } from './command.ts';
import { synthesize } from './project.ts';
import { commandLine } from './shell.ts';

export const bake: Command = {
  name: 'bake',
  summary: 'build templates with docker buildx bake (--dry-run / --print show the plan)',
  usage:
    'kiln bake [<template|group|target>...] [--gpu G] [--dry-run] [--print] [--push] [--load] [--builder NAME] [--set K=V]... [--progress MODE]',
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        gpu: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        print: { type: 'boolean', default: false },
        push: { type: 'boolean', default: false },
        load: { type: 'boolean', default: false },
        builder: { type: 'string' },
        set: { type: 'string', multiple: true, default: [] },
        progress: { type: 'string' },
      },
    });
    if (values.push && values.load) {
      io.err('--push and --load exclude each other: push to a registry, or load into the local image store');
      return 2;
    }
    const { graph, files } = await synthesize(io.root);
    const drift = diffGenerated(io.root, files);
    const stale = drift.changed.length + drift.missing.length + drift.extra.length;
    if (stale > 0) {
      if (values['dry-run']) {
        io.err(`note: bake/ is stale (${stale} files); a real run regenerates it first (kiln generate).`);
      } else {
        writeGenerated(io.root, files);
        io.err(`bake/ was stale: regenerated ${stale} file(s) before building.`);
      }
    }

    const targets = selectTargets(graph, positionals, values.gpu);
    // Registry cache export needs a registry and a driver that can export (not the classic docker store):
    // it runs with --push (CI); local builds only read the cache.
    const set = [...(values.push ? [] : ['*.cache-to=']), ...values.set];
    const invocation: BakeInvocation = {
      file: 'bake/docker-bake.hcl',
      targets,
      push: values.push,
      load: values.load,
      print: values.print,
      set,
      ...(values.builder ? { builder: values.builder } : {}),
      ...(values.progress ? { progress: values.progress } : {}),
    };
    const command = commandLine(['docker', ...bakeArgs(invocation)]);

    if (values['dry-run']) {
      printPlan(io.out, graph, targets);
      io.out('');
      io.out(`command: ${command}`);
      const status = await checkDocker({ needEngine: true });
      if (!status.ok) io.out(`engine:  missing ${status.missing}; ${status.hint}`);
      else io.out(`engine:  buildx ${status.buildx}, engine reachable`);
      return 0;
    }

    const status = await checkDocker({ needEngine: !values.print });
    if (!status.ok) {
      if (values.print) {
        io.err(`buildx is not usable: missing ${status.missing}. Showing Kiln's own rendering of the selected targets instead.`);
        const model = bakeModel(graph);
        const closure = buildClosure(graph, targets).map((t) => t.name);
        io.out(JSON.stringify({ group: { default: { targets } }, target: Object.fromEntries(closure.map((n) => [n, model.target[n]])) }, null, 2));
        io.err(`would run: ${command}`);
        return 0;
      }
      io.err(`cannot build: missing ${status.missing}.`);
      io.err(`  fix: ${status.hint}`);
      io.err(`  would run: ${command}`);
      return 3;
    }
    io.err(`$ ${command}`);
    return runBake(io.root, invocation);
  },
};

function printPlan(out: (l: string) => void, graph: BuildGraph, targets: readonly string[]): void {
  const closure = buildClosure(graph, targets);
  out(`Kiln plan: ${targets.length} requested target(s), ${closure.length} in the build graph`);
  out('requested:');
  for (const t of targets) out(`  ${t}`);
  out('builds (dependencies first; each shared stage once per invocation):');
  for (const t of closure) {
    const minutes = t.layers.reduce((s, l) => s + l.cost, 0);
    const deps = Object.entries(t.contexts)
      .map(([n, c]) => `${n}=${'target' in c ? c.target : `./${c.local}`}`)
      .join(', ');
    out(`  ${t.name.padEnd(28)} ${String(t.layers.length).padStart(2)} layers  ~${minutes.toFixed(1).padStart(5)} min cold${deps ? `  <- ${deps}` : ''}`);
    const spec = t.layers.find((l) => l.kind === 'check-spec')?.params.spec as CheckSpec | undefined;
    if (spec) out(`  ${''.padEnd(28)} checks: ${spec.checks.map((c) => c.id).join(', ')} (kiln check --list ${t.name})`);
  }
}
