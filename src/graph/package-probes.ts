/**
 * What the image checks ask of Python packages a template or profile
 * installs: the module to import, an assertion that proves the package is
 * the working build, and shared libraries that must resolve. Facts about
 * upstream, with their sources; `imports` and `shared-libs` checks read them.
 */
export interface PackageProbe {
  /** Top-level module the distribution installs. */
  readonly module: string;
  /** Python expression (after `import <module>`) that must be true. */
  readonly probe?: string;
  /** Libraries (globs under site-packages) that must resolve with `ldd`. */
  readonly sharedLibs?: readonly string[];
  /** Extra library directories (globs under site-packages) the package loads from. */
  readonly libraryPath?: readonly string[];
  readonly source: string;
}

export const PACKAGE_PROBES: Readonly<Record<string, PackageProbe>> = {
  'onnxruntime-gpu': {
    module: 'onnxruntime',
    // The CPU wheel (`onnxruntime`, which rembg's `cpu` extra pulls) lists no CUDA provider; both
    // install the same module, so whichever came last wins.
    probe: "'CUDAExecutionProvider' in onnxruntime.get_available_providers()",
    // The provider library needs cuDNN 9 and cuBLAS 12; onnxruntime >= 1.19 loads them from the
    // nvidia-* wheels torch installs (onnxruntime.preload_dlls), or from the system.
    sharedLibs: ['onnxruntime/capi/libonnxruntime_providers_cuda.so'],
    libraryPath: ['nvidia/*/lib'],
    source: 'https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html (requirements, preload_dlls)',
  },
  xformers: { module: 'xformers', source: 'https://github.com/facebookresearch/xformers (import name)' },
  sageattention: { module: 'sageattention', source: 'https://github.com/thu-ml/SageAttention setup.py (package sageattention)' },
  flash_attn: { module: 'flash_attn', source: 'https://github.com/Dao-AILab/flash-attention setup.py (PACKAGE_NAME = "flash_attn")' },
};
