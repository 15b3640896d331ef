/** What a command gets from main: where the project is and where to print. */
export interface CommandIO {
  /** The project root (found from the working directory upwards); reading it throws a KilnError when there is none. */
  readonly root: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Notes for KILN_DEBUG=1; a no-op otherwise. */
  readonly debug: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

/** One option of a command: parseArgs' fields plus what `--help` says. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** @default false */
  readonly multiple?: boolean;
  readonly default?: string | boolean | string[];
  /** Name of the value in --help, e.g. "REF". @default "VALUE" */
  readonly value?: string;
  readonly help: string;
}

export type Options = Readonly<Record<string, OptionSpec>>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Every option the command parses: the parser and --help read this one table. */
  readonly options: Options;
  run(argv: string[], io: CommandIO): Promise<number>;
}
