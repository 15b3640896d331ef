"""Stand-in source file (kiln stub world): imports what the real file imports
at load time (tools/stub-world/upstream.json)."""
KILN = None  # filled in by the stub world

for _name in KILN["imports"]:
    __import__(_name)
