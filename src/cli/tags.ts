import { bakeSetArgs, cacheScope, computeTags, githubContextFromEnv, imageRefs } from '../ci/tags.ts';
import { identitySuffix } from '../emit/bake-file.ts';
import { LOCAL_REGISTRY, scopeSuffix } from '../emit/bake-functions.ts';
import { synthIdentities } from '../emit/synth.ts';
import { KilnError } from '../errors.ts';
import { selectTargets, imageOf } from '../graph/select.ts';
import { parseCommandArgs } from './args.ts';
import type { Command, Options } from './command.ts';
import { synthesize } from './project.ts';

const options = {
  registry: { type: 'string', value: 'R', help: `image registry (default: $REGISTRY, else ${LOCAL_REGISTRY})` },
  primary: { type: 'boolean', default: false, help: 'print only the primary tag' },
  'cache-scope': { type: 'boolean', default: false, help: "print only the registry-cache scope (the bake file's CACHE_SCOPE): empty on main and tags, pr-<N> on pull requests" },
  json: { type: 'boolean', default: false, help: 'machine-readable output' },
} satisfies Options;

export const tags: Command = {
  name: 'tags',
  summary: 'image tags of this CI run (semver on v* tags, sha-<short>, latest on main, pr-<N>, the content identity) from the GitHub env',
  usage: 'kiln tags [<target|template>...] [--registry R] [--primary] [--cache-scope] [--json]',
  options,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('tags', options, argv, { positionals: true });
    const ctx = githubContextFromEnv(io.env);
    if (values['cache-scope']) {
      io.out(cacheScope(ctx));
      return 0;
    }
    const set = computeTags(ctx);
    if (values.primary) {
      io.out(set.primary);
      return 0;
    }
    if (positionals.length === 0 && !values.json) {
      for (const t of set.tags) io.out(t);
      return 0;
    }
    const registry = values.registry ?? (io.env.REGISTRY || LOCAL_REGISTRY);
    const { graph } = await synthesize(io.root, io);
    const ids = synthIdentities(graph);
    const names = positionals.length > 0 ? selectTargets(graph, positionals) : graph.targets.filter((t) => t.kind === 'template').map((t) => t.name);
    const refs: Record<string, string[]> = {};
    for (const name of names) {
      const t = graph.targets.find((x) => x.name === name)!;
      if (t.kind !== 'template') throw new KilnError(`"${name}" is a shared stage (${t.kind}); only template targets are published with release tags`);
      // The identity tag too: --set replaces the file's tags, and `kiln matrix` asks the registry for it.
      // A scoped run (pull request) tags its own identity, which main never takes for its own.
      const identity = `${identitySuffix(ids.of(name))}${scopeSuffix({ CACHE_SCOPE: cacheScope(ctx) })}`;
      refs[name] = imageRefs(registry, imageOf(t).repository, imageOf(t).tag, [...set.tags, identity]);
    }
    if (values.json) {
      io.out(JSON.stringify({ why: set.why, primary: set.primary, tags: set.tags, refs }, null, 2));
      return 0;
    }
    io.err(`kiln tags: ${set.why}: ${set.tags.join(', ')} and the content identity`);
    // One argument per line, ready for `mapfile -t SET < <(npx kiln tags T)` then `npm run bake -- T --push "${SET[@]}"`.
    for (const [name, list] of Object.entries(refs)) for (const a of bakeSetArgs(name, list)) io.out(a);
    return 0;
  },
};
