import * as core from '@actions/core';
import { imagetoolsLookup, publishedRefs, type Lookup } from '../ci/published.ts';
import { compareSince } from '../ci/since.ts';
import { changedMatrix, fullMatrix, isShared, renderLevels, renderMatrix, renderShared, summaryRows, unpublishedMatrix, type Matrix } from '../emit/matrix.ts';
import { scopeSuffix } from '../emit/bake-functions.ts';
import { IDENTITY_FILE, parseIdentityFile } from '../emit/identity.ts';
import type { BuildGraph } from '../graph/types.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { synthesize } from './project.ts';
import { table } from './table.ts';

/** Inside a GitHub Actions step: both files the runner provides are set. */
export function inActions(env: NodeJS.ProcessEnv): boolean {
  return !!env.GITHUB_OUTPUT && !!env.GITHUB_STEP_SUMMARY;
}

const options = {
  registry: { type: 'string', value: 'R', help: 'registry to ask for identity tags (default: $REGISTRY)' },
  builder: { type: 'string', value: 'NAME', help: 'buildx builder whose registry settings imagetools uses' },
  since: { type: 'string', value: 'REF', help: "explain instead: targets whose content changed since REF (its committed bake/); asks no registry" },
  all: { type: 'boolean', default: false, help: 'every shared and template target, whatever is published' },
} satisfies Options;

export const matrix: Command = {
  name: 'matrix',
  summary: 'GitHub Actions matrix in two levels (shared stages, then templates) of what the registry lacks (outputs matrix, count, shared, shared_count in Actions)',
  usage: 'kiln matrix [--registry R] [--builder NAME] | --since REF | --all',
  options,
  async run(argv, io) {
    const { values } = parseCommandArgs('matrix', options, argv);
    if (values.all && values.since) {
      io.err('--all and --since exclude each other: --all lists every target');
      return 2;
    }
    let m: Matrix;
    let why: string;
    let nothing = 'Nothing to build.';
    if (values.all) {
      m = fullMatrix((await synthesize(io.root, io)).graph);
      why = 'every target (--all)';
    } else if (values.since) {
      const c = await compareSince(io.root, values.since, io);
      if (!c.refHasIdentities) io.err(`note: ${values.since} has no ${IDENTITY_FILE}: only definition changes are compared`);
      m = changedMatrix(c.graph, c.plan, c.changed);
      why = `targets whose content changed since ${values.since}`;
      nothing = `Nothing to build: no target's content changed since ${values.since}.`;
    } else {
      const registry = (values.registry ?? io.env.REGISTRY ?? '').replace(/\/+$/, '');
      if (!registry) {
        io.err('kiln matrix: no registry to ask. It lists the targets whose content identity tag the registry lacks.');
        io.err('  fix: set REGISTRY (e.g. REGISTRY=ghcr.io/acme) or pass --registry R; or use --since REF (what changed since a commit) or --all');
        return 2;
      }
      const { graph, files } = await synthesize(io.root, io);
      const scope = io.env.CACHE_SCOPE ?? '';
      m = await registryMatrix(graph, files, registry, scope, imagetoolsLookup(values.builder ? { builder: values.builder } : {}));
      why = `targets whose content identity is not in ${registry}${scope ? ` (main's, or this scope's: ${scope})` : ''}`;
      nothing = `Nothing to build: every target is published in ${registry} with its content identity.`;
    }
    if (inActions(io.env)) {
      await writeActions(m, why, nothing);
      io.out(`kiln matrix: ${m.shared.length} shared and ${m.include.length} template target(s), ${why}`);
      for (const l of table(summaryRows(m).rows.map(([level, target, reason, minutes]) => [`  ${level}`, target!, `~${minutes} min`, reason!]), [2])) io.out(l);
      return 0;
    }
    io.out(renderLevels(m));
    return 0;
  },
};

/**
 * Ask the registry for every pushed target's identity tag; what it lacks is what to build.
 * A scoped run (CACHE_SCOPE, a pull request) also counts its own scoped identity tags,
 * so its next commit does not rebuild what it already pushed; main counts only main's.
 */
export async function registryMatrix(graph: BuildGraph, files: ReadonlyMap<string, string>, registry: string, scope: string, lookup: Lookup): Promise<Matrix> {
  const ids = parseIdentityFile(files.get(IDENTITY_FILE)!)!;
  const refsOf = (name: string) => {
    const main = `${registry}/${ids.targets[name]!.image!}`;
    return [main, ...(scope ? [`${main}${scopeSuffix({ CACHE_SCOPE: scope })}`] : [])];
  };
  const pushed = graph.targets.filter((t) => t.kind === 'template' || isShared(t));
  const found = await publishedRefs(
    pushed.flatMap((t) => refsOf(t.name)),
    lookup,
  );
  const missing = new Set(pushed.filter((t) => !refsOf(t.name).some((r) => found.has(r))).map((t) => t.name));
  return unpublishedMatrix(graph, missing, (t) => refsOf(t.name)[0]!);
}

/** Outputs `matrix`, `count`, `shared`, `shared_count`, and a job summary table. */
async function writeActions(m: Matrix, why: string, nothing: string): Promise<void> {
  core.setOutput('matrix', renderMatrix(m));
  core.setOutput('count', m.include.length);
  core.setOutput('shared', renderShared(m));
  core.setOutput('shared_count', m.shared.length);
  const { header, rows, total } = summaryRows(m);
  const s = core.summary.addHeading('Kiln build matrix', 2).addRaw(`${m.shared.length} shared and ${m.include.length} template target(s): ${why}.`, true);
  if (rows.length === 0) {
    s.addRaw(`${nothing} The build jobs are skipped.`, true);
  } else {
    s.addTable([header.map((h) => ({ data: h, header: true })), ...rows]).addRaw(
      `Total: ~${total.toFixed(1)} build minutes. Level 1 builds the shared stages once, in one job; each template job reads them from the registry cache.`,
      true,
    );
  }
  await s.write();
}
