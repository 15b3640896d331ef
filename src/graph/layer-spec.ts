import type { LayerKindName, LayerOverrides } from '../dsl/types.ts';
import { contentKey } from './keys.ts';
import { tuning } from './layer-kinds.ts';
import { orderLayers } from './order.ts';
import type { Layer } from './types.ts';

/** A layer before the cache model and the keys are applied. */
export interface LayerSpec {
  readonly id: string;
  readonly kind: LayerKindName;
  readonly params: Readonly<Record<string, unknown>>;
  readonly after?: readonly string[];
  readonly inputs?: readonly string[];
  readonly uses?: readonly string[];
}

/**
 * Tune, order and key a target's layers. `fromKey` is the key of the image
 * the Dockerfile starts FROM; `contextKeys` maps named contexts to the key of
 * what they hold, so a step that reads a context changes when it does.
 */
export function buildLayers(
  specs: readonly LayerSpec[],
  fromKey: string,
  contextKeys: Readonly<Record<string, string>>,
  overrides: readonly (LayerOverrides | undefined)[],
): { layers: Layer[]; key: string } {
  const tuned = specs.map((s) => ({
    ...s,
    after: s.after ?? [],
    inputs: s.inputs ?? [],
    uses: s.uses ?? [],
    ...tuning(s.kind, ...overrides),
  }));
  let prev = fromKey;
  const layers: Layer[] = orderLayers(tuned).map((l) => {
    const used = l.uses.map((u) => {
      const k = contextKeys[u];
      if (k === undefined) throw new Error(`layer ${l.id} uses context ${u}, which the target does not define`);
      return [u, k];
    });
    const key = contentKey(prev, l.kind, l.params, l.inputs, used);
    prev = key;
    return { ...l, key };
  });
  return { layers, key: prev };
}
