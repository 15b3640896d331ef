"""Stand-in for ComfyUI's comfy/model_management.py (kiln stub world). Like
the real module it imports torch and, unless --cpu, asks torch for the CUDA
device while being imported (get_torch_device() at module level), which
raises torch's no-driver error on a machine without an NVIDIA driver."""
import logging

import torch

from comfy.cli_args import args


def get_torch_device():
    if args.cpu:
        return torch.device("cpu")
    return torch.device(torch.cuda.current_device())


def torch_version_numeric():
    return tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])


device = get_torch_device()
logging.info("Device: %s", device)
