import { shellWord } from '../emit/quote.ts';

/** A command line as a user would paste it. */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellWord).join(' ');
}
