/** GPU profiles (base/<gpu>.ts): arch values and pins, against GPU-FACTS. */
import semver from 'semver';
import type { Located } from '../../dsl/load.ts';
import { GPU_SHAPE } from '../../dsl/schema.ts';
import type { GpuDefinition } from '../../dsl/types.ts';
import type { DefinitionProblem } from '../../errors.ts';
import { indexCuda, XFORMERS_TORCH } from '../../facts/torch.ts';
import { NAME_PATTERN, reservedName } from '../names.ts';
import { checkHttps, given, label, reporter, shown, type Report } from './report.ts';
import { checkShape } from './strict.ts';
import { checkExact } from './versions.ts';
import { checkKernelSource } from './wheels.ts';

const SHA1 = /^[0-9a-f]{40}$/;

/** "12.0" for sm 120, "8.9" for sm 89. */
export function smToArch(sm: number): string {
  return `${Math.floor(sm / 10)}.${sm % 10}`;
}

/** A repo pinned to a full commit (ComfyUI, Manager, Sage, custom nodes). */
export function checkPinned(report: Report, field: string, pin: { repo?: unknown; commit?: unknown } | undefined): void {
  if (!pin) return; // reported as missing by the strict check
  checkHttps(report, `${field}.repo`, pin.repo, 'the repository (its clone URL)');
  if (pin.commit !== undefined && !(typeof pin.commit === 'string' && SHA1.test(pin.commit))) {
    report(
      `${field}.commit`,
      `${shown(pin.commit)} is not a full 40-hex commit SHA (branches and short SHAs move or collide)`,
      `pin a commit: git ls-remote ${typeof pin.repo === 'string' ? pin.repo : '<repo>'} HEAD`,
    );
  }
}

export function checkGpu(g: Located<GpuDefinition>, out: DefinitionProblem[]): void {
  const d = g.def;
  const report = reporter(out, g.file, label('gpu', d));
  checkShape(d, GPU_SHAPE, report, { path: '', owner: 'defineGpu', stamped: ['kind'] });
  if (given(d.name)) {
    if (!NAME_PATTERN.test(d.name)) report('name', `"${d.name}" is not a lowercase name`, 'use letters and digits, e.g. "rtx5090"');
    const reserved = reservedName(d.name);
    if (reserved) report('name', `"${d.name}" ${reserved}`, 'name the GPU after the card, e.g. "rtx5090"');
  }
  const smOk = Number.isInteger(d.sm) && d.sm >= 50 && d.sm <= 200;
  if (d.sm !== undefined && !smOk) report('sm', `${shown(d.sm)} is not a compute capability`, 'write the integer form: 89 for sm_89, 120 for sm_120');
  const arch = smToArch(d.sm);
  // The format and the image tag of `cuda` are checked with the base's flavour (cuda.ts).
  const cuda = typeof d.cuda === 'string' ? semver.parse(d.cuda) : null;

  // Blackwell consumer parts: CUDA >= 12.8, torch >= 2.7 from a cu128+ index (GPU-FACTS).
  if (d.sm >= 120 && cuda && semver.lt(cuda, '12.8.0')) {
    report('cuda', `sm_${d.sm} needs CUDA >= 12.8, got ${d.cuda}`, 'use an nvidia/cuda 12.8.1 (or newer) base image');
  }
  const t = d.torch;
  if (t) checkTorch(report, d, t);

  // Each kernel: built from source (pins and arch) or a prebuilt wheel that fits the profile.
  checkKernelSource(report, 'sage', d.sage as Record<string, unknown> | undefined, d);
  checkKernelSource(report, 'flash', d.flash as Record<string, unknown> | undefined, d);

  // SageAttention: exactly the GPU's arch; 9.0 next to 12.0 breaks ptxas (thu-ml/SageAttention#291).
  if (d.sage?.repo !== undefined || d.sage?.commit !== undefined) checkPinned(report, 'sage', d.sage);
  // The arch values are checked against sm, so only when sm is sound.
  if (smOk && d.sage?.torchCudaArchList !== undefined) {
    const sageArchs = String(d.sage.torchCudaArchList).split(/[;\s]+/).filter(Boolean);
    if (sageArchs.length !== 1 || sageArchs[0] !== arch) {
      report('sage.torchCudaArchList', `"${d.sage.torchCudaArchList}" must be exactly this GPU's arch "${arch}" (one arch per build; never 9.0 with 12.0)`, `set torchCudaArchList: '${arch}'`);
    }
  }

  // FlashAttention reads FLASH_ATTN_CUDA_ARCHS; sm_8x parts run its sm_80 code.
  if (d.flash) {
    checkHttps(report, 'flash.repo', d.flash.repo, 'the FlashAttention repository, e.g. https://github.com/Dao-AILab/flash-attention');
    const flashWant = d.sm >= 100 ? String(d.sm) : d.sm >= 80 ? '80' : null;
    if (smOk && d.flash.cudaArchs !== undefined && d.flash.cudaArchs !== flashWant) {
      report('flash.cudaArchs', `${shown(d.flash.cudaArchs)} is not FlashAttention's arch for sm_${d.sm}`, flashWant ? `set cudaArchs: '${flashWant}'` : 'FlashAttention 2 needs sm_80 or newer');
    }
    const tag = /^v(\d+\.\d+\.\d+)(\.post\d+)?$/.exec(String(d.flash.tag ?? ''));
    if (d.flash.tag !== undefined && !tag) {
      report('flash.tag', `${shown(d.flash.tag)} is not a release tag`, 'pin a FlashAttention release tag such as "v2.8.3"');
    } else if (tag && d.sm >= 120 && semver.lt(tag[1]!, '2.7.3')) {
      report('flash.tag', `FlashAttention builds for sm_${d.sm} from v2.7.3 on, got ${d.flash.tag}`, 'use v2.7.3 or newer');
    }
  }

  // llama.cpp: CMAKE_CUDA_ARCHITECTURES is the integer form; tags are b<number>.
  if (d.llama) {
    checkHttps(report, 'llama.repo', d.llama.repo, 'the llama.cpp repository, e.g. https://github.com/ggml-org/llama.cpp');
    if (smOk && d.llama.cudaArchitectures !== undefined && d.llama.cudaArchitectures !== String(d.sm)) {
      report('llama.cudaArchitectures', `${shown(d.llama.cudaArchitectures)} is not this GPU's arch`, `set cudaArchitectures: '${d.sm}'`);
    }
    if (d.llama.tag !== undefined && !/^b\d+$/.test(String(d.llama.tag))) {
      report('llama.tag', `${shown(d.llama.tag)} is not a llama.cpp release tag`, 'pin a release tag such as "b8508"');
    }
  }
  for (const [k, v] of Object.entries(d.compile ?? {})) {
    if (!Number.isInteger(v) || (v as number) < 1) report(`compile.${k}`, `${shown(v)} is not a positive integer`, `set compile.${k} to a whole number >= 1`);
  }
}

