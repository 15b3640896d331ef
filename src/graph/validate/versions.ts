/**
 * Exact versions, parsed with semver: a pin is one version, never a range.
 * `torch: '>=2.7.1'` would render `pip install 'torch==>=2.7.1'`.
 */
import semver from 'semver';
import { shown, type Report } from './report.ts';

export interface ExactOptions {
  /**
   * Also accept pip's exact releases that are not semver: dotted numbers ("25.0",
   * "1.11.1.4") and PEP 440 pre/post/dev releases ("0.0.32.post1", "2.0rc1"). @default false
   */
  readonly pip?: boolean;
}

/** One PEP 440 release (no ranges, no wildcards, no local label). */
const PEP440_EXACT = /^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$/;

/** The version when `v` pins exactly one, else null. */
export function exactVersion(v: unknown, o: ExactOptions = {}): string | null {
  if (typeof v !== 'string') return null;
  if (semver.valid(v) !== null) return v;
  return o.pip && PEP440_EXACT.test(v) ? v : null;
}

/**
 * Report `field` unless it pins one exact version. `example` is the field as
 * the fix writes it (`torch: '2.7.1'`); for a range the fix shows its lowest version instead.
 */
export function checkExact(report: Report, field: string, v: unknown, example: string, o: ExactOptions = {}): semver.SemVer | null {
  if (v === undefined) return null; // reported as missing by the strict check
  // Comparisons use the release numbers: "0.0.32.post1" compares as 0.0.32.
  if (exactVersion(v, o) !== null) return semver.parse(v as string) ?? semver.coerce(v as string);
  const range = typeof v === 'string' ? semver.validRange(v) : null;
  const low = range ? semver.minVersion(range) : null;
  if (range && low) {
    report(field, `${shown(v)} is a range, not an exact version (a pin installs exactly one version)`, `pin one version, e.g. ${example.replace(/'[^']*'/, `'${low.version}'`)}`);
  } else {
    report(field, `${shown(v)} is not a version`, `pin one exact version, e.g. ${example}`);
  }
  return null;
}
