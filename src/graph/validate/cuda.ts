/**
 * The CUDA images of the two chains: `<imageRepo>:<gpu.cuda>-<base.imageFlavor>`
 * (final images) and `-<base.develFlavor>` (where nvcc runs) must be tags
 * NVIDIA publishes (src/facts/cuda-images.ts); the devel flavour must ship
 * nvcc when anything compiles; llama-server on a flavour without cuBLAS needs
 * the cuBLAS package of that CUDA version to be known.
 */
import semver from 'semver';
import type { Located, TemplateSource } from '../../dsl/load.ts';
import type { BaseDefinition, GpuDefinition } from '../../dsl/types.ts';
import type { DefinitionProblem } from '../../errors.ts';
import { indexCuda } from '../../facts/torch.ts';
import { CUBLAS_DEB, CUDA_FLAVOURS, CUDA_IMAGE_TAGS, CUDA_REPOSITORIES, cudaVersionsWith, newestPatch, nvccFlavours, parseFlavour, type ParsedFlavour } from '../../facts/cuda-images.ts';
import { enabledFeatures } from '../template-target.ts';

import { label, reporter, shown } from './report.ts';

/** Features whose targets run nvcc on the CUDA image (the kernel builders and llama.cpp). */
const COMPILED = ['sage', 'flash', 'llama'] as const;

