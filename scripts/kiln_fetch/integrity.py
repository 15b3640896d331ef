"""sha256, the verified-file cache, and what a model file may not look like."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from pathlib import Path

from .log import REDACT, human, log
from .manifest import Item

CHUNK = 1 << 20
STATE_VERSION = 1

_HTML_START_RE = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<\?xml|<!--)", re.IGNORECASE)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(CHUNK):
            h.update(b)
    return h.hexdigest()


def html_reason(content_type: str | None, first_bytes: bytes | None) -> str | None:
    """Why a response is a web page rather than a model file (a login or error page), or None.
    No model format (safetensors, GGUF, zip/pickle checkpoints, ONNX) starts with markup."""
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype in ("text/html", "application/xhtml+xml"):
        return f"the server sent a web page (Content-Type {ctype}), not a model file: a login or error page?"
    if first_bytes and _HTML_START_RE.match(first_bytes[:512]):
        return "the server sent a web page (the body starts with HTML), not a model file: a login or error page?"
    return None


def validator_of(headers) -> str | None:
    """The validator If-Range may carry: a strong ETag, else Last-Modified (RFC 9110 13.1.5)."""
    etag = (headers.get("ETag") or "").strip()
    if etag and not etag.startswith("W/"):
        return etag
    return (headers.get("Last-Modified") or "").strip() or None


class VerifiedCache:
    """<models>/.kiln/verified.json: path -> size, mtime, sha256 of files verified before,
    so a 20 GB file is hashed once, not at every boot."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, dict] = {}
        with contextlib.suppress(OSError, ValueError, AttributeError):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("version") == STATE_VERSION and isinstance(doc.get("files"), dict):
                self.data = doc["files"]

    def lookup(self, rel: str, st: os.stat_result) -> str | None:
        with self.lock:
            e = self.data.get(rel)
        if isinstance(e, dict) and e.get("size") == st.st_size and e.get("mtime_ns") == st.st_mtime_ns:
            return e.get("sha256")
        return None

    def record(self, rel: str, st: os.stat_result, sha: str) -> None:
        with self.lock:
            self.data[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            tmp.write_text(REDACT(json.dumps({"version": STATE_VERSION, "files": self.data}, indent=1, sort_keys=True)))
            os.replace(tmp, self.path)


def is_present(cache: VerifiedCache, item: Item, dest: Path) -> bool:
    """True when dest already holds the right file (verified now or before)."""
    try:
        st = dest.stat()
    except FileNotFoundError:
        return False
    if item.bytes is not None and item.bytes_exact and st.st_size != item.bytes:
        log(f"{item.label}: present but {st.st_size} bytes instead of {item.bytes}; downloading again", "WARN")
        return False
    if not item.sha256:
        item.status, item.size = "present", st.st_size
        item.note = "size ok" if item.bytes is not None and item.bytes_exact else "exists (no checksum to verify)"
        return True
    if cache.lookup(item.rel, st) == item.sha256:
        item.status, item.size, item.note = "present", st.st_size, "verified earlier (cached)"
        return True
    log(f"{item.label}: verifying the existing file ({human(st.st_size)})")
    if sha256_file(dest) == item.sha256:
        cache.record(item.rel, dest.stat(), item.sha256)
        item.status, item.size, item.note = "present", st.st_size, "sha256 verified"
        return True
    log(f"{item.label}: present but its sha256 does not match; downloading again", "WARN")
    return False
