"""Installed distributions in a venv's site-packages: real `.dist-info`
directories (METADATA, RECORD, INSTALLER, top_level.txt, WHEEL) plus the
stand-in modules, console scripts, and real wheel archives (zip)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field

from . import elves, table
from .pep508 import Requirement, canonical, underscored

ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class Dist:
    name: str
    version: str
    requires: list[str] = field(default_factory=list)
    path: str = ""  # the .dist-info dir

    @property
    def key(self) -> str:
        return canonical(self.name)


def metadata_text(name: str, version: str, requires: list[str], extra: dict[str, str] | None = None) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n"


def parse_metadata(text: str) -> tuple[str, str, list[str]]:
    name = version = ""
    requires = []
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "Name":
            name = value
        elif key == "Version":
            version = value
        elif key == "Requires-Dist":
            requires.append(value)
    return name, version, requires


def installed(site: str) -> dict[str, Dist]:
    out: dict[str, Dist] = {}
    if not os.path.isdir(site):
        return out
    for entry in sorted(os.listdir(site)):
        if not entry.endswith(".dist-info"):
            continue
        meta = os.path.join(site, entry, "METADATA")
        if not os.path.isfile(meta):
            continue
        with open(meta, encoding="utf-8") as f:
            name, version, requires = parse_metadata(f.read())
        if name:
            out[canonical(name)] = Dist(name, version, requires, os.path.join(site, entry))
    return out


def _record_line(rel: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def standin_files(name: str, version: str, entry: dict | None, index_build: str | None = None) -> dict[str, bytes]:
    """site-packages relative path -> content for a table package (or an unknown one)."""
    entry = entry or {}
    modules = entry.get("modules") or [underscored(name)]
    files: dict[str, bytes] = {}
    kind = entry.get("standin", "module")
    # Real ELF libraries the package ships (e.g. nvidia/cudnn/lib/libcudnn.so.9), for ldd.
    for lib in entry.get("libs", []):
        files[lib["path"]] = bytes(elves.template(elves.package_lib(lib)))
    if kind == "none":
        return files
    if kind == "torch":
        build = index_build or "cpu"
        idx = table.load()["indexes"].get(build, {})
        data = {"version": version if "+" in version else f"{version}+{build}", "cuda": idx.get("cuda"), "arch_list": idx.get("arch_list", [])}
        for rel in ("__init__.py", "version.py", "_C.py"):
            files[f"torch/{rel}"] = table.render_standin(f"torch/{rel}", data).encode()
        files["torch/cuda.py"] = table.render_standin("torch/cuda.py").encode()
        return files
    for module in modules:
        if kind == "onnxruntime":
            text = table.render_standin("onnxruntime/__init__.py", {"version": version, "providers": entry.get("providers", [])})
        else:
            text = table.render_standin("module/__init__.py", {
                "version": version,
                "imports": entry.get("imports", []),
                "import_requires": entry.get("import_requires", {}),
            })
        files[f"{module}/__init__.py"] = text.encode()
    return files


def console_script(venv: str, script: str, dist: str, version: str) -> bytes:
    return (f"#!{venv}/bin/python\n# kiln stub console script '{script}' of {dist} {version}\n"
            f"import sys\nprint('{script} {version} (kiln stub) ' + ' '.join(sys.argv[1:]))\n").encode()


def write_dist(site: str, name: str, version: str, requires: list[str], files: dict[str, bytes],
               scripts: dict[str, bytes] | None = None, extra_meta: dict[str, str] | None = None,
               extra_info: dict[str, bytes] | None = None) -> Dist:
    """Install files + a real .dist-info; scripts go to the venv's bin/."""
    info_rel = f"{underscored(name)}-{version}.dist-info"
    info = {
        "METADATA": metadata_text(name, version, requires, extra_meta).encode(),
        "INSTALLER": b"pip\n",
        "WHEEL": b"Wheel-Version: 1.0\nGenerator: kiln-stub\nRoot-Is-Purelib: false\nTag: cp312-cp312-linux_x86_64\n",
        "top_level.txt": ("\n".join(sorted({p.split("/")[0].split(".")[0] for p in files})) + "\n").encode(),
    }
    info.update(extra_info or {})
    record = []
    for rel in sorted(files):
        _write(os.path.join(site, rel), files[rel])
        record.append(_record_line(rel, files[rel]))
    bindir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(site))), "bin")
    for script, data in sorted((scripts or {}).items()):
        path = os.path.join(bindir, script)
        _write(path, data, executable=True)
        record.append(_record_line(os.path.relpath(path, site), data))
    for fname in sorted(info):
        _write(os.path.join(site, info_rel, fname), info[fname])
        record.append(_record_line(f"{info_rel}/{fname}", info[fname]))
    record.append(f"{info_rel}/RECORD,,")
    _write(os.path.join(site, info_rel, "RECORD"), ("\n".join(record) + "\n").encode())
    return Dist(name, version, requires, os.path.join(site, info_rel))


