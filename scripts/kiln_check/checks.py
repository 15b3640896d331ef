"""The checks. Each takes its spec entry (written by `kiln generate`, see
src/graph/checks.ts) and the context, and raises Failure with what is wrong
and what to change; the spec entry carries the fix, because only Kiln knows
which definition file and field produced the image."""

from __future__ import annotations

import glob
import importlib.metadata
import json
import os
import re
import subprocess
from dataclasses import dataclass, field

from fatbin import NotElf, device_code


class Failure(Exception):
    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Context:
    python: str
    comfyui: str


@dataclass
class Outcome:
    summary: str = ""
    notes: list[str] = field(default_factory=list)


def run(argv: list[str], timeout: int, cwd: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise Failure(f"{' '.join(argv)} did not finish in {timeout} s", "find what hangs by running the command in the image") from e
    except OSError as e:
        raise Failure(f"cannot run {argv[0]}: {e}", "the image lacks a program the checks need; rebuild it from the generated Dockerfile") from e


def tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def python_probe(ctx: Context, code: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter per probe: one import that crashes or hangs cannot hide the others.
    return run([ctx.python, "-c", code], timeout)


# ------------------------------------------------------------------ torch

TORCH_PROBE = """
import json, torch
# get_arch_list() answers [] without a GPU; the compiled flags do not need one.
flags = getattr(torch._C, "_cuda_getArchFlags", None)
archs = (flags() or "").split() if flags else torch.cuda.get_arch_list()
print(json.dumps({"version": torch.__version__, "cuda": torch.version.cuda, "archs": archs}))
"""

ARCH = re.compile(r"^(sm|compute)_(\d+)([a-z]?)$")


def runs_on(sm: int, archs: list[str]) -> str | None:
    """The entry of a compiled arch list that runs best on compute capability `sm`, or None.

    CUDA's compatibility rules (CUDA C++ Programming Guide, "Binary
    Compatibility" and "PTX Compatibility"): SASS for X.y runs on X.z for
    z >= y (same major); arch-specific SASS (sm_90a) runs only on its own
    arch; PTX for N is JIT-compiled on any arch >= N. SASS is preferred
    (no JIT at first use), the nearest arch first.
    """
    sass, ptx = [], []
    for a in archs:
        m = ARCH.match(a)
        if not m:
            continue
        kind, n, suffix = m.group(1), int(m.group(2)), m.group(3)
        if kind == "sm" and ((suffix and n == sm) or (not suffix and n // 10 == sm // 10 and n <= sm)):
            sass.append((n, a))
        elif kind == "compute" and not suffix and n <= sm:
            ptx.append((n, a))
    best = max(sass) if sass else max(ptx) if ptx else None
    return best[1] if best else None


def check_torch(entry: dict, ctx: Context) -> Outcome:
    r = python_probe(ctx, TORCH_PROBE)
    if r.returncode != 0:
        raise Failure(f"import torch failed:\n{tail(r.stderr)}", entry["fix"])
    info = json.loads(r.stdout.strip().splitlines()[-1])
    problems = []
    if info["cuda"] != entry["cuda"]:
        problems.append(f"torch {info['version']} is built for CUDA {info['cuda']}, the image's profile says {entry['cuda']}")
    for gpu in entry["gpus"]:
        if runs_on(gpu["sm"], info["archs"]) is None:
            problems.append(
                f"torch {info['version']} has no code that runs on {gpu['name']} (sm_{gpu['sm']}); compiled for: {' '.join(info['archs']) or 'nothing'}"
            )
    if problems:
        raise Failure("\n".join(problems), entry["fix"])
    found = ", ".join(f"{g['name']} via {runs_on(g['sm'], info['archs'])}" for g in entry["gpus"])
    return Outcome(f"torch {info['version']}, CUDA {info['cuda']}, {found}")


# ---------------------------------------------------------------- imports


def check_imports(entry: dict, ctx: Context) -> Outcome:
    problems = []
    for m in entry["modules"]:
        code = f"import {m['module']}"
        if m.get("probe"):
            code += f"\nassert {m['probe']}, {m['probe']!r}"
        r = python_probe(ctx, code)
        if r.returncode != 0:
            problems.append(f"{m['module']} ({m['dist']}): {tail(r.stderr, 6)}\n  fix: {m['fix']}")
    if problems:
        raise Failure("\n".join(problems), "see the fix under each module")
    return Outcome(", ".join(m["module"] for m in entry["modules"]))


# -------------------------------------------------------------- pip check

PIP_CONFLICT = re.compile(r"^(?P<pkg>\S+) (?P<ver>\S+) has requirement (?P<req>.+), but you have (?P<have>\S+) (?P<havever>\S+)\.$")
PIP_MISSING = re.compile(r"^(?P<pkg>\S+) (?P<ver>\S+) requires (?P<req>\S+), which is not installed\.$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_pip(entry: dict, ctx: Context) -> Outcome:
    r = run([ctx.python, "-m", "pip", "check"], 300)
    if r.returncode == 0:
        return Outcome("no broken requirements")
    allowed = entry.get("allow", [])
    broken, notes = [], []
    for line in r.stdout.splitlines():
        m = PIP_CONFLICT.match(line) or PIP_MISSING.match(line)
        if not m:
            continue
        # pip prints the requirement with its environment marker ("numpy>=2; python_version >= \"3.9\""):
        # an allowance may name it with or without the marker.
        req = m["req"].split(";")[0].strip()
        rule = next((a for a in allowed if normalize(a["package"]) == normalize(m["pkg"]) and a["requirement"] in (m["req"], req)), None)
        if rule:
            notes.append(f"allowed: {line} ({rule['reason']})")
        else:
            broken.append(line)
    if not broken and notes:
        return Outcome(f"{len(notes)} allowed conflict(s)", notes)
    if not broken:
        raise Failure(f"pip check failed:\n{tail(r.stdout + r.stderr)}", entry["fix"])
    raise Failure("pip check found broken requirements:\n" + "\n".join(broken), entry["fix"])


# ------------------------------------------------------------ custom nodes

IMPORT_LINE = re.compile(r"^\s*[\d.]+ seconds(?P<failed> \((?:IMPORT|PRESTARTUP) FAILED\))?: (?P<path>\S.*)$")
CANNOT_IMPORT = re.compile(r"^Cannot import (?P<path>\S+) module for custom nodes: (?P<error>.*)$")


def check_custom_nodes(entry: dict, ctx: Context) -> Outcome:
    # ComfyUI's own CI mode loads every custom node, then exits 0 even when one failed
    # (main.py: `if args.quick_test_for_ci: exit(0)`), so its output is what tells.
    argv = [ctx.python, "main.py", "--quick-test-for-ci", "--cpu"]
    r = run(argv, entry.get("timeout", 900), cwd=ctx.comfyui)
    out = r.stdout + "\n" + r.stderr
    if r.returncode != 0:
        raise Failure(f"ComfyUI did not start ({' '.join(argv[1:])}, exit {r.returncode}):\n{tail(out, 20)}", entry["fix"])
    loaded: dict[str, bool] = {}
    errors: dict[str, str] = {}
    for line in out.splitlines():
        m = IMPORT_LINE.match(line)
        if m:
            name = os.path.basename(m["path"].rstrip("/"))
            loaded[name] = loaded.get(name, True) and not m["failed"]
        c = CANNOT_IMPORT.match(line.strip())
        if c:
            errors[os.path.basename(c["path"].rstrip("/"))] = c["error"]
    problems = []
    for node in entry["nodes"]:
        name = node["name"]
        if name not in loaded:
            problems.append(f"{name}: not in ComfyUI's list of imported custom nodes (is custom_nodes/{name} there?)\n  fix: {node['fix']}")
        elif not loaded[name]:
            why = errors.get(name, "see the traceback in the build log")
            problems.append(f"{name}: IMPORT FAILED: {why}\n  fix: {node['fix']}")
    if problems:
        raise Failure("\n".join(problems), "see the fix under each node; the build log above holds ComfyUI's tracebacks")
    return Outcome(f"{len(entry['nodes'])} custom nodes loaded")


# ------------------------------------------------------------ shared libs


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def check_shared_libs(entry: dict, ctx: Context) -> Outcome:
    ignore = set(entry.get("ignore", []))
    env = dict(os.environ)
    extra = [d for pattern in entry.get("libraryPath", []) for d in sorted(glob.glob(pattern))]
    if extra:
        env["LD_LIBRARY_PATH"] = ":".join(extra + [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p])
    problems, fixes, seen = [], [], 0
    for pattern in entry["paths"]:
        found = len(problems)
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            problems.append(f"{pattern}: nothing there")
        for path in matches:
            if os.path.islink(path) and not os.path.exists(path):
                problems.append(f"{path} -> {os.readlink(path)}: the link points at nothing")
                continue
            if os.path.isdir(path) or not is_elf(path):
                continue
            seen += 1
            # From /: a RUNPATH with an empty entry would otherwise find libraries in the cwd.
            r = run(["ldd", path], 60, cwd="/", env=env)
            missing = sorted({line.split()[0] for line in r.stdout.splitlines() if "=> not found" in line} - ignore)
            if missing:
                problems.append(f"{path} needs {', '.join(missing)}, which the dynamic linker cannot find")
        # The fix of the owner of this pattern (llama.cpp's install, a template package), once.
        fix = entry.get("fixes", {}).get(pattern)
        if len(problems) > found and fix and fix not in fixes:
            fixes.append(fix)
    if problems:
        raise Failure("\n".join(problems), "\n".join(fixes) or entry["fix"])
    return Outcome(f"{seen} ELF files resolve" + (f" (except {', '.join(sorted(ignore))}, from the driver)" if ignore else ""))


# ------------------------------------------------------------ kernel arch


def dist_files(dist: str) -> list[str]:
    try:
        d = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError as e:
        raise Failure(f"{dist} is not installed", f"install {dist} (enable its feature) or drop the check") from e
    return sorted(str(d.locate_file(f)) for f in (d.files or []) if str(f).endswith(".so"))


def check_kernel_arch(entry: dict, ctx: Context) -> Outcome:
    """Built by Kiln (`sass`): SASS for exactly those archs, PTX only among them.
    Prebuilt (`runsOn`): every object with GPU code has code that runs on that
    compute capability (a release wheel may carry more archs)."""
    want = set(entry.get("sass", []))
    runs_on_sm = entry.get("runsOn")
    problems, summary = [], []
    for obj in entry["objects"]:
        files = dist_files(obj["dist"]) if "dist" in obj else sorted(p for g in obj["paths"] for p in glob.glob(g))
        with_code, wrong = 0, []
        for path in files:
            try:
                with open(path, "rb") as f:
                    code = device_code(f.read())
            except (OSError, NotElf, ValueError) as e:
                wrong.append(f"{path}: cannot read: {e}")
                continue
            if code is None:
                continue
            with_code += 1
            if runs_on_sm is not None:
                archs = [f"sm_{a}" for a in sorted(code.sass)] + [f"compute_{a}" for a in sorted(code.ptx)]
                if runs_on(runs_on_sm, archs) is None:
                    wrong.append(f"{path} holds {code.describe()}; nothing of it runs on {entry['gpu']} (sm_{runs_on_sm})")
            elif set(code.sass) != want or not set(code.ptx) <= want:
                wrong.append(f"{path} holds {code.describe()}; {entry['gpu']} needs exactly {', '.join(f'sm_{a}' for a in sorted(want))}")
        if with_code == 0:
            wrong.append(f"{obj['label']}: no object with GPU code among {len(files)} file(s)")
        if wrong:
            problems.append("\n".join(wrong) + f"\n  built by {obj['builtBy']}; fix: {obj['fix']}")
        summary.append(f"{obj['label']}: {with_code} object(s)")
    if problems:
        raise Failure("\n".join(problems), entry["fix"])
    if runs_on_sm is not None:
        return Outcome(f"{', '.join(summary)} with code for sm_{runs_on_sm}")
    return Outcome(f"{', '.join(summary)} with sm_{'/'.join(str(a) for a in sorted(want))} only")


# ------------------------------------------------------------ host keys


def check_no_host_keys(entry: dict, ctx: Context) -> Outcome:
    found = sorted(p for pattern in entry["paths"] for p in glob.glob(pattern))
    if found:
        raise Failure(
            "private SSH host keys are baked into the image (every pod would share them):\n" + "\n".join(found),
            entry["fix"],
        )
    return Outcome("none")


CHECKS = {
    "torch": check_torch,
    "imports": check_imports,
    "pip-check": check_pip,
    "custom-nodes": check_custom_nodes,
    "shared-libs": check_shared_libs,
    "kernel-arch": check_kernel_arch,
    "no-host-keys": check_no_host_keys,
}
