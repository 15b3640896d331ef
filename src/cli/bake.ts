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
  'deps-read-only': {
    type: 'boolean',
    default: false,
    help: 'targets built only as dependencies of the requested ones read their registry cache and write none (CI level 2)',
  },
  attest: { type: 'boolean', default: false, help: 'SBOM and provenance (mode=max) attestations on the pushed images (needs --push)' },
  'metadata-file': { type: 'string', value: 'FILE', help: "buildx's metadata file: each pushed target's digest (to sign it)" },
  'base-mirror': {
    type: 'string',
    value: 'R',
    help: 'take the CUDA base images from registry/mirror R (R/nvidia/cuda:<tag>), for builders that cannot see local images (default: $KILN_BASE_MIRROR)',
  },
} satisfies Options;

/** `--set` for each target of the closure that FROMs an image: the image as a named context, taken from `mirror`. */
export function baseMirrorSets(graph: BuildGraph, targets: readonly string[], mirror: string): string[] {
  const reg = mirror.replace(/\/+$/, '');
  return buildClosure(graph, targets).flatMap((t) => ('image' in t.from ? [`${t.name}.contexts.${t.from.image}=docker-image://${reg}/${t.from.image}`] : []));
}

export const bake: Command = {
  name: 'bake',
  summary: 'build templates with docker buildx bake (--dry-run / --print show the plan)',
  usage:
    'kiln bake [<template|group|target>...] [--gpu G] [--dry-run] [--print] [--push [--attest] [--metadata-file F]] [--load] [--builder NAME] [--base-mirror R] [--deps-read-only] [--set K=V]... [--progress MODE]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('bake', options, argv, { positionals: true });
    if (values.push && values.load) {
      io.err('kiln bake: --push and --load exclude each other: push to a registry, or load into the local image store');
      return 2;
    }
    if (values.attest && !values.push) {
      io.err('kiln bake: --attest adds attestations to pushed images: use it with --push');
      return 2;
    }
    // REGISTRY empty names images kiln/<repo>: nothing to push to, and no registry cache is read or written.
    const registry = io.env.REGISTRY ?? '';
    if (values.push && !registry && !values.set.some((x) => /\.tags=/.test(x))) {
      io.err('kiln bake: --push needs a registry: set REGISTRY (e.g. REGISTRY=ghcr.io/acme npm run bake -- sd15-basic --push)');
      return 2;
    }
    const { graph, files } = await synthesize(io.root, io);
    const drift = diffGenerated(io.root, files);
    const stale = drift.changed.length + drift.missing.length + drift.extra.length;
    const staleNote = `bake/ is stale (${count(stale, 'file')}); a real build regenerates it first (kiln generate).`;

    const targets = selectTargets(graph, positionals, values.gpu);
    // Registry cache export needs a registry and a driver that can export (not the classic docker store):
    // it runs with --push (CI); local builds only read the cache.
    const mirror = values['base-mirror'] ?? io.env.KILN_BASE_MIRROR ?? '';
    const deps = buildClosure(graph, targets).filter((t) => t.image && !targets.includes(t.name));
    const set = [
      ...(values.push ? [] : ['*.cache-to=']),
      // Level 2 of CI: level 1 wrote the shared stages' cache; a template job only reads it.
      ...(values['deps-read-only'] && values.push ? deps.map((t) => `${t.name}.cache-to=`) : []),
      ...(mirror ? baseMirrorSets(graph, targets, mirror) : []),
      ...values.set,
    ];
    const invocation: BakeInvocation = {
      file: 'bake/docker-bake.hcl',
      targets,
      push: values.push,
      load: values.load,
      print: values.print,
      set,
      ...(values.builder ? { builder: values.builder } : {}),
      ...(values.progress ? { progress: values.progress } : {}),
      ...(values.attest ? { attest: true } : {}),
      ...(values['metadata-file'] ? { metadataFile: values['metadata-file'] } : {}),
    };
    const command = commandLine(['docker', ...bakeArgs(invocation)]);
    // A remote builder needs no local engine; --print needs none at all.
    const needEngine = !values.print && !values.builder;

    if (values['dry-run']) {
      printPlan(io.out, graph, targets);
      io.out('');
      io.out(`command: ${command}`);
      io.out(
        registry
          ? `registry: ${registry} (tags and registry cache${io.env.CACHE_SCOPE ? `, cache scope ${io.env.CACHE_SCOPE}` : ''})`
          : 'registry: none (REGISTRY unset): images are named kiln/<repository>, no registry cache is read or written',
      );
      if (mirror) io.out(`base images: from ${mirror} (--base-mirror / KILN_BASE_MIRROR)`);
      const status = await checkDocker({ needEngine, ...(values.builder && !values.print ? { builder: values.builder } : {}) });
      if (status.ok) io.out(`engine:  buildx ${status.buildx}${needEngine ? ', engine reachable' : ''}${values.builder ? `, builder ${values.builder} ready` : ''}`);
      else for (const line of missingLines(status.missing, graph, targets, 'engine:  ')) io.out(line);
      if (stale > 0) io.err(`note: ${staleNote}`);
      return 0;
    }

    // Nothing is written until the build can run: a failed check leaves bake/ as it was.
    const status = await checkDocker({ needEngine, ...(values.builder && !values.print ? { builder: values.builder } : {}) });
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
