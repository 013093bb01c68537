"""ttnn.operations on the simulator: only the `activations` submodule (golden functions of fused
activations) is mirrored; the other Python op modules of real ttnn are reached through `ttnn.<op>`."""

from .._surface import not_simulated as _not_simulated
from . import activations

__all__ = ["activations"]
__getattr__ = _not_simulated("ttnn.operations")
