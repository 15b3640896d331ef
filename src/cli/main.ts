import { readFileSync } from 'node:fs';
import { KilnError } from '../errors.ts';
import { didYouMean } from '../suggest.ts';
import { commandHelp, wantsHelp } from './args.ts';
import { bake } from './bake.ts';
import { check } from './check.ts';
import type { Command, CommandIO } from './command.ts';
import { generate } from './generate.ts';
import { lock } from './lock.ts';
import { matrix } from './matrix.ts';
import { scaffold } from './new.ts';
import { plan } from './plan.ts';
import { findProjectRoot } from './project.ts';
import { runpod } from './runpod.ts';
import { sign } from './sign.ts';
import { tags } from './tags.ts';

const COMMANDS: readonly Command[] = [generate, lock, bake, check, plan, matrix, tags, sign, runpod, scaffold];

function help(out: (l: string) => void): void {
  out('kiln: ComfyUI GPU images as typed code -> docker buildx bake\n');
  out('commands:');
  for (const c of COMMANDS) out(`  ${c.name.padEnd(10)} ${c.summary}`);
  out('\nusage:');
  for (const c of COMMANDS) out(`  ${c.usage}`);
  out('\n`kiln <command> --help` describes each option; `kiln --version` prints the version.');
  out('Run kiln anywhere inside a project (a folder with base/*.ts); KILN_DEBUG=1 prints what the loader skips.');
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** What main prints to and reads from; tests pass their own. */
export interface MainIO {
  readonly cwd: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

let pipeGuarded = false;

/** CLI entry: returns the exit code. The project is found from `cwd` upwards. */
export async function main(argv: string[], io: Partial<MainIO> = {}): Promise<number> {
  if (!io.out && !pipeGuarded) {
    pipeGuarded = true;
    // `kiln plan | head` closes the pipe early; that is not an error.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
  const cwd = io.cwd ?? process.cwd();
  const env = io.env ?? process.env;
  const out = io.out ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const err = io.err ?? ((l: string) => void process.stderr.write(`${l}\n`));
  const debugOn = ['1', 'true'].includes(env.KILN_DEBUG ?? '');
  let root: string | null | undefined;
  const commandIO: CommandIO = {
    get root(): string {
      root ??= findProjectRoot(cwd);
      if (!root) {
        throw new KilnError(`no Kiln project in ${cwd} or above it (a project has base/*.ts with defineBase and defineGpu, and templates/); run kiln inside one`);
      }
      return root;
    },
    out,
    err,
    debug: debugOn ? (l) => err(`kiln: debug: ${l}`) : () => {},
    env,
  };

  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (topic) for (const l of commandHelp(topic)) out(l);
    else help(out);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    out(`kiln ${version()}`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const what = name.startsWith('-') ? 'option' : 'command';
    err(`kiln: unknown ${what} "${name}"${didYouMean(name, COMMANDS.map((c) => c.name))}; \`kiln help\` lists the commands`);
    return 2;
  }
  if (wantsHelp(rest)) {
    for (const l of commandHelp(command)) out(l);
    return 0;
  }
  try {
    return await command.run(rest, commandIO);
  } catch (e) {
    if (e instanceof KilnError) {
      err(`kiln ${name}: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
