#!/usr/bin/env python3
"""PRIVACY_MODE connection log: every --interval seconds, one block of lines
naming the TCP connections that leave the pod, from /proc/net/tcp and
/proc/net/tcp6 (no new dependency, no DNS lookup: a reverse lookup would
itself leak). Python 3 standard library only; started by start.sh.

    2025-01-01T12:00:00Z 2 outbound, 1 inbound, 0 loopback
    2025-01-01T12:00:00Z   -> 93.184.216.34:443 x2 (python3 pid 812)

Outbound means the local port is not one this pod listens on; connections to
a listening port (a browser on ComfyUI through the RunPod proxy) only count.
Processes are found through /proc/<pid>/fd (root sees all of them).
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

ESTABLISHED, SYN_SENT, LISTEN = "01", "02", "0A"


def decode(hexaddr: str) -> tuple[str, int]:
    """'0100007F:1F90' -> ('127.0.0.1', 8080). The kernel prints the address
    as 32-bit words in host byte order (little-endian here)."""
    addr, port = hexaddr.split(":")
    raw = bytes.fromhex(addr)
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(raw)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip), int(port, 16)


def read_table(proc: Path) -> list[tuple[str, tuple[str, int], tuple[str, int], str]]:
    rows = []
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) < 10:
                continue
            try:
                rows.append((f[3], decode(f[1]), decode(f[2]), f[9]))
            except ValueError:
                continue
    return rows


def owners(proc: Path) -> dict[str, str]:
    """socket inode -> 'name pid N'."""
    out: dict[str, str] = {}
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            name = (proc / pid / "comm").read_text().strip()
            fds = os.listdir(proc / pid / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(proc / pid / "fd" / fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                out.setdefault(target[8:-1], f"{name} pid {pid}")
    return out


def loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_loopback


def sample(proc: Path) -> list[str]:
    rows = read_table(proc)
    listening = {local[1] for state, local, _r, _i in rows if state == LISTEN}
    who = owners(proc)
    out: Counter[tuple[str, str]] = Counter()
    inbound = local_only = 0
    for state, local, remote, inode in rows:
        if state not in (ESTABLISHED, SYN_SENT):
            continue
        if loopback(remote[0]):
            local_only += 1
        elif local[1] in listening:
            inbound += 1
        else:
            host = f"[{remote[0]}]" if ":" in remote[0] else remote[0]
            out[(f"{host}:{remote[1]}", who.get(inode, "process unknown"))] += 1
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = [f"{ts} {sum(out.values())} outbound, {inbound} inbound, {local_only} loopback"]
    for (dest, proc_name), n in sorted(out.items()):
        lines.append(f"{ts}   -> {dest}" + (f" x{n}" if n > 1 else "") + f" ({proc_name})")
    return lines


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interval", type=float, default=120.0)
    p.add_argument("--out", required=True)
    p.add_argument("--proc", default="/proc", help="procfs root (tests point it at a fixture)")
    p.add_argument("--once", action="store_true")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    proc = Path(args.proc)
    while True:
        lines = sample(proc)
        with open(args.out, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        if args.once:
            return 0
        time.sleep(max(args.interval, 0.2))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
