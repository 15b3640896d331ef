"""Where a model's partial file, its sidecar and its lock live, and the lock itself."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import urllib.parse
from pathlib import Path

from .config import Config
from .log import log
from .manifest import Item


def temp_stem(rel: str) -> str:
    """A temp name per model path, injective ('/' is quoted, and so is '%'):
    loras/a__b and loras__a/b never share one."""
    q = urllib.parse.quote(rel, safe="")
    return q if len(q) <= 150 else "h-" + hashlib.sha256(rel.encode()).hexdigest()


def temp_dir_for(cfg: Config, dest: Path) -> Path:
    if os.stat(dest.parent).st_dev != os.stat(cfg.tmp_dir).st_dev:
        # The folder is on another filesystem (a link to another disk): a
        # rename would not be atomic, so the partial waits next to it in a
        # hidden dir whose .part files ComfyUI ignores.
        d = dest.parent / ".kiln-tmp"
        d.mkdir(exist_ok=True)
        return d
    return cfg.tmp_dir


def temp_paths(cfg: Config, item: Item, dest: Path) -> tuple[Path, Path, Path]:
    """(partial file, its sidecar, its lock file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    base = temp_dir_for(cfg, dest) / temp_stem(item.rel)
    return base.with_name(base.name + ".part"), base.with_name(base.name + ".part.json"), base.with_name(base.name + ".lock")


class FileLock:
    """An exclusive flock on <stem>.lock. Another fetcher holding it means the
    model is in progress there: wait for it, then look again."""

    def __init__(self, path: Path, label: str):
        self.path, self.label = path, label
        self.f = None
        self.waited = False

    def __enter__(self) -> FileLock:
        while True:
            f = open(self.path, "a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip()
                if not self.waited:
                    who = f" (pid {holder})" if holder.isdigit() else ""
                    log(f"{self.label}: in progress in another fetcher{who}; waiting for it")
                self.waited = True
                fcntl.flock(f, fcntl.LOCK_EX)
            # The holder removes the file when done: a lock on a removed file
            # guards nothing, so take the lock again on the current one.
            try:
                same = os.fstat(f.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            f.close()
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self.f = f
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if self.f:
            self.f.close()


def is_locked_elsewhere(lock_path: Path) -> bool:
    try:
        fd = os.open(lock_path, os.O_RDONLY)  # no lock file: nobody holds it (and none is made)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
