import importlib.util
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
# tools/: the sample-model generators the docs use, shared with the tests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

# Marker -> the modules a test so marked imports.  A marked test is skipped, not failed,
# where one is missing: `python -m pytest` runs the core suite in a venv with .[test-core]
# only, and `-m "not tensorflow"` deselects the export tests outright.
FRAMEWORKS = {
    "tensorflow": ("tensorflow", "tf2onnx"),
    "torch": ("torch",),
    "transformers": ("torch", "transformers"),
}


def _missing(modules):
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def pytest_collection_modifyitems(config, items):
    missing = {marker: _missing(modules) for marker, modules in FRAMEWORKS.items()}
    for item in items:
        for marker, module in missing.items():
            if module is not None and item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.skip(reason=f"{module} is not installed (marker {marker!r})"))