export function checkCudaImages(
  base: Located<BaseDefinition>,
  gpus: readonly Located<GpuDefinition>[],
  templates: readonly TemplateSource[],
  out: DefinitionProblem[],
): void {
  const b = base.def;
  const reportBase = reporter(out, base.file, 'base');
  const known = CUDA_REPOSITORIES.includes(b.imageRepo);
  const flavours = { imageFlavor: parseFlavour(b.imageFlavor), develFlavor: parseFlavour(b.develFlavor) };
  for (const field of ['imageFlavor', 'develFlavor'] as const) {
    if (!known || (flavours[field] !== null && CUDA_IMAGE_TAGS[flavours[field]!.os] !== undefined)) continue;
    const suggested = field === 'imageFlavor' ? ['base', 'runtime'] : ['devel', 'cudnn-devel'];
    const choices = Object.keys(CUDA_IMAGE_TAGS).flatMap((os) => suggested.map((f) => `${f}-${os}`));
    reportBase(
      field,
      `${shown(b[field])} is not a flavour of ${b.imageRepo} that Kiln knows (<flavour>-<os>, e.g. ${suggested[0]}-ubuntu24.04)`,
      `use one of: ${choices.join(', ')} (the tag table with its source: src/facts/cuda-images.ts)`,
    );
  }
  const flavour = flavours.imageFlavor;
  const listed = flavour !== null && CUDA_IMAGE_TAGS[flavour.os] !== undefined;
  const devel = flavours.develFlavor;
  const develListed = devel !== null && CUDA_IMAGE_TAGS[devel.os] !== undefined;
  for (const g of gpus) {
    const report = reporter(out, g.file, label('gpu', g.def));
    const cuda = g.def.cuda;
    if (cuda === undefined) continue; // reported as missing by the strict check
    if (typeof cuda !== 'string' || !semver.valid(cuda)) {
      const mm = typeof cuda === 'string' ? /^(\d+\.\d+)$/.exec(cuda) : null;
      const patch = mm && listed ? newestPatch(mm[1]!, flavour!.flavour, flavour!.os) : null;
      report(
        'cuda',
        `${shown(cuda)} is not an exact CUDA version: nvidia/cuda tags carry all three parts (${b.imageRepo}:${cuda}-${b.imageFlavor} does not exist)`,
        patch ? `set cuda: '${patch}'` : "use the full version of a published image, e.g. cuda: '12.8.1'",
      );
      continue;
    }
    if (known && listed && !CUDA_IMAGE_TAGS[flavour!.os]![cuda]?.includes(flavour!.flavour)) {
      report('cuda', `${b.imageRepo}:${cuda}-${b.imageFlavor} is not a published tag${publishedNote(cuda, flavour!)}`, fixFor(cuda, flavour!));
    } else if (known && develListed && !CUDA_IMAGE_TAGS[devel!.os]![cuda]?.includes(devel!.flavour)) {
      report('cuda', `${b.imageRepo}:${cuda}-${b.develFlavor} (the devel image) is not a published tag${publishedNote(cuda, devel!)}`, fixFor(cuda, devel!));
    }
    // llama-server loads cuBLAS 12: from the flavour (runtime and up) or from its pinned apt package.
    const usesLlama = templates.some((t) => enabledFeatures(t).includes('llama') && t.def.gpus.some((x) => x?.name === g.def.name));
    if (usesLlama && flavour && !CUDA_FLAVOURS[flavour.flavour].cublas && !CUBLAS_DEB[cuda]) {
      report(
        'cuda',
        `llama-server needs cuBLAS, which ${b.imageRepo}:${cuda}-${b.imageFlavor} lacks, and Kiln knows no cuBLAS package for CUDA ${cuda}`,
        `add the libcublas package NVIDIA's ${cuda} runtime image pins to CUBLAS_DEB in src/facts/cuda-images.ts (with its source), or use a runtime flavour (imageFlavor: 'runtime-${flavour.os}')`,
      );
    }
    const index = g.def.torch?.index;
    const cu = typeof index === 'string' ? indexCuda(index) : null;
    const v = semver.parse(cuda)!;
    if (cu && (cu.major !== v.major || cu.minor !== v.minor)) {
      // Kernels are compiled by the image's nvcc against torch: torch's cpp_extension refuses another CUDA
      // major and warns on another minor, and a kernel built with newer headers may call what torch's
      // bundled runtime lacks. Kiln holds an image to one CUDA: the index's major.minor is the toolkit's.
      const image = listed ? newestPatch(`${cu.major}.${cu.minor}`, flavour!.flavour, flavour!.os) : null;
      report(
        'torch.index',
        `${cu.tag} wheels are built for CUDA ${cu.major}.${cu.minor}, but this GPU's image has CUDA ${cuda} (kernels are compiled with the image's nvcc against torch: one CUDA major.minor per image)`,
        `use the cu${v.major}${v.minor} index if PyTorch publishes one, or ${image ? `cuda: '${image}'` : `a CUDA ${cu.major}.${cu.minor} image`}`,
      );
    }
  }
  // The devel image is where nvcc runs: kernels compiled from source, and templates that opt in.
  if (devel && !devel.nvcc) {
    const users = templates.flatMap((t) => {
      const f = enabledFeatures(t).filter((x) => (COMPILED as readonly string[]).includes(x));
      const why = [...f, ...(t.def.cudaDevel ? ['cudaDevel'] : [])];
      return why.length > 0 ? [`template "${t.def.name}" (${why.join(', ')})`] : [];
    });
    if (users.length > 0) {
      reportBase(
        'develFlavor',
        `"${b.develFlavor}" ships no nvcc, but code is compiled on the devel image for ${users.join(', ')}`,
        `use a devel flavour, which has nvcc: ${nvccFlavours(devel.os).join(' or ')}`,
      );
    }
  }
}

function publishedNote(cuda: string, f: ParsedFlavour): string {
  const flavours = CUDA_IMAGE_TAGS[f.os]![cuda];
  return flavours ? ` (${cuda} has only: ${flavours.join(', ')})` : ` (no ${cuda} images for ${f.os})`;
}

function fixFor(cuda: string, f: ParsedFlavour): string {
  const [major, minor] = cuda.split('.');
  const same = newestPatch(`${major}.${minor}`, f.flavour, f.os);
  if (same) return `set cuda: '${same}'`;
  const all = cudaVersionsWith(f.flavour, f.os);
  return `use a published version: ${all.slice(-6).join(', ')} (src/facts/cuda-images.ts)`;
}
