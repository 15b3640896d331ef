/**
 * Which files of a repo a whole-repo model takes: huggingface_hub's
 * allow_patterns / ignore_patterns rules (utils/_paths.py filter_repo_objects:
 * fnmatch, so `*` also crosses "/", and a pattern ending in "/" gets a `*`),
 * without hidden paths (`.gitattributes`, `.github/...`: git's files, not
 * models, and names the in-image fetcher refuses). The fetcher's HF_MODELS
 * repo form does the same with Python's fnmatch.fnmatchcase
 * (scripts/kiln_fetch/hfrepo.py); test/lock-glob.test.ts holds the two equal.
 */

/** Python's fnmatch.translate, as a RegExp (case-sensitive: fnmatchcase). */
export function globRegExp(pattern: string): RegExp {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i++]!;
    if (c === '*') {
      if (!out.endsWith('.*')) out += '.*';
    } else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) out += '\\[';
      else {
        let set = pattern.slice(i, j);
        i = j + 1;
        const negate = set.startsWith('!');
        if (negate) set = set.slice(1);
        // Inside a JS class "\" and "]" (and "[" under some flags) need escaping; "^" first would negate.
        set = set.replace(/[\\\]\[]/g, '\\$&');
        if (!negate && set.startsWith('^')) set = `\\${set}`;
        out += `[${negate ? '^' : ''}${set}]`;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

const asPattern = (g: string): string => (g.endsWith('/') ? `${g}*` : g);

/** The paths a repo model takes, in the order given. */
export function selectPaths(paths: readonly string[], include: readonly string[] | undefined, exclude: readonly string[] | undefined): string[] {
  const inc = (include ?? []).map((g) => globRegExp(asPattern(g)));
  const exc = (exclude ?? []).map((g) => globRegExp(asPattern(g)));
  return paths.filter(
    (p) => !p.split('/').some((s) => s.startsWith('.')) && (inc.length === 0 || inc.some((r) => r.test(p))) && !exc.some((r) => r.test(p)),
  );
}
