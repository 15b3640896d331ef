"""The stub nvcc: `--version` for the toolkit it belongs to (its path names
the CUDA version); `-o FILE` writes an ELF whose .nv_fatbin holds the archs
of the -gencode/-arch flags (nvcc 12.x defaults to sm_52 without any)."""

from __future__ import annotations

import os
import re
import sys

from . import elf, elves, fatbin, table


def toolkit_version(argv0: str) -> str:
    m = re.search(r"cuda-(\d+\.\d+)", os.path.realpath(argv0))
    key = m[1] if m else os.environ.get("CUDA_VERSION", "12.8")[:4]
    return table.load()["cuda"].get(key, {}).get("version", key)


def main(argv: list[str]) -> int:
    argv0, args = argv[0], argv[1:]
    full = toolkit_version(argv0)
    mm = ".".join(full.split(".")[:2])
    if any(a in ("--version", "-V") for a in args):
        print(f"nvcc: NVIDIA (R) Cuda compiler driver (kiln stub)\nCuda compilation tools, release {mm}, V{full}\nBuild cuda_{mm}.kiln-stub")
        return 0
    out, codes = None, []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "--output-file") and i + 1 < len(args):
            out = args[i + 1]
            i += 1
        elif a.startswith(("-o=", "--output-file=")):
            out = a.split("=", 1)[1]
        elif a in ("-gencode", "--generate-code") and i + 1 < len(args):
            codes += fatbin.parse_gencode(args[i + 1])
            i += 1
        elif a.startswith(("-gencode=", "--generate-code=")):
            codes += fatbin.parse_gencode(a.split("=", 1)[1])
        elif a in ("-arch", "--gpu-architecture") and i + 1 < len(args):
            num = args[i + 1].split("_")[-1]
            codes += [("sass", int(num.rstrip("af")), num.endswith("a")), ("ptx", int(num.rstrip("af")), num.endswith("a"))]
            i += 1
        i += 1
    if out:
        data = elves.template(elves.kernel_sig())
        elf.set_section(data, ".nv_fatbin", fatbin.build(codes or [("sass", 52, False), ("ptx", 52, False)]))
        elf.set_info(data, "nvcc (kiln stub) " + " ".join(args) + "\n")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "wb") as f:
            f.write(bytes(data))
    return 0
