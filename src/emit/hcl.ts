import { hclString } from './quote.ts';

/** A string that keeps `${VAR}` interpolation in HCL. */
export class Interpolated {
  constructor(readonly text: string) {}
}

/**
 * A call of one of the bake file's functions, e.g. `cache_from("torch-rtx4090")`.
 * Arguments are strings; an Interpolated argument keeps its `${VAR}`.
 */
export class Call {
  constructor(
    readonly fn: string,
    readonly args: readonly (string | Interpolated)[],
  ) {}

  /** HCL text of the call. */
  hcl(): string {
    return `${this.fn}(${this.args.map((a) => (a instanceof Interpolated ? hclString(a.text, true) : hclString(a))).join(', ')})`;
  }
}

export type HclValue = string | number | boolean | Interpolated | Call | readonly HclValue[] | { readonly [k: string]: HclValue };

export interface HclBlock {
  readonly type: string;
  readonly label: string;
  readonly attributes: readonly (readonly [string, HclValue])[];
}

/**
 * A user-defined bake function (buildx >= 0.13 evaluates them; they may read the file's
 * variables). `result` is HCL expression text, written by hand in src/emit/bake-functions.ts.
 */
export interface HclFunction {
  readonly name: string;
  readonly params: readonly string[];
  /** Name of the list that takes every argument after `params` (HCL `variadic_params`). */
  readonly variadic?: string;
  readonly result: string;
  /** One comment line above the block: why the function exists. */
  readonly why: string;
}

function value(v: HclValue, indent: string): string {
  if (v instanceof Interpolated) return hclString(v.text, true);
  if (v instanceof Call) return v.hcl();
  if (typeof v === 'string') return hclString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => `${indent}  ${value(x, `${indent}  `)},`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, HclValue>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${indent}  ${hclString(k)} = ${value(x, `${indent}  `)}`).join('\n')}\n${indent}}`;
}

/** Render functions, then blocks, in the given order; attribute order is the caller's. */
export function renderHcl(banner: string, blocks: readonly HclBlock[], functions: readonly HclFunction[] = []): string {
  const out = [banner];
  for (const f of functions) {
    out.push('', `# ${f.why}`, `function ${hclString(f.name)} {`, `  params = [${f.params.join(', ')}]`);
    if (f.variadic) out.push(`  variadic_params = ${f.variadic}`);
    out.push(`  result = ${f.result}`, '}');
  }
  for (const b of blocks) {
    out.push('');
    out.push(`${b.type} ${hclString(b.label)} {`);
    for (const [k, v] of b.attributes) out.push(`  ${k} = ${value(v, '  ')}`);
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}
