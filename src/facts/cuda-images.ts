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

/**
 * Image flavours: whether they ship nvcc (devel installs cuda-minimal-build)
 * and cuBLAS (runtime installs cuda-libraries with libcublas; `base` has only
 * cudart: dist/12.8.1/ubuntu2404/{base,runtime,devel}/Dockerfile at the mirror's
 * 60a1c892), and their size for CUDA 12.8.1 on Ubuntu 24.04 in MB, compressed
 * (what a pull downloads) and on disk. The sizes are estimates from the
 * issue-12 research note: Docker Hub's layer view of the same 12.8.1 packages
 * on 22.04 (rootfs 29 MB, base 66 MB, runtime +1 920 MB, devel +2 780 MB),
 * cuDNN 9 +707 MB (its wheel) / 1 053 MB of libraries; disk x1.5-2.5. Measure
 * with `docker buildx imagetools inspect --raw` on a networked machine.
 */
export const CUDA_FLAVOURS = {
  base: { nvcc: false, cublas: false, pullMB: 100, diskMB: 200 },
  runtime: { nvcc: false, cublas: true, pullMB: 2000, diskMB: 3500 },
  devel: { nvcc: true, cublas: true, pullMB: 4800, diskMB: 9000 },
  'cudnn-runtime': { nvcc: false, cublas: true, pullMB: 2700, diskMB: 4500 },
  'cudnn-devel': { nvcc: true, cublas: true, pullMB: 5500, diskMB: 10500 },
} as const satisfies Readonly<Record<string, { readonly nvcc: boolean; readonly cublas: boolean; readonly pullMB: number; readonly diskMB: number }>>;
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

/**
 * cuBLAS for an image whose flavour lacks it (llama-server needs libcublas.so.12 and libcublasLt.so.12):
 * the apt package and version NVIDIA's runtime image pins for that CUDA (runtime/Dockerfile:
 * `libcublas-12-8=12.8.4.1-1` for 12.8.1). Add a row, with its source, when bumping CUDA.
 */
export const CUBLAS_DEB: Readonly<Record<string, string>> = {
  '12.8.1': 'libcublas-12-8=12.8.4.1-1',
};

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
