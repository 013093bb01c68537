"""Import the real `ttnn` wheel next to this repository's `core` package.

Two things stand in the way. Host conversions need a cluster: TT_METAL_MOCK_CLUSTER_DESC_PATH must name a
cluster descriptor (core/data/wormhole_n150_mock.yaml) or ttnn reports "No chips detected in the cluster".
And ttnn.operations registers each of its submodules under its bare name in sys.modules (ttnn 0.81.1,
ttnn/operations/__init__.py), so after `import ttnn`, sys.modules["core"] is ttnn/operations/core.py and
any later `import core.<submodule>` of this repository fails. `load()` restores the entries it clobbered.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

MOCK_CLUSTER = Path(__file__).resolve().parent.parent / "core" / "data" / "wormhole_n150_mock.yaml"
ENV = "TT_METAL_MOCK_CLUSTER_DESC_PATH"


def load() -> ModuleType:
    """The real ttnn module, with the mock cluster set (unless the caller chose one) and sys.modules fixed."""
    os.environ.setdefault(ENV, str(MOCK_CLUSTER))
    os.environ.setdefault("TT_LOGGER_LEVEL", "FATAL")
    importlib.import_module("core.sim.ttnn")  # our `core` must be in sys.modules to be restored
    before = dict(sys.modules)
    ttnn = importlib.import_module("ttnn")
    for name, module in before.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
    return ttnn


def sim() -> ModuleType:
    """The simulator's ttnn mirror."""
    return importlib.import_module("core.sim.ttnn")
