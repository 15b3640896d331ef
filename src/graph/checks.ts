/**
 * The checks every template image runs at build time (README "Checks"),
 * generated from the same definitions as the image. The spec is data; the
 * runner is scripts/kiln_check (Python stdlib, inside the image). Every entry
 * carries the fix, because only the definitions know which file and field
 * made the image.
 */
import type { Located, TemplateSource } from '../dsl/load.ts';
import type { BaseDefinition, FeatureName, GpuDefinition } from '../dsl/types.ts';
import { contentKey } from './keys.ts';
import { IMAGE_PATHS as P } from './image-paths.ts';
import type { LayerSpec } from './layer-spec.ts';
import { PACKAGE_PROBES } from './package-probes.ts';

/** The driver's library: only a real pod (nvidia-container-toolkit) mounts it. */
const DRIVER_LIBS = ['libcuda.so.1'];
const SITE_PACKAGES = `${P.venv}/lib/python3*/site-packages`;

export interface CheckEntry {
  readonly id: string;
  /** One line for `kiln_check --list` and the README. */
  readonly what: string;
  readonly fix: string;
  readonly [field: string]: unknown;
}

export interface CheckSpec {
  readonly schema: 1;
  /** The target whose build runs the checks. */
  readonly image: string;
  /** Every target with this image's files (the primary and its GPU variants). */
  readonly targets: readonly string[];
  readonly python: string;
  readonly comfyui: string;
  readonly checks: readonly CheckEntry[];
}

export interface CheckInput {
  readonly template: TemplateSource;
  readonly base: Located<BaseDefinition>;
  /** The GPUs of the targets that share these files, primary first. */
  readonly gpus: readonly Located<GpuDefinition>[];
  readonly targets: readonly string[];
  readonly features: readonly FeatureName[];
}

/** "12.8" for https://download.pytorch.org/whl/cu128. */
export function indexCuda(index: string): string | null {
  const m = /\/cu(\d+)(\d)\/?$/.exec(index);
  return m ? `${m[1]}.${m[2]}` : null;
}

/** 89 for TORCH_CUDA_ARCH_LIST "8.9", 120 for "12.0" (a "+PTX" suffix adds PTX, not SASS). */
function torchArch(list: string): number[] {
  return list
    .split(/[;\s]+/)
    .filter(Boolean)
    .map((a) => a.replace(/\+PTX$/i, ''))
    .map((a) => Math.round(Number(a) * 10));
}

/** 80 for FLASH_ATTN_CUDA_ARCHS "80", [89] for CMAKE_CUDA_ARCHITECTURES "89" ("-real"/"-virtual" dropped). */
function integerArchs(list: string): number[] {
  return list
    .split(/[;\s]+/)
    .filter(Boolean)
    .map((a) => parseInt(a, 10));
}

