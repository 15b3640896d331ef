"""Extra models named in the environment: one parser per form.

Every form is `[<folder>[/<name>]:]<rest>[#sha256=<64 hex>]`; FORMS maps an
environment variable (and its flag) to the parser of its <rest>. A new form
(e.g. a whole Hugging Face repo) is one more parser and one more FORMS row.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Callable

from . import auth
from .errors import SpecError
from .manifest import Invalid, Item, check_file, check_into, file_of_url

DEFAULT_HF_ENDPOINT = "https://huggingface.co"

# Entries end at whitespace. A comma ends one too where a new entry starts
# after it (`<folder>:`), so a URL's own commas (`?ids=1,2`) stay in the URL;
# CivitAI entries (digits) never hold a comma.
_SPLIT_AT_FOLDER_RE = re.compile(r"\s+|,\s*(?=[A-Za-z0-9_][A-Za-z0-9_./+=-]*:)")
_SPLIT_ANY_COMMA_RE = re.compile(r"[\s,]+")
_SHA_SUFFIX_RE = re.compile(r"#(?:sha256=)?([^#]*)$")
_HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def split_entries(value: str, any_comma: bool = False) -> list[str]:
    pattern = _SPLIT_ANY_COMMA_RE if any_comma else _SPLIT_AT_FOLDER_RE
    return [e.strip(",") for e in pattern.split(value or "") if e and e.strip(",")]


def split_dest_and_sha(entry: str, where: str) -> tuple[str | None, str | None, str, str | None]:
    """'[into[/file]:]rest[#sha256=HEX]' -> (into, file, rest, sha)."""
    sha = None
    m = _SHA_SUFFIX_RE.search(entry)
    # `#sha256=<x>`, or a bare `#<hex>` long enough to be meant as one.
    if m and (m.group(0).startswith("#sha256=") or re.match(r"^[0-9a-fA-F]{32,}$", m.group(1))):
        if not _HEX64_RE.match(m.group(1)):
            raise SpecError(f"{where}: #sha256= needs exactly 64 hex digits (got {len(m.group(1))} characters)")
        sha = m.group(1).lower()
        entry = entry[: m.start()]
    into = file = None
    m = re.match(r"^([^:\s]+):(?!//)(.+)$", entry)
    if m and m.group(1).lower() not in ("http", "https"):
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


def parse_hf(entry: str, env: dict[str, str]) -> Item:
    where = f"HF_MODELS entry {entry!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if not into:
        raise SpecError(f"{where}: name the folder, e.g. loras:owner/repo/file.safetensors")
    m = re.match(r"^([^/@\s]+)/([^/@\s]+?)(?:@([^/\s]+))?/(.+)$", rest)
    if not m:
        raise SpecError(f"{where}: expected <folder>:<owner>/<repo>[@<revision>]/<path/in/repo>")
    owner, repo, rev, path = m.group(1), m.group(2), m.group(3) or "main", m.group(4)
    endpoint = (env.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/")
    url = f"{endpoint}/{owner}/{repo}/resolve/{urllib.parse.quote(rev, safe='')}/{urllib.parse.quote(path)}"
    file = file or check_file(path.rsplit("/", 1)[-1], where)
    return Item(id=f"{owner}/{repo}/{path}", source="hf", into=into, file=file, url=url, sha256=sha,
                bytes=None, auth="HF_TOKEN", origin="HF_MODELS")


def parse_civitai(entry: str, env: dict[str, str]) -> Item:
    where = f"CIVITAI_MODELS entry {entry!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if not rest.isdigit() or int(rest) <= 0:
        raise SpecError(f"{where}: expected [<folder>:]<model version id>, e.g. loras:128713")
    vid = int(rest)
    return Item(id=f"civitai-{vid}", source="civitai", into=into or "", file=file, url=None, sha256=sha,
                bytes=None, auth="CIVITAI_TOKEN", origin="CIVITAI_MODELS", version_id=vid)


def parse_url(entry: str, env: dict[str, str]) -> Item:
    where = f"MODEL_URLS entry {entry.split('?', 1)[0]!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if not into or not rest.startswith(("http://", "https://")):
        raise SpecError(f"{where}: expected <folder>[/<file>]:<http(s) URL>, e.g. vae:https://host/a.safetensors")
    file = file or file_of_url(rest, where)
    return Item(id=file, source="url", into=into, file=file, url=rest, sha256=sha, bytes=None,
                auth=auth.service_of(rest, env), origin="MODEL_URLS")


# env variable -> (flag dest, parser, entries split at any comma)
FORMS: dict[str, tuple[str, Callable[[str, dict[str, str]], Item], bool]] = {
    "HF_MODELS": ("hf", parse_hf, False),
    "CIVITAI_MODELS": ("civitai", parse_civitai, True),
    "MODEL_URLS": ("url", parse_url, False),
}


def collect_env(flags: dict[str, list[str]], env: dict[str, str], use_env: bool) -> tuple[list[Item], list[Invalid]]:
    items: list[Item] = []
    bad: list[Invalid] = []
    for var, (dest, parse, any_comma) in FORMS.items():
        entries = list(flags.get(dest) or []) + (split_entries(env.get(var, ""), any_comma) if use_env else [])
        for entry in entries:
            try:
                items.append(parse(entry, env))
            except SpecError as e:
                bad.append(Invalid(var, str(e)))
    return items, bad
