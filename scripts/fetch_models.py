#!/usr/bin/env python3
"""Kiln model fetcher: runs inside the image, Python 3.10+ standard library only.

Reads the baked manifest (/opt/kiln/manifest/models.json, written by
`kiln generate`) plus extra models named in the environment, and downloads
every model into <models-dir>/<into>/<file>:

* parallel workers (--jobs, default 4);
* HTTP Range resume from a partial file left by an earlier attempt or run;
* streaming sha256 and size check, then an atomic rename: the partial file
  lives in a hidden temp dir (<models-dir>/.kiln/tmp, same filesystem), so a
  model folder never holds a partial or unverified file;
* retries with exponential backoff on 5xx/429/timeouts/dropped connections,
  none on 401/403/404 (the message names the model and the token variable);
* already present and verified files are skipped; verification is remembered
  in <models-dir>/.kiln/verified.json keyed by path+size+mtime, so a 20 GB
  file is not re-hashed at every boot;
* a free-disk check before any transfer;
* CivitAI version IDs resolved through the CivitAI API; Hugging Face URLs get
  "Authorization: Bearer $HF_TOKEN" (never forwarded across redirects);
* aria2c used for the transfer when asked (--aria2c or KILN_ARIA2C=true) and
  installed;
* tokens are never printed: every line (and every file this script writes)
  goes through a redactor.

Extra models from the environment (entries separated by whitespace or commas;
see docs/runtime.md):
  HF_MODELS="loras:owner/repo/path/file.safetensors checkpoints/x.safetensors:owner/repo@<rev>/y.safetensors"
  CIVITAI_MODELS="loras:128713 456789"          (folder optional: guessed from the CivitAI model type)
  MODEL_URLS="vae:https://host/a.safetensors#sha256=<64 hex>"

Exit codes: 0 all models present; 1 some model failed; 2 bad manifest or
arguments; 3 not enough free disk (nothing downloaded).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import errno
import fcntl
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DISK = 0, 1, 2, 3

DEFAULT_MANIFEST = "/opt/kiln/manifest/models.json"
DEFAULT_CIVITAI_API = "https://civitai.com/api/v1"
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
CHUNK = 1 << 20
NET_CHUNK = 64 << 10
USER_AGENT = "kiln-fetch/1 (+https://github.com/kiln)"
STATE_VERSION = 1

# CivitAI model types -> ComfyUI models subfolder (used when CIVITAI_MODELS
# names no folder).
CIVITAI_TYPE_FOLDERS = {
    "checkpoint": "checkpoints",
    "lora": "loras",
    "locon": "loras",
    "dora": "loras",
    "lycoris": "loras",
    "textualinversion": "embeddings",
    "vae": "vae",
    "controlnet": "controlnet",
    "upscaler": "upscale_models",
    "hypernetwork": "hypernetworks",
    "motionmodule": "animatediff_models",
}

SHA_RE = re.compile(r"^[0-9a-fA-F]{64}$")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$")
QUERY_SECRET_RE = re.compile(
    r"([?&;](?:token|access_token|api_key|apikey|key|auth|sig|signature|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential)=)[^&#\s\"']+",
    re.IGNORECASE,
)
USERINFO_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
BEARER_RE = re.compile(r"(\bBearer\s+)[^\s\"']+", re.IGNORECASE)
SECRET_VAR_RE = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY)$", re.IGNORECASE)


# --------------------------------------------------------------------------
# Redaction and logging


class Redactor:
    """Removes secret values and credential-looking URL parts from text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 4:
            self._secrets.add(value)
            quoted = urllib.parse.quote(value, safe="")
            if quoted != value:
                self._secrets.add(quoted)

    def add_from_env(self, env: dict[str, str], names: set[str] | None = None) -> None:
        for name, value in env.items():
            if SECRET_VAR_RE.search(name) or (names and name in names):
                self.add(value)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "***")
        text = QUERY_SECRET_RE.sub(r"\1***", text)
        text = USERINFO_RE.sub(r"\1***@", text)
        text = BEARER_RE.sub(r"\1***", text)
        return text


REDACT = Redactor()
_LOG_LOCK = threading.Lock()
DEBUG = False


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg: str, level: str = "INFO") -> None:
    line = REDACT(f"{_stamp()} [fetch] {level:5} {msg}")
    with _LOG_LOCK:
        print(line, flush=True)


def debug(msg: str) -> None:
    if DEBUG:
        log(msg, "DEBUG")


def short_url(url: str) -> str:
    """scheme://host/path without query or fragment (for log lines)."""
    p = urllib.parse.urlsplit(url)
    q = "?..." if p.query else ""
    return f"{p.scheme}://{p.hostname or ''}{':' + str(p.port) if p.port else ''}{p.path}{q}"


