/**
 * What `docker buildx bake --print` shows for an invocation, rendered by Kiln
 * for machines without buildx: the selected targets and their dependencies,
 * variables taken from the environment, and the invocation's own overrides
 * applied as buildx 0.13 applies them (checked against buildx in
 * test/print.test.ts):
 * - `--set pattern.key=value`: list keys collect their values in order, an
 *   empty value adds nothing, and a key left empty disappears (so
 *   `*.cache-to=` removes the cache export, as the real run does);
 * - `--push` / `--load`: an `output` on the requested targets only.
 */
import { bakeModel, evaluateTarget } from '../emit/bake-file.ts';
import { bakeVars } from '../emit/bake-functions.ts';
import { synthIdentities } from '../emit/synth.ts';
import { buildClosure } from '../graph/select.ts';
import type { BuildGraph } from '../graph/types.ts';
import type { BakeInvocation } from './buildx.ts';

const LIST_KEYS: Readonly<Record<string, string>> = {
  tags: 'tags',
  'cache-from': 'cache-from',
  'cache-to': 'cache-to',
  platform: 'platforms',
  output: 'output',
};
const SCALAR_KEYS = ['context', 'dockerfile', 'target'];
const BOOLEAN_KEYS = ['pull', 'no-cache'];
const MAP_KEYS = ['args', 'labels', 'contexts'];

export interface PrintRendering {
  readonly json: { group: { default: { targets: string[] } }; target: Record<string, Record<string, unknown>> };
  /** --set overrides this rendering does not reproduce. */
  readonly skipped: readonly string[];
}

export function renderPrint(graph: BuildGraph, b: BakeInvocation, env: NodeJS.ProcessEnv): PrintRendering {
  const vars = bakeVars(env);
  const model = bakeModel(graph, synthIdentities(graph));
  const target: Record<string, Record<string, unknown>> = {};
  for (const t of buildClosure(graph, b.targets)) target[t.name] = evaluateTarget(model.target[t.name]!, vars);

  const skipped: string[] = [];
  const lists = new Map<string, string[]>(); // "target\0key" -> values collected from --set
  for (const entry of b.set ?? []) {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/.exec(entry);
    const names = m ? Object.keys(target).filter((n) => glob(m[1]!).test(n)) : [];
    const [key, value] = m ? [m[2]!, m[3]!] : ['', ''];
    const [head, sub] = key.split(/\.(.*)/s) as [string, string | undefined];
    if (!m || !(key in LIST_KEYS || SCALAR_KEYS.includes(key) || BOOLEAN_KEYS.includes(key) || (MAP_KEYS.includes(head) && sub))) {
      skipped.push(entry);
      continue;
    }
    for (const n of names) {
      const t = target[n]!;
      if (key in LIST_KEYS) {
        const field = LIST_KEYS[key]!;
        const list = lists.get(`${n}\0${field}`) ?? [];
        if (value !== '') list.push(value);
        lists.set(`${n}\0${field}`, list);
        if (list.length > 0) t[field] = [...list];
        else delete t[field];
      } else if (SCALAR_KEYS.includes(key)) t[key] = value;
      else if (BOOLEAN_KEYS.includes(key)) t[key] = value === 'true';
      else t[head] = { ...(t[head] as Record<string, string> | undefined), [sub!]: value };
    }
  }
  const output = b.push ? 'type=image,push=true' : b.load ? 'type=docker' : null;
  if (output) for (const n of b.targets) target[n]!.output = [output];
  return { json: { group: { default: { targets: [...b.targets] } }, target }, skipped };
}

/** bake's target patterns: `*` and `?` wildcards (path.Match). */
function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}
