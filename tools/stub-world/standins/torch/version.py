"""torch.version stand-in (kiln stub world)."""
KILN = None  # filled in by the stub world

__version__ = KILN["version"]
cuda = KILN["cuda"]
hip = None
git_version = "0000000000000000000000000000000000000000"
