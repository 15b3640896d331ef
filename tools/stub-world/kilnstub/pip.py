"""The stub pip (runs on the real interpreter; the bash entry point
/usr/lib/kiln-shim/pip logs the call and passes --venv). Installs real
.dist-info + stand-in modules from upstream.json, resolves like pip (see
resolver.py), builds kernel wheels (kernels.py), and `pip check` reports with
pip's messages."""

from __future__ import annotations

import os
import sys

from . import dists, kernels, resolver, table
from .pep508 import InvalidRequirement, Requirement, canonical

VALUE_OPTS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--progress-bar",
              "--root-user-action", "--only-binary", "--no-binary", "--upgrade-strategy", "-C", "--config-settings",
              "--global-option", "--build-option", "--cache-dir", "--timeout", "--retries", "--python-version",
              "--platform", "--implementation", "--abi", "--target", "-t", "--prefix", "--root", "--src", "--log"}
FLAG_OPTS = {"--no-cache-dir", "--no-deps", "-U", "--upgrade", "--pre", "-q", "--quiet", "-v", "--verbose",
             "--force-reinstall", "--no-index", "--break-system-packages", "--disable-pip-version-check",
             "--no-warn-script-location", "-I", "--ignore-installed", "--prefer-binary", "--require-hashes",
             "--no-compile", "--compile", "--isolated", "--use-pep517", "--no-use-pep517", "--no-clean",
             "--no-build-isolation", "--user", "--no-warn-conflicts", "-qq", "-vv", "--exists-action"}


class PipError(Exception):
    def __init__(self, message: str, code: int = 1, stdout: str = "") -> None:
        super().__init__(message)
        self.code, self.stdout = code, stdout


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + ("" if text.endswith("\n") else "\n"))


def usage_error(cmd: str, opt: str) -> PipError:
    return PipError(f"\nUsage:   \n  pip {cmd} [options] ...\n\nno such option: {opt}", 2)


def parse(cmd: str, args: list[str]) -> tuple[dict, list[str]]:
    opts: dict = {"reqs": [], "cons": [], "specs": [], "editable": [], "index": None, "extra": [], "wheel_dir": None}
    i = 0
    while i < len(args):
        a = args[i]
        val = None
        if a.startswith("--") and "=" in a:
            a, val = a.split("=", 1)
        takes = a in VALUE_OPTS or a in ("-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-w", "--wheel-dir")
        if takes and val is None:
            if i + 1 >= len(args):
                raise PipError(f"{a} option requires 1 argument", 2)
            i += 1
            val = args[i]
        if a in ("-r", "--requirement"):
            opts["reqs"].append(val)
        elif a in ("-c", "--constraint"):
            opts["cons"].append(val)
        elif a in ("-e", "--editable"):
            opts["editable"].append(val)
        elif a in ("-w", "--wheel-dir"):
            if cmd != "wheel":
                raise usage_error(cmd, a)
            opts["wheel_dir"] = val
        elif a in ("-i", "--index-url"):
            opts["index"] = val
        elif a == "--extra-index-url":
            opts["extra"].append(val)
        elif a in VALUE_OPTS:
            pass
        elif a in FLAG_OPTS:
            opts[a.lstrip("-")] = True
        elif a.startswith("-") and a != "-":
            raise usage_error(cmd, a)
        else:
            opts["specs"].append(a)
        i += 1
    return opts, opts["specs"]


