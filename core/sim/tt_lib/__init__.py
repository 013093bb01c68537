"""tt_lib on the simulator: the part of the `tt_lib` package (shipped in the ttnn wheel) that model code
still imports, `tt_lib.fallback_ops`. Same rule as ttport.sim.ttnn: only names the real package has."""

from . import fallback_ops

__all__ = ["fallback_ops"]
