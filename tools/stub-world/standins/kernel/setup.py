# Stand-in for a CUDA kernel's setup.py (kiln stub world). The stub pip does
# not run this file: `pip wheel`/`pip install` of this tree builds what
# tools/stub-world/upstream.json kernel_builds[KILN_BUILD] says, with the
# upstream setup.py's checks and messages.
KILN = None  # filled in by the stub world
KILN_BUILD = KILN["build"]
