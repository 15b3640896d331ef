"""Numeric settings: a flag overrides the environment, which overrides the default.

A bad flag is a usage error (exit 2, argparse's message). A bad environment
value is reported and the default used, so one typo in FETCH_JOBS does not
stop the downloads.
"""

from __future__ import annotations

import argparse
import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Setting:
    dest: str
    env: str | None
    kind: type  # int or float
    default: float
    minimum: float
    help: str
    above: bool = False  # True: must be strictly greater than minimum


SETTINGS = (
    Setting("jobs", env="FETCH_JOBS", kind=int, default=8, minimum=1, help="files downloaded at a time"),
    Setting("segments", env="FETCH_SEGMENTS", kind=int, default=8, minimum=1,
            help="most connections for one large file (1: one connection per file)"),
    Setting("min_segment_mb", env="FETCH_MIN_SEGMENT_MB", kind=float, default=16, minimum=0, above=True,
            help="smallest segment in MiB: a file gets size/this connections, at most --segments"),
    Setting("connections", env="FETCH_CONNECTIONS", kind=int, default=16, minimum=1,
            help="most connections open at once over all files"),
    Setting("retries", env="FETCH_RETRIES", kind=int, default=5, minimum=0,
            help="retries of a connection without progress (progress resets the count)"),
    Setting("backoff", env="FETCH_BACKOFF", kind=float, default=2.0, minimum=0, help="first retry delay in seconds (doubles)"),
    Setting("backoff_max", env="FETCH_BACKOFF_MAX", kind=float, default=60.0, minimum=0, help="retry delay cap in seconds"),
    Setting("timeout", env="FETCH_TIMEOUT", kind=float, default=60.0, minimum=0, above=True, help="socket timeout in seconds"),
    Setting("stall_secs", env="FETCH_STALL_SECS", kind=float, default=60.0, minimum=0, above=True,
            help="window of the minimum-throughput check in seconds"),
    Setting("min_speed_kb", env="FETCH_MIN_SPEED_KB", kind=float, default=10.0, minimum=0,
            help="a connection slower than this (KiB/s) over --stall-secs is dropped and retried (0: off)"),
    Setting("min_free_mb", env="FETCH_MIN_FREE_MB", kind=float, default=1024.0, minimum=0,
            help="free space to keep after all downloads (MiB)"),
    Setting("progress_interval", env=None, kind=float, default=30.0, minimum=0, help="seconds between progress lines"),
)


def _describe(s: Setting) -> str:
    what = "a whole number" if s.kind is int else "a number"
    bound = f"> {s.minimum:g}" if s.above else f">= {s.minimum:g}"
    return f"{what} {bound}"


def parse_value(s: Setting, text: str) -> int | float:
    """The value of `text` for setting `s`; ValueError with a message when it is not one."""
    try:
        value = s.kind(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not {_describe(s)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{text!r} is not {_describe(s)}")
    if value < s.minimum or (s.above and value == s.minimum):
        raise ValueError(f"{text!r} is not {_describe(s)}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    for s in SETTINGS:
        def convert(text: str, s: Setting = s) -> int | float:
            try:
                return parse_value(s, text)
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e)) from None
        env = f" (env {s.env})" if s.env else ""
        p.add_argument("--" + s.dest.replace("_", "-"), dest=s.dest, type=convert, default=None,
                       metavar="N", help=f"{s.help}; default {s.default:g}{env}")


def resolve(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    """Fill unset flags from the environment or the default; returns the problems found."""
    problems = []
    for s in SETTINGS:
        if getattr(args, s.dest) is not None:
            continue
        value = s.kind(s.default)
        raw = env.get(s.env, "") if s.env else ""
        if raw.strip():
            try:
                value = parse_value(s, raw)
            except ValueError as e:
                problems.append(f"{s.env}={e}; using the default {s.default:g}")
        setattr(args, s.dest, value)
    return problems
