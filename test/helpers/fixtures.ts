/** The repo's own definitions, loaded once, plus a small in-memory project for focused tests. */
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

/** A throwaway copy of the repo's definitions, for CLI tests that edit files. */
export function tempRepo(): { root: string; cleanup: () => void } {
  return Testing.copyProject(repoRoot);
}
