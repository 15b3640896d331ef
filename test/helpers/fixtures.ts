/** The repo's own definitions, loaded once, plus a small in-memory project for focused tests. */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import common from '../../base/common.ts';
import rtx4090 from '../../base/rtx4090.ts';
import rtx5090 from '../../base/rtx5090.ts';
import { defineTemplate, hf, node } from '../../src/dsl/index.ts';
import type { TemplateOptions } from '../../src/dsl/types.ts';
import { Testing, type TestProjectOptions } from '../../src/testing.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export { common, rtx4090, rtx5090 };

export const SHA_A = 'a'.repeat(40);
export const SHA_B = 'b'.repeat(40);

/** A valid template; override any field to make it invalid. */
export function template(overrides: Partial<TemplateOptions> = {}) {
  return defineTemplate({
    name: 'demo',
    description: 'demo template',
    gpus: [rtx4090, rtx5090],
    models: [hf('org/repo', 'model.safetensors', { into: 'checkpoints', sha256: 'c'.repeat(64) })],
    nodes: [node('https://github.com/o/node-one', SHA_A)],
    ...overrides,
  });
}

export function project(overrides: Partial<TestProjectOptions> = {}) {
  return Testing.project({ base: common, gpus: [rtx4090, rtx5090], templates: [template()], ...overrides });
}

/**
 * Give base/rtx5090.ts under `root` the torch pins of rtx4090 (xformers included), so
 * templates without a GPU-specific kernel get equal files on both GPUs: the GPU-variant
 * case (Target.variantOf), which the repo's own profiles do not have (no xformers on the 5090).
 */
export function twinTorch(root: string): void {
  const file = join(root, 'base/rtx5090.ts');
  const text = readFileSync(file, 'utf8');
  const edited = text.replace(/index: '(https:\/\/download\.pytorch\.org\/whl\/cu\d+)',\n/, `index: '$1',\n    xformers: '${rtx4090.torch.xformers}',\n`);
  if (edited === text || rtx5090.torch.index !== rtx4090.torch.index || rtx5090.torch.torch !== rtx4090.torch.torch) {
    throw new Error('fixture drift: base/rtx5090.ts no longer differs from rtx4090 only by xformers');
  }
  writeFileSync(file, edited);
}

/** A throwaway copy of the repo's definitions, for CLI tests that edit files. */
export function tempRepo(): { root: string; cleanup: () => void } {
  return Testing.copyProject(repoRoot);
}
