"""Read and patch the stub world's ELF files in place (64-bit little-endian).

The ELF files are compiled once, on the host, by build.sh from elf/stub.c
with reserved room: a `.nv_fatbin` section, a `.kiln_info` section and a long
placeholder RUNPATH. The shims (cmake, pip wheel, nvcc) copy a template and
fill that room, the way CMake's RPATH_CHANGE rewrites a RUNPATH in place.
"""

from __future__ import annotations

import struct

RUNPATH_PLACEHOLDER = "KILNRUNPATH" + "X" * 244
DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 14, 15, 29


class ElfError(ValueError):
    pass


def _check(data: bytes) -> None:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError("not a 64-bit little-endian ELF file")


def sections(data: bytes) -> dict[str, tuple[int, int, int]]:
    """Section name -> (file offset, size, section type)."""
    _check(data)
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    heads = []
    for i in range(shnum):
        name, kind, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        heads.append((name, kind, off, size))
    stroff = heads[shstrndx][2]
    out = {}
    for name, kind, off, size in heads:
        end = data.index(b"\0", stroff + name)
        out[data[stroff + name:end].decode()] = (off, size, kind)
    return out


def set_section(data: bytearray, name: str, payload: bytes) -> None:
    secs = sections(bytes(data))
    if name not in secs:
        raise ElfError(f"no {name} section to fill")
    off, size, _ = secs[name]
    if len(payload) > size:
        raise ElfError(f"{name}: {len(payload)} bytes do not fit in the reserved {size}")
    data[off:off + size] = payload + b"\0" * (size - len(payload))


def _dynamic(data: bytes):
    secs = sections(data)
    if ".dynamic" not in secs:
        return None, None, []
    off, size, _ = secs[".dynamic"]
    entries = [struct.unpack_from("<qQ", data, off + i) for i in range(0, size, 16)]
    return off, secs[".dynstr"][0], entries


def _string(data: bytes, strtab: int, index: int) -> str:
    end = data.index(b"\0", strtab + index)
    return data[strtab + index:end].decode()


def dynamic_info(data: bytes) -> dict:
    """{'needed': [...], 'soname': str|None, 'runpath': str|None}."""
    _, strtab, entries = _dynamic(data)
    info: dict = {"needed": [], "soname": None, "runpath": None}
    for tag, val in entries:
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            info["needed"].append(_string(data, strtab, val))
        elif tag == DT_SONAME:
            info["soname"] = _string(data, strtab, val)
        elif tag in (DT_RUNPATH, DT_RPATH):
            info["runpath"] = _string(data, strtab, val)
    return info


def set_runpath(data: bytearray, value: str | None) -> None:
    """Rewrite the placeholder RUNPATH in place; None drops the entry."""
    dyn, strtab, entries = _dynamic(bytes(data))
    for i, (tag, val) in enumerate(entries):
        if tag == DT_NULL:
            break
        if tag != DT_RUNPATH:
            continue
        old = _string(bytes(data), strtab, val)
        if value is None:
            rest = entries[i + 1:] + [(DT_NULL, 0)]
            for j, (t, v) in enumerate(rest[: len(entries) - i]):
                struct.pack_into("<qQ", data, dyn + (i + j) * 16, t, v)
            return
        raw = value.encode()
        if len(raw) > len(old):
            raise ElfError(f"RUNPATH {value!r} is longer than the {len(old)} bytes reserved")
        data[strtab + val:strtab + val + len(old)] = raw + b"\0" * (len(old) - len(raw))
        return
    raise ElfError("no RUNPATH entry to rewrite")


def set_info(data: bytearray, text: str) -> None:
    set_section(data, ".kiln_info", text.encode())
