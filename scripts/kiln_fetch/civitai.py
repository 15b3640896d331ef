"""CivitAI model versions -> file name, URL, sha256, size (cached: a version's files never change)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from .errors import Fatal, SpecError
from .log import REDACT, debug, log
from .manifest import SHA_RE, Item, check_file
from .net import Net, with_retries

DEFAULT_API = "https://civitai.com/api/v1"

# CivitAI model types -> ComfyUI models subfolder (used when CIVITAI_MODELS
# names no folder).
TYPE_FOLDERS = {
    "checkpoint": "checkpoints",
    "lora": "loras",
    "locon": "loras",
    "dora": "loras",
    "lycoris": "loras",
    "textualinversion": "embeddings",
    "vae": "vae",
    "controlnet": "controlnet",
    "upscaler": "upscale_models",
    "hypernetwork": "hypernetworks",
    "motionmodule": "animatediff_models",
}


def resolve(net: Net, api: str, item: Item) -> None:
    url = f"{api.rstrip('/')}/model-versions/{item.version_id}"
    what = f"CivitAI version {item.version_id} lookup"

    def call():
        with net.open(url, item.auth, url, {"Accept": "application/json"}) as r:
            return json.loads(r.read().decode("utf-8"))

    try:
        data = with_retries(net, item.label, what, item.auth, call)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise Fatal(f"{what}: the API answered something that is not JSON ({e})") from None
    if not isinstance(data, dict):
        raise Fatal(f"{what}: the API answered JSON that is not an object")
    files = [f for f in (data.get("files") or []) if isinstance(f, dict)]
    if not files:
        raise Fatal(f"{what}: the version has no files")
    chosen = None
    if item.file:
        chosen = next((f for f in files if f.get("name") == item.file), None)
    chosen = chosen or next((f for f in files if f.get("primary")), None) or files[0]
    if not item.into:
        mtype = str((data.get("model") or {}).get("type") or "").lower()
        folder = TYPE_FOLDERS.get(mtype)
        if not folder:
            raise Fatal(f"{what}: cannot guess the folder for model type {mtype or '?'!r}; write it as <folder>:{item.version_id}")
        item.into = folder
    item.file = item.file or check_file(str(chosen.get("name") or ""), what)
    item.url = chosen.get("downloadUrl") or data.get("downloadUrl")
    if not item.url or not str(item.url).startswith(("http://", "https://")):
        raise Fatal(f"{what}: no http(s) downloadUrl in the answer")
    api_sha = str((chosen.get("hashes") or {}).get("SHA256") or "").lower() or None
    if api_sha and not SHA_RE.match(api_sha):
        api_sha = None
    if item.sha256 and api_sha and item.sha256 != api_sha:
        log(f"{item.label}: manifest sha256 differs from CivitAI's; using the manifest's", "WARN")
    item.sha256 = item.sha256 or api_sha
    with contextlib.suppress(TypeError, ValueError):
        if item.bytes is None and chosen.get("sizeKB"):
            item.bytes = int(float(chosen["sizeKB"]) * 1024)
            item.bytes_exact = False  # sizeKB is rounded: used for the disk check only


class Resolver:
    """Resolves CivitAI items, with a cache so a present file needs no API call at the next boot."""

    def __init__(self, net: Net, api: str, models_dir: Path, state_dir: Path):
        self.net, self.api, self.models_dir = net, api, models_dir
        self.path = state_dir / "civitai.json"
        self.cache: dict[str, dict] = {}
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(doc, dict):
                self.cache = doc

    def __call__(self, it: Item) -> None:
        key = str(it.version_id)
        c = self.cache.get(key)
        if isinstance(c, dict) and c.get("file") and (not it.file or it.file == c["file"]):
            into = it.into or c.get("into") or ""
            if into and (self.models_dir / into / c["file"]).is_file():
                it.into, it.file, it.url = into, c["file"], c.get("url")
                it.sha256 = it.sha256 or c.get("sha256")
                debug(f"{it.label}: CivitAI version {it.version_id} resolved from the cache")
                return
        try:
            resolve(self.net, self.api, it)
            self.cache[key] = {"into": it.into, "file": it.file, "url": it.url, "sha256": it.sha256}
        except (Fatal, SpecError) as e:
            it.status, it.note = "failed", str(e)
            log(f"{it.label}: FAILED: {e}", "ERROR")

    def save(self) -> None:
        with contextlib.suppress(OSError):
            tmp = self.path.with_name(f"civitai.json.{os.getpid()}.tmp")
            tmp.write_text(REDACT(json.dumps(self.cache, indent=1, sort_keys=True)), encoding="utf-8")
            os.replace(tmp, self.path)
