"""Opening URLs with the right token, classifying failures, retry delays."""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Callable, TypeVar

from . import auth
from .errors import Fatal, Retryable
from .log import log

USER_AGENT = "kiln-fetch/2 (+https://github.com/kiln)"

RETRYABLE_ERRORS = (
    TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException, urllib.error.URLError,
)

T = TypeVar("T")


class Net:
    """What every request needs: the opener, the environment, timeouts, retry policy."""

    def __init__(self, env: dict[str, str], timeout: float, retries: int, backoff: float, backoff_max: float):
        self.env = env
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = max(backoff, backoff_max)
        self.opener = urllib.request.build_opener(auth.SameOriginAuthRedirect())
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def open(self, url: str, auth_var: str | None, model_url: str | None, headers: dict[str, str] | None = None):
        req = urllib.request.Request(url, headers=headers or {})
        token = auth.token_for(auth_var, url, model_url, self.env)
        if token:
            # Unredirected: a redirect re-adds it only to the same origin.
            req.add_unredirected_header("Authorization", f"Bearer {token}")
        return self.opener.open(req, timeout=self.timeout)

    def delay(self, attempt: int, err: Exception) -> float:
        d = min(self.backoff_max, self.backoff * (2 ** (attempt - 1))) * (0.8 + 0.4 * random.random())
        if isinstance(err, Retryable) and err.retry_after:
            d = max(d, min(err.retry_after, self.backoff_max))
        return d


def auth_hint(auth_var: str | None, env: dict[str, str], code: int) -> str:
    if not auth_var:
        return f"HTTP {code}: the server refused access (no token variable is configured for this model)"
    if env.get(auth_var):
        return (f"HTTP {code}: access refused although {auth_var} is set; check that the token is valid and has "
                "access (gated model: accept its license first)")
    return f"HTTP {code}: access refused; set {auth_var} (this model needs a token)"


def classify(e: BaseException, what: str, auth_var: str | None, env: dict[str, str]) -> Exception:
    """Fatal or Retryable for an exception raised by a request or a read."""
    if isinstance(e, (Fatal, Retryable)):
        return e
    if isinstance(e, urllib.error.HTTPError):
        code = e.code
        if code in (401, 403):
            return Fatal(f"{what}: {auth_hint(auth_var, env, code)}")
        if code == 404:
            return Fatal(f"{what}: HTTP 404 not found")
        if code in (408, 425, 429) or code >= 500:
            ra = None
            with contextlib.suppress(Exception):
                ra = float(e.headers.get("Retry-After", ""))
            return Retryable(f"{what}: HTTP {code}", ra)
        return Fatal(f"{what}: HTTP {code} {e.reason}")
    if isinstance(e, RETRYABLE_ERRORS):
        reason = getattr(e, "reason", None) or e
        return Retryable(f"{what}: {type(reason).__name__}: {reason}")
    raise e


def with_retries(net: Net, label: str, what: str, auth_var: str | None, fn: Callable[[], T],
                 stop: threading.Event | None = None) -> T:
    """fn() until it succeeds, a Fatal error, or net.retries retries."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - classify() re-raises what it does not know
            err = classify(e, what, auth_var, net.env)
        if isinstance(err, Fatal):
            raise err
        attempt += 1
        if attempt > net.retries:
            raise Fatal(f"{err} (gave up after {net.retries} retries)")
        d = net.delay(attempt, err)
        log(f"{label}: {err}; retry {attempt}/{net.retries} in {d:.1f}s", "WARN")
        if stop is not None:
            stop.wait(d)
        else:
            time.sleep(d)
