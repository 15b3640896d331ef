"""Stand-in for a ComfyUI custom node (kiln stub world). Like the real node's
__init__.py at its pinned commit, it imports the third-party modules that
node imports at load time and executes the files it loads by path; a missing
module or file fails the import as it would for real. Data:
tools/stub-world/upstream.json repos[...].node."""
import importlib.util
import os
import sys

KILN = None  # filled in by the stub world

for _name in KILN["imports"]:
    __import__(_name)

_here = os.path.dirname(os.path.realpath(__file__))
for _rel in KILN.get("load_files", []):
    _path = os.path.join(_here, _rel)
    _spec = importlib.util.spec_from_file_location(os.path.splitext(_rel)[0], _path)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _module
    _spec.loader.exec_module(_module)


def _node(name):
    return type(name.replace(" ", "_").replace("|", "_").replace("+", "_"), (), {
        "CATEGORY": "kiln-stub",
        "RETURN_TYPES": (),
        "FUNCTION": "run",
        "INPUT_TYPES": classmethod(lambda cls: {"required": {}}),
        "run": lambda self: (),
    })


NODE_CLASS_MAPPINGS = {name: _node(name) for name in KILN["class_mappings"]}
NODE_DISPLAY_NAME_MAPPINGS = {name: name for name in KILN["class_mappings"]}
