"""The ELF templates of the stub world: which ones the table needs (one per
distinct kind/SONAME/NEEDED list), compiled on the host by build.sh, looked up
in the image by the shims. A template's name is a hash of its signature, so
the shims and the host agree without a second list."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from . import elf

ELF_DIR = "/usr/lib/kiln-shim/elf"


@dataclass(frozen=True)
class Sig:
    kind: str  # "shared" | "module" | "exe"
    soname: str | None
    needed: tuple[str, ...]
    fatbin: bool = False
    runpath: bool = False

    def text(self) -> str:
        return "|".join([self.kind, self.soname or "", ",".join(self.needed), "fatbin" if self.fatbin else "", "runpath" if self.runpath else ""])

    def file(self) -> str:
        return hashlib.sha256(self.text().encode()).hexdigest()[:20] + ".elf"


def template(sig: Sig, elf_dir: str = ELF_DIR) -> bytearray:
    path = os.path.join(elf_dir, sig.file())
    if not os.path.exists(path):
        raise FileNotFoundError(f"kiln stub: no ELF template for {sig.text()!r} in {elf_dir} (upstream.json and the image disagree: rebuild the stub world)")
    with open(path, "rb") as f:
        return bytearray(f.read())


def plain_lib(soname: str) -> Sig:
    return Sig("shared", soname, ())


def package_lib(lib: dict) -> Sig:
    """A library a pip package ships (torch's nvidia-* wheels, onnxruntime's CUDA provider):
    with a SONAME when the table gives one, else a dlopen'ed module."""
    return Sig("shared" if lib.get("soname") else "module", lib.get("soname"), tuple(lib.get("needed", [])))


def cuda_majors(table: dict) -> list[str]:
    return sorted({c["version"].split(".")[0] for c in table["cuda"].values()})


def llama_sigs(table: dict, cuda_major: str) -> dict[str, Sig]:
    """name -> Sig for every llama.cpp output the cmake shim may write."""
    t = table["llama_cpp"]
    out: dict[str, Sig] = {}
    for name, lib in t["libraries"].items():
        soname = f"{lib['file']}.{lib['soversion']}"
        extra_sets = [()]
        if lib.get("needed_static_backends"):
            extra_sets = [(), ("libggml-cpu.so.0",), ("libggml-cpu.so.0", "libggml-cuda.so.0")]
        for extra in extra_sets:
            key = name + ("+" + "+".join(extra) if extra else "")
            out[key] = Sig("shared", soname, tuple(lib["needed"]) + extra, runpath=True)
    for name, be in t["backends"].items():
        needed = tuple(n.format(cuda_major=cuda_major) for n in be["needed"])
        out[f"backend:{name}:module"] = Sig("module", None, needed, fatbin=be.get("fatbin", False), runpath=True)
        out[f"backend:{name}:shared"] = Sig("shared", be["file"] + ".0", needed, fatbin=be.get("fatbin", False), runpath=True)
    for name, target in t["targets"].items():
        out[f"target:{name}"] = Sig("exe", None, tuple(target["needed"]), runpath=True)
        out[f"target:{name}+openssl"] = Sig("exe", None, tuple(target["needed"]) + tuple(target["openssl_needed"]), runpath=True)
    return out


def source_key(source: str, cc: str = "gcc") -> str:
    """What a compiled template depends on besides its signature: stub.c and the compiler."""
    with open(source, "rb") as f:
        text = f.read()
    version = subprocess.run([cc, "--version"], capture_output=True, check=True).stdout
    return hashlib.sha256(text + version).hexdigest()[:16]


def kernel_sig() -> Sig:
    """A torch extension module / nvcc -shared output: no SONAME, GPU code."""
    return Sig("module", None, (), fatbin=True)


def all_sigs(table: dict) -> list[Sig]:
    sigs: set[Sig] = {kernel_sig()}
    for major in cuda_majors(table):
        sigs.update(llama_sigs(table, major).values())
    for cuda in table["cuda"].values():
        for layer in cuda["layers"].values():
            for lib in layer.get("libs", []) + layer.get("stubs", []):
                sigs.add(plain_lib(lib["soname"]))
    for pkg in table["apt"].values():
        for lib in pkg.get("libs", []):
            sigs.add(plain_lib(lib["soname"]))
    for pkg in table["packages"].values():
        for lib in pkg.get("libs", []):
            sigs.add(package_lib(lib))
    return sorted(sigs, key=Sig.text)


def compile_all(table: dict, source: str, out_dir: str, cc: str = "gcc") -> list[str]:
    """Compile every template into out_dir (host side, deterministic flags).
    Templates already in out_dir are kept: callers key out_dir by source_key()."""
    os.makedirs(out_dir, exist_ok=True)
    sigs = [s for s in all_sigs(table) if not os.path.exists(os.path.join(out_dir, s.file()))]
    tmp = tempfile.mkdtemp(prefix="kiln-elves-")
    try:
        sonames = sorted({n for s in sigs for n in s.needed})
        empty = os.path.join(tmp, "empty.c")
        with open(empty, "w") as f:
            f.write("int kiln_stub_dependency;\n")
        for so in sonames:
            subprocess.run([cc, "-shared", "-fPIC", "-o", os.path.join(tmp, so), f"-Wl,-soname,{so}", empty], check=True)
        written = []
        for sig in sigs:
            args = [cc, "-O2", "-g0", "-fPIC", "-Wl,--build-id=none", "-Wl,--hash-style=gnu"]
            if sig.kind == "exe":
                args += ["-DKILN_EXE", "-pie"]
            else:
                args += ["-shared"]
            if sig.soname:
                args.append(f"-Wl,-soname,{sig.soname}")
            if sig.fatbin:
                args.append("-DKILN_FATBIN")
            out = os.path.join(out_dir, sig.file())
            args += [source, "-o", out, "-L", tmp, "-Wl,--no-as-needed"]
            args += [f"-l:{n}" for n in sig.needed]
            if sig.runpath:
                args += [f"-Wl,-rpath,{elf.RUNPATH_PLACEHOLDER}", "-Wl,--enable-new-dtags"]
            subprocess.run(args, check=True)
            written.append(out)
        return written
    finally:
        shutil.rmtree(tmp)
