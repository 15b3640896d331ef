"""torch.cuda stand-in (kiln stub world). A build machine has no NVIDIA
driver: is_available() is False, get_arch_list() is [] (torch/cuda/__init__.py
returns [] when CUDA is not available; torch._C._cuda_getArchFlags() has the
compiled list), and calls that need a device raise torch's no-driver error."""
from . import _C

_NO_DRIVER = ("Found no NVIDIA driver on your system. Please check that you have installed "
              "the NVIDIA driver from http://www.nvidia.com/Download/index.aspx")


def is_available():
    return False


def device_count():
    return 0


def get_arch_list():
    if not is_available():
        return []
    return _C._cuda_getArchFlags().split()


def _lazy_init():
    raise RuntimeError(_NO_DRIVER)


def current_device():
    _lazy_init()


def get_device_capability(device=None):
    _lazy_init()


def get_device_name(device=None):
    _lazy_init()


def init():
    _lazy_init()
