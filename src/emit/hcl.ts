import { hclString } from './quote.ts';

/** A string that keeps `${VAR}` interpolation in HCL. */
export class Interpolated {
  constructor(readonly text: string) {}
}

export type HclValue = string | number | boolean | Interpolated | readonly HclValue[] | { readonly [k: string]: HclValue };

export interface HclBlock {
  readonly type: string;
  readonly label: string;
  readonly attributes: readonly (readonly [string, HclValue])[];
}

function value(v: HclValue, indent: string): string {
  if (v instanceof Interpolated) return hclString(v.text, true);
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

/** Render blocks in the given order; attribute order is the caller's. */
export function renderHcl(banner: string, blocks: readonly HclBlock[]): string {
  const out = [banner];
  for (const b of blocks) {
    out.push('');
    out.push(`${b.type} ${hclString(b.label)} {`);
    for (const [k, v] of b.attributes) out.push(`  ${k} = ${value(v, '  ')}`);
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}
