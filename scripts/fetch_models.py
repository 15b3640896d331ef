#!/usr/bin/env python3
"""Kiln model fetcher (the entry point start.sh calls; the code is in kiln_fetch/).

Downloads the baked manifest's models (/opt/kiln/manifest/models.json) and
the extras named in HF_MODELS, CIVITAI_MODELS and MODEL_URLS into
<models-dir>/<folder>/<file>: several ranged connections per large file,
sha256 over the whole file, atomic install, tokens only to their own host.
Python 3.11+ standard library only. See docs/runtime.md and --help.
"""

import os
import sys

sys.dont_write_bytecode = True  # the image's scripts dir stays as built

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kiln_fetch.cli import main  # noqa: E402
from kiln_fetch.log import log  # noqa: E402

if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("interrupted; partial files stay in the temp dir and resume next time", "WARN")
        sys.exit(130)
