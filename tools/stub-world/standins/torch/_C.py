"""torch._C stand-in (kiln stub world): the compile-time values that work
without a GPU (torch/csrc/cuda/Module.cpp returns CUDA_ARCH_FLAGS as built)."""
KILN = None  # filled in by the stub world

_GLIBCXX_USE_CXX11_ABI = True


def _cuda_getArchFlags():
    return " ".join(KILN["arch_list"])


def _cuda_getDeviceCount():
    return 0
