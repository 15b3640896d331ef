import type { LayerKindName, LayerOverrides } from '../dsl/types.ts';
import { contentKey } from './keys.ts';
import { LAYER_DEFAULTS, tuning, UV_KINDS, UV_SPEEDUP } from './layer-kinds.ts';
import { orderLayers } from './order.ts';
import type { Layer, LayerStage } from './types.ts';

/** A layer before the cache model and the keys are applied. */
export interface LayerSpec {
  readonly id: string;
  readonly kind: LayerKindName;
  readonly params: Readonly<Record<string, unknown>>;
  /** @default "image" */
  readonly stage?: LayerStage;
  readonly after?: readonly string[];
  readonly inputs?: readonly string[];
  readonly uses?: readonly string[];
}

/**
 * Tune, order and key a target's layers. `fromKey` is the key of the image
 * the Dockerfile starts FROM; `contextKeys` maps named contexts to the key of
 * what they hold, so a step that reads a context changes when it does.
 *
 * The image stage's layers are ordered by the cache model; the checks and
 * final stages keep their given order. Keys chain the way BuildKit's do: the
 * checks stage and the final stage both start FROM the image's last layer
 * (the final stage copies only the checks' report, whose content is fixed by
 * its params, so its key does not follow the checks stage).
 */
export function buildLayers(
  specs: readonly LayerSpec[],
  fromKey: string,
  contextKeys: Readonly<Record<string, string>>,
  overrides: readonly (LayerOverrides | undefined)[],
): { layers: Layer[]; key: string } {
  const tuned = specs.map((s) => {
    // uv's install minutes (UV_SPEEDUP) replace pip's before any override: an override states the real cost.
    const uv = s.params.uv === true && UV_KINDS.has(s.kind) ? { [s.kind]: { cost: LAYER_DEFAULTS[s.kind].cost * UV_SPEEDUP } } : undefined;
    return {
      ...s,
      stage: s.stage ?? 'image',
      after: s.after ?? [],
      inputs: s.inputs ?? [],
      uses: s.uses ?? [],
      ...tuning(s.kind, uv, ...overrides),
    };
  });
  const keyChain = (list: readonly (typeof tuned)[number][], start: string): Layer[] => {
    let prev = start;
    return list.map((l) => {
      const used = l.uses.map((u) => {
        const k = contextKeys[u];
        if (k === undefined) throw new Error(`layer ${l.id} uses context ${u}, which the target does not define`);
        return [u, k];
      });
      const key = contentKey(prev, l.kind, l.params, l.inputs, used);
      prev = key;
      return { ...l, key };
    });
  };
  const image = keyChain(orderLayers(tuned.filter((l) => l.stage === 'image')), fromKey);
  const imageKey = image.at(-1)?.key ?? fromKey;
  const checks = keyChain(tuned.filter((l) => l.stage === 'checks'), imageKey);
  const final = keyChain(tuned.filter((l) => l.stage === 'final'), imageKey);
  const layers = [...image, ...checks, ...final];
  return { layers, key: final.at(-1)?.key ?? imageKey };
}
