/**
 * nvidia/cuda image tags (`<cuda>-<flavour>-<os>`) and what each flavour
 * ships. Facts about upstream, kept as data: the base's `imageFlavor` and a
 * GPU's `cuda` must name a tag listed here.
 *
 * Source: NVIDIA's tag lists, doc/supported-tags.md and doc/unsupported-tags.md
 * of gitlab.com/nvidia/container-images/cuda ("unsupported" tags still exist
 * on Docker Hub), as mirrored at github.com/pranavmishra90/nvidia-container-images-cuda,
 * commits 60a1c892 (2025-08-18) and 181367a6 (later: 13.0.3 ... 13.2.1). Only
 * Ubuntu 24.04 and 22.04 from CUDA 12.4 on; NVIDIA deletes tags six months
 * after a newer update of the same CUDA version ships, so re-check before
 * bumping, and add a row (with its source) when a new tag appears.
 */

/** Image flavours and whether they ship nvcc (the `devel` images install cuda-minimal-build, which holds it; `runtime` has the libraries only: dist/<v>/ubuntu2404/{devel,runtime}/Dockerfile). */
export const CUDA_FLAVOURS = {
  base: { nvcc: false },
  runtime: { nvcc: false },
  devel: { nvcc: true },
  'cudnn-runtime': { nvcc: false },
  'cudnn-devel': { nvcc: true },
} as const satisfies Readonly<Record<string, { readonly nvcc: boolean }>>;
export type CudaFlavour = keyof typeof CUDA_FLAVOURS;

const ALL: readonly CudaFlavour[] = ['base', 'runtime', 'devel', 'cudnn-runtime', 'cudnn-devel'];
/** Some updates were published without cuDNN images. */
const NO_CUDNN: readonly CudaFlavour[] = ['base', 'runtime', 'devel'];

/** os -> CUDA version -> flavours published for it. */
export const CUDA_IMAGE_TAGS: Readonly<Record<string, Readonly<Record<string, readonly CudaFlavour[]>>>> = {
  'ubuntu24.04': {
    '12.5.1': NO_CUDNN,
    '12.6.0': ALL,
    '12.6.1': ALL,
    '12.6.2': ALL,
    '12.6.3': ALL,
    '12.8.0': ALL,
    '12.8.1': ALL,
    '12.8.2': NO_CUDNN,
    '12.9.0': ALL,
    '12.9.1': ALL,
    '13.0.0': ALL,
    '13.0.1': ALL,
    '13.0.2': ALL,
    '13.0.3': ALL,
    '13.1.0': NO_CUDNN,
    '13.1.1': ALL,
    '13.1.2': ALL,
    '13.2.0': ALL,
    '13.2.1': ALL,
  },
  'ubuntu22.04': {
    '12.4.0': NO_CUDNN,
    '12.4.1': ALL,
    '12.5.0': NO_CUDNN,
    '12.5.1': ALL,
    '12.6.0': ALL,
    '12.6.1': ALL,
    '12.6.2': ALL,
    '12.6.3': ALL,
    '12.8.0': ALL,
    '12.8.1': ALL,
    '12.8.2': NO_CUDNN,
    '12.9.0': ALL,
    '12.9.1': ALL,
    '13.0.0': ALL,
    '13.0.1': ALL,
    '13.0.2': ALL,
    '13.0.3': ALL,
    '13.1.0': NO_CUDNN,
    '13.1.1': ALL,
    '13.1.2': ALL,
    '13.2.0': ALL,
    '13.2.1': ALL,
  },
};

/** Repositories that publish these tags (Docker Hub and NGC carry the same ones). */
export const CUDA_REPOSITORIES: readonly string[] = ['nvidia/cuda', 'docker.io/nvidia/cuda', 'nvcr.io/nvidia/cuda'];

export interface ParsedFlavour {
  readonly flavour: CudaFlavour;
  readonly os: string;
  readonly nvcc: boolean;
}

/** "cudnn-devel-ubuntu24.04" -> { flavour: 'cudnn-devel', os: 'ubuntu24.04', nvcc: true }; null when unknown. */
export function parseFlavour(imageFlavor: unknown): ParsedFlavour | null {
  if (typeof imageFlavor !== 'string') return null;
  // Longest flavour first: "cudnn-devel" before "devel".
  const names = (Object.keys(CUDA_FLAVOURS) as CudaFlavour[]).sort((a, b) => b.length - a.length);
  const flavour = names.find((f) => imageFlavor.startsWith(`${f}-`));
  if (!flavour) return null;
  return { flavour, os: imageFlavor.slice(flavour.length + 1), nvcc: CUDA_FLAVOURS[flavour].nvcc };
}

/** CUDA versions that have `flavour` on `os`, oldest first. */
export function cudaVersionsWith(flavour: CudaFlavour, os: string): string[] {
  return Object.entries(CUDA_IMAGE_TAGS[os] ?? {})
    .filter(([, flavours]) => flavours.includes(flavour))
    .map(([v]) => v);
}

/** Flavour names (with their os) that ship nvcc, for fixes. */
export function nvccFlavours(os: string): string[] {
  return (Object.keys(CUDA_FLAVOURS) as CudaFlavour[]).filter((f) => CUDA_FLAVOURS[f].nvcc).map((f) => `${f}-${os}`);
}

/** The newest CUDA version with `flavour` on `os` whose major.minor is `majorMinor` ("12.8" -> "12.8.1"), or null. */
export function newestPatch(majorMinor: string, flavour: CudaFlavour, os: string): string | null {
  return cudaVersionsWith(flavour, os).filter((v) => v.startsWith(`${majorMinor}.`)).at(-1) ?? null;
}
