/**
 * RunPod facts, kept as data (compared with semver by src/emit/runpod.ts).
 *
 * Sources, both in github.com/runpod/docs (the source of docs.runpod.io):
 * - api-reference/openapi.json at commit 01242f85 (2026-07-20), the REST API
 *   v1 that `kiln runpod --deploy` talks to (https://rest.runpod.io/v1):
 *   `PodCreateInput.allowedCudaVersions` ("a list of acceptable CUDA versions
 *   on the Pod. If not set, any CUDA version is acceptable") is an enum of
 *   the versions below. `TemplateCreateInput` has NO such field: a v1
 *   template cannot restrict the host, only the pod create can.
 * - references/gpu-types.mdx at commit 21ae706c ("Table last generated:
 *   2026-02-12"): GPU ID and display name of every GPU type.
 *
 * Re-check both when RunPod adds a CUDA version (a profile whose CUDA is newer
 * than every version listed here is refused, see allowedCudaVersions).
 */

/** CUDA versions (major.minor) a RunPod host can report, as the v1 pod create accepts them. */
export const RUNPOD_CUDA_VERSIONS: readonly string[] = ['13.0', '12.9', '12.8', '12.7', '12.6', '12.5', '12.4', '12.3', '12.2', '12.1', '12.0', '11.8'];

/**
 * RunPod GPU type ids (`gpuTypeIds` of a pod create) by display name. A Kiln
 * GPU profile's `title` is looked up here ("RTX 5090" -> "NVIDIA GeForce RTX 5090").
 */
export const RUNPOD_GPU_TYPE_IDS: Readonly<Record<string, string>> = {
  MI300X: 'AMD Instinct MI300X OAM',
  'A100 PCIe': 'NVIDIA A100 80GB PCIe',
  'A100 SXM': 'NVIDIA A100-SXM4-80GB',
  A30: 'NVIDIA A30',
  A40: 'NVIDIA A40',
  B200: 'NVIDIA B200',
  B300: 'NVIDIA B300 SXM6 AC',
  'RTX 3070': 'NVIDIA GeForce RTX 3070',
  'RTX 3080': 'NVIDIA GeForce RTX 3080',
  'RTX 3080 Ti': 'NVIDIA GeForce RTX 3080 Ti',
  'RTX 3090': 'NVIDIA GeForce RTX 3090',
  'RTX 3090 Ti': 'NVIDIA GeForce RTX 3090 Ti',
  'RTX 4070 Ti': 'NVIDIA GeForce RTX 4070 Ti',
  'RTX 4080': 'NVIDIA GeForce RTX 4080',
  'RTX 4080 SUPER': 'NVIDIA GeForce RTX 4080 SUPER',
  'RTX 4090': 'NVIDIA GeForce RTX 4090',
  'RTX 5080': 'NVIDIA GeForce RTX 5080',
  'RTX 5090': 'NVIDIA GeForce RTX 5090',
  'H100 SXM': 'NVIDIA H100 80GB HBM3',
  'H100 NVL': 'NVIDIA H100 NVL',
  'H100 PCIe': 'NVIDIA H100 PCIe',
  'H200 SXM': 'NVIDIA H200',
  'NVIDIA H200 NVL': 'NVIDIA H200 NVL',
  L4: 'NVIDIA L4',
  L40: 'NVIDIA L40',
  L40S: 'NVIDIA L40S',
  'RTX 2000 Ada': 'NVIDIA RTX 2000 Ada Generation',
  'RTX 4000 Ada': 'NVIDIA RTX 4000 Ada Generation',
  'RTX 4000 Ada SFF': 'NVIDIA RTX 4000 SFF Ada Generation',
  'RTX 5000 Ada': 'NVIDIA RTX 5000 Ada Generation',
  'RTX 6000 Ada': 'NVIDIA RTX 6000 Ada Generation',
  'RTX A2000': 'NVIDIA RTX A2000',
  'RTX A4000': 'NVIDIA RTX A4000',
  'RTX A4500': 'NVIDIA RTX A4500',
  'RTX A5000': 'NVIDIA RTX A5000',
  'RTX A6000': 'NVIDIA RTX A6000',
  'RTX PRO 4500': 'NVIDIA RTX PRO 4500 Blackwell',
  'RTX PRO 6000 MaxQ': 'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition',
  'PRO 6000 MIG 24GB': 'NVIDIA RTX PRO 6000 Blackwell Server Edition MIG 1g.24gb',
  'PRO 6000 MIG 48GB': 'NVIDIA RTX PRO 6000 Blackwell Server Edition MIG 2g.48gb',
  'RTX PRO 6000': 'NVIDIA RTX PRO 6000 Blackwell Server Edition',
  'RTX PRO 6000 WK': 'NVIDIA RTX PRO 6000 Blackwell Workstation Edition',
  'Tesla V100': 'Tesla V100-PCIE-16GB',
  'V100 SXM2': 'Tesla V100-SXM2-16GB',
  'V100 SXM2 32GB': 'Tesla V100-SXM2-32GB',
};
