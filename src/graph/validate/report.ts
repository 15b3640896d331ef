import type { DefinitionProblem } from '../../errors.ts';

/** Reports one problem of the definition a Report was made for. */
export type Report = (field: string, problem: string, fix: string) => void;

export function reporter(out: DefinitionProblem[], file: string, definition: string): Report {
  return (field, problem, fix) => out.push({ file, definition, field, problem, fix });
}

/** A value as a message shows it: strings quoted, everything else as JSON. */
export function shown(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
}

/** A string field that is there (the strict check reports missing ones), so checks of its content can run. */
export function given(v: unknown): v is string {
  return typeof v === 'string';
}

/** https://host/path: everything Kiln clones or downloads at build time. */
export function checkHttps(report: Report, field: string, v: unknown, what: string): void {
  if (v === undefined) return; // reported as missing by the strict check
  if (typeof v !== 'string' || !/^https:\/\/[^\s/]+\/\S*$/.test(v)) {
    report(field, `${shown(v)} is not an https URL`, `use the https URL of ${what}`);
  }
}

/** How messages name a definition: `gpu "rtx5090"`, `template "sd15-basic"` (or "(no name)" when name is missing). */
export function label(kind: 'gpu' | 'template', def: { readonly name?: unknown }): string {
  return typeof def.name === 'string' ? `${kind} "${def.name}"` : `${kind} (no name)`;
}
