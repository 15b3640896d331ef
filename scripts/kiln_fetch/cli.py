"""Arguments, the run (resolve, check the disk, transfer), the summary and the report.

Exit codes: 0 every model present; 1 some model failed to download; 2 an
entry, the manifest or a setting was invalid (reported and skipped; all the
rest was fetched) or the arguments were; 3 not enough disk (nothing
downloaded).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import time
from pathlib import Path

from . import disk, hfrepo, settings, sources
from .civitai import Resolver
from .config import Config
from .integrity import VerifiedCache
from .log import REDACT, emit, human, log, set_debug
from .manifest import Invalid, Item, load_manifest
from .transfer import fetch_one

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DISK = 0, 1, 2, 3
DEFAULT_MANIFEST = "/opt/kiln/manifest/models.json"


def parse_args(argv: list[str], env: dict[str, str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fetch_models.py", description="Download the models of a Kiln image (see docs/runtime.md).")
    p.add_argument("--manifest", default=env.get("KILN_MODELS_MANIFEST") or DEFAULT_MANIFEST,
                   help="baked manifest (a missing file means: extras only)")
    p.add_argument("--models-dir", required=True, help="ComfyUI models root")
    settings.add_arguments(p)
    p.add_argument("--no-env", action="store_true", help="ignore HF_MODELS, CIVITAI_MODELS, MODEL_URLS")
    for var, (dest, _) in sources.VARIABLES.items():
        p.add_argument(f"--{dest}", action="append", default=[], metavar="SPEC", help=f"an entry as in {var}")
    p.add_argument("--report", help="write a JSON report (status of every model) here")
    p.add_argument("--debug", action="store_true", default=(env.get("DEBUG_MODE") or "").lower() == "true")
    return p.parse_args(argv)


def collect(args: argparse.Namespace, env: dict[str, str]) -> tuple[list[Item], list[Invalid]]:
    items: list[Item] = []
    bad: list[Invalid] = []
    manifest = Path(args.manifest)
    if manifest.is_file():
        items, bad = load_manifest(manifest)
    else:
        log(f"no manifest at {manifest}; only extra models from the environment")
    flags = {dest: getattr(args, dest) for dest, _ in sources.VARIABLES.values()}
    extra, extra_bad = sources.collect_env(flags, env, use_env=not args.no_env)
    return items + extra, bad + extra_bad


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


def summary(items: list[Item]) -> str:
    rows = [("ID", "FILE", "STATUS", "SIZE", "TIME", "NOTE")]
    for it in items:
        rows.append((it.id, it.rel, it.status, human(it.size if it.size is not None else it.bytes),
                     f"{it.elapsed:.1f}s", it.note))
    widths = [min(48, max(len(r[i]) for r in rows)) for i in range(5)]
    return "\n".join("  ".join([r[i][: widths[i]].ljust(widths[i]) for i in range(5)] + [r[5]]).rstrip() for r in rows)


def write_report(path: str | None, items: list[Item], invalid: list[Invalid]) -> None:
    if not path:
        return
    failed = [it.rel for it in items if it.status == "failed"]
    doc = {
        "ok": not failed and not invalid,
        "models": [
            {"id": it.id, "path": it.rel, "origin": it.origin, "status": it.status, "note": it.note,
             "bytes": it.size, "transferred": it.transferred, "seconds": round(it.elapsed, 3)}
            for it in items
        ],
        "missing": failed,
        "invalid": [{"origin": b.origin, "error": b.error} for b in invalid],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(REDACT(json.dumps(doc, indent=1)) + "\n")
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    REDACT.add_from_env(env)
    try:
        args = parse_args(argv, env)
    except SystemExit as e:
        return int(e.code or 0) and EXIT_USAGE
    set_debug(args.debug)
    for var in ("KILN_ARIA2C", "USE_ARIA2C"):
        if (env.get(var) or "").lower() in ("1", "true", "yes"):
            log(f"{var} is ignored: the aria2c mode is gone (the built-in fetcher downloads large files over several "
                "connections, and aria2c sent tokens across redirects)", "WARN")
    invalid = [Invalid("settings", p) for p in settings.resolve(args, env)]
    items, bad = collect(args, env)
    invalid += bad
    for b in invalid:
        log(f"{b.error}; skipped (the other models still download)" if b.origin != "settings" else b.error, "ERROR")
    REDACT.add_from_env(env, {it.auth for it in items if it.auth})
    items = dedupe(items)
    cfg = Config.from_args(args, env)
    if not items:
        log("no models to fetch")
        write_report(args.report, items, invalid)
        return EXIT_USAGE if invalid else EXIT_OK
    cfg.tmp_dir.mkdir(parents=True, exist_ok=True)
    cache = VerifiedCache(cfg.state_dir / "verified.json")
    t0 = time.monotonic()
    log(f"{len(items)} model(s) into {cfg.models_dir}: {cfg.jobs} at a time, up to {cfg.segments} connections per "
        f"file, {cfg.connections} in all")

    with concurrent.futures.ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
        # 0. Whole Hugging Face repos -> one item per file (a repo that cannot be listed stays, failed).
        repos = [it for it in items if it.source == "hf-repo"]
        if repos:
            files = dict(zip(map(id, repos), pool.map(lambda it: hfrepo.expand(cfg.net, it), repos)))
            items = [f for it in items for f in (files[id(it)] if it.source == "hf-repo" else [it])]
            items = dedupe(items)

        # 1. CivitAI versions -> file name, URL, sha256, size.
        civ = [it for it in items if it.source == "civitai"]
        if civ:
            resolver = Resolver(cfg.net, cfg.civitai_api, cfg.models_dir, cfg.state_dir)
            list(pool.map(resolver, civ))
            resolver.save()
        items = dedupe(items)  # CivitAI names are known only now
        todo = [it for it in items if it.status == "pending"]

        # 2. Free disk: what is still missing, minus what partials already hold.
        problem = disk.check(cfg, todo)
        if problem:
            log(problem, "ERROR")
            for it in todo:
                it.status, it.note = "failed", "not enough disk space"
            emit(summary(items))
            write_report(args.report, items, invalid)
            return EXIT_DISK

        # 3. Transfers.
        list(pool.map(lambda it: fetch_one(cfg, cache, it), todo))

    failed = [it for it in items if it.status == "failed"]
    got = sum(it.transferred for it in items)
    log(f"finished in {time.monotonic() - t0:.1f}s: {len(items) - len(failed)} ok, {len(failed)} failed, "
        f"{len(invalid)} invalid, {human(got)} transferred")
    emit(summary(items))
    for it in failed:
        log(f"MISSING {it.rel} ('{it.id}', from {it.origin}): {it.note}", "ERROR")
    for b in invalid:
        log(f"INVALID {b.error}", "ERROR")
    write_report(args.report, items, invalid)
    return EXIT_FAILED if failed else EXIT_USAGE if invalid else EXIT_OK
