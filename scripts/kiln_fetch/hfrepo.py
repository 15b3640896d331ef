"""Whole Hugging Face repos (the HF_MODELS repo form) -> one model per file.

Two Hub API calls per repo (shapes as huggingface_hub reads them, hf_api.py
model_info / list_repo_tree; errors as utils/_http.py hf_raise_for_status):

  GET {HF_ENDPOINT}/api/models/{repo}/revision/{rev}         -> sha, the commit
  GET {HF_ENDPOINT}/api/models/{repo}/tree/{sha}?recursive=true
      -> [{type, path, size, lfs?: {oid, size}}], paged by `Link: <...>; rel="next"`

Every file the globs select lands at <folder>/<repo name>/<path> and is
downloaded from resolve/<sha>/<path> (the commit, so a moving branch cannot
mix two versions), verified by its LFS sha256 (lfs.oid); a small file kept in
git itself (a config) has no sha256 in the API and is checked by its exact
size. Globs are huggingface_hub's allow/ignore patterns (fnmatch, `*` crosses
"/", "dir/" means everything below dir); hidden paths (.gitattributes) are
never taken. Kiln's `kiln lock` selects the same way (src/lock/glob.ts).
"""

from __future__ import annotations

import fnmatch
import json
import re
import urllib.error
import urllib.parse

from .errors import Fatal
from .log import debug, log
from .manifest import SEGMENT_RE, Item
from .net import Net, with_retries

_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
MAX_PAGES = 10_000


def selected(path: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    def matches(globs: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatchcase(path, g + "*" if g.endswith("/") else g) for g in globs)

    if any(part.startswith(".") for part in path.split("/")):
        return False
    return (not include or matches(include)) and not matches(exclude)


def _fatal_for(e: urllib.error.HTTPError, item: Item, what: str, net: Net) -> Fatal | None:
    """A Hub error as what to do about it; None for answers worth a retry."""
    spec = item.repo
    assert spec is not None
    code = e.headers.get("X-Error-Code") if e.headers else None
    page = f"{spec.endpoint}/{spec.repo}"
    has_token = bool(net.env.get("HF_TOKEN"))
    if code == "GatedRepo":
        held = " (HF_TOKEN is set: its account has no access yet)" if has_token else ""
        return Fatal(f"{what}: {spec.repo} is a gated repo: accept its license on {page} and set HF_TOKEN{held} (HTTP {e.code})")
    if e.code in (401, 403):
        if has_token:
            return Fatal(f"{what}: HTTP {e.code}: HF_TOKEN was refused for {spec.repo}; check the token and that its account can read the repo")
        return Fatal(f"{what}: HTTP {e.code}: {spec.repo} needs HF_TOKEN (private, or gated: accept its license on {page}), or does not exist")
    if e.code == 404:
        if code == "RevisionNotFound":
            return Fatal(f"{what}: {spec.repo} has no revision {spec.revision!r} (HTTP 404)")
        return Fatal(f"{what}: {spec.repo} is not on {spec.endpoint} (HTTP 404)")
    return None


def _get_json(net: Net, item: Item, url: str, what: str) -> tuple[object, str | None]:
    """The JSON at url and the next page's URL (Link header), with the fetcher's retries."""

    def call():
        try:
            with net.open(url, "HF_TOKEN", url, {"Accept": "application/json"}) as r:
                body = r.read()
                link = r.headers.get("Link") or ""
        except urllib.error.HTTPError as e:
            raise (_fatal_for(e, item, what, net) or e) from None
        m = _NEXT_RE.search(link)
        return body, (urllib.parse.urljoin(url, m.group(1)) if m else None)

    body, next_url = with_retries(net, item.label, what, "HF_TOKEN", call)
    try:
        return json.loads(body.decode("utf-8")), next_url
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Fatal(f"{what}: the API answered something that is not JSON ({e})") from None


def _commit(net: Net, item: Item) -> str:
    spec = item.repo
    assert spec is not None
    api = f"{spec.endpoint}/api/models/{urllib.parse.quote(spec.repo)}"
    doc, _ = _get_json(net, item, f"{api}/revision/{urllib.parse.quote(spec.revision, safe='')}", f"{spec.repo}@{spec.revision} lookup")
    sha = doc.get("sha") if isinstance(doc, dict) else None
    if not isinstance(sha, str) or not _SHA1_RE.match(sha):
        raise Fatal(f"{spec.repo}@{spec.revision} lookup: the API answered no commit sha")
    return sha


def _files(net: Net, item: Item, sha: str) -> list[dict]:
    spec = item.repo
    assert spec is not None
    url: str | None = f"{spec.endpoint}/api/models/{urllib.parse.quote(spec.repo)}/tree/{sha}?recursive=true"
    files: list[dict] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return files
        page, url = _get_json(net, item, url, f"{spec.repo}@{sha[:7]} file list")
        if not isinstance(page, list):
            raise Fatal(f"{spec.repo}@{sha[:7]} file list: the API answered no list")
        files += [e for e in page if isinstance(e, dict) and e.get("type") == "file"]
    raise Fatal(f"{spec.repo}@{sha[:7]} file list: more than {MAX_PAGES} pages")


def _file_item(item: Item, sha: str, entry: dict) -> Item:
    spec = item.repo
    assert spec is not None
    path = entry.get("path")
    lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else {}
    size = lfs.get("size", entry.get("size"))
    oid = str(lfs.get("oid") or "").lower().removeprefix("sha256:") or None
    parts = path.split("/") if isinstance(path, str) else []
    into = "/".join([item.into, spec.name, *parts[:-1]])
    new = Item(id=f"{spec.repo}/{path}", source="hf", into=into, file=parts[-1] if parts else None,
               url=f"{spec.endpoint}/{spec.repo}/resolve/{sha}/{urllib.parse.quote(path or '')}",
               sha256=oid if oid and _SHA256_RE.match(oid) else None,
               bytes=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
               auth="HF_TOKEN", origin=item.origin)
    bad = [p for p in parts if not SEGMENT_RE.match(p)]
    if not parts or bad:
        # One odd path fails alone; the repo's other files still download.
        new.file = new.file if new.file and SEGMENT_RE.match(new.file) else "?"
        new.status, new.note = "failed", f"path {path!r} has a part the fetcher refuses ({bad[0] if bad else 'empty'!r}); exclude it"
    return new


def expand(net: Net, item: Item) -> list[Item]:
    """The files of a repo item (status "failed" with the reason when the repo cannot be listed)."""
    spec = item.repo
    assert spec is not None
    try:
        sha = _commit(net, item)
        entries = _files(net, item, sha)
    except Fatal as e:
        item.status, item.note = "failed", str(e)
        log(f"{item.label}: FAILED: {e}", "ERROR")
        return [item]
    chosen = [e for e in entries if isinstance(e.get("path"), str) and selected(e["path"], spec.include, spec.exclude)]
    if not chosen:
        item.status = "failed"
        item.note = (f"no file of {spec.repo}@{sha[:7]} is selected ({len(entries)} files; "
                     f"include={','.join(spec.include) or '*'} exclude={','.join(spec.exclude) or '-'})")
        log(f"{item.label}: FAILED: {item.note}", "ERROR")
        return [item]
    items = [_file_item(item, sha, e) for e in sorted(chosen, key=lambda e: e["path"])]
    for it in items:
        if it.status == "failed":
            log(f"{it.label}: FAILED: {it.note}", "ERROR")
    debug(f"{item.label}: {spec.repo}@{sha[:7]}: {len(items)} of {len(entries)} files")
    log(f"{item.label}: {len(items)} file(s) of {spec.repo} at {sha[:7]}")
    return items