def human(n: int | float | None) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# --------------------------------------------------------------------------
# Model entries


class SpecError(ValueError):
    pass


@dataclasses.dataclass
class Item:
    id: str
    source: str  # hf | civitai | url
    into: str
    file: str | None
    url: str | None
    sha256: str | None
    bytes: int | None
    auth: str | None  # name of the env variable holding the token
    origin: str  # "manifest" or the env variable it came from
    version_id: int | None = None
    bytes_exact: bool = True  # False for CivitAI sizeKB estimates
    # results
    status: str = "pending"
    note: str = ""
    transferred: int = 0
    elapsed: float = 0.0
    size: int | None = None

    @property
    def rel(self) -> str:
        if not self.file and self.version_id:
            return f"{self.into or '?'}/<civitai version {self.version_id}>"
        return f"{self.into}/{self.file or '?'}"

    @property
    def label(self) -> str:
        return f"'{self.id}' ({self.rel})"


def check_into(into: str, where: str) -> str:
    into = into.strip().strip("/")
    parts = into.split("/")
    if not into or any(not SEGMENT_RE.match(p) for p in parts):
        raise SpecError(f"{where}: folder {into!r} is not a plain models subfolder name (e.g. checkpoints, loras)")
    return into


def check_file(name: str, where: str) -> str:
    if not name or "/" in name or "\\" in name or not SEGMENT_RE.match(name) or name in (".", ".."):
        raise SpecError(f"{where}: file name {name!r} is not a plain file name")
    return name


def check_sha(sha: str | None, where: str) -> str | None:
    if sha is None:
        return None
    if not isinstance(sha, str) or not SHA_RE.match(sha):
        raise SpecError(f"{where}: sha256 must be 64 hex characters")
    return sha.lower()


def load_manifest(path: Path) -> list[Item]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != 1 or not isinstance(doc.get("models"), list):
        raise SpecError(f"{path}: expected {{\"schema\": 1, \"models\": [...]}}")
    items: list[Item] = []
    for i, m in enumerate(doc["models"]):
        where = f"{path}: models[{i}]"
        if not isinstance(m, dict):
            raise SpecError(f"{where}: not an object")
        mid = str(m.get("id") or f"model-{i}")
        where = f"{path}: model '{mid}'"
        source = m.get("source")
        if source not in ("hf", "civitai", "url"):
            raise SpecError(f"{where}: source must be hf, civitai or url (got {source!r})")
        into = check_into(str(m.get("into") or ""), where)
        file = m.get("file")
        file = check_file(str(file), where) if file else None
        nbytes = m.get("bytes")
        if nbytes is not None and (not isinstance(nbytes, int) or nbytes < 0):
            raise SpecError(f"{where}: bytes must be a non-negative integer or null")
        auth = m.get("auth") or None
        vid = None
        url = m.get("url") or None
        if source == "civitai":
            vid = m.get("versionId")
            if not isinstance(vid, int) or vid <= 0:
                raise SpecError(f"{where}: civitai models need an integer versionId")
        else:
            if not url or not str(url).startswith(("http://", "https://")):
                raise SpecError(f"{where}: url must be an http(s) URL")
            if not file:
                file = check_file(urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]), where)
        items.append(
            Item(
                id=mid, source=source, into=into, file=file, url=url,
                sha256=check_sha(m.get("sha256"), where), bytes=nbytes, auth=auth,
                origin="manifest", version_id=vid,
            )
        )
    return items


def split_entries(value: str) -> list[str]:
    return [e for e in re.split(r"[\s,]+", value or "") if e]


def split_dest_and_sha(entry: str, where: str) -> tuple[str | None, str | None, str, str | None]:
    """'[into[/file]:]rest[#sha256=HEX]' -> (into, file, rest, sha)."""
    sha = None
    m = re.search(r"#(?:sha256=)?([0-9a-fA-F]{64})$", entry)
    if m:
        sha = m.group(1).lower()
        entry = entry[: m.start()]
    into = file = None
    m = re.match(r"^([^:\s]+):(?!//)(.+)$", entry)
    if m and not m.group(1).lower() in ("http", "https"):
        dest, entry = m.group(1), m.group(2)
        if "/" in dest.strip("/"):
            d, f = dest.strip("/").rsplit("/", 1)
            # "loras/sdxl" (nested folder) vs "loras/name.safetensors" (rename)
            if "." in f:
                into, file = check_into(d, where), check_file(f, where)
            else:
                into = check_into(dest, where)
        else:
            into = check_into(dest, where)
    return into, file, entry, sha


