"""The free-space check before any transfer.

Bytes already in a resumable partial count as downloaded. When the rest does
not fit, partial files this run cannot use (models no longer asked for,
partials without a sidecar) are removed first, unless another fetcher holds
them: a failed download's leftovers never block a later start.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from .config import Config
from .log import debug, human, log
from .manifest import Item
from .segments import PartState
from .partfiles import is_locked_elsewhere, temp_paths, temp_stem

PART_SUFFIXES = (".part", ".part.json", ".part.json.tmp")


def _usable_partial(cfg: Config, it: Item) -> tuple[Path, PartState | None]:
    dest = cfg.models_dir / it.into / (it.file or "")
    part, meta, _ = temp_paths(cfg, it, dest)
    return part, PartState.load(meta, it.url or "", part) if part.exists() else None


def _stem_of(name: str) -> str | None:
    for suffix in PART_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def reclaim(cfg: Config, todo: list[Item]) -> int:
    """Removes partials in the temp dir that this run cannot resume; returns the bytes freed."""
    keep = set()
    for it in todo:
        if it.file:
            part, state = _usable_partial(cfg, it)
            if state is not None:
                keep.add(temp_stem(it.rel))
    freed = 0
    for p in sorted(cfg.tmp_dir.iterdir()):
        stem = _stem_of(p.name)
        if stem is None or stem in keep or is_locked_elsewhere(cfg.tmp_dir / f"{stem}.lock"):
            continue
        with contextlib.suppress(OSError):
            size = p.stat().st_blocks * 512
            p.unlink()
            freed += size
            log(f"removed the unusable partial {p.name} ({human(size)}) to make room")
    return freed


def check(cfg: Config, todo: list[Item]) -> str | None:
    """None when the missing models fit, else the message to fail with."""
    need = 0
    have = 0
    unknown = []
    for it in todo:
        dest = cfg.models_dir / it.into / (it.file or "")
        if it.bytes is None:
            if not dest.exists():
                unknown.append(it.id)
            continue
        if dest.exists() and dest.stat().st_size == it.bytes:
            continue
        _, state = _usable_partial(cfg, it)
        got = min(it.bytes, state.downloaded) if state else 0
        have += got
        need += it.bytes - got
    free = shutil.disk_usage(cfg.tmp_dir).free
    debug(f"disk: need {human(need)} ({human(have)} already in partials; +{len(unknown)} of unknown size), "
          f"free {human(free)}, keep {human(cfg.min_free)}")
    if need + cfg.min_free > free:
        if reclaim(cfg, todo):
            free = shutil.disk_usage(cfg.tmp_dir).free
    if need + cfg.min_free <= free:
        if unknown:
            debug(f"size unknown until download: {', '.join(unknown)}")
        return None
    return (f"not enough disk space in {cfg.models_dir}: the missing models need {human(need)} more "
            f"({human(have)} already downloaded), {human(free)} free and {human(cfg.min_free)} must stay free; "
            "free some space or use a bigger volume")
