"""stub uv: the `uv pip` interface Kiln's Dockerfiles use, on the stub pip.

Real uv (docs/pip/environments.md, compatibility.md at astral-sh/uv 26a9dd4)
installs into $VIRTUAL_ENV or --python, reads no PIP_* settings, and takes
-r/-c/--index-url/--no-deps like pip; its cache (--mount=type=cache on
/root/.cache/uv) changes nothing here. Flags that only tune uv itself are
accepted and ignored; anything else fails like uv does."""

from __future__ import annotations

import os
import sys

from . import pip

VERSION = "uv 0.12.5 (kiln stub)"
#: uv-only flags that do not change what gets installed (value-taking ones in the second set).
IGNORED = {"--system", "--no-cache", "--compile-bytecode", "--quiet", "-q", "--verbose", "-v", "--no-progress", "--strict"}
IGNORED_VALUE = {"--link-mode", "--cache-dir", "--color", "--index-strategy"}
SUBCOMMANDS = {"install", "uninstall", "freeze", "list", "show", "check"}


def main(args: list[str]) -> int:
    if args[:1] in (["--version"], ["-V"], ["version"]):
        print(VERSION)
        return 0
    if args[:1] != ["pip"] or len(args) < 2 or args[1] not in SUBCOMMANDS:
        print(f"error: unrecognized subcommand {' '.join(args[:2])!r} (kiln stub uv: `uv pip {'|'.join(sorted(SUBCOMMANDS))}`)", file=sys.stderr)
        return 2
    sub, rest = args[1], args[2:]
    venv = os.environ.get("VIRTUAL_ENV")
    passed: list[str] = []
    i = 0
    while i < len(rest):
        a = rest[i]
        name = a.split("=", 1)[0]
        if name == "--python":
            venv = a.split("=", 1)[1] if "=" in a else rest[i + 1]
            i += 1 if "=" in a else 2
            continue
        if name in IGNORED:
            i += 1
            continue
        if name in IGNORED_VALUE:
            i += 1 if "=" in a else 2
            continue
        passed.append(a)
        i += 1
    if not venv:
        print("error: No virtual environment found; run `uv venv` to create an environment, or pass `--system` to install into a non-virtual environment", file=sys.stderr)
        return 2
    if os.path.isfile(venv):  # --python /opt/venv/bin/python
        venv = os.path.dirname(os.path.dirname(venv))
    if sub == "uninstall" and "-y" not in passed:
        passed.append("-y")  # uv never asks
    return pip.main(["--venv", venv, sub, *passed])
