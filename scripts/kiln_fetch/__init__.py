"""Kiln's model fetcher as a package (Python 3.11+ standard library only).

scripts/fetch_models.py is the entry point start.sh calls; the seams:

  log        redaction of secrets and the log line format
  errors     the exception kinds every module shares
  settings   numbers from flags and the environment (bad ones reported, never a traceback)
  config     what one run works with (built once from the arguments)
  manifest   the model entry (Item) and the baked manifest
  sources    extra models named in the environment (one parser per form)
  auth       which host a token may go to, and redirects
  net        opening URLs, classifying HTTP errors, retries
  civitai    CivitAI version lookup
  hfrepo     whole Hugging Face repos (HF_MODELS repo form) -> one model per file
  integrity  sha256, the verified-file cache, what a model file may not look like
  partfiles  where a partial, its sidecar and its lock live; the lock
  segments   the byte ranges of one partial file, persisted next to it
  transfer   one model: ranged connections, verification, atomic install
  disk       the free-space check (partials count as downloaded)
  cli        arguments, the run, the summary and the report
"""
