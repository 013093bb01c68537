"""ttnn.transformer on the simulator. SDPAProgramConfig is exported at ttnn's top level instead, as in ttnn."""

from ..ops.transformer import scaled_dot_product_attention
from ._surface import not_simulated as _not_simulated

__all__ = ["scaled_dot_product_attention"]
__getattr__ = _not_simulated("ttnn.transformer")
