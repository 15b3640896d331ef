import { bakeSetArgs, computeTags, githubContextFromEnv, imageRefs } from '../ci/tags.ts';
import { BAKE_VARIABLES } from '../emit/bake-file.ts';
import { KilnError } from '../errors.ts';
import { selectTargets, imageOf } from '../graph/select.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { synthesize } from './project.ts';

const options = {
  registry: { type: 'string', value: 'R', help: 'image registry (default: $REGISTRY, else kiln)' },
  primary: { type: 'boolean', default: false, help: 'print only the primary tag' },
  json: { type: 'boolean', default: false, help: 'machine-readable output' },
} satisfies Options;

export const tags: Command = {
  name: 'tags',
  summary: 'image tags of this CI run (semver on v* tags, sha-<short>, latest on main, pr-<N>) from the GitHub env',
  usage: 'kiln tags [<target|template>...] [--registry R] [--primary] [--json]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('tags', options, argv, { positionals: true });
    const set = computeTags(githubContextFromEnv(io.env));
    if (values.primary) {
      io.out(set.primary);
      return 0;
    }
    if (positionals.length === 0 && !values.json) {
      for (const t of set.tags) io.out(t);
      return 0;
    }
    const registry = values.registry ?? io.env.REGISTRY ?? BAKE_VARIABLES.REGISTRY!;
    const { graph } = await synthesize(io.root, io);
    const names = positionals.length > 0 ? selectTargets(graph, positionals) : graph.targets.filter((t) => t.kind === 'template').map((t) => t.name);
    const refs: Record<string, string[]> = {};
    for (const name of names) {
      const t = graph.targets.find((x) => x.name === name)!;
      if (t.kind !== 'template') throw new KilnError(`"${name}" is a shared stage (${t.kind}); only template targets are published with release tags`);
      refs[name] = imageRefs(registry, imageOf(t).repository, imageOf(t).tag, set.tags);
    }
    if (values.json) {
      io.out(JSON.stringify({ why: set.why, primary: set.primary, tags: set.tags, refs }, null, 2));
      return 0;
    }
    io.err(`kiln tags: ${set.why}: ${set.tags.join(', ')}`);
    // One argument per line, ready for `mapfile -t SET < <(npx kiln tags T)` then `npm run bake -- T --push "${SET[@]}"`.
    for (const [name, list] of Object.entries(refs)) for (const a of bakeSetArgs(name, list)) io.out(a);
    return 0;
  },
};
