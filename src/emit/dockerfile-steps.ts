/**
 * Reads a Dockerfile Kiln generated back into its steps: every layer starts
 * at its `# <layer id>: ~<minutes> min` line (src/emit/dockerfile.hbs). Used
 * to find the first step a generator change touches; the marker line itself
 * (cost estimates) never reaches a cache key, so it is left out of the text.
 */
const MARKER = /^# (\S+): ~[\d.]+ min\b.*$/;

export interface DockerfileSteps {
  /** Everything before the first step (banner, FROM, SHELL, header ENV). */
  readonly head: string;
  /** Step text by layer id, in file order. */
  readonly steps: readonly (readonly [string, string])[];
}

export function dockerfileSteps(text: string): DockerfileSteps {
  const head: string[] = [];
  const steps: [string, string[]][] = [];
  for (const line of text.split('\n')) {
    const m = MARKER.exec(line);
    if (m) steps.push([m[1]!, []]);
    else (steps.at(-1)?.[1] ?? head).push(line);
  }
  return { head: head.filter((l) => !l.startsWith('# ')).join('\n'), steps: steps.map(([id, lines]) => [id, lines.join('\n')] as const) };
}

/**
 * Index (in `layerIds`, the target's layers in Dockerfile order) of the first
 * step whose instructions differ between two renderings of one target's
 * Dockerfile: 0 when the head or the list of steps differs; null when no
 * instruction differs (only comments or cost estimates changed).
 */
export function firstChangedLayer(before: string, after: string, layerIds: readonly string[]): number | null {
  const a = dockerfileSteps(before);
  const b = dockerfileSteps(after);
  if (a.head !== b.head || a.steps.length !== b.steps.length || a.steps.some(([id], i) => id !== b.steps[i]![0])) return 0;
  const changed = b.steps.find(([, text], k) => text !== a.steps[k]![1]);
  if (!changed) return null;
  const i = layerIds.indexOf(changed[0]);
  return i < 0 ? 0 : i;
}
