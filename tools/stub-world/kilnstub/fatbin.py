"""Write `.nv_fatbin` contents the way nvcc lays them out.

Layout read off real nvcc 13.0 output on the build machine (k.cu compiled with
-gencode arch=compute_89,code=[compute_89,sm_89] and compute_120a), and the
one scripts/kiln_check/fatbin.py parses:
  container: u32 0xBA55ED50, u16 version 1, u16 header size 16, u64 payload size;
  ELF (SASS) entry header, 64 bytes: u16 kind 2, u16 0x0101, u32 64, u64 payload
    size, ..., u16 8 and u16 1 at 24, u32 arch at 28, u32 0x11 at 40
    (0x01100011 for an arch-specific `a` target);
  PTX entry header, 80 bytes: kind 1, u16 0 and u16 9 at 24, arch at 28,
    u32 0x8011 at 40 (0x108011 for `a`).
Payloads here are a short tag, not real device code.
"""

from __future__ import annotations

import struct

MAGIC = 0xBA55ED50


def _entry(kind: str, arch: int, specific: bool) -> bytes:
    tag = f"kiln stub {kind} {arch}{'a' if specific else ''}".encode()
    payload = (b"\x7fELF" if kind == "sass" else b"//  ") + tag
    payload += b"\0" * (-len(payload) % 8 or 8)
    if kind == "sass":
        head = bytearray(64)
        struct.pack_into("<HHIQ", head, 0, 2, 0x0101, 64, len(payload))
        struct.pack_into("<HHI", head, 24, 8, 1, arch)
        struct.pack_into("<I", head, 40, 0x01100011 if specific else 0x11)
    else:
        head = bytearray(80)
        struct.pack_into("<HHIQ", head, 0, 1, 0x0101, 80, len(payload))
        struct.pack_into("<HHI", head, 24, 0, 9, arch)
        struct.pack_into("<I", head, 40, 0x108011 if specific else 0x8011)
    return bytes(head) + payload


def build(codes: list[tuple[str, int, bool]]) -> bytes:
    """codes: (kind 'sass'|'ptx', arch number, arch-specific `a`)."""
    if not codes:
        return b""
    body = b"".join(_entry(k, a, s) for k, a, s in codes)
    return struct.pack("<IHHQ", MAGIC, 1, 16, len(body)) + body


def parse_gencode(value: str) -> list[tuple[str, int, bool]]:
    """nvcc's `arch=compute_89,code=[compute_89,sm_89]` -> entries."""
    out = []
    parts = dict(p.split("=", 1) for p in value.replace(",code=", ";code=").split(";") if "=" in p)
    codes = parts.get("code", parts.get("arch", "")).strip("[]").replace('"', "").split(",")
    for code in codes:
        code = code.strip()
        for prefix, kind in (("sm_", "sass"), ("compute_", "ptx")):
            if code.startswith(prefix):
                num = code[len(prefix):]
                specific = num.endswith(("a", "f"))
                out.append((kind, int(num.rstrip("af")), specific))
    return out
