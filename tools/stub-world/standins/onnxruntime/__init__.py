"""Stand-in for onnxruntime / onnxruntime-gpu (kiln stub world). Both wheels
install this same package directory, so the last one installed wins, as for
real; the providers list tells the builds apart."""
KILN = None  # filled in by the stub world

__version__ = KILN["version"]


def get_available_providers():
    return list(KILN["providers"])


def get_device():
    return "GPU" if "CUDAExecutionProvider" in KILN["providers"] else "CPU"
