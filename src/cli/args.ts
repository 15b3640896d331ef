/**
 * Command-line parsing for every command: node:util parseArgs, with unknown
 * options and bad values reported in Kiln's words (and a did-you-mean),
 * and --help text made from the same option table.
 */
import { parseArgs } from 'node:util';
import { KilnError } from '../errors.ts';
import { didYouMean } from '../suggest.ts';
import type { Command, Options } from './command.ts';

/** Whether argv asks for help (before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export function parseCommandArgs<const O extends Options>(name: string, options: O, argv: string[], { positionals = false } = {}) {
  const see = `see \`kiln ${name} --help\``;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    const flag = a.startsWith('--') ? a.slice(2).split('=')[0]! : a.slice(1);
    const spec = a.startsWith('--') ? options[flag] : undefined;
    if (!spec) throw new KilnError(`unknown option ${a.split('=')[0]}${didYouMean(flag, Object.keys(options), (c) => `--${c}`)}; ${see}`);
    if (spec.type === 'string' && !a.includes('=')) i++; // its value may start with "-"
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const flag = /'(--[\w-]+)/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
      const spec = options[flag.slice(2)];
      throw new KilnError(
        spec?.type === 'boolean' ? `option ${flag} takes no value; ${see}` : `option ${flag} needs a value: ${flag} ${spec?.value ?? 'VALUE'} (or ${flag}=${spec?.value ?? 'VALUE'} when it starts with "-"); ${see}`,
      );
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']*)'/.exec(e.message)?.[1];
      throw new KilnError(`takes no arguments (got "${arg}"); ${see}`);
    }
    throw err;
  }
}

/** `kiln <command> --help`. */
export function commandHelp(c: Command): string[] {
  const flags = Object.entries(c.options).map(([name, o]) => {
    const left = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}${o.multiple ? '...' : ''}`;
    const def = o.default !== undefined && o.type === 'string' && !o.multiple ? ` (default: ${String(o.default)})` : '';
    return [left, `${o.help}${def}`] as const;
  });
  const width = Math.max(10, ...flags.map(([l]) => l.length));
  return [
    `usage: ${c.usage}`,
    '',
    c.summary,
    '',
    'options:',
    ...flags.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`),
    `  ${'--help'.padEnd(width)}  this text`,
  ];
}
