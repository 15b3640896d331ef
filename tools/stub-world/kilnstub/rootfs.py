"""Host side of tools/stub-world/build.sh: make the rootfs of one stub image.

    python3.11 -m kilnstub.rootfs ROOT IMAGE_NAME [--elf-cache DIR]

Prints the image's `ENV K=V` lines on stdout (build.sh turns them into
`docker import --change`). Needs: static busybox, the host's bash, Debian's
CPython 3.11, gcc, the static ldconfig (all on Debian bookworm; busybox-static
comes from tools/engine.sh up)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from . import apt, elves, table

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tools/stub-world
SHIMMED = {"apt-get", "python3", "git", "cmake", "nvcc", "ninja", "curl", "wget", "sha256sum", "ldconfig", "ldd"}
IMAGE = re.compile(r"cuda:(?P<version>\d+\.\d+(?:\.\d+)?)-(?P<flavour>[a-z-]+?)-ubuntu\d+\.\d+$")
PY = "/usr/bin/python3.11"
PY_LIB = "/usr/lib/python3.11"
SHIM_DIR = "/usr/lib/kiln-shim"


class BuildError(Exception):
    pass


def parse_image(name: str) -> tuple[str, str, str]:
    """nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04 -> ('12.8', '12.8.1', 'cudnn-devel')."""
    m = IMAGE.search(name)
    cuda = table.load()["cuda"]
    if not m:
        raise BuildError(f"{name}: expected a CUDA image name like nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04 "
                         f"(flavours: base, runtime, cudnn-runtime, devel, cudnn-devel)")
    key = ".".join(m["version"].split(".")[:2])
    if key not in cuda:
        raise BuildError(f"{name}: upstream.json has no cuda.{key} entry (have: {', '.join(cuda)}); add one with its source")
    if m["flavour"] not in cuda[key]["flavours"]:
        raise BuildError(f"{name}: unknown flavour {m['flavour']!r} (upstream.json cuda.{key}.flavours: {', '.join(cuda[key]['flavours'])})")
    return key, m["version"], m["flavour"]


def _copy(src: str, dest: str, mode: int | None = None) -> None:
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copyfile(src, dest)
    os.chmod(dest, mode if mode is not None else (0o755 if os.access(src, os.X_OK) else 0o644))


def _symlink(target: str, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def _write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def _ldd(path: str) -> list[str]:
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m[1])
    return libs


def _copytree(src: str, dest: str, skip: set[str]) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        rel = os.path.relpath(dirpath, src)
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for f in sorted(filenames):
            if f.endswith((".pyc", ".pyo")) or f in skip:
                continue
            s = os.path.join(dirpath, f)
            d = os.path.join(dest, rel, f)
            if os.path.islink(s):
                target = os.readlink(s)
                if target.startswith("/"):
                    continue  # Debian links out of the stdlib (sitecustomize.py -> /etc): not ours
                os.symlink(target, d)
            else:
                _copy(s, d)


def common(root: str, busybox: str, elf_cache: str) -> None:
    t = table.load()
    for d in ("usr/bin", "usr/sbin", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc/ld.so.conf.d", "root", "home", "opt",
              "run", "dev", "proc", "sys", "tmp", "var/log/kiln", "var/lib/apt/lists", "var/cache/apt", "var/lib/kiln-stub",
              "var/tmp", "usr/local/bin", "usr/local/sbin", "usr/local/lib", "usr/local/share", SHIM_DIR.lstrip("/")):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        _symlink(target, os.path.join(root, link))
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chmod(os.path.join(root, "var/tmp"), 0o1777)

    # busybox and its applets, except the tools the shims replace
    _copy(busybox, os.path.join(root, "usr/bin/busybox"), 0o755)
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    for p in sorted(applets):
        if "/" not in p or os.path.basename(p) in SHIMMED:
            continue
        dest = os.path.join(root, p)
        if not os.path.lexists(dest) and not os.path.lexists(os.path.join(root, "usr", p)):
            _symlink("/usr/bin/busybox", dest)

    # the host's bash, its libraries and loader at the same paths; ldd and the static ldconfig
    _copy("/bin/bash", os.path.join(root, "usr/bin/bash"), 0o755)
    for lib in _ldd("/bin/bash") + _ldd(PY):
        name = os.path.basename(lib)
        if name.startswith(("libc.so", "libm.so", "libtinfo.so", "ld-linux")) or lib == "/bin/bash":
            _copy(os.path.realpath(lib), os.path.join(root, lib.lstrip("/")), 0o755)
    _copy("/usr/bin/ldd", os.path.join(root, "usr/bin/ldd"), 0o755)
    _copy("/sbin/ldconfig", os.path.join(root, SHIM_DIR.lstrip("/"), "ldconfig.real"), 0o755)

    # Debian's CPython in a private prefix (not on PATH): its stdlib, lib-dynload and libraries
    py = os.path.join(root, SHIM_DIR.lstrip("/"), "py")
    _copy(PY, os.path.join(py, "bin/python3.11"), 0o755)
    prune = set(t["host_libs"]["python_prune"])
    _copytree(PY_LIB, os.path.join(py, "lib/python3.11"), prune | {"lib-dynload", "EXTERNALLY-MANAGED"})
    _copy(os.path.join(HERE, "standins/py/sitecustomize.py"), os.path.join(py, "lib/python3.11/sitecustomize.py"), 0o644)
    dynload = os.path.join(py, "lib/python3.11/lib-dynload")
    skip = tuple(m + "." for m in t["host_libs"]["python_dynload_skip"])
    private: set[str] = set()
    for f in sorted(os.listdir(os.path.join(PY_LIB, "lib-dynload"))):
        if f.startswith(skip):
            continue
        src = os.path.join(PY_LIB, "lib-dynload", f)
        _copy(src, os.path.join(dynload, f), 0o644)
        private.update(_ldd(src))
    private.update(_ldd(PY))
    for lib in sorted(private):
        name = os.path.basename(lib)
        if name.startswith(("libc.so", "libm.so", "ld-linux", "linux-vdso")):
            continue
        _copy(os.path.realpath(lib), os.path.join(py, "lib", name), 0o644)

    # shims, the Python implementation, the table and the stand-ins
    sh = os.path.join(HERE, "shims")
    for tool in ("apt-get", "python3", "git", "cmake", "ninja", "curl", "wget", "sha256sum"):
        _copy(os.path.join(sh, tool), os.path.join(root, "usr/bin", tool), 0o755)
    _symlink("python3", os.path.join(root, "usr/bin/python3.12"))
    _copy(os.path.join(sh, "ldconfig"), os.path.join(root, "usr/sbin/ldconfig"), 0o755)
    _copy(os.path.join(sh, "lib.sh"), os.path.join(root, SHIM_DIR.lstrip("/"), "lib.sh"), 0o644)
    _copy(os.path.join(sh, "pip"), os.path.join(root, SHIM_DIR.lstrip("/"), "pip"), 0o755)
    _copy(os.path.join(sh, "uv"), os.path.join(root, SHIM_DIR.lstrip("/"), "uv"), 0o755)
    for sub in ("kilnstub", "standins"):
        _copytree(os.path.join(HERE, sub), os.path.join(root, SHIM_DIR.lstrip("/"), sub), {"__pycache__", "rootfs.py"} if sub == "kilnstub" else {"__pycache__"})
    _copy(os.path.join(HERE, "upstream.json"), os.path.join(root, SHIM_DIR.lstrip("/"), "upstream.json"), 0o644)
    wanted = {s.file() for s in elves.all_sigs(t)}
    for f in sorted(wanted):
        _copy(os.path.join(elf_cache, f), os.path.join(root, SHIM_DIR.lstrip("/"), "elf", f), 0o644)

    _write(os.path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    _write(os.path.join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n")
    _write(os.path.join(root, "etc/os-release"), 'PRETTY_NAME="Ubuntu 24.04 LTS (kiln stub world)"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\n')
    # Ubuntu 24.04's loader configuration (libc6)
    _write(os.path.join(root, "etc/ld.so.conf"), "include /etc/ld.so.conf.d/*.conf\n")
    _write(os.path.join(root, "etc/ld.so.conf.d/libc.conf"), "# libc default configuration\n/usr/local/lib\n")
    _write(os.path.join(root, "etc/ld.so.conf.d/x86_64-linux-gnu.conf"),
           "# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n")
    _write(os.path.join(root, "var/log/kiln/shims.log"), "")


def flavour(root: str, key: str, version: str, name: str) -> list[str]:
    """Lay the CUDA layers of a flavour; returns the image's ENV lines."""
    cuda = table.load()["cuda"][key]
    libdir = cuda["libdir"]
    for link, target in cuda["links"].items():
        _symlink(target, root + link)
    for conf, text in cuda["ld_so_conf"].items():
        _write(root + conf, text)
    layers = cuda["flavours"][name]
    for layer_name in layers:
        layer = cuda["layers"][layer_name]
        for lib in layer.get("libs", []):
            apt.lay_lib(lib, libdir, root)
        for path, spec in layer.get("files", {}).items():
            if "shim" in spec:
                _copy(os.path.join(HERE, "shims", spec["shim"]), root + path, 0o755)
            else:
                apt.lay_file(path, spec, root)
        for dev in layer.get("dev_links", []):
            _symlink(f"{dev}.{_soname_suffix(dev, cuda)}", os.path.join(root + libdir, dev))
        for d, links in layer.get("dev_links_in", {}).items():
            for dev in links:
                target = next(os.path.basename(p) for p in sorted(os.listdir(root + d)) if p.startswith(dev + "."))
                _symlink(target, os.path.join(root + d, dev))
        for stub in layer.get("stubs", []):
            apt.lay_lib({"soname": stub["soname"], "file": stub["file"], "dir": libdir + "/stubs"}, libdir, root)
            os.remove(os.path.join(root + libdir, "stubs", stub["soname"]))  # the stubs dir has only libcuda.so
    env = dict(cuda["env"], CUDA_VERSION=version)
    if "devel" in layers:
        env.update(cuda["devel_env"])
    return [f"{k}={env[k]}" for k in sorted(env)]


