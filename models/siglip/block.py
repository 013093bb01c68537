"""One SigLIP encoder layer (transformers' SiglipEncoderLayer): pre-norm attention and MLP, each with a
residual add."""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn

from .attention import SiglipAttention
from .common import SequencePlan, precise_compute_config, row_vector
from .mlp import SiglipMLP


class SiglipLayerNorm:
    """nn.LayerNorm over the last dim (`weight`, `bias`, `eps` as the reference's)."""

    def __init__(self, state_dict: dict[str, torch.Tensor], prefix: str, device: Any, eps: float):
        self.weight = row_vector(f"{prefix}weight", state_dict[f"{prefix}weight"], device)
        self.bias = row_vector(f"{prefix}bias", state_dict[f"{prefix}bias"], device)
        self.eps = float(eps)
        self.compute_kernel_config = precise_compute_config()

    def forward(self, x: Any, memory_config: Any = None) -> Any:
        return ttnn.layer_norm(
            x,
            epsilon=self.eps,
            weight=self.weight,
            bias=self.bias,
            memory_config=memory_config,
            compute_kernel_config=self.compute_kernel_config,
        )

    __call__ = forward


class SiglipEncoderLayer:
    """layer_norm1 -> self_attn -> residual; layer_norm2 -> mlp -> residual, on [B, 1, S, D]."""

    def __init__(
        self,
        config: Any,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        plan: SequencePlan,
        weights_dtype: Any = None,
    ):
        eps = config.layer_norm_eps
        self.layer_norm1 = SiglipLayerNorm(state_dict, f"{prefix}layer_norm1.", device, eps)
        self.self_attn = SiglipAttention(
            config, state_dict, f"{prefix}self_attn.", device, plan, weights_dtype
        )
        self.layer_norm2 = SiglipLayerNorm(state_dict, f"{prefix}layer_norm2.", device, eps)
        self.mlp = SiglipMLP(config, state_dict, f"{prefix}mlp.", device, weights_dtype)

    def forward(self, hidden_states: Any, attention_mask: Any = None, memory_config: Any = None) -> Any:
        """`memory_config`: where the layer's activations go (None: DRAM; the encoder picks L1 when they
        fit, SiglipEncoder.activation_memory)."""
        normed = self.layer_norm1(hidden_states, memory_config)
        attn = self.self_attn(normed, attention_mask, memory_config)
        ttnn.deallocate(normed)
        hidden_states = ttnn.add(hidden_states, attn, memory_config=memory_config)
        ttnn.deallocate(attn)
        normed = self.layer_norm2(hidden_states, memory_config)
        mlp = self.mlp(normed, memory_config)
        ttnn.deallocate(normed)
        output = ttnn.add(hidden_states, mlp, memory_config=memory_config)
        ttnn.deallocate(mlp)
        ttnn.deallocate(hidden_states)
        return output

    __call__ = forward
