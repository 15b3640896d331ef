"""The stub git: clones lay out what upstream.json `repos` says a repository
holds at a ref (files common to all commits, plus each commit's own files),
`.gitmodules` and EMPTY submodule directories; submodules fill only through
`submodule update --init` (or `clone --recurse-submodules`). Repositories the
table does not know get a generic tree (any ref)."""

from __future__ import annotations

import json
import os
import shutil
import sys

from . import table

STATE = "kiln-stub.json"


class GitError(Exception):
    def __init__(self, message: str, code: int = 128) -> None:
        super().__init__(message)
        self.code = code


def fatal(msg: str) -> GitError:
    return GitError(f"fatal: {msg}", 128)


def _state(root: str) -> dict:
    path = os.path.join(_gitdir(root), STATE)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {}


def _gitdir(root: str) -> str:
    g = os.path.join(root, ".git")
    if os.path.isfile(g):  # a submodule: "gitdir: ../.git/modules/PATH"
        with open(g, encoding="utf-8") as f:
            return os.path.normpath(os.path.join(root, f.read().split(":", 1)[1].strip()))
    return g


def _save(root: str, state: dict) -> None:
    g = _gitdir(root)
    os.makedirs(g, exist_ok=True)
    with open(os.path.join(g, STATE), "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    with open(os.path.join(g, "HEAD"), "w", encoding="utf-8") as f:
        f.write(state.get("commit", "main") + "\n")
    with open(os.path.join(g, "config"), "w", encoding="utf-8") as f:
        f.write(f'[core]\n\tbare = false\n[remote "origin"]\n\turl = {state.get("url", "")}\n')


def toplevel(start: str) -> str:
    d = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        if d == "/":
            raise fatal("not a git repository (or any of the parent directories): .git")
        d = os.path.dirname(d)


def resolve_ref(entry: dict, ref: str | None) -> str | None:
    """A ref the table knows -> its commit; None when it does not know it."""
    if ref is None:
        return entry["default_ref"]
    if ref in entry.get("refs", {}):
        return entry["refs"][ref]
    commits = entry.get("commits", {})
    if ref in commits:
        return ref
    if len(ref) >= 7 and all(c in "0123456789abcdef" for c in ref.lower()):
        hits = [c for c in commits if c.startswith(ref.lower())]
        if len(hits) == 1:
            return hits[0]
    return None


def _files(entry: dict, commit: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    specs = dict(entry.get("files", {}))
    specs.update(entry.get("commits", {}).get(commit, {}).get("files", {}))
    for rel, spec in specs.items():
        if "text" in spec:
            out[rel] = spec["text"].encode()
        else:
            data = {k: v for k, v in spec.items() if k not in ("standin", "source", "verified")}
            out[rel] = table.render_standin(spec["standin"], data or None).encode()
    if entry.get("kind") == "node":
        node = dict(entry["node"])
        node.setdefault("load_files", [])
        out["__init__.py"] = table.render_standin("node/__init__.py", node).encode()
    if entry.get("submodules"):
        text = ""
        for path, sub in entry["submodules"].items():
            text += f'[submodule "{path}"]\n\tpath = {path}\n\turl = {sub["url"]}\n'
            if sub.get("branch"):
                text += f"\tbranch = {sub['branch']}\n"
        out[".gitmodules"] = text.encode()
    return out


def _generic_files(url: str) -> dict[str, bytes]:
    name = url.rstrip("/").split("/")[-1].removesuffix(".git")
    return {
        "requirements.txt": b"packaging\n",
        "setup.py": f"from setuptools import setup\nsetup(name={name.lower()!r})\n".encode(),
        "CMakeLists.txt": f"cmake_minimum_required(VERSION 3.14)\nproject({name})\n".encode(),
    }


def layout(root: str, url: str, ref: str | None, is_clone: bool) -> None:
    """(Re)lay the tree at root for ref; removes the previous commit's own files."""
    name, entry = table.repo(url)
    state = _state(root) if not is_clone else {}
    if entry is None:
        files = _generic_files(url)
        commit = ref or "main"
    else:
        commit = resolve_ref(entry, ref)
        if commit is None:
            if is_clone:
                raise fatal(f"Remote branch {ref} not found in upstream origin")
            raise GitError(f"error: pathspec '{ref}' did not match any file(s) known to git", 1)
        files = _files(entry, commit)
    for rel in state.get("files", []):
        if rel not in files:
            p = os.path.join(root, rel)
            if os.path.isfile(p):
                os.remove(p)
    for rel, data in sorted(files.items()):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    for path in (entry or {}).get("submodules", {}):
        os.makedirs(os.path.join(root, path), exist_ok=True)
    state.update({"url": name or url, "commit": commit, "files": sorted(files), "submodules": state.get("submodules", [])})
    _save(root, state)


def submodule_update(root: str, paths: list[str], recursive: bool, log) -> None:
    state = _state(root)
    _, entry = table.repo(state.get("url", ""))
    subs = (entry or {}).get("submodules", {})
    wanted = paths or list(subs)
    for path in wanted:
        path = path.rstrip("/")
        if path not in subs:
            raise GitError(f"error: pathspec '{path}' did not match any file(s) known to git", 1)
        sub = subs[path]
        dest = os.path.join(root, path)
        if path not in state.get("submodules", []):
            log(f"Submodule '{path}' ({sub['url']}) registered for path '{path}'")
            log(f"Cloning into '{os.path.abspath(dest)}'...")
            os.makedirs(dest, exist_ok=True)
            modules = os.path.join(_gitdir(root), "modules", path)
            os.makedirs(modules, exist_ok=True)
            with open(os.path.join(dest, ".git"), "w", encoding="utf-8") as f:
                f.write(f"gitdir: {os.path.relpath(modules, dest)}\n")
            layout(dest, sub["url"], sub["commit"], is_clone=True)
            log(f"Submodule path '{path}': checked out '{sub['commit']}'")
            state.setdefault("submodules", []).append(path)
            _save(root, state)
        if recursive:
            submodule_update(dest, [], True, log)


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except GitError as e:
        print(str(e), file=sys.stderr)
        return e.code


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def _main(argv: list[str]) -> int:
    args = list(argv)
    while args and args[0] in ("-C", "-c", "--no-pager", "--bare", "-P"):
        if args[0] == "-C":
            if len(args) < 2:
                raise fatal("option '-C' requires a value")
            try:
                os.chdir(args[1])
            except OSError:
                raise fatal(f"cannot change to '{args[1]}': No such file or directory") from None
            args = args[2:]
        elif args[0] == "-c":
            args = args[2:]
        else:
            args = args[1:]
    if not args:
        print("usage: git [-C <path>] <command> [<args>]", file=sys.stderr)
        return 1
    if args[0] == "--version":
        print("git version 2.43.0")
        return 0
    sub, rest = args[0], args[1:]
    if sub == "clone":
        return _clone(rest)
    if sub == "checkout":
        ref = next((a for a in rest if not a.startswith("-")), None)
        if ref is None:
            raise fatal("stub git checkout needs a ref")
        root = toplevel(".")
        layout(root, _state(root).get("url", ""), ref, is_clone=False)
        _log(f"HEAD is now at {_state(root)['commit'][:7]} (kiln stub)")
        return 0
    if sub == "fetch":
        root = toplevel(".")
        pos = [a for i, a in enumerate(rest) if not a.startswith("-") and not (i and rest[i - 1] in ("--depth", "--filter", "-j", "--jobs"))]
        if len(pos) >= 2:
            _, entry = table.repo(_state(root).get("url", ""))
            if entry is not None and resolve_ref(entry, pos[1]) is None:
                raise fatal(f"couldn't find remote ref {pos[1]}")
            with open(os.path.join(_gitdir(root), "FETCH_HEAD"), "w", encoding="utf-8") as f:
                f.write(pos[1] + "\n")
        return 0
    if sub == "reset":
        root = toplevel(".")
        ref = next((a for a in rest if not a.startswith("-")), None)
        if ref == "FETCH_HEAD":
            with open(os.path.join(_gitdir(root), "FETCH_HEAD"), encoding="utf-8") as f:
                ref = f.read().strip()
        if ref and ref != "HEAD":
            layout(root, _state(root).get("url", ""), ref, is_clone=False)
        return 0
    if sub == "submodule":
        if not rest or rest[0] not in ("update", "init", "sync", "status", "foreach"):
            raise fatal("stub git submodule supports update/init/sync/status")
        if rest[0] != "update":
            return 0
        root = toplevel(".")
        opts = rest[1:]
        paths, i = [], 0
        while i < len(opts):
            a = opts[i]
            if a in ("--depth", "--jobs", "-j", "--reference"):
                i += 1
            elif a == "--":
                pass
            elif not a.startswith("-"):
                paths.append(a)
            i += 1
        if "--init" not in opts and not _state(root).get("submodules"):
            return 0  # without --init git updates only initialised submodules: none
        submodule_update(root, paths, "--recursive" in opts, _log)
        return 0
    if sub == "rev-parse":
        root = toplevel(".")
        commit = _state(root).get("commit", "main")
        for a in rest:
            if a == "HEAD":
                print(commit[:7] if "--short" in rest or any(x.startswith("--short=") for x in rest) else commit)
            elif a == "--show-toplevel":
                print(root)
        return 0
    if sub == "init":
        d = rest[0] if rest and not rest[0].startswith("-") else "."
        os.makedirs(os.path.join(d, ".git"), exist_ok=True)
        _save(d, {"url": "", "commit": "main", "files": []})
        return 0
    if sub == "remote":
        if rest[:1] == ["add"] and len(rest) >= 3:
            root = toplevel(".")
            state = _state(root)
            state["url"] = rest[2]
            _save(root, state)
        return 0
    if sub in ("config", "status", "log", "describe", "lfs"):
        return 0
    print(f"git: '{sub}' is not a git command (stub git; extend tools/stub-world/kilnstub/git.py)", file=sys.stderr)
    return 1


def _clone(rest: list[str]) -> int:
    branch, recurse, quiet, pos = None, False, False, []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--depth", "--branch", "-b", "--filter", "--jobs", "-j", "--origin", "-o", "--shallow-since", "--reference"):
            if i + 1 >= len(rest):
                raise fatal(f"option '{a}' requires a value")
            if a in ("--branch", "-b"):
                branch = rest[i + 1]
            i += 2
            continue
        if a.startswith("--branch="):
            branch = a.split("=", 1)[1]
        elif a.startswith("--recurse-submodules"):
            recurse = True
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a == "--":
            pos += rest[i + 1:]
            break
        elif a.startswith("-"):
            pass
        else:
            pos.append(a)
        i += 1
    if not 1 <= len(pos) <= 2:
        raise fatal("You must specify a repository to clone.")
    url = pos[0]
    dest = pos[1] if len(pos) == 2 else url.rstrip("/").split("/")[-1].removesuffix(".git")
    if os.path.exists(dest) and os.listdir(dest):
        raise fatal(f"destination path '{dest}' already exists and is not an empty directory.")
    if not quiet:
        _log(f"Cloning into '{dest}'...")
    os.makedirs(os.path.join(dest, ".git"), exist_ok=True)
    try:
        layout(dest, url, branch, is_clone=True)
    except GitError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    if recurse:
        submodule_update(dest, [], True, _log)
    return 0
