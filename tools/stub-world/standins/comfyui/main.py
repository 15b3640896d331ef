"""Stand-in for ComfyUI's main.py (kiln stub world), after Comfy-Org/ComfyUI
a125cd84 main.py/nodes.py: logs with the message-only format to stderr
(stdout with --log-stdout), imports torch (through comfy.model_management)
before loading custom nodes, loads them the way nodes.init_external_custom_nodes
does, and with --quick-test-for-ci exits 0 after loading, even when nodes
failed; otherwise it would start the server (the stub only says so)."""
import logging
import sys

from comfy.cli_args import args

_handler = logging.StreamHandler(sys.stdout if args.log_stdout else sys.stderr)
_handler.setFormatter(logging.Formatter("%(message)s"))
logging.getLogger().addHandler(_handler)
logging.getLogger().setLevel(args.verbose)

if "torch" in sys.modules:
    logging.warning("WARNING: Potential Error in code: Torch already imported, torch should never be imported before this point.")

import comfy.model_management  # noqa: E402  (imports torch; fails without a GPU unless --cpu)
import comfyui_version  # noqa: E402
import nodes  # noqa: E402

if __name__ == "__main__":
    logging.info("Python version: %s", sys.version)
    logging.info("ComfyUI version: %s", comfyui_version.__version__)
    nodes.init_extra_nodes(init_custom_nodes=(not args.disable_all_custom_nodes) or len(args.whitelist_custom_nodes) > 0)
    if args.quick_test_for_ci:
        sys.exit(0)
    logging.info("To see the GUI go to: http://%s:%d (kiln stub: no server)", args.listen, args.port)
