"""The table of upstream behaviours (upstream.json) and the lookups on it."""

from __future__ import annotations

import fnmatch
import json
import os
import re

from .pep508 import canonical

# In the image: /usr/lib/kiln-shim/upstream.json; on the host: next to this package.
_HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_PATHS = [os.environ.get("KILN_STUB_TABLE", ""), os.path.join(os.path.dirname(_HERE), "upstream.json")]
STANDINS = os.path.join(os.path.dirname(_HERE), "standins")

_cache: dict | None = None


def load() -> dict:
    global _cache
    if _cache is None:
        for path in TABLE_PATHS:
            if path and os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    _cache = json.load(f)
                break
        else:
            raise FileNotFoundError(f"kiln stub: no upstream.json at {TABLE_PATHS}")
    return _cache


def repo_key(url: str) -> str:
    """https://github.com/Owner/Repo.git/ -> https://github.com/owner/repo (for matching)."""
    u = url.strip().rstrip("/")
    if u.endswith(".git"):
        u = u[:-4]
    u = re.sub(r"^git@github\.com:", "https://github.com/", u)
    u = re.sub(r"^(git|http)://", "https://", u)
    return u.lower()


def repo(url: str) -> tuple[str, dict] | tuple[None, None]:
    key = repo_key(url)
    for name, entry in load()["repos"].items():
        if repo_key(name) == key or key in (repo_key(a) for a in entry.get("aliases", [])):
            return name, entry
    return None, None


def package(name: str) -> dict | None:
    return load()["packages"].get(canonical(name))


def index_for_url(url: str) -> str | None:
    u = url.rstrip("/")
    for key, idx in load()["indexes"].items():
        if idx["url"].rstrip("/") == u or (key == "pypi" and u in ("https://pypi.org/simple", "https://pypi.python.org/simple")):
            return key
    return None


def index_hosts(index: str, name: str) -> bool:
    idx = load()["indexes"][index]
    if "hosts" not in idx:
        return True
    return any(fnmatch.fnmatch(canonical(name), pattern) for pattern in idx["hosts"])


def standin_path(rel: str) -> str:
    return os.path.join(STANDINS, rel)


def render_standin(rel: str, data: object = None) -> str:
    """A stand-in source file; its `KILN = None` line becomes the data literal."""
    with open(standin_path(rel), encoding="utf-8") as f:
        text = f.read()
    if data is not None:
        marker = "KILN = None  # filled in by the stub world"
        if marker not in text:
            raise ValueError(f"stand-in {rel} has no data marker")
        text = text.replace(marker, "KILN = " + pylit(data), 1)
    return text


def pylit(obj: object) -> str:
    """A Python literal for JSON-like data, keys sorted (deterministic files)."""
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{pylit(k)}: {pylit(obj[k])}" for k in sorted(obj)) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(pylit(v) for v in obj) + "]"
    return repr(obj)
