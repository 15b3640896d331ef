/**
 * Kernels from a prebuilt wheel (`sage.wheel`, `flash.wheel`) or from a source
 * build: exactly one of the two, and a wheel whose file name fits the profile.
 * Wheel file names: `{dist}-{version}[+{local}]-{python}-{abi}-{platform}.whl`
 * (PyPA binary distribution format). The local version is where builders put
 * the torch and CUDA a wheel was built for: FlashAttention's releases
 * `+cu12torch2.8cxx11abiTRUE` (setup.py get_wheel_url at v2.8.3), community
 * builds `+cu128torch2.8`, `+cu128torch2.8.0`, Astral's `+cu.12.8.torch.2.11`
 * (issue-12 research note). A wheel without one says nothing of its torch: the
 * image's import and kernel-arch checks are the guard then.
 */
import semver from 'semver';
import type { GpuDefinition, PrebuiltWheel } from '../../dsl/types.ts';
import { indexCuda } from '../../facts/torch.ts';
import { checkHttps, shown, type Report } from './report.ts';

const SHA256 = /^[0-9a-f]{64}$/;
/** The Python of the images: Ubuntu 24.04's 3.12. */
const PYTHON = { major: 3, minor: 12 };

export interface WheelTags {
  readonly dist: string;
  readonly version: string;
  readonly local: string | null;
  readonly python: string;
  readonly abi: string;
  readonly platform: string;
}

export function wheelTags(file: string): WheelTags | null {
  const m = /^([A-Za-z0-9_.]+)-([^-]+)-([^-]+)-([^-]+)-([^-]+)\.whl$/.exec(file);
  if (!m) return null;
  const [version, local] = m[2]!.split('+') as [string, string | undefined];
  return { dist: m[1]!, version, local: local ?? null, python: m[3]!, abi: m[4]!, platform: m[5]! };
}

/** What the wheel's tags say against the profile; empty when it fits. */
export function wheelMismatches(t: WheelTags, gpu: GpuDefinition): string[] {
  const out: string[] = [];
  const py = /^cp3(\d+)$/.exec(t.python);
  const pyOk = py && (t.abi === 'abi3' ? Number(py[1]) <= PYTHON.minor : Number(py[1]) === PYTHON.minor && t.abi === t.python);
  if (!pyOk) out.push(`is built for ${t.python}-${t.abi}; the images run CPython ${PYTHON.major}.${PYTHON.minor} (cp312-cp312, or an abi3 wheel for cp312 or older)`);
  if (!/^(linux|manylinux[0-9_]*)_x86_64$/.test(t.platform.split('.').at(-1) ?? '')) {
    out.push(`is built for ${t.platform}; the images are Linux x86_64 (linux_x86_64 or manylinux_*_x86_64)`);
  }
  if (t.local) {
    // cu12 (major only), cu128 (major and minor run together), cu.12.8.
    const cu = /cu\.?(\d+)(?:\.(\d+))?/.exec(t.local);
    const cudaMajor = cu ? Number(cu[2] !== undefined || cu[1]!.length <= 2 ? cu[1] : cu[1]!.slice(0, -1)) : null;
    const torch = /torch\.?(\d+)\.(\d+)/.exec(t.local);
    const index = indexCuda(gpu.torch?.index ?? '');
    const want = semver.parse(gpu.torch?.torch ?? '');
    if (cudaMajor !== null && index && cudaMajor !== index.major) {
      out.push(`is built for CUDA ${cudaMajor} (local version +${t.local}); this profile's torch is CUDA ${index.major}.${index.minor} (${index.tag})`);
    }
    if (torch && want && (Number(torch[1]) !== want.major || Number(torch[2]) !== want.minor)) {
      out.push(`is built for torch ${torch[1]}.${torch[2]} (local version +${t.local}); this profile pins torch ${gpu.torch.torch}: a kernel must match the torch it runs with (ABI)`);
    }
    if (/cxx11abiFALSE/i.test(t.local) && want && semver.gte(want, '2.7.0')) {
      out.push(`uses the pre-C++11 ABI (cxx11abiFALSE); torch ${gpu.torch.torch}'s wheels use the C++11 ABI (pytorch/pytorch#143962): take the cxx11abiTRUE wheel`);
    }
  }
  return out;
}

/** The fields of a source build, each with how the fix writes it. */
export const SOURCE_BUILD = {
  sage: { repo: "'https://github.com/thu-ml/SageAttention'", commit: "'<40-hex commit SHA>'", torchCudaArchList: "'12.0' (this GPU's arch)" },
  flash: { repo: "'https://github.com/Dao-AILab/flash-attention'", tag: "'v2.8.3'", cudaArchs: "'120' (80 for sm_8x)" },
} as const;

/** Exactly one of a prebuilt wheel or a source build for `field` ('sage' or 'flash'). */
export function checkKernelSource(report: Report, field: 'sage' | 'flash', pins: Record<string, unknown> | undefined, gpu: GpuDefinition): void {
  if (!pins) return; // reported as missing by the strict check
  const wheel = pins.wheel as PrebuiltWheel | undefined;
  const source = Object.keys(SOURCE_BUILD[field]);
  const given = source.filter((k) => pins[k] !== undefined);
  if (wheel === undefined) {
    for (const [k, example] of Object.entries(SOURCE_BUILD[field])) {
      if (pins[k] === undefined) report(`${field}.${k}`, 'is missing (a source build needs it)', `add ${k}: ${example}, or take a prebuilt wheel instead: ${field}: { wheel: { url, sha256 } }`);
    }
    return;
  }
  if (given.length > 0) {
    report(`${field}.wheel`, `is given next to the source build fields ${given.join(', ')}`, `keep either ${field}: { wheel: { url, sha256 } } or the source build (${source.join(', ')}), not both`);
  }
  checkHttps(report, `${field}.wheel.url`, wheel.url, 'the https URL of the .whl file');
  if (typeof wheel.url !== 'string') return;
  if (!SHA256.test(String(wheel.sha256 ?? ''))) report(`${field}.wheel.sha256`, `${shown(wheel.sha256)} is not 64 lowercase hex digits`, 'sha256sum the downloaded .whl (lowercase)');
  const file = decodeURIComponent(String(wheel.url).split('/').at(-1) ?? '');
  const tags = wheelTags(file);
  if (!tags) {
    report(`${field}.wheel.url`, `"${file}" is not a wheel file name ({dist}-{version}-{python}-{abi}-{platform}.whl)`, 'point at the .whl file itself (its name carries the tags pip and Kiln read)');
    return;
  }
  for (const why of wheelMismatches(tags, gpu)) report(`${field}.wheel.url`, `${file} ${why}`, `take a wheel built for this profile (cp312, linux x86_64, torch ${gpu.torch?.torch}), or build ${field} from source`);
}
