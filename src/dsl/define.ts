import type {
  BaseDefinition,
  BaseOptions,
  GpuDefinition,
  GpuOptions,
  TemplateDefinition,
  TemplateOptions,
} from './types.ts';

/** A GPU profile: arch values and pins for everything compiled or installed per GPU. */
export function defineGpu(options: GpuOptions): GpuDefinition {
  return Object.freeze({ kind: 'gpu', ...options });
}

/** The shared base: CUDA image flavour, apt set, Python venv tools, ComfyUI and Manager pins. */
export function defineBase(options: BaseOptions): BaseDefinition {
  return Object.freeze({
    kind: 'base',
    imageFlavor: 'base-ubuntu24.04',
    develFlavor: 'devel-ubuntu24.04',
    imageRepo: 'nvidia/cuda',
    python: 'python3',
    ...options,
  });
}

/** A use-case image built for one or more GPUs. */
export function defineTemplate(options: TemplateOptions): TemplateDefinition {
  return Object.freeze({ kind: 'template', ...options });
}
