#!/usr/bin/env python3
"""Puts a FileBrowser user's password, as a bcrypt hash, into a file written
by `filebrowser users export` (start.sh then runs `users import --overwrite`).

The password comes from KILN_FB_PASSWORD, never from argv: FileBrowser's own
commands take it only as an argument, visible in `ps`. bcrypt (cost 10, as
FileBrowser's golang.org/x/crypto/bcrypt.DefaultCost) comes from the
system's libcrypt (libxcrypt, in every Ubuntu/Debian base) through ctypes:
Python's standard library has no bcrypt. Standard library only.

Usage: KILN_FB_PASSWORD=... fb_password.py USERS_JSON USERNAME
"""

import ctypes
import ctypes.util
import json
import os
import sys

BCRYPT_PREFIX = b"$2b$"
BCRYPT_COST = 10


def bcrypt_hash(password: str) -> str:
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    # No random bytes given: libxcrypt draws them from the OS.
    salt = lib.crypt_gensalt(BCRYPT_PREFIX, BCRYPT_COST, None, 0)
    hashed = lib.crypt(password.encode("utf-8"), salt) if salt else None
    if not hashed or not hashed.startswith(BCRYPT_PREFIX):
        raise SystemExit("fb_password.py: this system's libcrypt cannot make bcrypt hashes")
    return hashed.decode("ascii")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path, username = argv
    password = os.environ.pop("KILN_FB_PASSWORD", "")
    if not password:
        print("fb_password.py: KILN_FB_PASSWORD is empty", file=sys.stderr)
        return 2
    with open(path, encoding="utf-8") as f:
        users = json.load(f)
    user = next((u for u in users if isinstance(u, dict) and u.get("username") == username), None)
    if user is None:
        print(f"fb_password.py: no user {username!r} in {path}", file=sys.stderr)
        return 1
    user["password"] = bcrypt_hash(password)
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(users, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
