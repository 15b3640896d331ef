"""Log lines and the redactor every line and written file goes through."""

from __future__ import annotations

import datetime
import re
import threading
import urllib.parse

QUERY_SECRET_RE = re.compile(
    r"([?&;](?:token|access_token|api_key|apikey|key|auth|sig|signature|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential)=)[^&#\s\"']+",
    re.IGNORECASE,
)
USERINFO_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
BEARER_RE = re.compile(r"(\bBearer\s+)[^\s\"']+", re.IGNORECASE)
SECRET_VAR_RE = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY)$", re.IGNORECASE)


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
_LOCK = threading.Lock()
_debug = False


def set_debug(on: bool) -> None:
    global _debug
    _debug = on


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg: str, level: str = "INFO") -> None:
    line = REDACT(f"{_stamp()} [fetch] {level:5} {msg}")
    with _LOCK:
        print(line, flush=True)


def debug(msg: str) -> None:
    if _debug:
        log(msg, "DEBUG")


def emit(text: str) -> None:
    """Print a block (the summary table) through the redactor, unstamped."""
    with _LOCK:
        print(REDACT(text), flush=True)


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