export function templateCheckSpec(input: CheckInput): CheckSpec {
  const { template: t, base, gpus, features } = input;
  const gpu = gpus[0]!;
  const tfile = t.file;
  const checks: CheckEntry[] = [];

  const torch = gpu.def.torch;
  checks.push({
    id: 'torch',
    what: "torch imports, its CUDA is the profile's, and it has code for every GPU of the image",
    cuda: indexCuda(torch.index) ?? '',
    gpus: gpus.map((g) => ({ name: g.def.name, sm: g.def.sm })),
    fix: `${gpu.file}: torch.torch and torch.index pick the wheels; the index's CUDA must match the profile (GPU-FACTS "PyTorch": cu128 has sm_120, cu126 does not)`,
  });

  const modules: { module: string; dist: string; probe?: string; fix: string }[] = [];
  if (torch.xformers) {
    modules.push({ module: PACKAGE_PROBES.xformers!.module, dist: 'xformers', fix: `${gpu.file}: torch.xformers must be built for torch ${torch.torch} (GPU-FACTS "xformers")` });
  }
  if (features.includes('sage')) {
    modules.push({ module: PACKAGE_PROBES.sageattention!.module, dist: 'sageattention', fix: `${gpu.file}: sage (built by sage-${gpu.def.name} against this image's torch)` });
  }
  if (features.includes('flash')) {
    modules.push({ module: PACKAGE_PROBES.flash_attn!.module, dist: 'flash_attn', fix: `${gpu.file}: flash (built by flash-${gpu.def.name} against this image's torch)` });
  }
  const pip = Object.keys(t.def.pip ?? {}).sort();
  for (const name of pip) {
    const probe = PACKAGE_PROBES[name];
    if (!probe) continue;
    modules.push({
      module: probe.module,
      dist: name,
      ...(probe.probe ? { probe: probe.probe } : {}),
      fix: `${tfile}: pip['${name}']: the build must be the one this check expects (${probe.source}); a node requirement may have replaced it`,
    });
  }
  if (modules.length > 0) {
    checks.push({ id: 'imports', what: 'every kernel, xformers and probed package imports and is the working build', modules, fix: 'see each module' });
  }

  checks.push({
    id: 'pip-check',
    what: 'pip check finds no broken requirement (beyond the ones the template allows, with a reason)',
    allow: (t.def.allowConflicts ?? []).map((a) => ({ package: a.package, requirement: a.requirement, reason: a.reason })),
    fix: `${tfile}: pin versions that agree (a template's pip pins constrain the nodes' requirements), or a node commit whose requirements agree; a harmless conflict can be allowed: allowConflicts: [{ package, requirement, reason }]`,
  });

  const nodes = [
    {
      name: 'ComfyUI-Manager',
      fix: `${base.file}: manager pins a ComfyUI-Manager commit that must load with ComfyUI ${base.def.comfyui.commit.slice(0, 7)}`,
    },
    ...(t.def.nodes ?? []).map((n, i) => ({
      name: n.name,
      fix: `${tfile}: nodes[${i}] (${n.repo} @ ${n.commit.slice(0, 7)}): pin a commit that loads with ComfyUI ${base.def.comfyui.commit.slice(0, 7)}, or add what it imports to the template's pip/apt`,
    })),
  ];
  checks.push({
    id: 'custom-nodes',
    what: "ComfyUI's --quick-test-for-ci --cpu loads every custom node (none IMPORT FAILED)",
    nodes,
    fix: 'see each node',
  });

  // Each path pattern carries the fix for its owner: llama.cpp's install, or a template package.
  const libs: { paths: string[]; libraryPath: string[]; fixes: Record<string, string> } = { paths: [], libraryPath: [], fixes: {} };
  if (features.includes('llama')) {
    const pattern = `${P.llama}/*`;
    libs.paths.push(pattern);
    libs.fixes[pattern] =
      `llama.cpp's libraries carry SONAME versions (libllama.so.0, ...): the llama builder copies *.so* keeping links; the CUDA libraries come from the base image flavour (${base.file}: imageFlavor)`;
  }
  for (const name of pip) {
    const probe = PACKAGE_PROBES[name];
    for (const l of probe?.sharedLibs ?? []) {
      const pattern = `${SITE_PACKAGES}/${l}`;
      libs.paths.push(pattern);
      libs.fixes[pattern] =
        `${tfile}: pip['${name}']: its libraries load the CUDA libraries of torch's nvidia-* wheels (${(probe?.libraryPath ?? []).join(', ') || 'site-packages'}); pin a ${name} built for the CUDA of torch ${gpu.def.torch.torch} (${gpu.file}), or a torch whose nvidia-* wheels carry what it needs (${probe?.source ?? 'its docs'})`;
    }
    for (const l of probe?.libraryPath ?? []) libs.libraryPath.push(`${SITE_PACKAGES}/${l}`);
  }
  if (libs.paths.length > 0) {
    checks.push({
      id: 'shared-libs',
      what: `every ELF file resolves all its libraries with ldd (except ${DRIVER_LIBS.join(', ')}, which the driver provides)`,
      paths: libs.paths,
      libraryPath: libs.libraryPath,
      ignore: DRIVER_LIBS,
      fixes: libs.fixes,
      fix: 'see the fix under each library',
    });
  }

  // Built here: exactly the archs the profile names. A prebuilt wheel may carry more (FlashAttention's
  // release wheels hold sm_80, sm_90, sm_100 and sm_120): it must hold code that runs on this GPU.
  const arch = (tool: 'sage' | 'flash' | 'llama', want: { sass: number[] } | { runsOn: number }, object: Record<string, unknown>, field: string, builtBy: string): CheckEntry => ({
    id: `kernel-arch:${tool}`,
    what: 'sass' in want ? `${tool}'s compiled objects hold code for exactly ${gpu.def.name}'s arch` : `${tool}'s prebuilt objects hold code that runs on ${gpu.def.name} (sm_${gpu.def.sm})`,
    gpu: gpu.def.name,
    ...want,
    objects: [{ ...object, builtBy, fix: `${gpu.file}: ${field}` }],
    fix: `${gpu.file}: ${field}`,
  });
  for (const [tool, dist, field, sass] of [
    ['sage', 'sageattention', `sage.torchCudaArchList must name only sm_${gpu.def.sm}'s arch`, () => torchArch(gpu.def.sage.torchCudaArchList ?? '')],
    ['flash', 'flash_attn', 'flash.cudaArchs (FLASH_ATTN_CUDA_ARCHS; FlashAttention ignores TORCH_CUDA_ARCH_LIST)', () => integerArchs(gpu.def.flash.cudaArchs ?? '')],
  ] as const) {
    if (!features.includes(tool)) continue;
    const wheel = gpu.def[tool].wheel;
    checks.push(
      wheel
        ? arch(tool, { runsOn: gpu.def.sm }, { label: dist, dist }, `${tool}.wheel: a wheel built for sm_${gpu.def.sm} (or an arch that runs on it)`, wheel.url)
        : arch(tool, { sass: sass() }, { label: dist, dist }, field, `${tool}-${gpu.def.name}`),
    );
  }
  if (features.includes('llama')) {
    checks.push(
      arch('llama', { sass: integerArchs(gpu.def.llama.cudaArchitectures) }, { label: 'libggml-cuda', paths: [`${P.llama}/libggml-cuda.so`] }, 'llama.cudaArchitectures (CMAKE_CUDA_ARCHITECTURES)', `llama-${gpu.def.name}`),
    );
  }

  checks.push({
    id: 'no-host-keys',
    what: 'no private SSH host key in the image (start.sh makes them per pod)',
    paths: ['/etc/ssh/ssh_host_*_key'],
    fix: "openssh-server's postinst makes host keys at install: the apt layer that installs it must delete /etc/ssh/ssh_host_* in the same RUN (Kiln's apt partial does)",
  });

  return {
    schema: 1,
    image: input.targets[0]!,
    targets: input.targets,
    python: `${P.venv}/bin/python`,
    comfyui: P.comfyui,
    checks,
  };
}

/** Where the spec and the report live in the image. */
export const CHECK_PATHS = { dir: '/opt/kiln/checks', runner: `${P.scripts}/kiln_check` } as const;

/**
 * The checks stage of a template Dockerfile: the spec, the run, the report.
 * `env` is the image's ENV: BuildKit's key for the RUN includes it.
 */
export function checkLayers(spec: CheckSpec, env: Readonly<Record<string, string>>): LayerSpec[] {
  const specDigest = contentKey('check-spec', spec);
  return [
    { id: 'check-spec', kind: 'check-spec', stage: 'checks', params: { dest: `${CHECK_PATHS.dir}/`, spec } },
    {
      id: 'checks',
      kind: 'checks',
      stage: 'checks',
      params: { python: spec.python, runner: CHECK_PATHS.runner, spec: `${CHECK_PATHS.dir}/spec.json`, report: `${CHECK_PATHS.dir}/report.json`, env },
    },
    // The report's content follows from the spec (and the image, already the parent): see buildLayers.
    { id: 'check-report', kind: 'check-report', stage: 'final', params: { source: `${CHECK_PATHS.dir}/`, dest: `${CHECK_PATHS.dir}/`, specDigest } },
  ];
}
