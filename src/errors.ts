/** An error meant for the user: printed without a stack trace. */
export class KilnError extends Error {
  override readonly name = 'KilnError';
}

/** One problem in one definition, located precisely enough to fix without guessing. */
export interface DefinitionProblem {
  /** Repo-relative file the definition came from. */
  readonly file: string;
  /** e.g. `template "sd15-basic"` or `gpu "rtx5090"`. */
  readonly definition: string;
  /** Dotted path of the field, e.g. `nodes[2].commit`. */
  readonly field: string;
  readonly problem: string;
  readonly fix: string;
}

export function formatProblem(p: DefinitionProblem): string {
  return `${p.file}: ${p.definition}, field ${p.field}: ${p.problem}\n  fix: ${p.fix}`;
}

/** Every problem found in one validation pass; nothing is written when this is thrown. */
export class ValidationError extends KilnError {
  constructor(readonly problems: readonly DefinitionProblem[]) {
    super(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the definitions (nothing was written):\n` +
        problems.map(formatProblem).join('\n'),
    );
  }
}
