"""The stub cmake. For llama.cpp sources it builds what upstream.json
`llama_cpp` says CMake makes: versioned shared libraries with SONAMEs and the
symlink chain libX.so -> libX.so.0 -> libX.so.0.<ver> in BUILD/bin, backend
modules, executables with NEEDED entries and CMake's build-tree RUNPATH, the
CUDA backend's `.nv_fatbin` with the configured archs, and the link failure
without --allow-shlib-undefined. Other projects get the generic stub."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys

from . import elf, elves, fatbin, git, table
from .pep440 import Version

STATE = "kiln-cmake.json"


class CMakeError(Exception):
    pass


def _on(value: str | None) -> bool:
    return (value or "").upper() in ("ON", "1", "TRUE", "YES", "Y")


def _find_nvcc(env: dict) -> str | None:
    for var in ("CUDAToolkit_ROOT", "CUDA_PATH", "CUDA_HOME"):
        if env.get(var) and os.path.exists(os.path.join(env[var], "bin", "nvcc")):
            return os.path.join(env[var], "bin", "nvcc")
    return shutil.which("nvcc", path=env.get("PATH")) or ("/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc") else None)


def _is_llama(src: str) -> bool:
    try:
        state = git._state(git.toplevel(src))
    except git.GitError:
        state = {}
    name, _ = table.repo(state.get("url", "")) if state.get("url") else (None, None)
    if name and "llama.cpp" in name:
        return True
    with open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8") as f:
        return 'project("llama.cpp"' in f.read()


def configure(args: list[str]) -> int:
    src = bld = None
    defs: list[str] = []
    pos: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-S", "-B", "-G", "-D", "-A", "-T", "-C"):
            if i + 1 >= len(args):
                raise CMakeError(f"No argument after {a}")
            if a == "-S":
                src = args[i + 1]
            elif a == "-B":
                bld = args[i + 1]
            elif a == "-D":
                defs.append(args[i + 1])
            i += 2
            continue
        if a.startswith("-S"):
            src = a[2:]
        elif a.startswith("-B"):
            bld = a[2:]
        elif a.startswith("-D"):
            defs.append(a[2:])
        elif a.startswith(("-G", "-W", "--log-level=", "--fresh")) or a in ("-Wno-dev",):
            pass
        elif a.startswith("-"):
            raise CMakeError(f"Unknown argument {a}")
        else:
            pos.append(a)
        i += 1
    src = src or (pos[0] if pos else None)
    if not src:
        raise CMakeError("no source directory (-S) given")
    bld = bld or os.getcwd()
    if not os.path.isdir(src):
        raise CMakeError(f'The source directory "{src}" does not exist.')
    if not os.path.isfile(os.path.join(src, "CMakeLists.txt")):
        raise CMakeError(f'The source directory "{src}" does not appear to contain CMakeLists.txt.')
    options = {}
    for d in defs:
        k, _, v = d.partition("=")
        options[k.split(":")[0]] = v
    env = dict(os.environ)
    state = {"source": os.path.abspath(src), "build": os.path.abspath(bld), "defs": defs, "options": options,
             "ref": _ref(src), "llama": _is_llama(src), "env": {k: env[k] for k in ("CC", "CXX", "CUDAHOSTCXX") if k in env}}
    if state["llama"]:
        if _on(options.get("GGML_CPU_ALL_VARIANTS")) and not _on(options.get("GGML_BACKEND_DL")):
            raise CMakeError("at ggml/src/CMakeLists.txt:\n  GGML_CPU_ALL_VARIANTS requires GGML_BACKEND_DL")
        if _on(options.get("GGML_CUDA")):
            nvcc = _find_nvcc(env)
            if nvcc is None:
                raise CMakeError(table.load()["llama_cpp"]["configure_failure_without_nvcc"].removeprefix("CMake Error "))
            out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, env=env).stdout
            m = re.search(r"release (\d+\.\d+)", out)
            state["cuda"] = m[1] if m else "12.8"
            print("-- CUDA Toolkit found")
    os.makedirs(bld, exist_ok=True)
    with open(os.path.join(bld, "CMakeCache.txt"), "w", encoding="utf-8") as f:
        f.write("# kiln stub CMakeCache\n")
        f.write(f"CMAKE_HOME_DIRECTORY:INTERNAL={state['source']}\n")
        for k, v in options.items():
            f.write(f"{k}:UNINITIALIZED={v}\n")
        f.write(f"KILN_CONFIGURE_ARGS:INTERNAL={' '.join(defs)}\nKILN_SOURCE_REF:INTERNAL={state['ref']}\n")
    with open(os.path.join(bld, STATE), "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    print("-- Configuring done\n-- Generating done")
    print(f"-- Build files have been written to: {os.path.abspath(bld)}")
    return 0


def _ref(src: str) -> str:
    try:
        return git._state(git.toplevel(src)).get("commit", "unknown")
    except git.GitError:
        return "unknown"


def _load(bld: str) -> dict:
    path = os.path.join(bld, STATE)
    if not os.path.isfile(os.path.join(bld, "CMakeCache.txt")) or not os.path.isfile(path):
        raise CMakeError(f"Error: could not load cache")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cuda_codes(state: dict) -> list[tuple[str, int, bool]]:
    t = table.load()["llama_cpp"]["cuda_archs"]
    value = state["options"].get(t["option"])
    cuda = Version(state.get("cuda", "12.8"))
    if value is None:
        archs = []
        for step in t["default_by_cuda"]:
            if cuda >= Version(step["min"]) and ("below" not in step or cuda < Version(step["below"])):
                archs += step["archs"]
    else:
        archs = [a for a in re.split(r"[;,]", value) if a]
    codes = []
    for a in archs:
        a = re.sub(t["rewrite"]["pattern"], t["rewrite"]["to"].replace("\\1", r"\1").replace("\\2", r"\2"), a)
        num, _, kind = a.partition("-")
        specific = num.endswith(("a", "f"))
        n = int(num.rstrip("af"))
        if kind in ("", "real"):
            codes.append(("sass", n, specific))
        if kind in ("", "virtual"):
            codes.append(("ptx", n, specific))
    return codes


def _runpath(state: dict) -> str | None:
    t = table.load()["llama_cpp"]
    o = state["options"]
    names = t["install_rpath_options"]
    if any(_on(o.get(k)) for k in names["skip"]):
        return None
    if _on(o.get(names["with_install_rpath"])):
        return o.get(names["install_rpath"]) or None
    default = t["build_runpath"].format(build=state["build"])
    if o.get(names["build_rpath"]):
        return o[names["build_rpath"]] + ":" + default
    return default


def _libcuda_linkable(env: dict) -> bool:
    dirs = [d for d in env.get("LD_LIBRARY_PATH", "").split(":") if d]
    for conf in glob.glob("/etc/ld.so.conf.d/*.conf"):
        with open(conf, encoding="utf-8") as f:
            dirs += [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return any(os.path.exists(os.path.join(d, "libcuda.so.1")) for d in dirs + ["/lib", "/usr/lib"])


def _write(path: str, data: bytes, mode: int) -> None:
    if os.path.lexists(path):
        os.remove(path)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _link(path: str, target: str) -> None:
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def build_llama(state: dict, targets: list[str]) -> None:
    t = table.load()["llama_cpp"]
    o = state["options"]
    env = dict(os.environ)
    bindir = os.path.join(state["build"], "bin")
    os.makedirs(bindir, exist_ok=True)
    m = re.match(t["build_number_from_ref"], state["ref"])
    build_no = m[1] if m else "0"
    versions = {"ggml": t["ggml_version"], "llama": t["llama_version"].format(build=build_no)}
    cuda = _on(o.get("GGML_CUDA"))
    dl = _on(o.get("GGML_BACKEND_DL"))
    major = state.get("cuda", "12.8").split(".")[0]
    sigs = elves.llama_sigs(table.load(), major)
    runpath = _runpath(state)
    info = (f"version: {build_no} ({state['ref']})\nbuilt with: {' '.join(state['defs'])}\n"
            f"source ref: {state['ref']}\nbuild env: {json.dumps(state['env'], sort_keys=True)}\n")
    if cuda and not dl and "--allow-shlib-undefined" not in o.get("CMAKE_EXE_LINKER_FLAGS", "") and not _libcuda_linkable(env):
        print(f"[ 62%] Linking CXX executable bin/{targets[0]}")
        print(t["link_failure"]["message"].format(ggml_version=versions["ggml"]), file=sys.stderr)
        raise CMakeError(None)

    def lay(sig_key: str, file: str, version_kind: str | None, soversion: str | None, codes=None) -> None:
        data = elves.template(sigs[sig_key])
        elf.set_runpath(data, runpath)
        elf.set_info(data, info)
        if codes is not None:
            elf.set_section(data, ".nv_fatbin", fatbin.build(codes))
        if version_kind is None:
            _write(os.path.join(bindir, file), bytes(data), 0o755)
            return
        full = f"{file}.{versions[version_kind]}"
        _write(os.path.join(bindir, full), bytes(data), 0o755)
        _link(os.path.join(bindir, f"{file}.{soversion}"), full)
        _link(os.path.join(bindir, file), f"{file}.{soversion}")

    libs: list[str] = []
    for target in targets:
        for lib in t["targets"][target]["libraries"]:
            if lib not in libs:
                libs.append(lib)
    for lib in libs:
        spec = t["libraries"][lib]
        key = lib
        if spec.get("needed_static_backends") and not dl:
            key += "+libggml-cpu.so.0" + ("+libggml-cuda.so.0" if cuda else "")
        lay(key, spec["file"], spec["version"], spec["soversion"])
    codes = cuda_codes(state) if cuda else None
    for name, be in t["backends"].items():
        if be["option"] and not _on(o.get(be["option"])):
            continue
        code = codes if be.get("fatbin") else None
        if dl:
            files = [be["file"]]
            if be.get("variants_option") and _on(o.get(be["variants_option"])):
                stem = be["file"][:-3]
                files = [f"{stem}-{v}.so" for v in be["variants"]]
            for f in files:
                lay(f"backend:{name}:module", f, None, None, code)
        else:
            lay(f"backend:{name}:shared", be["file"], "ggml", "0", code)
    for target in targets:
        key = f"target:{target}" + ("+openssl" if _on(o.get("LLAMA_OPENSSL")) else "")
        lay(key, target, None, None)
        print(f"[100%] Built target {target}")


def build(args: list[str]) -> int:
    if not args:
        raise CMakeError("--build needs a directory")
    bld, rest = args[0], args[1:]
    targets: list[str] = []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--target", "-t"):
            i += 1
            while i < len(rest) and not rest[i].startswith("-"):
                targets.append(rest[i])
                i += 1
            continue
        if a in ("--config", "--parallel", "-j") and i + 1 < len(rest) and (a == "--config" or rest[i + 1].isdigit()):
            i += 2
            continue
        if a.startswith(("-j", "--parallel=")) or a in ("--clean-first", "-v", "--verbose", "--parallel"):
            i += 1
            continue
        if a == "--":
            break
        raise CMakeError(f"Unknown argument {a}")
    state = _load(bld)
    if state["llama"]:
        t = table.load()["llama_cpp"]
        targets = targets or list(t["default_targets"])
        for target in targets:
            if target not in t["targets"]:
                raise CMakeError(f"ninja: error: unknown target '{target}'")
        build_llama(state, targets)
        return 0
    bindir = os.path.join(state["build"], "bin")
    os.makedirs(bindir, exist_ok=True)
    for target in targets or ["all"]:
        _write(os.path.join(bindir, target), f"#!/bin/sh\necho 'kiln stub {target} built with: {' '.join(state['defs'])}'\n".encode(), 0o755)
    return 0


def install(args: list[str]) -> int:
    if not args:
        raise CMakeError("--install needs a directory")
    bld, rest = args[0], args[1:]
    prefix = "/usr/local"
    i = 0
    while i < len(rest):
        if rest[i] == "--prefix":
            prefix = rest[i + 1]
            i += 1
        elif rest[i] in ("--config", "--component"):
            i += 1
        i += 1
    state = _load(bld)
    bindir = os.path.join(state["build"], "bin")
    if not os.path.isdir(bindir):
        raise CMakeError(f"Not a build tree with built targets: {bld}")
    install_rpath = state["options"].get("CMAKE_INSTALL_RPATH") or None
    for d in ("bin", "lib"):
        os.makedirs(os.path.join(prefix, d), exist_ok=True)
    for name in sorted(os.listdir(bindir)):
        src = os.path.join(bindir, name)
        dest_dir = "lib" if re.search(r"^lib.*\.so(\.|$)", name) and not _is_module(src) else "bin"
        dest = os.path.join(prefix, dest_dir, name)
        if os.path.islink(src):
            _link(dest, os.readlink(src))
            continue
        with open(src, "rb") as f:
            data = bytearray(f.read())
        if data[:4] == b"\x7fELF" and elf.dynamic_info(bytes(data))["runpath"] is not None:
            elf.set_runpath(data, install_rpath)
            print(f'-- Set non-toolchain portion of runtime path of "{dest}" to "{install_rpath or ""}"')
        print(f"-- Installing: {dest}")
        _write(dest, bytes(data), 0o755)
    return 0


def _is_module(path: str) -> bool:
    with open(path, "rb") as f:
        data = f.read()
    return data[:4] == b"\x7fELF" and elf.dynamic_info(data)["soname"] is None and not path.endswith(tuple("0123456789"))


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["--version"]:
            print("cmake version 3.28.3\n\nCMake suite maintained and supported by Kitware (kitware.com/cmake).")
            return 0
        if argv[:1] == ["--build"]:
            return build(argv[1:])
        if argv[:1] == ["--install"]:
            return install(argv[1:])
        return configure(argv)
    except CMakeError as e:
        if e.args and e.args[0]:
            print(f"CMake Error {e.args[0]}" if str(e.args[0]).startswith("at ") else f"CMake Error: {e.args[0]}", file=sys.stderr)
        return 1
