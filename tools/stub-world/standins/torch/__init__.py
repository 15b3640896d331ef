"""Stand-in for torch (kiln stub world), generated per index build from
tools/stub-world/upstream.json: version, CUDA version and the arch list the
build was compiled for. No GPU in a build: CUDA calls fail as they do there."""
KILN = None  # filled in by the stub world

__version__ = KILN["version"]

from . import _C, cuda, version  # noqa: E402


class device:
    def __init__(self, kind, index=None):
        if isinstance(kind, int):
            kind, index = "cuda", kind
        self.type, self.index = str(kind).split(":")[0], index

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"


def is_tensor(obj):
    return False
