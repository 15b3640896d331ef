/** Synthetic projects of M templates on both GPUs, for timing and cold-build counts. */
import { createHash } from 'node:crypto';
import common from '../base/common.ts';
import rtx4090 from '../base/rtx4090.ts';
import rtx5090 from '../base/rtx5090.ts';
import type { Project } from '../src/dsl/load.ts';
import { defineTemplate, hf, node } from '../src/dsl/index.ts';
import type { Features } from '../src/dsl/types.ts';
import { Testing } from '../src/testing.ts';

const sha = (s: string, len: number) => createHash('sha256').update(s).digest('hex').slice(0, len);

/** Feature sets cycle so templates differ the way real ones do. */
const FEATURE_CYCLE: readonly Features[] = [{ sage: true }, { sage: true, flash: true }, { llama: true }, {}, { sage: true, llama: true }];

export function syntheticProject(m: number): Project {
  const templates = Array.from({ length: m }, (_, i) => {
    const name = `synth-${String(i + 1).padStart(3, '0')}`;
    return defineTemplate({
      name,
      description: `synthetic template ${i + 1}`,
      gpus: [rtx4090, rtx5090],
      features: FEATURE_CYCLE[i % FEATURE_CYCLE.length]!,
      models: [hf(`org/${name}`, 'model.safetensors', { into: 'checkpoints', sha256: sha(name, 64) })],
      nodes: [0, 1, 2].map((n) => node(`https://github.com/synthetic/node-${(i + n) % 17}`, sha(`${name}/${n}`, 40))),
    });
  });
  return Testing.project({ base: common, gpus: [rtx4090, rtx5090], templates });
}
