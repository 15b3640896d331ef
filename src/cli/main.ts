import { KilnError } from '../errors.ts';
import { bake } from './bake.ts';
import { check } from './check.ts';
import type { Command, CommandIO } from './command.ts';
import { generate } from './generate.ts';
import { scaffold } from './new.ts';
import { plan } from './plan.ts';
import { matrix } from './matrix.ts';
import { runpod } from './runpod.ts';
import { tags } from './tags.ts';

const COMMANDS: readonly Command[] = [generate, bake, check, plan, matrix, tags, runpod, scaffold];

function help(out: (l: string) => void): void {
  out('kiln: ComfyUI GPU images as typed code -> docker buildx bake\n');
  out('commands:');
  for (const c of COMMANDS) out(`  ${c.name.padEnd(10)} ${c.summary}`);
  out('\nusage:');
  for (const c of COMMANDS) out(`  ${c.usage}`);
}

/** CLI entry: returns the exit code. `root` defaults to the cwd (the repo root). */
export async function main(argv: string[], root = process.cwd()): Promise<number> {
  // `kiln plan | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  const io: CommandIO = {
    root,
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    env: process.env,
  };
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    help(io.out);
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`unknown command "${name}"`);
    help(io.err);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof KilnError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`kiln ${name}: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
}
