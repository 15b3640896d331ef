"""What one run of the fetcher works with (built once from the arguments)."""

from __future__ import annotations

import argparse
import dataclasses
import threading
from pathlib import Path

from .civitai import DEFAULT_API
from .net import Net

MIB = 1024 * 1024


@dataclasses.dataclass
class Config:
    models_dir: Path
    net: Net
    env: dict[str, str]
    jobs: int
    segments: int
    min_segment: int  # bytes
    connections: int
    slots: threading.BoundedSemaphore  # one per open connection, over all files
    stall_secs: float
    min_speed: float  # bytes/s; 0: no minimum
    progress_every: float
    min_free: int  # bytes
    civitai_api: str

    @property
    def state_dir(self) -> Path:
        return self.models_dir / ".kiln"

    @property
    def tmp_dir(self) -> Path:
        return self.state_dir / "tmp"

    @staticmethod
    def from_args(args: argparse.Namespace, env: dict[str, str]) -> Config:
        net = Net(env, timeout=args.timeout, retries=args.retries, backoff=args.backoff, backoff_max=args.backoff_max)
        return Config(
            models_dir=Path(args.models_dir), net=net, env=env, jobs=args.jobs, segments=args.segments,
            min_segment=max(1, int(args.min_segment_mb * MIB)),
            connections=args.connections, slots=threading.BoundedSemaphore(args.connections), stall_secs=args.stall_secs,
            min_speed=args.min_speed_kb * 1024, progress_every=args.progress_interval,
            min_free=int(args.min_free_mb * MIB), civitai_api=env.get("CIVITAI_API_BASE") or DEFAULT_API,
        )
