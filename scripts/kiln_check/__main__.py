"""kiln_check: the checks Kiln generates for an image, run inside it.

Every Kiln image runs these at build time, in a stage of its own (see the
generated Dockerfile): the image is only produced, loaded or pushed when all
pass. On a pod, run them again (with a GPU present, too):

    /opt/venv/bin/python /opt/kiln/scripts/kiln_check [SPEC] [--only ID]... [--report FILE]

SPEC defaults to /opt/kiln/checks/spec.json (written by `kiln generate`).
Exit status: 0 when every selected check passed, 1 when one failed, 2 on bad
usage or an unreadable spec. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from checks import CHECKS, Context, Failure

DEFAULT_SPEC = "/opt/kiln/checks/spec.json"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kiln_check", description="Run the checks Kiln generated for this image.")
    parser.add_argument("spec", nargs="?", default=DEFAULT_SPEC, help=f"check spec (default {DEFAULT_SPEC})")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run only this check (repeatable)")
    parser.add_argument("--report", metavar="FILE", help="write a JSON report of the passed checks here")
    parser.add_argument("--list", action="store_true", help="list the checks of the spec and exit")
    args = parser.parse_args(argv)

    try:
        raw = Path(args.spec).read_bytes()
        spec = json.loads(raw)
    except (OSError, ValueError) as e:
        print(f"kiln check: cannot read the spec {args.spec}: {e}", file=sys.stderr)
        return 2
    entries = spec.get("checks", [])
    if args.list:
        for entry in entries:
            print(f"{entry['id']}: {entry.get('what', '')}")
        return 0
    unknown = [i for i in args.only if i not in {e["id"] for e in entries}]
    if unknown:
        print(f"kiln check: no check {', '.join(unknown)} in {args.spec} (have: {', '.join(e['id'] for e in entries)})", file=sys.stderr)
        return 2
    selected = [e for e in entries if not args.only or e["id"] in args.only]

    ctx = Context(python=spec["python"], comfyui=spec.get("comfyui", "/opt/ComfyUI"))
    image = spec["image"]
    also = [t for t in spec.get("targets", [image]) if t != image]
    who = image + (f" (also {', '.join(also)})" if also else "")
    print(f"kiln check: {who}: {len(selected)} checks", flush=True)

    failed: list[tuple[str, Failure]] = []
    results = []
    for entry in selected:
        run = CHECKS.get(entry["id"].split(":")[0])
        start = time.monotonic()
        if run is None:
            failure = Failure(f"this kiln_check does not know the check {entry['id']}", "regenerate the image with the same Kiln version")
            outcome = None
        else:
            try:
                outcome = run(entry, ctx)
                failure = None
            except Failure as f:
                failure, outcome = f, None
        took = time.monotonic() - start
        if failure:
            failed.append((entry["id"], failure))
            print(f"kiln check: {entry['id']}: FAILED ({took:.1f} s)", flush=True)
        else:
            note = f": {outcome.summary}" if outcome and outcome.summary else ""
            print(f"kiln check: {entry['id']}: ok ({took:.1f} s){note}", flush=True)
            # No timings in the report: it is copied into the image and must not change between equal builds.
            results.append({"id": entry["id"], "status": "passed", **({"notes": outcome.notes} if outcome and outcome.notes else {})})

    if failed:
        print(file=sys.stderr)
        for check_id, f in failed:
            print(f"kiln check FAILED: {who}: {check_id}", file=sys.stderr)
            for line in f.problem.rstrip().splitlines():
                print(f"  {line}", file=sys.stderr)
            print(f"  fix: {f.fix}", file=sys.stderr)
        print(f"kiln check: {len(failed)} of {len(selected)} checks failed; the image is not produced.", file=sys.stderr)
        return 1
    if args.report:
        report = {
            "//": "written by kiln_check at build time",
            "schema": 1,
            "image": image,
            "spec": hashlib.sha256(raw).hexdigest(),
            "checks": results,
        }
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"kiln check: {who}: all {len(selected)} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
