/**
 * The CUDA base image: `<imageRepo>:<gpu.cuda>-<base.imageFlavor>` must be a
 * tag NVIDIA publishes (src/facts/cuda-images.ts), and a flavour without
 * nvcc cannot carry a graph that compiles kernels.
 */
import semver from 'semver';
import type { Located, TemplateSource } from '../../dsl/load.ts';
import type { BaseDefinition, GpuDefinition } from '../../dsl/types.ts';
import type { DefinitionProblem } from '../../errors.ts';
import { indexCuda } from '../../facts/torch.ts';
import { CUDA_IMAGE_TAGS, CUDA_REPOSITORIES, cudaVersionsWith, newestPatch, nvccFlavours, parseFlavour, type ParsedFlavour } from '../../facts/cuda-images.ts';
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
  const flavour = parseFlavour(b.imageFlavor);
  const listed = flavour !== null && CUDA_IMAGE_TAGS[flavour.os] !== undefined;
  if (known && !listed) {
    const choices = Object.keys(CUDA_IMAGE_TAGS).flatMap((os) => ['cudnn-devel', 'devel'].map((f) => `${f}-${os}`));
    reportBase(
      'imageFlavor',
      `${shown(b.imageFlavor)} is not a flavour of ${b.imageRepo} that Kiln knows (<flavour>-<os>, e.g. cudnn-devel-ubuntu24.04)`,
      `use one of: ${choices.join(', ')} (the tag table with its source: src/facts/cuda-images.ts)`,
    );
  }
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
  // Only the compiled features need nvcc: a graph without them may run on a runtime flavour.
  if (flavour && !flavour.nvcc) {
    const users = templates.flatMap((t) => {
      const f = enabledFeatures(t).filter((x) => (COMPILED as readonly string[]).includes(x));
      return f.length > 0 ? [`template "${t.def.name}" (${f.join(', ')})`] : [];
    });
    if (users.length > 0) {
      reportBase(
        'imageFlavor',
        `"${b.imageFlavor}" ships no nvcc, but kernels are compiled on this image for ${users.join(', ')}`,
        `use a devel flavour, which has nvcc: ${nvccFlavours(flavour.os).join(' or ')}`,
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
