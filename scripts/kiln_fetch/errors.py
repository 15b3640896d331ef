"""Exception kinds shared by the fetcher's modules."""

from __future__ import annotations


class SpecError(ValueError):
    """A model entry or a setting is malformed (reported and skipped)."""


class Fatal(Exception):
    """Not worth retrying (401/403/404, bad checksum, HTML instead of a model)."""


class DiskFull(Fatal):
    """ENOSPC while writing a partial file."""


class Retryable(Exception):
    """Worth another attempt (5xx, 429, timeouts, dropped connections)."""

    def __init__(self, msg: str, retry_after: float | None = None):
        super().__init__(msg)
        self.retry_after = retry_after


class Stalled(Retryable):
    """Slower than the minimum throughput: retried, but never counts as progress."""


class Restart(Exception):
    """The partial cannot be continued (the file changed upstream): start over."""