def _soname_suffix(dev: str, cuda: dict) -> str:
    """libcudart.so -> the major suffix of the soname the runtime layers lay (12)."""
    for lay in cuda["layers"].values():
        for lib in lay.get("libs", []):
            if lib["soname"].startswith(dev + "."):
                return lib["soname"][len(dev) + 1:]
    raise BuildError(f"dev link {dev} has no runtime library in upstream.json")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root, name = argv[0], argv[1]
    busybox = os.environ.get("KILN_STUB_BUSYBOX", "/bin/busybox")
    source = os.path.join(HERE, "elf/stub.c")
    try:
        key, version, flav = parse_image(name)
        elf_cache = os.path.join(os.environ["KILN_STUB_ELF_CACHE"], elves.source_key(source))
        elves.compile_all(table.load(), source, elf_cache)
        common(root, busybox, elf_cache)
        env = flavour(root, key, version, flav)
    except BuildError as e:
        print(f"stub-world: ERROR: {e}", file=sys.stderr)
        return 1
    subprocess.run(["/sbin/ldconfig", "-r", root], check=True)
    # ldconfig's aux-cache records inode numbers and times: not reproducible, and not needed.
    shutil.rmtree(os.path.join(root, "var/cache/ldconfig"), ignore_errors=True)
    for line in env:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
