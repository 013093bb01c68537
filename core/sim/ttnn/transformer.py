"""ttnn.transformer on the simulator. SDPAProgramConfig is exported at ttnn's top level instead, as in ttnn."""

from ..ops.attention_helpers import (
    attention_softmax,
    attention_softmax_,
    concatenate_heads,
    joint_scaled_dot_product_attention,
    scaled_dot_product_attention_decode,
    split_query_key_value_and_split_heads,
)
from ..ops.paged import paged_scaled_dot_product_attention_decode
from ..ops.transformer import scaled_dot_product_attention
from ._surface import not_simulated as _not_simulated

__all__ = [
    "attention_softmax",
    "attention_softmax_",
    "concatenate_heads",
    "joint_scaled_dot_product_attention",
    "paged_scaled_dot_product_attention_decode",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_decode",
    "split_query_key_value_and_split_heads",
]
__getattr__ = _not_simulated("ttnn.transformer")
