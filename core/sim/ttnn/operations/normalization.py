"""ttnn.operations.normalization on the simulator: the host-side helpers of the DRAM group norm that model
code calls through this path (tt_dit's GroupNorm)."""

from ...ops.normalization import dram_group_norm_virtual_columns, find_max_tile_span
from .._surface import not_simulated as _not_simulated

__all__ = ["dram_group_norm_virtual_columns", "find_max_tile_span"]
__getattr__ = _not_simulated("ttnn.operations.normalization")
