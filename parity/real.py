"""Import the real `ttnn` wheel next to this repository's `ttport` package.

Host conversions need a cluster: TT_METAL_MOCK_CLUSTER_DESC_PATH must name a cluster descriptor
(core/data/wormhole_n150_mock.yaml, one Wormhole n150) or ttnn reports "No chips detected in the cluster".
The import itself goes through ttport.backend (ttnn's bare `core` entry in sys.modules cannot shadow `ttport`).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from ttport import backend

MOCK_CLUSTER = Path(__file__).resolve().parent.parent / "core" / "data" / "wormhole_n150_mock.yaml"
ENV = "TT_METAL_MOCK_CLUSTER_DESC_PATH"


def load() -> ModuleType:
    """The real ttnn module, with the mock cluster set unless the caller chose one."""
    os.environ.setdefault(ENV, str(MOCK_CLUSTER))
    os.environ.setdefault("TT_LOGGER_LEVEL", "FATAL")
    importlib.import_module("ttport.sim.ttnn")
    return backend._real_ttnn()


def sim() -> ModuleType:
    """The simulator's ttnn mirror."""
    return importlib.import_module("ttport.sim.ttnn")
