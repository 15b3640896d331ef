/**
 * PyTorch pairings (source: shared/GPU-FACTS.md "xformers", from the xformers
 * release notes: each wheel pins one exact torch).
 */

/** xformers -> the torch it is built against; 0.0.34+ needs torch >= 2.10. */
export const XFORMERS_TORCH: readonly (readonly [xformers: string, torch: string])[] = [
  ['0.0.30', '2.7.0'],
  ['0.0.31', '2.7.1'],
  ['0.0.32', '2.8.0'],
  ['0.0.33', '2.9.0'],
];

/**
 * The CUDA major.minor of a PyTorch wheel index: https://download.pytorch.org/whl/cu128 -> 12.8
 * (the index names are cu<major><minor>: cu118, cu126, cu128, cu129, cu130).
 */
export function indexCuda(index: string): { major: number; minor: number; tag: string } | null {
  const m = /\/cu(\d{3})\/?$/.exec(index);
  return m ? { major: Math.floor(Number(m[1]) / 10), minor: Number(m[1]) % 10, tag: `cu${m[1]}` } : null;
}
