"""The byte ranges of one partial file and how far each got.

A partial file `<stem>.part` has a sidecar `<stem>.part.json` with the URL,
the size, the validator (ETag or Last-Modified) and the segments. A segment's
`pos` is written only after its bytes are in the file, so a run that is
killed resumes each segment where the sidecar says, never past real data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path

SIDECAR_VERSION = 1


@dataclasses.dataclass
class Segment:
    start: int
    end: int | None  # exclusive; None while the size is unknown (one connection)
    pos: int  # next byte to fetch

    @property
    def remaining(self) -> int | None:
        return None if self.end is None else self.end - self.pos

    @property
    def done(self) -> bool:
        return self.end is not None and self.pos >= self.end


def plan(total: int | None, max_segments: int, min_segment: int) -> list[Segment]:
    """One segment per `min_segment` bytes, at most `max_segments`, at least one."""
    if total is None:
        return [Segment(0, None, 0)]
    n = max(1, min(max_segments, total // max(1, min_segment)))
    size = -(-total // n) if total else 0
    if not size:
        return [Segment(0, 0, 0)]
    return [Segment(s, min(total, s + size), s) for s in range(0, total, size)]


def split_largest(segments: list[Segment], min_piece: int) -> Segment | None:
    """Give half of the segment with the most bytes left to a free connection
    (as aria2 does), so a slow connection does not hold up the end of the file.
    Only a segment with at least two pieces left is split: a fresh segment of
    a normal plan never is. The caller holds the lock that guards `segments`."""
    best = max((s for s in segments if s.remaining), key=lambda s: s.remaining or 0, default=None)
    if best is None or best.end is None or (best.remaining or 0) < 2 * min_piece:
        return None
    mid = best.pos + (best.end - best.pos) // 2
    new = Segment(mid, best.end, mid)
    best.end = mid
    segments.append(new)
    segments.sort(key=lambda s: s.start)
    return new


def contiguous_end(segments: list[Segment]) -> int:
    """Bytes from offset 0 that are all in the file (how far a streaming hash can go)."""
    upto = 0
    for s in sorted(segments, key=lambda s: s.start):
        if s.start != upto:
            break
        upto = s.pos
        if not s.done:
            break
    return upto


@dataclasses.dataclass
class PartState:
    url: str
    total: int | None
    validator: str | None
    segments: list[Segment]

    @property
    def downloaded(self) -> int:
        return sum(s.pos - s.start for s in self.segments)

    @property
    def complete(self) -> bool:
        return all(s.done for s in self.segments)

    def save(self, path: Path) -> None:
        doc = {"version": SIDECAR_VERSION, "url": self.url, "total": self.total, "validator": self.validator,
               "segments": [[s.start, s.end, s.pos] for s in self.segments]}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)

    @staticmethod
    def load(path: Path, url: str, part: Path) -> PartState | None:
        """The saved state if it belongs to this URL and agrees with the partial file."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            size = part.stat().st_size
        except (OSError, ValueError):
            return None
        with contextlib.suppress(KeyError, TypeError, ValueError):
            if doc["version"] != SIDECAR_VERSION or doc["url"] != url:
                return None
            total = doc["total"]
            segs = [Segment(int(a), None if b is None else int(b), int(c)) for a, b, c in doc["segments"]]
            validator = doc["validator"]
            if total is not None and not isinstance(total, int):
                return None
            if not segs or any(not (s.start <= s.pos and (s.end is None or s.pos <= s.end)) for s in segs):
                return None
            if any(s.pos > size for s in segs if s.pos > s.start):
                return None
            return PartState(url, total, validator if isinstance(validator, str) else None, segs)
        return None