def req_lines(path: str, origin: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(requirement, origin label) lines of a requirements file, and the nested -c files."""
    if not os.path.isfile(path):
        raise PipError(f"ERROR: Could not open requirements file: [Errno 2] No such file or directory: '{path}'")
    lines, cons = [], []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.split(" #")[0].strip()
            if line.startswith("#") or not line:
                continue
            if line.startswith(("-r ", "--requirement ")):
                sub, sub_cons = req_lines(os.path.join(os.path.dirname(path), line.split(None, 1)[1]), origin)
                lines += sub
                cons += sub_cons
            elif line.startswith(("-c ", "--constraint ")):
                cons.append(os.path.join(os.path.dirname(path), line.split(None, 1)[1]))
            elif line.startswith("-"):
                continue  # --index-url and friends inside a file: accepted, not emulated
            else:
                lines.append((line, f"-r {path} (line {n})"))
    return lines, cons


def indexes_of(opts: dict) -> list[str]:
    urls = [opts["index"] or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"]
    urls += opts["extra"] + [u for u in os.environ.get("PIP_EXTRA_INDEX_URL", "").split() if u]
    if opts.get("no-index"):
        urls = []
    out = []
    for u in urls:
        key = table.index_for_url(u)
        if key is None:
            raise PipError(f"ERROR: kiln stub pip: index {u} is not in upstream.json indexes (add it there)")
        if key not in out:
            out.append(key)
    return out


def is_path(spec: str) -> bool:
    return spec in (".", "..") or spec.startswith(("./", "../", "/")) or os.path.isdir(spec)


class Pip:
    def __init__(self, venv: str) -> None:
        self.venv = venv
        self.site = os.path.join(venv, table.load()["python"]["site_packages"])
        os.makedirs(self.site, exist_ok=True)

    def run(self, argv: list[str]) -> int:
        if not argv:
            err("\nUsage:   \n  pip <command> [options]\n")
            return 1
        cmd, args = argv[0], argv[1:]
        if cmd in ("--version", "-V"):
            have = dists.installed(self.site).get("pip")
            out(f"pip {have.version if have else table.load()['python']['pip_version']} from {self.site}/pip (python 3.12)")
            return 0
        handler = {"install": self.install, "wheel": self.wheel, "check": self.check, "freeze": self.freeze,
                   "list": self.list, "show": self.show, "uninstall": self.uninstall}.get(cmd)
        if handler is None:
            if cmd in ("config", "cache", "debug", "download", "hash", "inspect"):
                return 0
            err(f'ERROR: unknown command "{cmd}"')
            return 1
        try:
            return handler(args)
        except PipError as e:
            if e.stdout:
                sys.stdout.write(e.stdout)
            err(str(e))
            return e.code
        except resolver.ResolutionError as e:
            sys.stderr.write(e.stderr.split("\n", 1)[0] + "\n")
            sys.stdout.write(e.stdout)
            rest = e.stderr.split("\n", 1)[1] if "\n" in e.stderr else ""
            sys.stderr.write(rest)
            return 1

    # ------------------------------------------------------------ install / wheel
    def _requests(self, opts: dict, specs: list[str]) -> tuple[list[tuple[str, str]], list[Requirement]]:
        lines = [(s, "user") for s in specs + opts["editable"]]
        cons_files = list(opts["cons"]) + [p for p in os.environ.get("PIP_CONSTRAINT", "").split() if p]
        for path in opts["reqs"]:
            sub, sub_cons = req_lines(path, "user")
            lines += sub
            cons_files += sub_cons
        cons = []
        for path in cons_files:
            for text, _ in req_lines(path, "constraint")[0]:
                cons.append(self._req(text))
        # pip's own rule (cli/req_command.py): an error only when nothing at all was named;
        # `-r` of an empty file installs nothing and exits 0 (rgthree-comfy's requirements.txt).
        if not lines and not opts["reqs"]:
            cmd = "wheel" if opts.get("wheel_dir") is not None else "install"
            raise PipError(f'ERROR: You must give at least one requirement to {cmd} (see "pip help {cmd}")')
        return lines, cons

    @staticmethod
    def _req(text: str) -> Requirement:
        try:
            return Requirement(text)
        except InvalidRequirement:
            raise PipError(f"ERROR: Invalid requirement: '{text}'") from None

    def install(self, args: list[str]) -> int:
        opts, specs = parse("install", args)
        lines, cons = self._requests(opts, specs)
        installed = dists.installed(self.site)
        changed: set[str] = set()
        roots: list[tuple[Requirement, str]] = []
        for text, _ in lines:
            if text.endswith(".whl") or "/" in text and text.split("/")[-1].endswith(".whl"):
                changed.add(self._install_wheel(text))
            elif is_path(text):
                changed.add(self._install_source(text, opts))
            elif text.startswith("git+"):
                url = text[4:].split("#")[0].rsplit("@", 1)[0]
                name = url.rstrip("/").split("/")[-1].removesuffix(".git")
                out(f"Collecting {name}@ {text}")
                dists.write_dist(self.site, name, "0.0.0", [], dists.standin_files(name, "0.0.0", table.package(name)))
                changed.add(canonical(name))
            else:
                roots.append((self._req(text), "user"))
        if roots:
            idx = indexes_of(opts)
            if opts["index"] or opts["extra"]:
                out("Looking in indexes: " + ", ".join([opts["index"] or "https://pypi.org/simple"] + opts["extra"]))
            r = resolver.Resolver(dists.installed(self.site), idx, cons, upgrade=bool(opts.get("U") or opts.get("upgrade")),
                                  force=bool(opts.get("force-reinstall")), no_deps=bool(opts.get("no-deps")))
            picked = r.resolve(roots)
            plan = []
            for key in r.order:
                pick = picked[key]
                if isinstance(pick, dists.Dist):
                    out(f"Requirement already satisfied: {pick.name} in {self.site} ({pick.version})")
                else:
                    out(f"Collecting {pick.name}=={pick.version}" + ("" if pick.known else "  (kiln stub: not in upstream.json; no dependencies)"))
                    plan.append(pick)
            if plan:
                plan.sort(key=lambda p: r.order.index(p.key))
                plan = list(reversed(plan))  # dependencies were queued after their dependents
                out("Installing collected packages: " + ", ".join(p.name for p in plan))
                for pick in plan:
                    old = dists.installed(self.site).get(pick.key)
                    if old is not None:
                        out(f"  Attempting uninstall: {old.name}\n    Found existing installation: {old.name} {old.version}\n"
                            f"    Uninstalling {old.name}-{old.version}:\n      Successfully uninstalled {old.name}-{old.version}")
                        dists.remove(self.site, old)
                    self._write(pick)
                    changed.add(pick.key)
        self._warn_conflicts(changed, opts)
        if changed:
            now = dists.installed(self.site)
            out("Successfully installed " + " ".join(f"{now[k].name}-{now[k].version}" for k in sorted(changed) if k in now))
        return 0

    def _write(self, pick: resolver.Candidate) -> None:
        entry = table.package(pick.name)
        scripts = {s: dists.console_script(self.venv, s, pick.name, pick.version) for s in (entry or {}).get("scripts", [])}
        dists.write_dist(self.site, pick.name, pick.version, pick.requires,
                         dists.standin_files(pick.name, pick.version, entry, pick.build), scripts)
        # Binaries a wheel ships as such (uv's Rust binary lands in the venv's bin/): a link to the shim.
        for name, target in (entry or {}).get("bin_links", {}).items():
            link = os.path.join(self.venv, "bin", name)
            if os.path.lexists(link):
                os.remove(link)
            os.symlink(target, link)

    def _install_wheel(self, path: str) -> str:
        if not os.path.isfile(path):
            err(f"WARNING: Requirement '{path}' looks like a filename, but the file does not exist")
            raise PipError(f"ERROR: Invalid wheel filename (wrong number of parts): '{os.path.basename(path)}'")
        name = os.path.basename(path).split("-")[0]
        out(f"Processing {path}")
        old = dists.installed(self.site).get(canonical(name))
        if old is not None:
            dists.remove(self.site, old)
        dist = dists.install_wheel(self.site, path)
        return dist.key

    def _build(self, src: str, opts: dict, wheel_dir: str) -> str:
        build = kernels.source_build(src)
        if build is None:
            if not (os.path.isfile(os.path.join(src, "setup.py")) or os.path.isfile(os.path.join(src, "pyproject.toml"))):
                raise PipError(f"ERROR: Directory '{src}' is not installable. Neither 'setup.py' nor 'pyproject.toml' found.")
            name = os.path.basename(os.path.abspath(src)).lower()
            data = dists.build_wheel_bytes({f"{dists.underscored(name)}/__init__.py": b"__version__ = '0.0.0'\n"}, name, "0.0.0", [])
            path = os.path.join(wheel_dir, f"{dists.underscored(name)}-0.0.0-py3-none-any.whl")
            os.makedirs(wheel_dir, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            return path
        rule = table.load()["kernel_builds"][build]
        pyproject = os.path.isfile(os.path.join(src, "pyproject.toml"))
        how = "pyproject.toml" if pyproject else "setup.py"
        out(f"Processing {os.path.abspath(src)}")
        output: list[str] = []
        try:
            path = kernels.build(src, build, dict(os.environ), self.site, not opts.get("no-build-isolation"), wheel_dir, output.append)
        except kernels.BuildFailed as e:
            body = "\n".join(output + ["Traceback (most recent call last):", '  File "<string>", line 2, in <module>',
                                       f'  File "{os.path.abspath(src)}/setup.py", line 1, in <module>', str(e)])
            if e.stage == "metadata":
                out(f"  Preparing metadata ({how}) ... error")
                title = f"Preparing metadata ({how}) did not run successfully." if pyproject else "python setup.py egg_info did not run successfully."
                tail = "error: metadata-generation-failed\n\n× Encountered error while generating package metadata.\n╰─> See above for output."
            else:
                out(f"  Preparing metadata ({how}) ... done")
                out(f"Building wheels for collected packages: {rule['dist']}")
                out(f"  Building wheel for {rule['dist']} ({how}) ... error")
                title = f"Building wheel for {rule['dist']} ({how}) did not run successfully."
                tail = f"  ERROR: Failed building wheel for {rule['dist']}\nFailed to build {rule['dist']}\nERROR: Failed to build installable wheels for some pyproject.toml based projects ({rule['dist']})"
            lines = body.splitlines()
            raise PipError(f"  error: subprocess-exited-with-error\n  \n  × {title}\n  │ exit code: 1\n  ╰─> [{len(lines)} lines of output]\n"
                           + "".join(f"      {line}\n" for line in lines)
                           + "      [end of output]\n  \n  note: This error originates from a subprocess, and is likely not a problem with pip.\n" + tail)
        for line in output:
            out(line)
        out(f"Building wheels for collected packages: {rule['dist']}")
        out(f"  Building wheel for {rule['dist']} ({how}) ... done")
        out(f"  Created wheel for {rule['dist']}: filename={os.path.basename(path)}")
        return path

    def _install_source(self, src: str, opts: dict) -> str:
        if not os.path.isdir(src):
            raise PipError(f"ERROR: Invalid requirement: '{src}'\nHint: It looks like a path. File '{src}' does not exist.")
        wheel_dir = os.path.join(self.venv, ".kiln-build")
        path = self._build(src, opts, wheel_dir)
        key = self._install_wheel(path)
        os.remove(path)
        return key

    def wheel(self, args: list[str]) -> int:
        opts, specs = parse("wheel", args)
        wheel_dir = opts["wheel_dir"] or os.getcwd()
        if not specs and not opts["reqs"]:
            raise PipError('ERROR: You must give at least one requirement to wheel (see "pip help wheel")')
        saved = []
        for spec in specs:
            if is_path(spec):
                if not os.path.isdir(spec):
                    raise PipError(f"ERROR: Invalid requirement: '{spec}'")
                path = self._build(spec, opts, wheel_dir)
            else:
                req = self._req(spec)
                version = next((s.version for s in req.specifier.specs if s.op == "=="), "1.0.0")
                path = os.path.join(wheel_dir, f"{dists.underscored(req.name)}-{version}-py3-none-any.whl")
                os.makedirs(wheel_dir, exist_ok=True)
                with open(path, "wb") as f:
                    f.write(dists.build_wheel_bytes({}, req.name, version, []))
            saved.append(path)
        for path in saved:
            out(f"  Stored in directory: {os.path.dirname(os.path.abspath(path))}")
        out("Successfully built " + " ".join(os.path.basename(p).split("-")[0] for p in saved))
        return 0

    # ------------------------------------------------------------ check / list
    def _warn_conflicts(self, changed: set[str], opts: dict) -> None:
        if not changed or opts.get("no-warn-conflicts"):
            return
        now = dists.installed(self.site)
        missing, conflicting = resolver.broken(now, resolver.install_whitelist(now, changed))
        if not missing and not conflicting:
            return
        lines = ["ERROR: pip's dependency resolver does not currently take into account all the packages that are "
                 "installed. This behaviour is the source of the following dependency conflicts."]
        for dist, req in missing:
            lines.append(f"{dist.key} {dist.version} requires {req}, which is not installed.")
        for dist, req, dep in conflicting:
            lines.append(f"{dist.key} {dist.version} requires {req}, but you have {dep.key} {dep.version} which is incompatible.")
        err("\n".join(lines))

    def check(self, args: list[str]) -> int:
        missing, conflicting = resolver.broken(dists.installed(self.site))
        for dist, req in missing:
            out(f"{dist.key} {dist.version} requires {req.key}, which is not installed.")
        for dist, req, dep in conflicting:
            out(f"{dist.key} {dist.version} has requirement {req}, but you have {dep.key} {dep.version}.")
        if missing or conflicting:
            return 1
        out("No broken requirements found.")
        return 0

    def freeze(self, args: list[str]) -> int:
        for d in sorted(dists.installed(self.site).values(), key=lambda d: d.key):
            out(f"{d.name}=={d.version}")
        return 0

    def list(self, args: list[str]) -> int:
        rows = sorted(dists.installed(self.site).values(), key=lambda d: d.key)
        width = max([7] + [len(d.name) for d in rows])
        out(f"{'Package':<{width}} Version")
        out(f"{'-' * width} -------")
        for d in rows:
            out(f"{d.name:<{width}} {d.version}")
        return 0

    def show(self, args: list[str]) -> int:
        have = dists.installed(self.site)
        names = [a for a in args if not a.startswith("-")]
        found = [have[canonical(n)] for n in names if canonical(n) in have]
        for i, d in enumerate(found):
            if i:
                out("---")
            out(f"Name: {d.name}\nVersion: {d.version}\nLocation: {self.site}\nRequires: "
                + ", ".join(sorted({Requirement(r).name for r in d.requires if Requirement(r).applies()})))
        missing = [n for n in names if canonical(n) not in have]
        if missing:
            err("WARNING: Package(s) not found: " + ", ".join(missing))
        return 1 if missing else 0

    def uninstall(self, args: list[str]) -> int:
        have = dists.installed(self.site)
        for a in args:
            if a in ("-y", "--yes", "-q", "--quiet"):
                continue
            if a.startswith("-"):
                raise usage_error("uninstall", a)
            d = have.get(canonical(a))
            if d is None:
                err(f"WARNING: Skipping {a} as it is not installed.")
                continue
            out(f"Found existing installation: {d.name} {d.version}\nUninstalling {d.name}-{d.version}:\n  Successfully uninstalled {d.name}-{d.version}")
            dists.remove(self.site, d)
        return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--venv":
        err("kiln stub pip: internal usage: pip --venv DIR ARGS")
        return 2
    venv = argv[1]
    if not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
        err(f"stub pip: {venv} is not a virtualenv (the stub pip exists only in venvs)")
        return 1
    return Pip(venv).run(argv[2:])
