"""The model entry every source produces, and the baked manifest."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from pathlib import Path

from .errors import SpecError

SHA_RE = re.compile(r"^[0-9a-fA-F]{64}$")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$")


@dataclasses.dataclass(frozen=True)
class RepoSpec:
    """A whole Hugging Face repo (the HF_MODELS repo form), expanded to its files at run time."""

    repo: str  # owner/name
    revision: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    endpoint: str

    @property
    def name(self) -> str:
        return self.repo.rsplit("/", 1)[-1]


@dataclasses.dataclass
class Item:
    id: str
    source: str  # hf | civitai | url | hf-repo
    into: str
    file: str | None
    url: str | None
    sha256: str | None
    bytes: int | None
    auth: str | None  # name of the env variable holding the token
    origin: str  # "manifest" or the env variable it came from
    version_id: int | None = None
    repo: RepoSpec | None = None  # source "hf-repo": expanded into one "hf" item per file
    bytes_exact: bool = True  # False for CivitAI sizeKB estimates
    # results
    status: str = "pending"
    note: str = ""
    transferred: int = 0
    elapsed: float = 0.0
    size: int | None = None

    @property
    def rel(self) -> str:
        if self.repo:
            return f"{self.into}/{self.repo.name}/*"
        if not self.file and self.version_id:
            return f"{self.into or '?'}/<civitai version {self.version_id}>"
        return f"{self.into}/{self.file or '?'}"

    @property
    def label(self) -> str:
        return f"'{self.id}' ({self.rel})"


@dataclasses.dataclass
class Invalid:
    """An entry that could not be understood: reported, skipped, the rest goes on."""

    origin: str
    error: str


def check_into(into: str, where: str) -> str:
    into = into.strip().strip("/")
    parts = into.split("/")
    if not into or any(not SEGMENT_RE.match(p) for p in parts):
        raise SpecError(f"{where}: folder {into!r} is not a plain models subfolder name (e.g. checkpoints, loras)")
    return into


def check_file(name: str, where: str) -> str:
    if not name or "/" in name or "\\" in name or not SEGMENT_RE.match(name) or name in (".", ".."):
        raise SpecError(f"{where}: file name {name!r} is not a plain file name")
    return name


def check_sha(sha: object, where: str) -> str | None:
    if sha is None:
        return None
    if not isinstance(sha, str) or not SHA_RE.match(sha):
        raise SpecError(f"{where}: sha256 must be 64 hex characters")
    return sha.lower()


def file_of_url(url: str, where: str) -> str:
    return check_file(urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]), where)


def _manifest_item(m: object, i: int, path: Path) -> Item:
    where = f"{path}: models[{i}]"
    if not isinstance(m, dict):
        raise SpecError(f"{where}: not an object")
    mid = str(m.get("id") or f"model-{i}")
    where = f"{path}: model '{mid}'"
    source = m.get("source")
    if source not in ("hf", "civitai", "url"):
        raise SpecError(f"{where}: source must be hf, civitai or url (got {source!r})")
    into = check_into(str(m.get("into") or ""), where)
    file = m.get("file")
    file = check_file(str(file), where) if file else None
    nbytes = m.get("bytes")
    if nbytes is not None and (not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 0):
        raise SpecError(f"{where}: bytes must be a non-negative integer or null")
    vid = None
    url = m.get("url") or None
    if source == "civitai":
        vid = m.get("versionId")
        if not isinstance(vid, int) or vid <= 0:
            raise SpecError(f"{where}: civitai models need an integer versionId")
    else:
        if not url or not str(url).startswith(("http://", "https://")):
            raise SpecError(f"{where}: url must be an http(s) URL")
        file = file or file_of_url(url, where)
    return Item(id=mid, source=source, into=into, file=file, url=url, sha256=check_sha(m.get("sha256"), where),
                bytes=nbytes, auth=m.get("auth") or None, origin="manifest", version_id=vid)


def load_manifest(path: Path) -> tuple[list[Item], list[Invalid]]:
    """The manifest's models; a malformed model is reported and skipped, not the whole file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return [], [Invalid("manifest", f"{path}: cannot read it ({e})")]
    if not isinstance(doc, dict) or doc.get("schema") != 1 or not isinstance(doc.get("models"), list):
        return [], [Invalid("manifest", f"{path}: expected {{\"schema\": 1, \"models\": [...]}}")]
    items: list[Item] = []
    bad: list[Invalid] = []
    for i, m in enumerate(doc["models"]):
        try:
            items.append(_manifest_item(m, i, path))
        except SpecError as e:
            bad.append(Invalid("manifest", str(e)))
    return items, bad
