"""One model: ranged connections, streaming sha256, verification, atomic install.

A transfer asks for the first segment; a server that answers 206 with the
file's size, and a file that can be checked (a validator or a sha256), get
several connections, one per segment (count from the size: --segments,
--min-segment-mb). A server that ignores Range gets one connection. Every
connection takes a slot of the run-wide --connections semaphore, so files x
segments stays bounded. Segments land in one preallocated partial file;
the sha256 follows the contiguous prefix as it grows, so the whole file is
hashed once, mostly while it downloads.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import threading
import time
import urllib.error
from pathlib import Path

from .config import Config
from .errors import DiskFull, Fatal, Restart, Retryable, Stalled
from .integrity import CHUNK, VerifiedCache, html_reason, is_present, sha256_file, validator_of
from .log import debug, human, log, short_url
from .manifest import Item
from .net import classify, with_retries
from .partfiles import FileLock, temp_paths
from .segments import PartState, Segment, contiguous_end, plan, split_largest

NET_CHUNK = 64 << 10
SAVE_EVERY = 1.0  # seconds between sidecar writes (a kill re-fetches at most this much per segment)

_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def content_range(resp) -> tuple[int, int, int | None] | None:
    m = _CONTENT_RANGE_RE.match((resp.headers.get("Content-Range") or "").strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), None if m.group(3) == "*" else int(m.group(3))


def content_length(resp) -> int | None:
    v = (resp.headers.get("Content-Length") or "").strip()
    return int(v) if v.isdigit() else None


class Transfer:
    def __init__(self, cfg: Config, item: Item, dest: Path):
        self.cfg, self.item, self.dest = cfg, item, dest
        self.url = item.url or ""
        self.part, self.meta, self.lock_path = temp_paths(cfg, item, dest)
        self.mu = threading.Lock()  # guards state, the file offset map and item.transferred
        self.hash_mu = threading.Lock()  # taken before mu, never after
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.state: PartState | None = None
        self.fd: int | None = None
        self.can_split = False
        self.resumed_earlier = False
        self.hasher = hashlib.sha256()
        self.hashed = 0
        self.last_save = self.last_progress = time.monotonic()

    # ------------------------------------------------------------ whole file

    def run(self, cache: VerifiedCache) -> None:
        item = self.item
        with FileLock(self.lock_path, item.label) as lock:
            if lock.waited and is_present(cache, item, self.dest):
                item.note = f"{item.note}; downloaded by another fetcher"
                log(f"{item.label}: present: {item.note}")
                return
            try:
                digest = self._download_and_verify()
            except BaseException as e:
                # Keep a partial worth resuming; an empty one, or one the disk
                # cannot hold, would only take room.
                full = isinstance(e, DiskFull) or (isinstance(e, OSError) and e.errno == errno.ENOSPC)
                report = self.disk_full() if full and not isinstance(e, DiskFull) else None
                if full or not (self.state and self.state.downloaded):
                    self.discard()
                else:
                    self.close_fd()
                if report:
                    raise report from None
                raise
            self.install(cache, digest)

    def _download_and_verify(self) -> str:
        item = self.item
        fresh_retry_done = False
        while True:
            self.download()
            problem, digest = self.verify()
            if not problem:
                return digest
            resumed = self.resumed_earlier
            self.discard()
            if resumed and not fresh_retry_done:
                # The part kept from an earlier run may be what is wrong.
                fresh_retry_done = True
                log(f"{item.label}: {problem} after resuming an earlier partial; downloading once more from scratch", "WARN")
                continue
            raise Fatal(problem)

    def download(self) -> None:
        restarts = 0
        while True:
            try:
                self._download_once()
                return
            except Restart as e:
                restarts += 1
                if restarts > 2:
                    raise Fatal(f"{e} (started over twice already; giving up)") from None
                log(f"{self.item.label}: {e}; starting over", "WARN")
                self.discard()

    def _download_once(self) -> None:
        item = self.item
        self.stop.clear()
        self.error = None
        if self.state is None:
            self.state = PartState.load(self.meta, self.url, self.part)
            if self.state and not (self.state.validator or item.sha256):
                log(f"{item.label}: a partial from an earlier run, but neither a validator (ETag/Last-Modified) nor a "
                    "sha256 to prove the file is unchanged; starting over", "WARN")
                self.discard()
            elif self.state:
                self.resumed_earlier = True
                self.can_split = len(self.state.segments) > 1
                log(f"{item.label}: resuming at {human(self.state.downloaded)} of {human(self.state.total)}"
                    f" ({sum(1 for s in self.state.segments if not s.done)} segment(s) left)")
        self.open_fd()
        first = None
        if self.state is None:
            first = self.probe()
        self.run_segments(first)

    # ------------------------------------------------------------ first request

    def probe(self):
        """Opens the first connection (segment 0), learns size, validator and
        whether ranges work, and plans the segments. Returns the open response
        (holding a connection slot) for segment 0's worker."""
        cfg, item = self.cfg, self.item
        expected = item.bytes if item.bytes is not None and item.bytes_exact else None
        want = plan(expected, cfg.segments, cfg.min_segment)
        headers = {"Accept-Encoding": "identity"}
        if expected != 0:
            # Only a sha256 makes the split certain before the answer (which
            # may carry no validator): otherwise ask open-ended, so one
            # connection can take the whole file if it has to.
            end = want[0].end
            bounded = end is not None and len(want) > 1 and item.sha256
            headers["Range"] = f"bytes=0-{end - 1}" if bounded else "bytes=0-"
        self.acquire_slot()
        try:
            resp = with_retries(cfg.net, item.label, "download", item.auth,
                                lambda: cfg.net.open(self.url, item.auth, self.url, headers), stop=self.stop)
        except BaseException:
            cfg.slots.release()
            raise
        try:
            total, ranged, validator = self.inspect_first(resp)
        except BaseException:
            resp.close()
            cfg.slots.release()
            raise
        self.can_split = bool(ranged and total and (validator or item.sha256))
        segs = plan(total, cfg.segments, cfg.min_segment) if self.can_split else [Segment(0, total, 0)]
        self.state = PartState(self.url, total, validator, segs)
        with self.mu:
            os.ftruncate(self.fd, total if len(segs) > 1 and total else 0)
            self.save()
        how = f"{len(segs)} connections" if len(segs) > 1 else "1 connection"
        if not ranged and total:
            how += " (the server does not serve ranges)"
        log(f"{item.label}: downloading {short_url(self.url)} ({human(total)}) over {how}")
        return resp

    def inspect_first(self, resp) -> tuple[int | None, bool, str | None]:
        item = self.item
        reason = html_reason(resp.headers.get("Content-Type"), None)
        if reason:
            raise Fatal(reason)
        validator = validator_of(resp.headers)
        if resp.status == 206:
            cr = content_range(resp)
            if not cr or cr[0] != 0:
                raise Retryable(f"the server answered another range than asked for ({resp.headers.get('Content-Range')})")
            total, ranged = cr[2], cr[2] is not None
        else:
            total, ranged = content_length(resp), False
            if total is None and not getattr(resp, "chunked", False) and not item.sha256 and not (item.bytes is not None and item.bytes_exact):
                # A body that just ends when the connection closes: a cut
                # connection would look like the end of the file.
                raise Fatal("the server does not say how big the file is (no Content-Length) and there is no sha256 "
                            "to check it; add #sha256=<64 hex> to the entry")
        if total is not None and item.bytes is not None and item.bytes_exact and total != item.bytes:
            raise Fatal(f"server says the file is {total} bytes, the manifest says {item.bytes}")
        return total, ranged, validator

    # ------------------------------------------------------------ segments

    def run_segments(self, first) -> None:
        state = self.state
        assert state is not None
        pending = [s for s in state.segments if not s.done]
        threads = []
        for seg in pending:
            resp = first if first is not None and seg.start == 0 else None
            if resp is not None:
                first = None
            threads.append(threading.Thread(target=self.worker, args=(seg, resp), daemon=True))
        if first is not None:  # an empty file: nothing to read
            first.close()
            self.cfg.slots.release()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with self.mu:
            self.save()
        if self.error:
            raise self.error
        if state.total is None and state.segments[0].done:
            state.total = state.segments[0].end
        if not state.complete:
            raise Fatal("internal error: a segment ended unfinished")

    def worker(self, seg: Segment, resp) -> None:
        cfg, item = self.cfg, self.item
        attempt = 0
        while not self.stop.is_set():
            if seg.done:
                with self.mu:
                    nxt = split_largest(self.state.segments, cfg.min_segment) if self.can_split else None
                    if nxt is not None:
                        self.save()
                if nxt is None:
                    return
                debug(f"{item.label}: a free connection takes {human(nxt.remaining)} from the slowest segment")
                seg, attempt = nxt, 0
                continue
            before = seg.pos
            try:
                if resp is None:
                    if not self.acquire_slot():
                        return
                    try:
                        resp = self.open_segment(seg)
                    except BaseException:
                        cfg.slots.release()
                        raise
                try:
                    self.stream(seg, resp)
                finally:
                    resp.close()
                    resp = None
                    cfg.slots.release()
                continue
            except (Fatal, Restart) as e:
                return self.fail(e)
            except Exception as e:  # noqa: BLE001 - sorted below; one segment must not kill the run
                if isinstance(e, OSError) and e.errno == errno.ENOSPC:
                    return self.fail(self.disk_full())
                try:
                    err = classify(e, "download", item.auth, cfg.env)
                except Exception as unknown:  # noqa: BLE001
                    return self.fail(Fatal(f"unexpected {type(unknown).__name__}: {unknown}"))
            if isinstance(err, Fatal):
                return self.fail(err)
            if seg.pos > before and not isinstance(err, Stalled):
                attempt = 0  # progress: a link that drops every 100 kB still finishes
            attempt += 1
            if attempt > cfg.net.retries:
                return self.fail(Fatal(f"{err} (gave up after {cfg.net.retries} retries without progress)"))
            d = cfg.net.delay(attempt, err)
            log(f"{item.label}: {err}; retry {attempt}/{cfg.net.retries} in {d:.1f}s", "WARN")
            self.stop.wait(d)

    def disk_full(self) -> DiskFull:
        got, total = (self.state.downloaded, self.state.total) if self.state else (0, None)
        return DiskFull(f"disk full at {human(got)} of {human(total)} "
                        "(the partial file was removed so it does not block later starts)")

    def acquire_slot(self) -> bool:
        if self.cfg.slots.acquire(blocking=False):
            return True
        debug(f"{self.item.label}: all {self.cfg.connections} connections in use; waiting for one")
        while not self.cfg.slots.acquire(timeout=0.5):
            if self.stop.is_set():
                return False
        return True

    def fail(self, e: BaseException) -> None:
        with self.mu:
            if self.error is None:
                self.error = e
        self.stop.set()

    def open_segment(self, seg: Segment):
        cfg, item, state = self.cfg, self.item, self.state
        single = len(state.segments) == 1
        if seg.pos > 0 and single and not (state.validator or item.sha256):
            # Nothing proves the bytes already here belong to the file the
            # server sends now: take it from the start.
            log(f"{item.label}: no validator (ETag/Last-Modified) and no sha256; restarting the file instead of resuming", "WARN")
            self.restart_single(seg)
        headers = {"Accept-Encoding": "identity"}
        if seg.pos > 0 or not single:
            headers["Range"] = f"bytes={seg.pos}-{'' if seg.end is None else seg.end - 1}"
            if state.validator:
                headers["If-Range"] = state.validator
        try:
            resp = cfg.net.open(self.url, item.auth, self.url, headers)
        except urllib.error.HTTPError as e:
            if e.code == 416:
                raise Restart("the server rejected the resume range (the file changed upstream?)") from None
            raise
        try:
            self.inspect_segment(seg, resp, "Range" in headers)
        except BaseException:
            resp.close()
            raise
        return resp

    def inspect_segment(self, seg: Segment, resp, ranged: bool) -> None:
        state, item = self.state, self.item
        if seg.pos == 0:
            reason = html_reason(resp.headers.get("Content-Type"), None)
            if reason:
                raise Fatal(reason)
        if ranged and resp.status == 206:
            cr = content_range(resp)
            if not cr or cr[0] != seg.pos:
                raise Restart(f"the server answered another range than asked for ({resp.headers.get('Content-Range')})")
            if state.total is not None and cr[2] is not None and cr[2] != state.total:
                raise Restart(f"the file changed upstream (now {cr[2]} bytes, was {state.total})")
            return
        if ranged and len(state.segments) > 1:
            raise Restart("the server answered a range request with the whole file (the file changed upstream, "
                          "or it no longer serves ranges)")
        if ranged:
            log(f"{item.label}: the server sent the whole file instead of the rest (changed upstream, or no "
                "ranges); starting it over", "WARN")
        total = content_length(resp)
        if total is not None and item.bytes is not None and item.bytes_exact and total != item.bytes:
            raise Fatal(f"server says the file is {total} bytes, the manifest says {item.bytes}")
        self.restart_single(seg, total, validator_of(resp.headers))

    def restart_single(self, seg: Segment, total: int | None = None, validator: str | None = None) -> None:
        with self.hash_mu, self.mu:
            seg.pos, seg.end = 0, total
            self.state.total = total
            if validator is not None:
                self.state.validator = validator
            os.ftruncate(self.fd, 0)
            self.hasher, self.hashed = hashlib.sha256(), 0
            self.save()

    def stream(self, seg: Segment, resp) -> None:
        cfg, item = self.cfg, self.item
        floor = cfg.min_speed * cfg.stall_secs
        w_start, w_bytes = time.monotonic(), 0
        while not self.stop.is_set():
            room = seg.remaining
            if room == 0:
                return
            b = resp.read1(NET_CHUNK if room is None else min(NET_CHUNK, room))
            if not b:
                break
            if seg.pos == 0:
                reason = html_reason(None, b)
                if reason:
                    raise Fatal(reason)
            with self.mu:
                room = seg.remaining  # a free connection may have taken the tail meanwhile
                if room is not None:
                    b = b[:room]
                if not b:
                    return
                os.pwrite(self.fd, b, seg.pos)
                seg.pos += len(b)
                item.transferred += len(b)
            w_bytes += len(b)
            now = time.monotonic()
            if floor and now - w_start >= cfg.stall_secs:
                if w_bytes < floor:
                    raise Stalled(f"stalled: {human(w_bytes / (now - w_start))}/s over {now - w_start:.0f}s, "
                                  f"below the minimum {human(cfg.min_speed)}/s")
                w_start, w_bytes = now, 0
            self.tick(now)
        if self.stop.is_set():
            return
        if seg.end is None:
            # No size was given: a chunked body that ended properly ends the file.
            if item.bytes is not None and item.bytes_exact and seg.pos < item.bytes:
                raise Retryable(f"connection closed at {human(seg.pos)} of {human(item.bytes)}")
            with self.mu:
                seg.end = seg.pos
                self.state.total = seg.pos
        elif seg.pos < seg.end:
            raise Retryable(f"connection closed at {human(seg.pos)} (segment {human(seg.start)}-{human(seg.end)})")

    def tick(self, now: float) -> None:
        if now - self.last_save >= SAVE_EVERY:
            with self.mu:
                if now - self.last_save >= SAVE_EVERY:
                    self.last_save = now
                    self.save()
        every = self.cfg.progress_every
        if every and now - self.last_progress >= every:
            with self.mu:
                if now - self.last_progress < every:
                    return
                self.last_progress = now
                got, total = self.state.downloaded, self.state.total
                live = sum(1 for s in self.state.segments if not s.done)
            pct = f" ({100 * got / total:.0f}%)" if total else ""
            log(f"{self.item.label}: {human(got)} of {human(total)}{pct}, {live} segment(s) open")
        self.advance_hash(block=False)

    def advance_hash(self, block: bool) -> None:
        """Hash the file's contiguous prefix as far as it is written."""
        if not self.hash_mu.acquire(blocking=block):
            return
        try:
            with self.mu:
                end = contiguous_end(self.state.segments)
            while self.hashed < end:
                b = os.pread(self.fd, min(CHUNK, end - self.hashed), self.hashed)
                if not b:
                    break
                self.hasher.update(b)
                self.hashed += len(b)
        finally:
            self.hash_mu.release()

    # ------------------------------------------------------------ files

    def save(self) -> None:
        """Writes the sidecar; the caller holds mu."""
        if self.state is not None:
            self.state.save(self.meta)

    def open_fd(self) -> None:
        if self.fd is None:
            self.fd = os.open(self.part, os.O_RDWR | os.O_CREAT, 0o644)

    def close_fd(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def discard(self) -> None:
        self.close_fd()
        for p in (self.part, self.meta):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        self.state = None
        self.can_split = self.resumed_earlier = False
        self.hasher, self.hashed = hashlib.sha256(), 0

    def verify(self) -> tuple[str | None, str]:
        item, state = self.item, self.state
        size = os.fstat(self.fd).st_size
        self.advance_hash(block=True)
        digest = self.hasher.hexdigest() if self.hashed == size else sha256_file(self.part)
        if state.total is not None and size != state.total:
            return f"size mismatch: got {size} bytes, the server announced {state.total}", digest
        if item.bytes is not None and item.bytes_exact and size != item.bytes:
            return f"size mismatch: got {size} bytes, expected {item.bytes}", digest
        if item.sha256 and digest != item.sha256:
            return f"sha256 mismatch: got {digest}, expected {item.sha256}", digest
        return None, digest

    def install(self, cache: VerifiedCache, digest: str) -> None:
        item = self.item
        os.fsync(self.fd)
        self.close_fd()
        os.replace(self.part, self.dest)
        with contextlib.suppress(OSError):
            dfd = os.open(self.dest.parent, os.O_RDONLY)
            os.fsync(dfd)
            os.close(dfd)
        with contextlib.suppress(FileNotFoundError):
            self.meta.unlink()
        st = self.dest.stat()
        cache.record(item.rel, st, digest)
        item.size = st.st_size
        item.status = "downloaded"
        if item.sha256:
            item.note = "sha256 verified"
        elif item.bytes is not None and item.bytes_exact:
            item.note = "size verified"
        else:
            item.note = "no checksum to verify (size as announced)"


def fetch_one(cfg: Config, cache: VerifiedCache, item: Item) -> None:
    t0 = time.monotonic()
    try:
        dest = cfg.models_dir / item.into / (item.file or "")
        if is_present(cache, item, dest):
            debug(f"{item.label}: already present ({item.note})")
            return
        Transfer(cfg, item, dest).run(cache)
        if item.status == "downloaded":
            dt = time.monotonic() - t0
            rate = f", {human(item.transferred / dt)}/s" if dt > 0 else ""
            log(f"{item.label}: done in {dt:.1f}s ({human(item.transferred)} transferred{rate}; {item.note})")
    except Fatal as e:
        item.status, item.note = "failed", str(e)
        log(f"{item.label}: FAILED: {e}", "ERROR")
    except OSError as e:
        item.status = "failed"
        item.note = "disk full" if e.errno == errno.ENOSPC else f"{type(e).__name__}: {e}"
        log(f"{item.label}: FAILED: {item.note}", "ERROR")
    except Exception as e:  # noqa: BLE001 - one model must not stop the others
        item.status, item.note = "failed", f"unexpected {type(e).__name__}: {e}"
        log(f"{item.label}: FAILED: {item.note}", "ERROR")
    finally:
        item.elapsed = time.monotonic() - t0
