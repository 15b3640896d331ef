/** Quoting for the generated files; templates call these, never build quotes themselves. */

const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

/** A POSIX shell word: bare when safe, else single-quoted. */
export function shellWord(value: string): string {
  if (value !== '' && SHELL_SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A Dockerfile ENV value in double quotes ($ and " escaped so nothing expands). */
export function dockerfileString(value: string): string {
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** An HCL string literal. `${...}` is kept only where interpolation is meant. */
export function hclString(value: string, interpolate = false): string {
  let s = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  // Function replacements: in a replacement string "$$" would mean a single "$".
  if (!interpolate) s = s.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
  return `"${s}"`;
}
