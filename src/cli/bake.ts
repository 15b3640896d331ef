import { bakeArgs, checkDocker, runBake, type BakeInvocation, type Missing } from '../docker/buildx.ts';
import { renderPrint } from '../docker/print.ts';
import type { CheckSpec } from '../graph/checks.ts';
import { buildClosure, selectTargets } from '../graph/select.ts';
import type { BuildGraph } from '../graph/types.ts';
import { diffGenerated, writeGenerated } from '../io/output.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { synthesize } from './project.ts';
import { commandLine } from './shell.ts';
import { count, table } from './table.ts';

const options = {
  gpu: { type: 'string', value: 'G', help: 'narrow templates and groups to one GPU' },
  'dry-run': { type: 'boolean', default: false, help: 'show the build plan, the exact command and what is missing; build and write nothing' },
  print: { type: 'boolean', default: false, help: "show the resolved build definition (buildx's --print; rendered by Kiln when buildx is absent)" },
  push: { type: 'boolean', default: false, help: 'push the images and export the registry cache' },
  load: { type: 'boolean', default: false, help: 'load the images into the local image store' },
  builder: { type: 'string', value: 'NAME', help: 'build on this buildx builder (remote BuildKit, kubernetes, cloud)' },
  set: { type: 'string', multiple: true, default: [], value: 'K=V', help: "override a target attribute, as buildx's --set" },
  progress: { type: 'string', value: 'MODE', help: "buildx's progress output: auto, plain, tty, rawjson" },
} satisfies Options;

export const bake: Command = {
  name: 'bake',
  summary: 'build templates with docker buildx bake (--dry-run / --print show the plan)',
  usage:
    'kiln bake [<template|group|target>...] [--gpu G] [--dry-run] [--print] [--push] [--load] [--builder NAME] [--set K=V]... [--progress MODE]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('bake', options, argv, { positionals: true });
    if (values.push && values.load) {
      io.err('kiln bake: --push and --load exclude each other: push to a registry, or load into the local image store');
      return 2;
    }
    const { graph, files } = await synthesize(io.root, io);
    const drift = diffGenerated(io.root, files);
    const stale = drift.changed.length + drift.missing.length + drift.extra.length;
    const staleNote = `bake/ is stale (${count(stale, 'file')}); a real build regenerates it first (kiln generate).`;

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
    // A remote builder needs no local engine; --print needs none at all.
    const needEngine = !values.print && !values.builder;

    if (values['dry-run']) {
      printPlan(io.out, graph, targets);
      io.out('');
      io.out(`command: ${command}`);
      const status = await checkDocker({ needEngine });
      if (status.ok) io.out(`engine:  buildx ${status.buildx}${needEngine ? ', engine reachable' : ''}`);
      else for (const line of missingLines(status.missing, graph, targets, 'engine:  ')) io.out(line);
      if (stale > 0) io.err(`note: ${staleNote}`);
      return 0;
    }

    // Nothing is written until the build can run: a failed check leaves bake/ as it was.
    const status = await checkDocker({ needEngine });
    if (!status.ok) {
      if (values.print) {
        const r = renderPrint(graph, invocation, io.env);
        io.out(JSON.stringify(r.json, null, 2));
        io.err(`buildx is not usable, so this is Kiln's rendering of what \`${command}\` would print.`);
        for (const line of missingLines(status.missing, graph, targets, '  ')) io.err(line);
        if (r.skipped.length > 0) io.err(`  not reflected above: --set ${r.skipped.join(', --set ')}`);
        if (stale > 0) io.err(`note: ${staleNote}`);
        return 0;
      }
      io.err(`kiln bake: cannot build:`);
      for (const line of missingLines(status.missing, graph, targets, '  ')) io.err(line);
      io.err(`  would run: ${command}`);
      if (stale > 0) io.err(`note: ${staleNote}`);
      return 3;
    }
    if (stale > 0) {
      writeGenerated(io.root, files);
      io.err(`bake/ was stale: regenerated ${count(stale, 'file')} before building.`);
    }
    io.err(`$ ${command}`);
    return runBake(io.root, invocation);
  },
};

/**
 * What is missing, each with its fix, then how to try Kiln on a machine with
 * no engine and no internet: the private engine and the stub CUDA images
 * (tools/engine.sh, tools/stub-world/README.md).
 */
export function missingLines(missing: readonly Missing[], graph: BuildGraph, targets: readonly string[], lead: string): string[] {
  const images = [...new Set(buildClosure(graph, targets).flatMap((t) => ('image' in t.from ? [t.from.image] : [])))].sort();
  const pad = ' '.repeat(lead.length);
  return [
    ...missing.flatMap((m, i) => [`${i === 0 ? lead : pad}missing ${m.what}`, `${pad}  fix: ${m.fix}`]),
    `${pad}offline (no GPU, no registry access): \`tools/engine.sh up && eval "$(tools/engine.sh env)" && tools/stub-world/build.sh ${images.join(' ')}\``,
    `${pad}  starts a private dockerd + BuildKit + registry and makes stand-ins for the CUDA images (tools/stub-world/README.md)`,
  ];
}

function printPlan(out: (l: string) => void, graph: BuildGraph, targets: readonly string[]): void {
  const closure = buildClosure(graph, targets);
  out(`Kiln plan: ${count(targets.length, 'requested target')}, ${closure.length} in the build graph`);
  out('requested:');
  for (const t of targets) out(`  ${t}`);
  out('builds (dependencies first; each shared stage once per invocation):');
  const rows = closure.map((t) => {
    const minutes = t.layers.reduce((s, l) => s + l.cost, 0);
    const deps = Object.entries(t.contexts)
      .map(([n, c]) => `${n}=${'target' in c ? c.target : `./${c.local}`}`)
      .join(', ');
    // Counts right-aligned in a fixed width, so "1 layer" and "12 layers" line up by their numbers.
    return [`  ${t.name}`, `${String(t.layers.length).padStart(2)} ${t.layers.length === 1 ? 'layer' : 'layers'}`, `~${minutes.toFixed(1)} min cold`, deps ? `<- ${deps}` : ''];
  });
  for (const [i, line] of table(rows, [2]).entries()) {
    out(line);
    const spec = closure[i]!.layers.find((l) => l.kind === 'check-spec')?.params.spec as CheckSpec | undefined;
    if (spec) out(`      checks: ${spec.checks.map((c) => c.id).join(', ')} (kiln check --list ${closure[i]!.name})`);
  }
}
