"""Stand-in for a CUDA kernel package built by the stub pip (kiln stub world).
Imports what the real package imports, then its compiled extensions: a
missing extension .so fails like `from . import _fused` does for real."""
import os

KILN = None  # filled in by the stub world

__version__ = KILN["version"]

for _name in KILN["imports"]:
    __import__(_name)

_pkg_dir = os.path.dirname(os.path.abspath(__file__))
for _ext, _where in KILN["extensions"]:
    _base = _pkg_dir if _where == "package" else os.path.dirname(_pkg_dir)
    _so = os.path.join(_base, _ext + KILN["ext_suffix"])
    if not os.path.isfile(_so):
        if _where == "package":
            raise ImportError(f"cannot import name '{_ext}' from '{__name__}' ({__file__})")
        raise ModuleNotFoundError(f"No module named '{_ext}'", name=_ext)
    with open(_so, "rb") as _f:
        if _f.read(4) != b"\x7fELF":
            raise ImportError(f"{_so}: invalid ELF header")

for _fn in KILN["exports"]:
    globals()[_fn] = lambda *args, _n=_fn, **kwargs: (_ for _ in ()).throw(RuntimeError(f"{_n}: no GPU in the kiln stub world"))
