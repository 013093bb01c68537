"""ttnn.operations on the simulator: the `activations` submodule (golden functions of fused activations) and
the `normalization` helpers (DRAM group norm sizing) are mirrored;
the other Python op modules of real ttnn are reached through `ttnn.<op>`."""

from .._surface import not_simulated as _not_simulated
from . import activations, normalization

__all__ = ["activations", "normalization"]
__getattr__ = _not_simulated("ttnn.operations")
