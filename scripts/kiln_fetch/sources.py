"""Extra models named in the environment: one parser per form.

Every form is `[<folder>[/<name>]:]<rest>[#sha256=<64 hex>]`; FORMS lists,
per environment variable (and its flag), the forms its entries may take: the
first whose shape matches an entry's <rest> parses it. A new form is one
more parser and one more FORMS row.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Callable, Pattern

from . import auth
from .errors import SpecError
from .manifest import Invalid, Item, RepoSpec, check_file, check_into, file_of_url

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


def hf_endpoint(env: dict[str, str]) -> str:
    return (env.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/")


def parse_hf(entry: str, env: dict[str, str]) -> Item:
    where = f"HF_MODELS entry {entry!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if not into:
        raise SpecError(f"{where}: name the folder, e.g. loras:owner/repo/file.safetensors")
    m = re.match(r"^([^/@\s]+)/([^/@\s]+?)(?:@([^/\s]+))?/(.+)$", rest)
    if not m:
        raise SpecError(f"{where}: expected <folder>:<owner>/<repo>[@<revision>]/<path/in/repo> (one file), "
                        "or <folder>:<owner>/<repo>[@<revision>][include=<globs>;exclude=<globs>] (a whole repo)")
    owner, repo, rev, path = m.group(1), m.group(2), m.group(3) or "main", m.group(4)
    endpoint = hf_endpoint(env)
    url = f"{endpoint}/{owner}/{repo}/resolve/{urllib.parse.quote(rev, safe='')}/{urllib.parse.quote(path)}"
    file = file or check_file(path.rsplit("/", 1)[-1], where)
    return Item(id=f"{owner}/{repo}/{path}", source="hf", into=into, file=file, url=url, sha256=sha,
                bytes=None, auth="HF_TOKEN", origin="HF_MODELS")


# <owner>/<repo>[@<revision>][<filters>]: the brackets (empty for every file) mark a whole repo.
HF_REPO_RE = re.compile(r"^([^/@\s\[\]]+)/([^/@\s\[\]]+?)(?:@([^/\s\[\]]+))?\[([^\[\]]*)\]$")


def parse_filters(text: str, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """'include=a,b;exclude=c' -> (("a", "b"), ("c",)); "" selects every file."""
    found: dict[str, tuple[str, ...]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if key not in ("include", "exclude") or not eq:
            raise SpecError(f"{where}: {part!r} is not include=<globs> or exclude=<globs>")
        if key in found:
            raise SpecError(f"{where}: {key}= is given twice (list its globs once, separated by commas)")
        globs = tuple(g.strip() for g in value.split(","))
        if not all(globs) or any(g.startswith("/") for g in globs):
            raise SpecError(f"{where}: {key}= needs globs of repo paths separated by commas, e.g. {key}=*.safetensors,vae/")
        found[key] = globs
    return found.get("include", ()), found.get("exclude", ())


def parse_hf_repo(entry: str, env: dict[str, str]) -> Item:
    where = f"HF_MODELS entry {entry!r}"
    into, file, rest, sha = split_dest_and_sha(entry, where)
    if sha:
        raise SpecError(f"{where}: a whole repo has no single #sha256; each file is verified by the sha256 the Hub lists")
    if file:
        raise SpecError(f"{where}: a whole repo lands in <folder>/<repo name>/...; name a folder, not a file")
    if not into:
        raise SpecError(f"{where}: name the folder, e.g. diffusion_models:owner/repo[include=*.safetensors]")
    m = HF_REPO_RE.match(rest)
    assert m is not None  # FORMS matched it
    owner, repo, rev = m.group(1), m.group(2), m.group(3) or "main"
    check_into(repo, where)  # the repo name becomes a folder
    include, exclude = parse_filters(m.group(4), where)
    spec = RepoSpec(repo=f"{owner}/{repo}", revision=rev, include=include, exclude=exclude, endpoint=hf_endpoint(env))
    return Item(id=f"{owner}/{repo}@{rev}[{m.group(4)}]", source="hf-repo", into=into, file=None, url=None, sha256=None,
                bytes=None, auth="HF_TOKEN", origin="HF_MODELS", repo=spec)


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


@dataclasses.dataclass(frozen=True)
class Form:
    var: str  # environment variable
    dest: str  # its flag (--hf)
    any_comma: bool  # entries split at any comma
    shape: Pattern[str] | None  # the <rest> (after <folder>:, before #sha256=) this form takes; None: any
    parse: Callable[[str, dict[str, str]], Item]


# Per variable, in the order they are tried.
FORMS: tuple[Form, ...] = (
    Form("HF_MODELS", "hf", False, HF_REPO_RE, parse_hf_repo),
    Form("HF_MODELS", "hf", False, None, parse_hf),
    Form("CIVITAI_MODELS", "civitai", True, None, parse_civitai),
    Form("MODEL_URLS", "url", False, None, parse_url),
)
VARIABLES: dict[str, tuple[str, bool]] = {f.var: (f.dest, f.any_comma) for f in FORMS}  # var -> (flag dest, any comma)


def _rest(entry: str) -> str:
    """An entry without its <folder>: and #sha256= parts (to pick its form)."""
    entry = _SHA_SUFFIX_RE.sub("", entry)
    m = re.match(r"^([^:\s]+):(?!//)(.+)$", entry)
    return m.group(2) if m and m.group(1).lower() not in ("http", "https") else entry


def parse_entry(var: str, entry: str, env: dict[str, str]) -> Item:
    form = next(f for f in FORMS if f.var == var and (f.shape is None or f.shape.match(_rest(entry))))
    return form.parse(entry, env)


def collect_env(flags: dict[str, list[str]], env: dict[str, str], use_env: bool) -> tuple[list[Item], list[Invalid]]:
    items: list[Item] = []
    bad: list[Invalid] = []
    for var, (dest, any_comma) in VARIABLES.items():
        entries = list(flags.get(dest) or []) + (split_entries(env.get(var, ""), any_comma) if use_env else [])
        for entry in entries:
            try:
                items.append(parse_entry(var, entry, env))
            except SpecError as e:
                bad.append(Invalid(var, str(e)))
    return items, bad