def parse_hf(entry: str, endpoint: str) -> Item:
    where = f"HF_MODELS entry {entry!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if not into:
        raise SpecError(f"{where}: name the folder, e.g. loras:owner/repo/file.safetensors")
    m = re.match(r"^([^/@\s]+)/([^/@\s]+?)(?:@([^/\s]+))?/(.+)$", rest)
    if not m:
        raise SpecError(f"{where}: expected <folder>:<owner>/<repo>[@<revision>]/<path/in/repo>")
    owner, repo, rev, path = m.group(1), m.group(2), m.group(3) or "main", m.group(4)
    url = f"{endpoint.rstrip('/')}/{owner}/{repo}/resolve/{urllib.parse.quote(rev, safe='')}/{urllib.parse.quote(path)}"
    file = file or check_file(path.rsplit("/", 1)[-1], where)
    return Item(id=f"{owner}/{repo}/{path}", source="hf", into=into, file=file, url=url, sha256=sha,
                bytes=None, auth="HF_TOKEN", origin="HF_MODELS")


def parse_civitai(entry: str) -> Item:
    where = f"CIVITAI_MODELS entry {entry!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if not rest.isdigit() or int(rest) <= 0:
        raise SpecError(f"{where}: expected [<folder>:]<model version id>, e.g. loras:128713")
    vid = int(rest)
    return Item(id=f"civitai-{vid}", source="civitai", into=into or "", file=file, url=None, sha256=sha,
                bytes=None, auth="CIVITAI_TOKEN", origin="CIVITAI_MODELS", version_id=vid)


def parse_url(entry: str, hf_host: str) -> Item:
    where = f"MODEL_URLS entry {entry.split('?', 1)[0]!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if not into or not rest.startswith(("http://", "https://")):
        raise SpecError(f"{where}: expected <folder>[/<file>]:<http(s) URL>, e.g. vae:https://host/a.safetensors")
    if not file:
        file = check_file(urllib.parse.unquote(urllib.parse.urlsplit(rest).path.rsplit("/", 1)[-1]), where)
    host = (urllib.parse.urlsplit(rest).hostname or "").lower()
    auth = "HF_TOKEN" if host in (hf_host, "huggingface.co") else "CIVITAI_TOKEN" if host.endswith("civitai.com") else None
    return Item(id=file, source="url", into=into, file=file, url=rest, sha256=sha, bytes=None, auth=auth,
                origin="MODEL_URLS")


# --------------------------------------------------------------------------
# HTTP


class Fatal(Exception):
    """Not worth retrying (401/403/404, bad checksum, disk full)."""


class Retryable(Exception):
    def __init__(self, msg: str, retry_after: float | None = None):
        super().__init__(msg)
        self.retry_after = retry_after


