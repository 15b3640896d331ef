"""The stub apt-get: `install` needs `update` first and -y, like apt-get in a
Dockerfile; installing a package lays down what upstream.json `apt` says the
real package leaves (libraries, programs, postinst effects such as
openssh-server's host keys) and runs the ldconfig trigger."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from . import elf, elves, table

LISTS = "/var/lib/apt/lists"
RECORD = "/var/lib/kiln-stub/apt-installed"
LDCONFIG = "/usr/lib/kiln-shim/ldconfig.real"


def closure(names: list[str]) -> list[str]:
    apt = table.load()["apt"]
    out: list[str] = []

    def add(name: str) -> None:
        entry = apt.get(name, {})
        if entry.get("alias_of"):
            name = entry["alias_of"]
            entry = apt[name]
        for dep in entry.get("depends", []):
            add(dep)
        if name not in out:
            out.append(name)

    for n in names:
        add(n)
    return out


def lay_lib(lib: dict, default_dir: str, root: str = "/") -> None:
    """A library from the table: its file (an ELF with the SONAME) + the soname link."""
    d = root.rstrip("/") + lib.get("dir", default_dir)
    os.makedirs(d, exist_ok=True)
    data = elves.template(elves.plain_lib(lib["soname"]), root.rstrip("/") + elves.ELF_DIR)
    file = lib.get("file", lib["soname"])
    path = os.path.join(d, file)
    if os.path.lexists(path):
        os.remove(path)
    with open(path, "wb") as f:
        f.write(bytes(data))
    os.chmod(path, 0o644)
    if file != lib["soname"]:
        link = os.path.join(d, lib["soname"])
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(file, link)


def lay_file(path: str, spec: dict, root: str = "/") -> None:
    full = root.rstrip("/") + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if "text" in spec:
        data, mode = spec["text"].encode(), 0o644
    else:
        with open(table.standin_path(spec["standin"]), "rb") as f:
            data = f.read()
        mode = 0o755
    if os.path.lexists(full):
        os.remove(full)
    with open(full, "wb") as f:
        f.write(data)
    os.chmod(full, mode)


def host_key(kind: str) -> None:
    path = f"/etc/ssh/ssh_host_{kind}_key"
    os.makedirs("/etc/ssh", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"-----BEGIN OPENSSH PRIVATE KEY----- (kiln stub {kind})\n{secrets.token_hex(24)}\n")
    os.chmod(path, 0o600)
    with open(path + ".pub", "w", encoding="utf-8") as f:
        f.write(f"ssh-{kind} {secrets.token_hex(12)} root@buildkitsandbox\n")


def install(pkgs: list[str]) -> None:
    apt = table.load()["apt"]
    libs = False
    for name in closure(pkgs):
        entry = apt.get(name, {})
        print(f"Setting up {name} (kiln stub) ...")
        for lib in entry.get("libs", []):
            lay_lib(lib, "/usr/lib/x86_64-linux-gnu")
            libs = True
        for path, spec in entry.get("files", {}).items():
            lay_file(path, spec)
        for kind in entry.get("postinst", {}).get("host_keys", []):
            if not os.path.exists(f"/etc/ssh/ssh_host_{kind}_key"):
                print(f"Creating SSH2 {kind.upper()} key; this may take some time ...")
                host_key(kind)
        os.makedirs(os.path.dirname(RECORD), exist_ok=True)
        with open(RECORD, "a", encoding="utf-8") as f:
            f.write(name + "\n")
    if libs and os.path.exists(LDCONFIG):
        print("Processing triggers for libc-bin (kiln stub) ...")
        subprocess.run([LDCONFIG], check=False)


def main(argv: list[str]) -> int:
    yes, cmd, pkgs = False, None, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-y", "--yes", "--assume-yes", "-qq"):
            yes = True
        elif a in ("-o", "-t", "--target-release"):
            i += 1
        elif a.startswith(("-o", "--option=", "-t", "--target-release=")) or a in (
                "-q", "--quiet", "--no-install-recommends", "--no-install-suggests", "-f", "--fix-broken",
                "--fix-missing", "--allow-downgrades", "--allow-change-held-packages", "--reinstall", "--purge",
                "--auto-remove"):
            pass
        elif a.startswith("-"):
            print(f"E: Command line option '{a}' is not understood in combination with the other options", file=sys.stderr)
            return 100
        elif cmd is None:
            cmd = a
        else:
            pkgs.append(a.split("=")[0])
        i += 1
    if cmd == "update":
        os.makedirs(LISTS, exist_ok=True)
        open(os.path.join(LISTS, "kiln-stub_dists_noble_main_binary-amd64_Packages"), "w").close()
        print("Reading package lists... Done")
        return 0
    if cmd == "install":
        if not os.path.isdir(LISTS) or not any(n.endswith("_Packages") for n in os.listdir(LISTS)):
            for p in pkgs:
                print(f"E: Unable to locate package {p}", file=sys.stderr)
            return 100
        if not yes:
            print("Do you want to continue? [Y/n] Abort.", file=sys.stderr)
            return 1
        print("Reading package lists... Done\nBuilding dependency tree... Done")
        install(pkgs)
        return 0
    if cmd in ("clean", "autoclean", "autoremove", "remove", "purge", "upgrade", "dist-upgrade"):
        return 0
    if cmd is None:
        print("E: no operation given (stub apt-get)", file=sys.stderr)
        return 100
    print(f"E: Invalid operation {cmd}", file=sys.stderr)
    return 100