def _write(path: str, data: bytes, executable: bool = False) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.islink(path) or os.path.exists(path):
        os.remove(path)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o755 if executable else 0o644)


def remove(site: str, dist: Dist) -> None:
    record = os.path.join(dist.path, "RECORD")
    dirs = set()
    if os.path.isfile(record):
        with open(record, encoding="utf-8") as f:
            for line in f:
                rel = line.rsplit(",", 2)[0]
                if not rel:
                    continue
                path = os.path.normpath(os.path.join(site, rel))
                if os.path.isfile(path) or os.path.islink(path):
                    os.remove(path)
                dirs.add(os.path.dirname(path))
    shutil.rmtree(dist.path, ignore_errors=True)
    for d in sorted(dirs, key=len, reverse=True):
        while d.startswith(site) and d != site and os.path.isdir(d) and not os.listdir(d):
            os.rmdir(d)
            d = os.path.dirname(d)


def build_wheel_bytes(files: dict[str, bytes], name: str, version: str, requires: list[str],
                      extra_info: dict[str, bytes] | None = None, executable: set[str] | None = None) -> bytes:
    """A real wheel (zip): files + .dist-info with RECORD, deterministic bytes."""
    info_rel = f"{underscored(name)}-{version}.dist-info"
    members = dict(files)
    members[f"{info_rel}/METADATA"] = metadata_text(name, version, requires).encode()
    members[f"{info_rel}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: kiln-stub\nRoot-Is-Purelib: false\nTag: cp312-cp312-linux_x86_64\n"
    members[f"{info_rel}/top_level.txt"] = ("\n".join(sorted({p.split("/")[0].split(".")[0] for p in files})) + "\n").encode()
    for k, v in (extra_info or {}).items():
        members[f"{info_rel}/{k}"] = v
    record = [_record_line(rel, members[rel]) for rel in sorted(members)] + [f"{info_rel}/RECORD,,"]
    members[f"{info_rel}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for rel in sorted(members):
            zi = zipfile.ZipInfo(rel, ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if (executable and rel in executable) or rel.endswith(".so") else 0o644
            zi.external_attr = (stat.S_IFREG | mode) << 16
            z.writestr(zi, members[rel])
    return buf.getvalue()


def install_wheel(site: str, path: str) -> Dist:
    """Unpack a wheel into site-packages (pip install --no-deps X.whl)."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        info_dirs = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        if len(info_dirs) != 1:
            raise ValueError(f"{os.path.basename(path)} has {len(info_dirs)} .dist-info directories")
        info_rel = info_dirs.pop()
        for n in names:
            if n.endswith("/"):
                continue
            data = z.read(n)
            mode = (z.getinfo(n).external_attr >> 16) & 0o777
            _write(os.path.join(site, n), data, executable=bool(mode & 0o111))
    installer = os.path.join(site, info_rel, "INSTALLER")
    _write(installer, b"pip\n")
    with open(os.path.join(site, info_rel, "RECORD"), "a", encoding="utf-8") as f:
        f.write(_record_line(f"{info_rel}/INSTALLER", b"pip\n") + "\n")
    with open(os.path.join(site, info_rel, "METADATA"), encoding="utf-8") as f:
        name, version, requires = parse_metadata(f.read())
    return Dist(name, version, requires, os.path.join(site, info_rel))


def requirement_list(dist: Dist) -> list[Requirement]:
    out = []
    for r in dist.requires:
        try:
            out.append(Requirement(r))
        except ValueError:
            continue
    return out
