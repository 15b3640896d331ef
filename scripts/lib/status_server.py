#!/usr/bin/env python3
"""Kiln status endpoint: one JSON document about the container, on one port.

    GET /status (or /)  -> the document below
    GET /healthz        -> {"ok": true}

Started by start.sh (ENABLE_STATUS, STATUS_PORT). Python 3 standard library
only. It reads only the non-secret files start.sh, comfyctl and the fetcher
leave (state and pid files in --run-dir, the models manifest and report, the
last cleanup record) and the disk usage of a few directories; it never reads
an environment, a log or a config that could hold a secret. Every request
builds the document afresh, so it is never stale.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SCHEMA = 1


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def read_json(path: Path):
    text = read(path)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def as_int(text: str):
    return int(text) if text.isdigit() else None


def alive(pid) -> bool:
    """A running, non-zombie process (EPERM: it exists, owned by someone else)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass
    except OSError:
        return False
    stat = read(Path(f"/proc/{pid}/stat"))
    return not stat or stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] != "Z"


class Status:
    def __init__(self, args: argparse.Namespace):
        self.run = Path(args.run_dir)
        self.manifest = Path(args.manifest)
        self.models_dir = Path(args.models_dir)
        self.cleanup = Path(args.cleanup_record)
        self.disks = [d.split("=", 1) for d in args.disk]
        self.info = {"template": args.template, "gpu_profile": args.gpu, "mode": args.mode}

    def comfyui(self) -> dict:
        pid = as_int(read(self.run / "comfyui.pid"))
        running = alive(pid)
        return {
            "state": read(self.run / "comfyui.state") or "unknown",
            "pid": pid if running else None,
            "port": as_int(read(self.run / "comfyui.port")),
            "ready": running and read(self.run / "comfyui.ready") == str(pid),
            "ever_ready": (self.run / "comfyui.ever-ready").exists(),
            "restarts": as_int(read(self.run / "comfyui.restarts")) or 0,
            "manager_ui": read(self.run / "manager-ui.applied") or "unknown",
        }

    def models(self) -> dict:
        """present / missing / failed, from the manifest, the fetcher's report and the disk."""
        paths: dict[str, None] = {}
        manifest = read_json(self.manifest) or {}
        for m in manifest.get("models", []) if isinstance(manifest, dict) else []:
            if isinstance(m, dict) and m.get("into") and m.get("file"):
                paths[f"{m['into']}/{m['file']}"] = None
        report = read_json(self.run / "models-report.json")
        failed: dict[str, str] = {}
        if isinstance(report, dict):
            for m in report.get("models", []):
                if isinstance(m, dict) and isinstance(m.get("path"), str) and m["path"]:
                    paths[m["path"]] = None
                    if m.get("status") == "failed":
                        failed[m["path"]] = str(m.get("note") or "")
        present, missing = [], []
        for p in paths:
            (present if (self.models_dir / p).is_file() else missing).append(p)
        fetch = read(self.run / "models.state").split()
        return {
            "fetch": {"state": fetch[0] if fetch else "pending", "exit": as_int(fetch[1]) if len(fetch) > 1 else None},
            "present": sorted(present),
            "missing": sorted(p for p in missing if p not in failed),
            "failed": [{"path": p, "note": failed[p]} for p in sorted(failed) if p in missing],
        }

    def services(self) -> dict:
        out = {}
        d = self.run / "services"
        for f in sorted(d.iterdir()) if d.is_dir() else []:
            parts = read(f).split()
            pid = as_int(parts[0]) if parts else None
            out[f.name] = {
                "running": alive(pid),
                "pid": pid,
                "port": as_int(parts[1]) if len(parts) > 1 else None,
            }
        return out

    def disk(self) -> dict:
        out = {}
        for name, path in self.disks:
            try:
                u = shutil.disk_usage(path)
            except OSError:
                continue
            out[name] = {"path": path, "total_bytes": u.total, "used_bytes": u.used, "free_bytes": u.free}
        return out

    def document(self) -> dict:
        started = as_int(read(self.run / "supervisor.started"))
        return {
            "schema": SCHEMA,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "container": {
                **self.info,
                "supervisor_running": alive(as_int(read(self.run / "supervisor.pid"))),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)) if started else None,
                "uptime_s": int(time.time() - started) if started else None,
            },
            "comfyui": self.comfyui(),
            "models": self.models(),
            "services": self.services(),
            "disk": self.disk(),
            "gpu": read_json(self.run / "gpu.json"),
            "privacy": read_json(self.run / "privacy.json"),
            "last_cleanup": read_json(self.cleanup),
        }


def handler(status: Status):
    class H(BaseHTTPRequestHandler):
        timeout = 10  # a client that sends nothing does not hold a thread

        def send_json(self, code: int, doc) -> None:
            body = (json.dumps(doc, indent=1) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path in ("/", "/status"):
                self.send_json(200, status.document())
            elif path == "/healthz":
                self.send_json(200, {"ok": True})
            else:
                self.send_json(404, {"error": "not found", "paths": ["/status", "/healthz"]})

        def log_message(self, *_a):
            pass

    return H


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--models-dir", required=True)
    p.add_argument("--cleanup-record", required=True)
    p.add_argument("--disk", action="append", default=[], help="name=path (repeatable)")
    p.add_argument("--template", default="")
    p.add_argument("--gpu", default="")
    p.add_argument("--mode", default="")
    args = p.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler(Status(args)))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"status endpoint on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