function checkTorch(report: Report, d: GpuDefinition, t: GpuDefinition['torch']): void {
  const torch = checkExact(report, 'torch.torch', t.torch, "torch: '2.8.0'");
  const tv = checkExact(report, 'torch.torchvision', t.torchvision, "torchvision: '0.23.0'");
  const ta = checkExact(report, 'torch.torchaudio', t.torchaudio, "torchaudio: '2.8.0'");
  const xf = checkExact(report, 'torch.xformers', t.xformers, "xformers: '0.0.32.post2'", { pip: true });

  if (t.index !== undefined) {
    const cu = typeof t.index === 'string' && /^https:\/\//.test(t.index) ? indexCuda(t.index) : null;
    if (!cu) {
      report('torch.index', `${shown(t.index)} is not a PyTorch CUDA wheel index`, 'use https://download.pytorch.org/whl/cu128');
    } else if (d.sm >= 120 && cu.major * 10 + cu.minor < 128) {
      report('torch.index', `sm_${d.sm} is not in the ${cu.tag} wheels' arch list (pytorch #150733)`, 'use the cu128 index (or newer)');
    }
    // Whether the index's CUDA is the image's: checked with the image (cuda.ts).
  }
  if (d.sm >= 120 && torch && semver.lt(torch, '2.7.0')) {
    report('torch.torch', `sm_${d.sm} needs torch >= 2.7 (first release with Blackwell), got ${t.torch}`, 'pin torch 2.7.1 or newer');
  }
  if (!torch) return;
  if (tv && (tv.major !== 0 || tv.minor !== torch.minor + 15)) {
    report('torch.torchvision', `torchvision ${t.torchvision} does not pair with torch ${t.torch}`, `use torchvision 0.${torch.minor + 15}.${torch.patch}`);
  }
  if (ta && (ta.major !== torch.major || ta.minor !== torch.minor)) {
    report('torch.torchaudio', `torchaudio ${t.torchaudio} does not pair with torch ${t.torch}`, `use torchaudio ${torch.major}.${torch.minor}.${torch.patch}`);
  }
  if (xf) {
    const want = XFORMERS_TORCH.find(([x]) => semver.eq(xf, x))?.[1];
    const ok = want ? semver.eq(torch, want) : semver.gte(xf, '0.0.34') && semver.gte(torch, '2.10.0');
    if (!ok) {
      report(
        'torch.xformers',
        `xformers ${t.xformers} is built against ${want ? `torch ${want}` : 'another torch'}, not ${t.torch}`,
        `pair them as in GPU-FACTS: ${XFORMERS_TORCH.map(([x, v]) => `${x}->${v}`).join(', ')}`,
      );
    }
  }
}
