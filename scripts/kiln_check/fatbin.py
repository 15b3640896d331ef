"""Which GPU architectures an ELF object carries code for, read from its
`.nv_fatbin` section (Python stdlib only, no cuobjdump: the final images rest
on CUDA runtime flavours, which ship no cuobjdump).

Layout, as nvcc writes it (read off nvcc 12.8/13.0 output; the tests compile
real objects with the machine's nvcc and read them back):

  container: u32 magic 0xBA55ED50, u16 version, u16 header size,
             u64 payload size; the entries follow the header.
  entry:     u16 kind (1 = PTX, 2 = ELF/SASS), u16 flags, u32 header size,
             u64 payload size, ..., u32 arch at offset 28 (89 = sm_89, 120 = sm_120;
             an arch-specific 120a build carries 120 and a flag).

A section can hold several containers, padded to 8 bytes. Compressed entries
keep their header uncompressed, so the arch is always readable.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX = 1
KIND_ELF = 2

_CONTAINER = struct.Struct("<IHHQ")
_ENTRY = struct.Struct("<HHIQ")
_ARCH_OFFSET = 28


@dataclass(frozen=True)
class DeviceCode:
    """Archs with SASS (runs as is) and PTX (JIT-compiled by the driver)."""

    sass: frozenset[int]
    ptx: frozenset[int]

    def describe(self) -> str:
        parts = [f"sm_{a}" for a in sorted(self.sass)] + [f"compute_{a} (PTX)" for a in sorted(self.ptx)]
        return ", ".join(parts) if parts else "no device code"


class NotElf(ValueError):
    pass


def elf_sections(data: bytes) -> dict[str, bytes]:
    """Section name -> bytes, for a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF":
        raise NotElf("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise NotElf("not a 64-bit little-endian ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff == 0 or shnum == 0:
        return {}
    headers = []
    for i in range(shnum):
        base = shoff + i * shentsize
        name, kind, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, base)
        headers.append((name, kind, offset, size))
    strtab_off, strtab_size = headers[shstrndx][2], headers[shstrndx][3]
    strtab = data[strtab_off : strtab_off + strtab_size]
    out: dict[str, bytes] = {}
    for name, kind, offset, size in headers:
        end = strtab.find(b"\0", name)
        label = strtab[name:end].decode("ascii", "replace")
        # SHT_NOBITS (8) has no bytes in the file.
        out[label] = b"" if kind == 8 else data[offset : offset + size]
    return out


def parse_fatbin(section: bytes) -> DeviceCode:
    sass: set[int] = set()
    ptx: set[int] = set()
    off = 0
    while off + _CONTAINER.size <= len(section):
        magic, _version, header_size, payload = _CONTAINER.unpack_from(section, off)
        if magic != FATBIN_MAGIC:
            off += 8  # padding between containers
            continue
        pos = off + header_size
        end = min(pos + payload, len(section))
        while pos + _ENTRY.size <= end:
            kind, _flags, entry_header, entry_payload = _ENTRY.unpack_from(section, pos)
            if entry_header < _ARCH_OFFSET + 4:
                raise ValueError(f"fatbin entry header of {entry_header} bytes at offset {pos}")
            arch = struct.unpack_from("<I", section, pos + _ARCH_OFFSET)[0]
            if kind == KIND_ELF:
                sass.add(arch)
            elif kind == KIND_PTX:
                ptx.add(arch)
            pos += entry_header + entry_payload
        off = (end + 7) & ~7
    return DeviceCode(frozenset(sass), frozenset(ptx))


def device_code(data: bytes) -> DeviceCode | None:
    """Archs of the GPU code in an ELF object; None when it holds no GPU code."""
    section = elf_sections(data).get(".nv_fatbin")
    if section is None:
        return None
    return parse_fatbin(section)
