/** A unit of build work with a cache identity: work runs when its key is new. */
export interface Step {
  /** The cache key (BuildKit's identity of the step). */
  readonly key: string;
  /** For the limit model: target, layer and the key of its true inputs. */
  readonly identity?: string;
  readonly cost: number;
  readonly heavy: boolean;
  readonly label: string;
}

/** Minutes of the steps in `after` whose key `before` does not have (each distinct key once). */
export function newWork(before: readonly Step[], after: readonly Step[]): { minutes: number; steps: Step[] } {
  const known = new Set(before.map((s) => s.key));
  const seen = new Map<string, Step>();
  for (const s of after) if (!known.has(s.key) && !seen.has(s.key)) seen.set(s.key, s);
  const steps = [...seen.values()];
  return { minutes: steps.reduce((m, s) => m + s.cost, 0), steps };
}

/**
 * The limit: steps BuildKit must run (new key) whose own or truly consumed
 * inputs changed for that target and layer. A subset of newWork by construction.
 */
export function limitWork(before: readonly Step[], after: readonly Step[]): { minutes: number; steps: Step[] } {
  const known = new Set(before.map((s) => s.identity));
  const { steps } = newWork(before, after);
  const kept = steps.filter((s) => !known.has(s.identity));
  return { minutes: kept.reduce((m, s) => m + s.cost, 0), steps: kept };
}

export function heavyCount(steps: readonly Step[]): number {
  return new Set(steps.filter((s) => s.heavy).map((s) => s.key)).size;
}