class SameHostAuthRedirect(urllib.request.HTTPRedirectHandler):
    """Keep the token on a redirect to the same host and scheme (HF renamed
    repos, relative redirects), drop it for any other host (signed CDN URLs)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth:
            old, nxt = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(new.full_url)
            if (old.scheme, old.hostname, old.port) == (nxt.scheme, nxt.hostname, nxt.port):
                new.add_unredirected_header("Authorization", auth)
        return new


class Config:
    def __init__(self, args: argparse.Namespace, env: dict[str, str]):
        self.env = env
        self.models_dir = Path(args.models_dir)
        self.state_dir = self.models_dir / ".kiln"
        self.tmp_dir = self.state_dir / "tmp"
        self.jobs = max(1, args.jobs)
        self.retries = max(0, args.retries)
        self.backoff = max(0.0, args.backoff)
        self.backoff_max = max(self.backoff, args.backoff_max)
        self.timeout = args.timeout
        self.progress_every = args.progress_interval
        self.min_free = int(args.min_free_mb * 1024 * 1024)
        self.civitai_api = env.get("CIVITAI_API_BASE") or DEFAULT_CIVITAI_API
        self.aria2c = shutil.which("aria2c") if args.aria2c else None
        self.opener = urllib.request.build_opener(SameHostAuthRedirect())
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def token(self, item: Item) -> str | None:
        return self.env.get(item.auth) if item.auth else None


def auth_hint(item: Item, cfg: Config, code: int) -> str:
    var = item.auth or ("HF_TOKEN" if item.source == "hf" else "CIVITAI_TOKEN" if item.source == "civitai" else None)
    if not var:
        return f"HTTP {code}: the server refused access (no token variable is configured for this model)"
    if cfg.env.get(var):
        return f"HTTP {code}: access refused although {var} is set; check that the token is valid and has access (gated model: accept its license first)"
    return f"HTTP {code}: access refused; set {var} (this model needs a token)"


def classify_http_error(e: urllib.error.HTTPError, item: Item, cfg: Config, what: str) -> Exception:
    code = e.code
    if code in (401, 403):
        return Fatal(f"{what}: {auth_hint(item, cfg, code)}")
    if code == 404:
        return Fatal(f"{what}: HTTP 404 not found")
    if code in (408, 425, 429) or code >= 500:
        ra = None
        with contextlib.suppress(Exception):
            ra = float(e.headers.get("Retry-After", ""))
        return Retryable(f"{what}: HTTP {code}", ra)
    return Fatal(f"{what}: HTTP {code} {e.reason}")


RETRYABLE_ERRORS = (
    TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException, urllib.error.URLError,
)


def open_url(cfg: Config, url: str, item: Item, headers: dict[str, str] | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    token = cfg.token(item)
    if token:
        # Unredirected: the token goes to the host we asked, never to the
        # CDN a resolve/download URL redirects to.
        req.add_unredirected_header("Authorization", f"Bearer {token}")
    return cfg.opener.open(req, timeout=cfg.timeout)


def with_retries(cfg: Config, item: Item, what: str, fn):
    attempt = 0
    while True:
        try:
            return fn()
        except Fatal:
            raise
        except urllib.error.HTTPError as e:
            err = classify_http_error(e, item, cfg, what)
        except Retryable as e:
            err = e
        except RETRYABLE_ERRORS as e:
            reason = getattr(e, "reason", None) or e
            err = Retryable(f"{what}: {type(reason).__name__}: {reason}")
        if isinstance(err, Fatal):
            raise err
        attempt += 1
        if attempt > cfg.retries:
            raise Fatal(f"{err} (gave up after {cfg.retries} retries)")
        delay = min(cfg.backoff_max, cfg.backoff * (2 ** (attempt - 1)))
        delay = delay * (0.8 + 0.4 * random.random())
        if isinstance(err, Retryable) and err.retry_after:
            delay = max(delay, min(err.retry_after, cfg.backoff_max))
        log(f"{item.label}: {err}; retry {attempt}/{cfg.retries} in {delay:.1f}s", "WARN")
        time.sleep(delay)


# --------------------------------------------------------------------------
# CivitAI


def resolve_civitai(cfg: Config, item: Item) -> None:
    url = f"{cfg.civitai_api.rstrip('/')}/model-versions/{item.version_id}"
    what = f"CivitAI version {item.version_id} lookup"

    def call():
        with open_url(cfg, url, item, {"Accept": "application/json"}) as r:
            return json.loads(r.read().decode("utf-8"))

    try:
        data = with_retries(cfg, item, what, call)
    except json.JSONDecodeError as e:
        raise Fatal(f"{what}: the API answered something that is not JSON ({e})") from None
    files = data.get("files") or []
    if not files:
        raise Fatal(f"{what}: the version has no files")
    chosen = None
    if item.file:
        chosen = next((f for f in files if f.get("name") == item.file), None)
    chosen = chosen or next((f for f in files if f.get("primary")), None) or files[0]
    if not item.into:
        mtype = str((data.get("model") or {}).get("type") or "").lower()
        folder = CIVITAI_TYPE_FOLDERS.get(mtype)
        if not folder:
            raise Fatal(f"{what}: cannot guess the folder for model type {mtype or '?'!r}; write it as <folder>:{item.version_id}")
        item.into = folder
    item.file = item.file or check_file(str(chosen.get("name") or ""), what)
    item.url = chosen.get("downloadUrl") or data.get("downloadUrl")
    if not item.url:
        raise Fatal(f"{what}: no downloadUrl in the answer")
    api_sha = ((chosen.get("hashes") or {}).get("SHA256") or "").lower() or None
    if api_sha and not SHA_RE.match(api_sha):
        api_sha = None
    if item.sha256 and api_sha and item.sha256 != api_sha:
        log(f"{item.label}: manifest sha256 differs from CivitAI's; using the manifest's", "WARN")
    item.sha256 = item.sha256 or api_sha
    if item.bytes is None and chosen.get("sizeKB"):
        item.bytes = int(float(chosen["sizeKB"]) * 1024)
        item.bytes_exact = False  # sizeKB is rounded: used for the disk check only


# --------------------------------------------------------------------------
# Verified-state cache


class State:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, dict] = {}
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, OSError):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("version") == STATE_VERSION and isinstance(doc.get("files"), dict):
                self.data = doc["files"]

    def lookup(self, rel: str, st: os.stat_result) -> str | None:
        with self.lock:
            e = self.data.get(rel)
        if e and e.get("size") == st.st_size and e.get("mtime_ns") == st.st_mtime_ns:
            return e.get("sha256")
        return None

    def record(self, rel: str, st: os.stat_result, sha: str) -> None:
        with self.lock:
            self.data[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            tmp.write_text(REDACT(json.dumps({"version": STATE_VERSION, "files": self.data}, indent=1, sort_keys=True)))
            os.replace(tmp, self.path)


def sha256_file(path: Path, hasher=None, limit: int | None = None):
    h = hasher or hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while limit is None or done < limit:
            want = CHUNK if limit is None else min(CHUNK, limit - done)
            b = f.read(want)
            if not b:
                break
            h.update(b)
            done += len(b)
    return h, done


# --------------------------------------------------------------------------
# Transfer


def is_present(cfg: Config, state: State, item: Item, dest: Path) -> bool:
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
    cached = state.lookup(item.rel, st)
    if cached == item.sha256:
        item.status, item.size, item.note = "present", st.st_size, "verified earlier (cached)"
        return True
    log(f"{item.label}: verifying the existing file ({human(st.st_size)})")
    h, _ = sha256_file(dest)
    if h.hexdigest() == item.sha256:
        state.record(item.rel, dest.stat(), item.sha256)
        item.status, item.size, item.note = "present", st.st_size, "sha256 verified"
        return True
    log(f"{item.label}: present but its sha256 does not match; downloading again", "WARN")
    return False


class Transfer:
    """One model: partial file in the temp dir, resumable, hashed as it streams."""

    def __init__(self, cfg: Config, item: Item, dest: Path):
        self.cfg, self.item, self.dest = cfg, item, dest
        tmp_dir = cfg.tmp_dir
        dest.parent.mkdir(parents=True, exist_ok=True)
        if os.stat(dest.parent).st_dev != os.stat(tmp_dir).st_dev:
            # The folder is on another filesystem (a link to another disk):
            # rename would not be atomic, so keep the partial next to it in
            # a hidden dir whose .part files ComfyUI ignores.
            tmp_dir = dest.parent / ".kiln-tmp"
            tmp_dir.mkdir(exist_ok=True)
        stem = item.rel.replace("/", "__")
        self.part = tmp_dir / f"{stem}.part"
        self.lock_path = tmp_dir / f"{stem}.lock"
        self.hasher = None
        self.hashed = 0
        self.resumed = False
        self.total: int | None = None

    def _hasher_for(self, size: int):
        if self.hasher is None or self.hashed != size:
            self.hasher, self.hashed = sha256_file(self.part, limit=size) if size else (hashlib.sha256(), 0)
        return self.hasher

    def reset(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.part.unlink()
        self.hasher, self.hashed, self.total = None, 0, None

    def attempt(self) -> None:
        item, cfg = self.item, self.cfg
        offset = self.part.stat().st_size if self.part.exists() else 0
        if item.bytes is not None and item.bytes_exact and offset > item.bytes:
            log(f"{item.label}: partial file is larger than expected; starting over", "WARN")
            self.reset()
            offset = 0
        if item.bytes is not None and item.bytes_exact and offset == item.bytes and offset > 0:
            self.total = offset
            self._hasher_for(offset)
            return
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            resp = open_url(cfg, item.url or "", item, headers)
        except urllib.error.HTTPError as e:
            if e.code == 416 and offset:
                # Range past the end: the partial may already be complete.
                total = None
                m = re.match(r"bytes \*/(\d+)", e.headers.get("Content-Range", "") or "")
                if m:
                    total = int(m.group(1))
                if total == offset:
                    self.total = offset
                    self._hasher_for(offset)
                    return
                self.reset()
                raise Retryable("server rejected the resume range; starting over") from None
            raise
        with resp:
            status = resp.status
            clen = resp.headers.get("Content-Length")
            clen = int(clen) if clen and clen.isdigit() else None
            if offset and status == 206:
                m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", "") or "")
                if not m or int(m.group(1)) != offset:
                    self.reset()
                    raise Retryable("server answered a different range; starting over")
                self.total = int(m.group(3)) if m.group(3) != "*" else None
                if not self.resumed:
                    log(f"{item.label}: resuming at {human(offset)}")
                self.resumed = True
            else:
                if offset:
                    log(f"{item.label}: server ignored the Range request; starting over", "WARN")
                offset = 0
                self.hasher, self.hashed = hashlib.sha256(), 0
                self.total = clen
            if self.total is not None and item.bytes is not None and item.bytes_exact and self.total != item.bytes:
                raise Fatal(f"server says the file is {self.total} bytes, the manifest says {item.bytes}")
            hasher = self._hasher_for(offset)
            mode = "ab" if offset else "wb"
            got = offset
            last = time.monotonic()
            # Unbuffered file and small reads: every byte received is in the page cache
            # at once, so a killed fetcher resumes where the network left off (a 1 MiB
            # read() could lose up to 1 MiB; read1 returns what has arrived).
            with open(self.part, mode, buffering=0) as f:
                if not offset:
                    f.truncate(0)
                while True:
                    b = resp.read1(NET_CHUNK)
                    if not b:
                        break
                    f.write(b)
                    hasher.update(b)
                    got += len(b)
                    self.hashed = got
                    item.transferred += len(b)
                    now = time.monotonic()
                    if cfg.progress_every and now - last >= cfg.progress_every:
                        last = now
                        pct = f" ({100 * got / self.total:.0f}%)" if self.total else ""
                        log(f"{item.label}: {human(got)} of {human(self.total)}{pct}")
                os.fsync(f.fileno())
            if self.total is not None and got < self.total:
                raise Retryable(f"connection closed at {human(got)} of {human(self.total)}")
            if self.total is None:
                self.total = got

    def aria2c_attempt(self) -> None:
        item, cfg = self.item, self.cfg
        token = cfg.token(item)
        # The token goes through stdin (an aria2 input file), never argv.
        lines = [item.url or "", f"  dir={self.part.parent}", f"  out={self.part.name}"]
        if token:
            lines.append(f"  header=Authorization: Bearer {token}")
        cmd = [
            cfg.aria2c, "--input-file=-", "--continue=true", "--allow-overwrite=true",
            "--auto-file-renaming=false", "--file-allocation=none", "--split=8",
            "--max-connection-per-server=8", "--min-split-size=16M", "--console-log-level=warn",
            "--summary-interval=0", "--download-result=hide", f"--max-tries={cfg.retries + 1}",
            f"--retry-wait={max(1, int(cfg.backoff))}", f"--timeout={int(cfg.timeout)}",
            f"--user-agent={USER_AGENT}",
        ]
        before = self.part.stat().st_size if self.part.exists() else 0
        proc = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True)
        for line in (proc.stdout + proc.stderr).splitlines():
            if line.strip():
                debug(f"aria2c: {line}")
        if proc.returncode != 0:
            if proc.returncode == 3:
                raise Fatal("aria2c: HTTP 404 not found")
            if proc.returncode == 24:
                raise Fatal(f"aria2c: {auth_hint(item, cfg, 401)}")
            raise Fatal(f"aria2c failed with exit code {proc.returncode}")
        with contextlib.suppress(FileNotFoundError):
            (self.part.parent / (self.part.name + ".aria2")).unlink()
        size = self.part.stat().st_size
        item.transferred += max(0, size - before)
        self.hasher, self.hashed = sha256_file(self.part)
        self.total = size

    def run(self, state: State) -> None:
        item, cfg = self.item, self.cfg
        with open(self.lock_path, "w") as lockf:
            try:
                fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Fatal("another fetcher is downloading this file right now") from None
            fresh_retry_done = False
            while True:
                if cfg.aria2c:
                    self.aria2c_attempt()
                else:
                    with_retries(cfg, item, "download", self.attempt)
                size = self.part.stat().st_size
                digest = self.hasher.hexdigest() if self.hasher else sha256_file(self.part)[0].hexdigest()
                problem = None
                if item.bytes is not None and item.bytes_exact and size != item.bytes:
                    problem = f"size mismatch: got {size} bytes, expected {item.bytes}"
                elif item.sha256 and digest != item.sha256:
                    problem = f"sha256 mismatch: got {digest}, expected {item.sha256}"
                if problem:
                    resumed = self.resumed
                    self.reset()
                    self.resumed = False
                    if resumed and not fresh_retry_done:
                        # A resumed partial may have been the corrupt part.
                        fresh_retry_done = True
                        log(f"{item.label}: {problem} after a resume; downloading once more from scratch", "WARN")
                        continue
                    raise Fatal(problem)
                break
            os.replace(self.part, self.dest)
            with contextlib.suppress(OSError):
                dfd = os.open(self.dest.parent, os.O_RDONLY)
                os.fsync(dfd)
                os.close(dfd)
            st = self.dest.stat()
            state.record(item.rel, st, digest)
            item.size = st.st_size
            item.status = "downloaded"
            item.note = "sha256 verified" if item.sha256 else ("size verified" if item.bytes is not None and item.bytes_exact else "no checksum to verify")
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()


def fetch_one(cfg: Config, state: State, item: Item) -> None:
    t0 = time.monotonic()
    try:
        dest = cfg.models_dir / item.into / (item.file or "")
        if is_present(cfg, state, item, dest):
            debug(f"{item.label}: already present ({item.note})")
            return
        log(f"{item.label}: downloading {short_url(item.url or '')}" + (f" ({human(item.bytes)})" if item.bytes else ""))
        Transfer(cfg, item, dest).run(state)
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


# --------------------------------------------------------------------------
# Main


def summary(items: list[Item]) -> str:
    rows = [("ID", "FILE", "STATUS", "SIZE", "TIME", "NOTE")]
    for it in items:
        rows.append((it.id, it.rel, it.status, human(it.size if it.size is not None else it.bytes),
                     f"{it.elapsed:.1f}s", it.note))
    widths = [min(48, max(len(r[i]) for r in rows)) for i in range(5)]
    out = []
    for r in rows:
        cells = [r[i][: widths[i]].ljust(widths[i]) for i in range(5)] + [r[5]]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description="Download the models of a Kiln image (see docs/runtime.md).")
    p.add_argument("--manifest", default=env.get("KILN_MODELS_MANIFEST", DEFAULT_MANIFEST),
                   help="baked manifest (a missing file means: extras only)")
    p.add_argument("--models-dir", required=True, help="ComfyUI models root")
    p.add_argument("--jobs", type=int, default=int(env.get("FETCH_JOBS") or 4))
    p.add_argument("--retries", type=int, default=int(env.get("FETCH_RETRIES") or 5))
    p.add_argument("--backoff", type=float, default=float(env.get("FETCH_BACKOFF") or 2.0),
                   help="first retry delay in seconds (doubles each retry)")
    p.add_argument("--backoff-max", type=float, default=float(env.get("FETCH_BACKOFF_MAX") or 60.0))
    p.add_argument("--timeout", type=float, default=float(env.get("FETCH_TIMEOUT") or 60.0),
                   help="socket timeout in seconds")
    p.add_argument("--progress-interval", type=float, default=30.0)
    p.add_argument("--min-free-mb", type=float, default=float(env.get("FETCH_MIN_FREE_MB") or 1024),
                   help="free space to keep after all downloads")
    p.add_argument("--aria2c", action="store_true",
                   default=(env.get("KILN_ARIA2C") or env.get("USE_ARIA2C") or "").lower() in ("1", "true", "yes"))
    p.add_argument("--no-env", action="store_true", help="ignore HF_MODELS, CIVITAI_MODELS, MODEL_URLS")
    p.add_argument("--hf", action="append", default=[], metavar="SPEC")
    p.add_argument("--civitai", action="append", default=[], metavar="SPEC")
    p.add_argument("--url", action="append", default=[], metavar="SPEC")
    p.add_argument("--report", help="write a JSON report (status of every model) here")
    p.add_argument("--debug", action="store_true", default=(env.get("DEBUG_MODE") or "").lower() == "true")
    return p.parse_args(argv)


def collect(args: argparse.Namespace, env: dict[str, str]) -> list[Item]:
    items: list[Item] = []
    manifest = Path(args.manifest)
    if manifest.is_file():
        items += load_manifest(manifest)
    else:
        log(f"no manifest at {manifest}; only extra models from the environment")
    endpoint = env.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT
    hf_host = (urllib.parse.urlsplit(endpoint).hostname or "").lower()
    hf = list(args.hf) + ([] if args.no_env else split_entries(env.get("HF_MODELS", "")))
    cv = list(args.civitai) + ([] if args.no_env else split_entries(env.get("CIVITAI_MODELS", "")))
    ur = list(args.url) + ([] if args.no_env else split_entries(env.get("MODEL_URLS", "")))
    items += [parse_hf(e, endpoint) for e in hf]
    items += [parse_civitai(e) for e in cv]
    items += [parse_url(e, hf_host) for e in ur]
    return items


def dedupe(items: list[Item]) -> list[Item]:
    seen: dict[str, Item] = {}
    out = []
    for it in items:
        if it.file and it.rel in seen:
            log(f"'{it.id}' ({it.origin}) writes {it.rel} like '{seen[it.rel].id}'; keeping the first", "WARN")
            continue
        if it.file:
            seen[it.rel] = it
        out.append(it)
    return out


def write_report(path: str, items: list[Item], ok: bool) -> None:
    doc = {
        "ok": ok,
        "models": [
            {"id": it.id, "path": it.rel, "origin": it.origin, "status": it.status, "note": it.note,
             "bytes": it.size, "transferred": it.transferred, "seconds": round(it.elapsed, 3)}
            for it in items
        ],
        "missing": [it.rel for it in items if it.status == "failed"],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(REDACT(json.dumps(doc, indent=1)) + "\n")
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    global DEBUG
    env = dict(os.environ)
    REDACT.add_from_env(env)
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) and EXIT_USAGE
    DEBUG = args.debug
    try:
        items = collect(args, env)
    except (SpecError, OSError) as e:
        log(str(e), "ERROR")
        return EXIT_USAGE
    REDACT.add_from_env(env, {it.auth for it in items if it.auth})
    items = dedupe(items)
    cfg = Config(args, env)
    if args.aria2c and not cfg.aria2c:
        log("aria2c was asked for but is not installed; using the built-in downloader", "WARN")
    if not items:
        log("no models to fetch")
        if args.report:
            write_report(args.report, items, True)
        return EXIT_OK
    cfg.tmp_dir.mkdir(parents=True, exist_ok=True)
    state = State(cfg.state_dir / "verified.json")
    t0 = time.monotonic()
    log(f"{len(items)} model(s) into {cfg.models_dir} with {cfg.jobs} worker(s)" + (" (aria2c)" if cfg.aria2c else ""))

    with concurrent.futures.ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
        # 1. Resolve CivitAI versions (file name, URL, sha256, size). A
        # version's files never change, so a resolution is cached and a
        # present file needs no API call at the next boot.
        civ_path = cfg.state_dir / "civitai.json"
        civ_cache: dict[str, dict] = {}
        with contextlib.suppress(OSError, ValueError):
            civ_cache = json.loads(civ_path.read_text(encoding="utf-8"))

        def resolve(it: Item) -> None:
            key = str(it.version_id)
            c = civ_cache.get(key)
            if isinstance(c, dict) and c.get("file") and (not it.file or it.file == c["file"]):
                into = it.into or c.get("into") or ""
                if into and (cfg.models_dir / into / c["file"]).is_file():
                    it.into, it.file, it.url = into, c["file"], c.get("url")
                    it.sha256 = it.sha256 or c.get("sha256")
                    debug(f"{it.label}: CivitAI version {it.version_id} resolved from the cache")
                    return
            try:
                resolve_civitai(cfg, it)
                civ_cache[key] = {"into": it.into, "file": it.file, "url": it.url, "sha256": it.sha256}
            except (Fatal, SpecError) as e:
                it.status, it.note = "failed", str(e)
                log(f"{it.label}: FAILED: {e}", "ERROR")

        civ = [it for it in items if it.source == "civitai"]
        list(pool.map(resolve, civ))
        if civ:
            with contextlib.suppress(OSError):
                tmp = civ_path.with_name(f"civitai.json.{os.getpid()}.tmp")
                tmp.write_text(REDACT(json.dumps(civ_cache, indent=1, sort_keys=True)), encoding="utf-8")
                os.replace(tmp, civ_path)
        items = dedupe(items)  # CivitAI names are known only now
        todo = [it for it in items if it.status == "pending"]

        # 2. Free disk check: what is still missing, minus partial files.
        need = 0
        unknown = []
        for it in todo:
            dest = cfg.models_dir / it.into / (it.file or "")
            if it.bytes is None:
                if not dest.exists():
                    unknown.append(it.id)
                continue
            if dest.exists() and dest.stat().st_size == it.bytes:
                continue
            part = cfg.tmp_dir / f"{it.rel.replace('/', '__')}.part"
            have = part.stat().st_size if part.exists() else 0
            need += max(0, it.bytes - have)
        free = shutil.disk_usage(cfg.tmp_dir).free
        debug(f"disk: need {human(need)} (+{len(unknown)} of unknown size), free {human(free)}, keep {human(cfg.min_free)}")
        if need + cfg.min_free > free:
            msg = (f"not enough disk space in {cfg.models_dir}: the missing models need {human(need)}, "
                   f"{human(free)} free and {human(cfg.min_free)} must stay free; free some space or use a bigger volume")
            log(msg, "ERROR")
            for it in todo:
                it.status, it.note = "failed", "not enough disk space"
            print(summary(items), flush=True)
            if args.report:
                write_report(args.report, items, False)
            return EXIT_DISK
        if unknown:
            debug(f"size unknown until download: {', '.join(unknown)}")

        # 3. Transfers.
        list(pool.map(lambda it: fetch_one(cfg, state, it), todo))

    failed = [it for it in items if it.status == "failed"]
    got = sum(it.transferred for it in items)
    log(f"finished in {time.monotonic() - t0:.1f}s: {len(items) - len(failed)} ok, {len(failed)} failed, {human(got)} transferred")
    with _LOG_LOCK:
        print(REDACT(summary(items)), flush=True)
    for it in failed:
        log(f"MISSING {it.rel} ('{it.id}', from {it.origin}): {it.note}", "ERROR")
    if args.report:
        write_report(args.report, items, not failed)
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("interrupted; partial files stay in the temp dir and resume next time", "WARN")
        sys.exit(130)
