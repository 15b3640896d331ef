"""Stand-in for an installed distribution (kiln stub world, tools/stub-world):
importable, carries the installed version, imports what the real module
imports at load time and refuses to load where the real one cannot."""
import sys as _sys

KILN = None  # filled in by the stub world

__version__ = KILN["version"]


def _version_tuple(text):
    out = []
    for part in text.split("+")[0].split("."):
        digits = "".join(c for c in part if c.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


for _dep, _spec in KILN.get("import_requires", {}).items():
    # Only ">=X" is used in upstream.json: a binary built against numpy 2.
    _have = __import__(_dep).__version__
    if _spec.startswith(">=") and _version_tuple(_have) < _version_tuple(_spec[2:]):
        print(f"RuntimeError: module compiled against ABI version 0x2000000 but this version of {_dep} is 0x1000009", file=_sys.stderr)
        raise ImportError(f"{_dep}._core.multiarray failed to import")

for _name in KILN.get("imports", []):
    __import__(_name)
