"""Stand-in for ComfyUI's comfy/cli_args.py (kiln stub world): the flags of
the real parser (read at Comfy-Org/ComfyUI a125cd84), parsed with argparse.
Flags the stub does not know are reported, not rejected: the pinned commit
may have more than the commit read."""
import argparse
import logging

parser = argparse.ArgumentParser()
parser.add_argument("--listen", type=str, default="127.0.0.1", metavar="IP", nargs="?", const="0.0.0.0,::")
parser.add_argument("--port", type=int, default=8188)
for _flag in ("--tls-keyfile", "--tls-certfile", "--base-directory", "--output-directory", "--temp-directory",
              "--input-directory", "--oneapi-device-selector", "--user-directory", "--database-url",
              "--front-end-version", "--front-end-root", "--comfy-api-base"):
    parser.add_argument(_flag, type=str, default=None)
for _flag in ("--max-upload-size", "--reserve-vram"):
    parser.add_argument(_flag, type=float, default=None)
for _flag in ("--cuda-device", "--default-device", "--preview-size", "--cache-lru"):
    parser.add_argument(_flag, type=int, default=None)
parser.add_argument("--enable-cors-header", type=str, default=None, nargs="?", const="*")
parser.add_argument("--extra-model-paths-config", type=str, default=None, nargs="+", action="append")
parser.add_argument("--directml", type=int, nargs="?", const=-1)
parser.add_argument("--preview-method", type=str, default="none")
parser.add_argument("--default-hashing-function", type=str, default="sha256")
parser.add_argument("--fast", nargs="*")
parser.add_argument("--whitelist-custom-nodes", type=str, nargs="+", default=[])
parser.add_argument("--verbose", default="INFO", const="DEBUG", nargs="?", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
for _flag in ("--auto-launch", "--disable-auto-launch", "--cuda-malloc", "--disable-cuda-malloc", "--force-fp32",
              "--force-fp16", "--fp32-unet", "--fp64-unet", "--bf16-unet", "--fp16-unet", "--fp16-vae", "--fp32-vae",
              "--bf16-vae", "--cpu-vae", "--fp16-text-enc", "--fp32-text-enc", "--bf16-text-enc",
              "--force-channels-last", "--disable-ipex-optimize", "--supports-fp8-compute", "--cache-classic",
              "--cache-none", "--use-split-cross-attention", "--use-quad-cross-attention",
              "--use-pytorch-cross-attention", "--use-sage-attention", "--use-flash-attention", "--disable-xformers",
              "--force-upcast-attention", "--dont-upcast-attention", "--gpu-only", "--highvram", "--normalvram",
              "--lowvram", "--novram", "--cpu", "--async-offload", "--force-non-blocking", "--disable-smart-memory",
              "--deterministic", "--mmap-torch-files", "--disable-mmap", "--dont-print-server",
              "--quick-test-for-ci", "--windows-standalone-build", "--disable-metadata", "--disable-all-custom-nodes",
              "--disable-api-nodes", "--multi-user", "--log-stdout", "--enable-compress-response-body",
              "--enable-manager", "--disable-manager-ui", "--enable-manager-legacy-ui"):
    parser.add_argument(_flag, action="store_true")

args, unknown = parser.parse_known_args()
if unknown:
    logging.warning("kiln stub: ComfyUI flags the stub's parser does not know (accepted): %s", " ".join(unknown))
