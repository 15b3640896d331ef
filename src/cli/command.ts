/** What a command gets from main: where the project is and where to print. */
export interface CommandIO {
  readonly root: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: string[], io: CommandIO): Promise<number>;
}
