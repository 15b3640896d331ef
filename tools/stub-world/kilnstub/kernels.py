"""Building CUDA kernel wheels (SageAttention, FlashAttention) from their
source trees, as their setup.py does at the pinned commits: the same checks in
the same order, the same messages, and a REAL wheel whose extension modules
are ELF files carrying exactly the archs the build selected in `.nv_fatbin`.
Rules: upstream.json kernel_builds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

from . import dists, elf, elves, fatbin, table
from .pep440 import Version

EXT_SUFFIX = ".cpython-312-x86_64-linux-gnu.so"


class BuildFailed(Exception):
    """message: the tail of the setup.py output; stage: metadata | wheel."""

    def __init__(self, message: str, stage: str = "metadata") -> None:
        super().__init__(message)
        self.stage = stage


def source_build(src: str) -> str | None:
    """Which kernel_builds entry a source tree is (its stand-in setup.py says)."""
    setup = os.path.join(src, "setup.py")
    if not os.path.isfile(setup):
        return None
    with open(setup, encoding="utf-8") as f:
        m = re.search(r"""^KILN = \{.*['"]build['"]: ['"]([\w.-]+)['"]""", f.read(), re.M)
    return m[1] if m else None


def _has_module(site: str, module: str) -> bool:
    return any(os.path.exists(os.path.join(site, p)) for p in (module, module + ".py"))


def _cuda_home(env: dict) -> str | None:
    """torch.utils.cpp_extension._find_cuda_home: CUDA_HOME/CUDA_PATH, nvcc on PATH, /usr/local/cuda."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(var):
            return env[var]
    nvcc = shutil.which("nvcc", path=env.get("PATH"))
    if nvcc:
        return os.path.dirname(os.path.dirname(nvcc))
    return "/usr/local/cuda" if os.path.exists("/usr/local/cuda") else None


def _nvcc_version(cuda_home: str, env: dict) -> Version:
    nvcc = os.path.join(cuda_home, "bin", "nvcc")
    if not os.path.exists(nvcc):
        raise BuildFailed(f"FileNotFoundError: [Errno 2] No such file or directory: '{nvcc}'")
    out = subprocess.run([nvcc, "-V"], env=env, capture_output=True, text=True, check=True).stdout.split()
    return Version(out[out.index("release") + 1].split(",")[0])


def _torch_caps(value: str) -> list[str]:
    """SageAttention setup.py's TORCH_CUDA_ARCH_LIST parsing (eb615cf)."""
    caps: list[str] = []
    for item in value.replace(",", ";").split(";"):
        it = item.strip()
        if not it:
            continue
        it = it.lower().replace("sm_", "").replace("compute_", "").replace("a", "")
        if it.endswith("+ptx"):
            cap = f"{it[:-4]}+PTX"
        else:
            cap = f"{it[0]}.{it[1]}" if len(it) == 2 and it.isdigit() else it
        if cap not in caps:
            caps.append(cap)
    return caps


def _gencodes_sage(rule: dict, caps: list[str], nvcc: Version) -> list[tuple[str, str]]:
    arch = rule["archs"]
    for cap, need in arch["min_nvcc"].items():
        if nvcc < Version(need) and any(c.startswith(cap) for c in caps):
            raise BuildFailed(f"RuntimeError: CUDA {need} or higher is required for compute capability {cap}.")
    out = []
    for cap in caps:
        num = next((n for c, n in arch["supported"].items() if cap.startswith(c)), None)
        if num is None:
            continue  # setup.py skips capabilities it has no branch for
        out.append(("sass", num))
        if cap.endswith("+PTX"):
            out.append(("ptx", num))
    return out


def _gencodes_flash(rule: dict, env: dict, nvcc: Version) -> list[tuple[str, str]]:
    arch = rule["archs"]
    wanted = env.get(arch["env"], arch["default"]).split(";")
    out = []
    for code, num in arch["supported"].items():
        need = arch["min_nvcc"].get(code)
        if code in wanted and (need is None or nvcc >= Version(need)):
            out.append(("sass", num))
    if not out:
        raise BuildFailed(arch["when_empty"], "wheel")
    return out


def _entries(codes: list[tuple[str, str]]) -> list[tuple[str, int, bool]]:
    return [(kind, int(num.rstrip("af")), num.endswith(("a", "f"))) for kind, num in codes]


def _extension(codes: list[tuple[str, str]], info: str) -> bytes:
    data = elves.template(elves.kernel_sig())
    elf.set_section(data, ".nv_fatbin", fatbin.build(_entries(codes)))
    elf.set_info(data, info)
    return bytes(data)


def build(src: str, name: str, env: dict, site: str, isolated: bool, wheel_dir: str, log) -> str:
    """Build the wheel into wheel_dir; returns its path. log(line) prints setup.py output."""
    rule = table.load()["kernel_builds"][name]
    src = os.path.abspath(src)
    available = set(rule["build_imports"]) - {"torch"} if isolated else None
    for module in rule["build_imports"]:
        ok = module in available if isolated else _has_module(site, module)
        if not ok:
            raise BuildFailed(f"ModuleNotFoundError: No module named '{module}'")
    nvcc: Version | None = None
    if name == "flash_attn":
        if os.path.isdir(os.path.join(src, ".git")):
            for path in rule["git_submodules_when_dot_git"]:
                r = subprocess.run(["git", "submodule", "update", "--init", path], cwd=src, env=env)
                if r.returncode:
                    raise BuildFailed(f"subprocess.CalledProcessError: Command '['git', 'submodule', 'update', '--init', '{path}']' returned non-zero exit status {r.returncode}.")
        elif not os.path.exists(os.path.join(src, rule["assert_without_dot_git"]["path"])):
            raise BuildFailed(f"AssertionError: {rule['assert_without_dot_git']['message']}")
        log(f"\n\ntorch.__version__  = {_torch_version(site)}\n\n")
        cuda_home = _cuda_home(env)
        if cuda_home is None:
            log("UserWarning: flash_attn was requested, but nvcc was not found.  Are you sure your environment has nvcc available?")
            raise BuildFailed("OSError: CUDA_HOME environment variable is not set. Please set it to your CUDA install root.", "wheel")
        nvcc = _nvcc_version(cuda_home, env)
        if nvcc < Version("11.7"):
            raise BuildFailed("RuntimeError: FlashAttention is only supported on CUDA 11.7 and above.  Note: make sure nvcc has a supported version by running nvcc -V.")
        version = rule["version"] + (f"+{env['FLASH_ATTN_LOCAL_VERSION']}" if env.get("FLASH_ATTN_LOCAL_VERSION") else "")
        if env.get(rule["force_build_env"], "FALSE") != "TRUE":
            pre = rule["prebuilt"]
            torch_mm = ".".join(_torch_version(site).split("+")[0].split(".")[:2])
            log("Guessing wheel URL:  " + pre["url"].format(version=version, torch_mm=torch_mm))
            codes = [("sass", a) for a in pre["archs"].split(";")]
            how = "prebuilt (kiln stub: the wheel upstream's CI built, archs per upstream.json)"
        else:
            if not env.get("MAX_JOBS") and not _has_module(site, rule["max_jobs_unset_imports"]):
                raise BuildFailed(f"ModuleNotFoundError: No module named '{rule['max_jobs_unset_imports']}'", "wheel")
            codes = _gencodes_flash(rule, env, nvcc)
            how = "built from source"
    else:
        cuda_home = _cuda_home(env)
        if cuda_home is None:
            raise BuildFailed("RuntimeError: Cannot find CUDA_HOME. CUDA must be available to build the package.")
        caps = _torch_caps(env.get(rule["archs"]["env"], "").strip())
        nvcc = _nvcc_version(cuda_home, env)
        if not caps:
            raise BuildFailed("RuntimeError: " + rule["archs"]["when_empty"])
        log("Target compute capabilities: {" + ", ".join(repr(c) for c in caps) + "}")
        if nvcc < Version("12.0"):
            raise BuildFailed("RuntimeError: CUDA 12.0 or higher is required to build the package.")
        codes = _gencodes_sage(rule, caps, nvcc)
        version = rule["version"]
        how = "built from source"
    nums = {n for _, n in codes}
    for fail in rule.get("fails", []):
        if set(fail["when"]["archs_include"]) <= nums:
            raise BuildFailed(fail["message"], "wheel")
    build_env = {k: env[k] for k in sorted(env) if k in _BUILD_VARS}
    record = {"dist": rule["dist"], "version": version, "how": how, "nvcc": str(nvcc), "env": build_env,
              "gencode": [f"arch=compute_{n},code={'sm' if k == 'sass' else 'compute'}_{n}" for k, n in codes],
              "source": src, "source_ref": _source_ref(src)}
    info = json.dumps(record, indent=1, sort_keys=True) + "\n"
    sage_exts = None
    if name == "sageattention":
        # setup.py builds an extension only when one of its archs is in the list.
        sage_exts = [e for e, when in rule["extensions"].items() if not when["when_any"] or nums & set(when["when_any"])]
    files = _package_files(rule, codes, info, version, sage_exts)
    data = dists.build_wheel_bytes(files, rule["dist"], version, rule.get("requires", []), {"kiln_build.json": info.encode()})
    os.makedirs(wheel_dir, exist_ok=True)
    path = os.path.join(wheel_dir, f"{rule['dist']}-{version}-cp312-cp312-linux_x86_64.whl")
    with open(path, "wb") as f:
        f.write(data)
    return path


def _package_files(rule: dict, codes: list, info: str, version: str, sage_exts: list[str] | None) -> dict[str, bytes]:
    """The files of a kernel wheel: its compiled extensions (Sage's inside the
    package, the others' at the top level) and the package's __init__.py."""
    pkg = rule["package"]
    files: dict[str, bytes] = {}
    exts: list[list[str]] = []
    if sage_exts is not None:
        placed = [(ext, "package", f"{pkg['dir']}/{ext}{EXT_SUFFIX}") for ext in sage_exts]
    else:
        placed = [(ext, "top", f"{ext}{EXT_SUFFIX}") for ext in pkg["extensions_top"]]
    for ext, place, path in placed:
        files[path] = _extension(codes, info)
        exts.append([ext, place])
    files[f"{pkg['dir']}/__init__.py"] = table.render_standin("kernel/package_init.py", {
        "version": version, "imports": pkg["imports"], "extensions": exts, "ext_suffix": EXT_SUFFIX, "exports": pkg["exports"],
    }).encode()
    return files


def prebuilt_wheel(url: str, dest: str) -> str:
    """What a download of a prebuilt kernel wheel leaves: the wheel upstream.json
    describes for that exact URL (its dist, version and archs), as a real zip."""
    entry = table.load().get("prebuilt_wheels", {}).get(url)
    if entry is None:
        raise BuildFailed(f"kiln stub: no prebuilt wheel for {url} in upstream.json prebuilt_wheels (add it, with its source)", "download")
    rule = table.load()["kernel_builds"][entry["build"]]
    version = os.path.basename(dest).split("-")[1]
    codes = [("sass", a) for a in entry["archs"].split(";")]
    info = json.dumps({"dist": rule["dist"], "version": version, "how": "prebuilt", "url": url,
                       "gencode": [f"arch=compute_{n},code=sm_{n}" for _, n in codes]}, indent=1, sort_keys=True) + "\n"
    files = _package_files(rule, codes, info, version, list(rule["extensions"]) if entry["build"] == "sageattention" else None)
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with open(dest, "wb") as f:
        f.write(dists.build_wheel_bytes(files, rule["dist"], version, rule.get("requires", []), {"kiln_build.json": info.encode()}))
    return dest


_BUILD_VARS = {"TORCH_CUDA_ARCH_LIST", "FLASH_ATTN_CUDA_ARCHS", "MAX_JOBS", "NVCC_THREADS", "NVCC_APPEND_FLAGS",
               "EXT_PARALLEL", "FLASH_ATTENTION_FORCE_BUILD", "CUDA_HOME", "FLASH_ATTN_LOCAL_VERSION"}


def _torch_version(site: str) -> str:
    for d in dists.installed(site).values():
        if d.key == "torch":
            return d.version
    return "unknown"


def _source_ref(src: str) -> str | None:
    head = os.path.join(src, ".git", "HEAD")
    if os.path.isfile(head):
        with open(head, encoding="utf-8") as f:
            return f.read().strip()
    return None
