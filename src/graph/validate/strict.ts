/**
 * Strict definitions: every field a definition, helper option or nested
 * object has must be one its shape (src/dsl/schema.ts) names, and every
 * required one must be there. TypeScript says the same, but only to those
 * who run tsc; `kiln generate` runs the files through tsx, which does not.
 */
import { helperOptions, type Shape } from '../../dsl/schema.ts';
import { closest } from '../../suggest.ts';
import type { Report } from './report.ts';

export interface ShapeContext {
  /** Prefix of field paths: "" at the top, "torch." or "models[2]." below. */
  readonly path: string;
  /** Who takes these fields, for the fix: "defineGpu", "the torch pins", "hf() options". */
  readonly owner: string;
  /** Keys a factory adds itself (`kind`). @default none */
  readonly stamped?: readonly string[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkShape(value: unknown, shape: Shape, report: Report, ctx: ShapeContext): void {
  if (!isPlainObject(value)) return;
  const known = Object.keys(shape);
  for (const key of Object.keys(value)) {
    if (key in shape || ctx.stamped?.includes(key)) continue;
    const near = closest(key, known);
    report(
      `${ctx.path}${key}`,
      `unknown field "${key}"${near ? ` (did you mean "${near}"?)` : ''}`,
      near ? `rename it to ${near}` : `remove it; ${ctx.owner} takes: ${known.join(', ')}`,
    );
  }
  for (const [key, field] of Object.entries(shape)) {
    const v = value[key];
    const at = `${ctx.path}${key}`;
    if (v === undefined || v === null) {
      if (!field.optional) report(at, 'is missing', `add ${key}: ${field.example ?? '...'}`);
      continue;
    }
    if (field.keys) {
      if (!isPlainObject(v)) report(at, `must be an object, got ${JSON.stringify(v)}`, `write ${key}: ${field.example ?? '{ ... }'}`);
      else checkShape(v, field.keys, report, { path: `${at}.`, owner: `${ctx.owner}'s ${key}` });
    }
    if (field.each) {
      if (!Array.isArray(v)) report(at, `must be a list, got ${JSON.stringify(v)}`, `write ${key}: [ ... ]`);
      else {
        for (const [i, item] of v.entries()) {
          if (!isPlainObject(item)) report(`${at}[${i}]`, `must be an object, got ${JSON.stringify(item)}`, `write { ${Object.keys(field.each).join(', ')} }`);
          else checkShape(item, field.each, report, { path: `${at}[${i}].`, owner: `each of ${key}` });
        }
      }
    }
  }
}

/**
 * An item a helper usually makes (a model, a node): the options the helper
 * was called with when it was, else the item itself as an object literal.
 */
export function checkHelperItem(item: unknown, helper: { readonly options: Shape; readonly literal: Shape; readonly name: string }, report: Report, path: string): void {
  const options = helperOptions(item);
  if (options) checkShape(options, helper.options, report, { path, owner: `${helper.name} options` });
  else checkShape(item, helper.literal, report, { path, owner: `a ${helper.name} entry` });
}
