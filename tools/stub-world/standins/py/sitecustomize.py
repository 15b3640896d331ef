"""sitecustomize of the stub world's real interpreter (/usr/lib/kiln-shim/py).

The python3 shim runs this CPython for everything but `-m venv`, `-m pip` and
`--version`. It passes, in the environment:
  KILN_PY_EXECUTABLE  the path the shim was invoked as (becomes sys.executable,
                      so `sys.executable -m pip` goes back through the shims);
  KILN_PY_VENV        the venv the shim belongs to, if any: its
                      lib/python3.12/site-packages joins sys.path (with .pth
                      files), and sys.prefix points at it, as in a real venv.
Read from os.environ, so `-I`/`-E` runs get them too. Never writes bytecode.
"""
import os
import site
import sys

sys.dont_write_bytecode = True
_exe = os.environ.get("KILN_PY_EXECUTABLE")
if _exe:
    sys.executable = _exe
_venv = os.environ.get("KILN_PY_VENV")
if _venv:
    _site = os.path.join(_venv, "lib", "python3.12", "site-packages")
    if os.path.isdir(_site):
        site.addsitedir(_site)
    sys.prefix = sys.exec_prefix = _venv
del _exe, _venv
