/**
 * The size model: what an image holds on disk and what a pod downloads to
 * start it (compressed), from the CUDA image's flavour (src/facts/cuda-images.ts)
 * plus the size of every layer in its FROM chain (src/graph/layer-kinds.ts).
 * Estimates with sources, like the cost model; layers in the checks stage are
 * not in the image.
 */
import { CUDA_FLAVOURS, parseFlavour } from '../facts/cuda-images.ts';
import type { BuildGraph, ContextSource, Target } from './types.ts';

export interface ImageSize {
  /** MB on disk, unpacked. */
  readonly diskMB: number;
  /** MB a pod pulls when it has none of the image's layers. */
  readonly pullMB: number;
}

/** Size of the CUDA image a chain starts from; an image Kiln knows nothing of counts as 0 (and says so). */
export function baseImageSize(image: string): ImageSize & { readonly known: boolean } {
  const flavour = parseFlavour(/:[^-]+-(.+)$/.exec(image)?.[1]);
  if (!flavour) return { diskMB: 0, pullMB: 0, known: false };
  const f = CUDA_FLAVOURS[flavour.flavour];
  return { diskMB: f.diskMB, pullMB: f.pullMB, known: true };
}

/** Estimated size of a target's image: its chain down to the CUDA image. */
export function imageSize(graph: BuildGraph, target: Target): ImageSize {
  const byName = new Map(graph.targets.map((t) => [t.name, t]));
  let disk = 0;
  let pull = 0;
  let t: Target | undefined = target;
  while (t) {
    // A GPU variant holds its primary's files.
    const own: Target = t.variantOf ? byName.get(t.variantOf)! : t;
    for (const l of own.layers) {
      if (l.stage === 'checks') continue;
      disk += l.diskMB;
      pull += l.pullMB;
    }
    if ('image' in own.from) {
      const base = baseImageSize(own.from.image);
      disk += base.diskMB;
      pull += base.pullMB;
      break;
    }
    const src: ContextSource | undefined = own.contexts[own.from.context];
    t = src && 'target' in src ? byName.get(src.target) : undefined;
  }
  return { diskMB: Math.round(disk), pullMB: Math.round(pull) };
}

/** Sizes of every published template image, by target name. */
export function templateSizes(graph: BuildGraph): Record<string, ImageSize> {
  return Object.fromEntries(graph.targets.filter((t) => t.kind === 'template').map((t) => [t.name, imageSize(graph, t)]));
}
