/**
 * "Did you mean ...?" for misspelt field names, commands and flags: the
 * closest candidate by edit distance, or one that the word is a prefix of
 * (`sha` -> `sha256`, `feature` -> `features`). Null when nothing is close.
 */
export function closest(word: string, candidates: Iterable<string>): string | null {
  const w = word.toLowerCase();
  let best: { name: string; cost: number } | null = null;
  for (const name of candidates) {
    const c = name.toLowerCase();
    // A prefix of at least 3 letters is what was meant more often than a word one typo away.
    const cost = w.length >= 3 && (c.startsWith(w) || w.startsWith(c)) ? 0.5 : distance(w, c);
    if (best === null || cost < best.cost) best = { name, cost };
  }
  // One edit in short words, about one in three in longer ones.
  return best && best.cost <= Math.max(1, Math.floor(word.length / 3)) ? best.name : null;
}

/** ' (did you mean "x"?)' or ''; `show` writes the candidate (e.g. as a flag: `--x`). */
export function didYouMean(word: string, candidates: Iterable<string>, show: (c: string) => string = (c) => `"${c}"`): string {
  const c = closest(word, candidates);
  return c === null ? '' : ` (did you mean ${show(c)}?)`;
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
