/** Map BuildKit steps of a bake run back to Kiln's layers (for the engine tests). */
import { STAGE_NAMES } from '../../src/emit/dockerfile.ts';
import { buildClosure } from '../../src/graph/select.ts';
import type { BuildGraph, Layer, Target } from '../../src/graph/types.ts';
import type { Step } from './harness.ts';

/** Layer kinds Kiln renders as COPY (every other kind is a RUN). */
const COPY_KINDS = new Set(['llama-copy', 'node-copy', 'workflows', 'manifests', 'runtime', 'check-spec', 'check-report']);

/** Which of a template Dockerfile's stages a step ran in (see LayerStage and STAGE_NAMES). */
function stageOf(target: Target, step: Step): Layer['stage'] {
  if (!target.layers.some((l) => l.stage !== 'image')) return 'image';
  if (step.stage === STAGE_NAMES.image) return 'image';
  if (step.stage === STAGE_NAMES.checks) return 'checks';
  return 'final';
}

/**
 * Which layer a step is. BuildKit numbers steps n/N per stage: after
 * `FROM <image>` the FROM itself is step 1, so layer i is step i+2; a FROM of
 * a named context or of an earlier stage gets no step of its own, so layer i
 * is step i+1.
 */
export function layerOfStep(graph: BuildGraph, step: Step): { target: Target; layer: Layer } | { error: string } {
  const named = graph.targets.find((t) => t.name === step.target);
  if (!named) return { error: `step ${step.rawName} belongs to no Kiln target (${step.target})` };
  // A GPU variant's Dockerfile has no steps: what runs under its name is its primary's.
  const target = named.variantOf ? graph.targets.find((t) => t.name === named.variantOf)! : named;
  if (!step.index) return { error: `step ${step.rawName} has no n/N index` };
  const stage = stageOf(target, step);
  const fromStep = stage === 'image' && 'image' in target.from ? 1 : 0;
  const layer = target.layers.filter((l) => l.stage === stage)[step.index[0] - 1 - fromStep];
  if (!layer) return { error: `step ${step.rawName}: ${target.name} has no ${stage} layer at step ${step.index[0]}` };
  const instruction = step.name.split(/\s/)[0];
  const expected = COPY_KINDS.has(layer.kind) ? 'COPY' : 'RUN';
  if (instruction !== expected) return { error: `step ${step.rawName} is a ${instruction}, but ${target.name}/${layer.id} renders a ${expected}` };
  return { target, layer };
}

/** "target/layer" labels of the executed (not CACHED) Dockerfile steps, plus mapping errors. */
export function executedLayers(graph: BuildGraph, steps: readonly Step[]): { keys: Map<string, string>; errors: string[] } {
  const keys = new Map<string, string>();
  const errors: string[] = [];
  for (const s of steps) {
    if (s.kind !== 'step' || s.cached) continue;
    const hit = layerOfStep(graph, s);
    if ('error' in hit) errors.push(hit.error);
    else keys.set(hit.layer.key, `${hit.target.name}/${hit.layer.id}`);
  }
  return { keys, errors };
}

/**
 * Build every target in its own bake invocation, dependencies first (as CI's
 * per-target matrix jobs do for images). Several targets reading the same
 * other target in ONE invocation make BuildKit 0.13 miss the cache for such a
 * step on a later unchanged build (docker/buildx#414): with all images in one
 * invocation, 7 of 10 unchanged rebuilds re-ran 1-3 such steps (README,
 * "Known upstream limitation"); building only each image in its own
 * invocation still re-ran one node COPY (from a node-* checkout built
 * alongside) in 2 of 2 cycles. Built target by target, checkouts included,
 * 2 of 2 cycles rebuilt 100% CACHED.
 */
export async function bakeEachTarget(
  graph: BuildGraph,
  build: (target: string) => Promise<{ ok: boolean; errorText: string }>,
  only: (t: Target) => boolean = () => true,
): Promise<string[]> {
  const failures: string[] = [];
  for (const t of buildClosure(graph, graph.targets.filter((x) => x.image).map((x) => x.name)).filter(only)) {
    const r = await build(t.name);
    if (!r.ok) failures.push(`${t.name}: ${r.errorText}`);
  }
  return failures;
}
