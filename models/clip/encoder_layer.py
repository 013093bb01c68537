"""CLIPEncoderLayer on TTNN: pre-LayerNorm self-attention and MLP, each with a residual add."""

from __future__ import annotations

from typing import Any

from transformers.models.clip.modeling_clip import CLIPEncoderLayer

from ttport.backend import ttnn
from ttport.patterns.tensor_parallel import TensorParallel
from ttport.weights import convert_state_dict

from .attention import TtCLIPAttention
from .mlp import TtCLIPMLP


class TtLayerNorm:
    """nn.LayerNorm over the hidden size: gamma / beta as bf16 [1, H] rows."""

    def __init__(
        self,
        reference: Any,
        device: Any,
        *,
        compute_kernel_config: Any,
        mesh_mapper: Any = None,
        prefix: str = "",
    ):
        self.epsilon = reference.eps
        self.compute_kernel_config = compute_kernel_config
        params = convert_state_dict(
            reference.state_dict(),
            device,
            prepare=lambda _, t: t.reshape(1, -1),
            mesh_mapper=mesh_mapper,
            prefix=prefix,
        )
        self.weight, self.bias = params["weight"], params["bias"]

    def forward(self, x: Any) -> Any:
        return ttnn.layer_norm(
            x,
            epsilon=self.epsilon,
            weight=self.weight,
            bias=self.bias,
            compute_kernel_config=self.compute_kernel_config,
        )

    __call__ = forward


class TtCLIPEncoderLayer:
    def __init__(
        self,
        reference: CLIPEncoderLayer,
        device: Any,
        *,
        hidden_act: str,
        padded_len: int,
        compute_kernel_config: Any,
        mesh_mapper: Any = None,
        tp: TensorParallel,
        prefix: str = "",
    ):
        """`mesh_mapper`: of the replicated layer norms; `tp`: how attention and MLP are split."""
        norms = {"compute_kernel_config": compute_kernel_config, "mesh_mapper": mesh_mapper}
        split = {"compute_kernel_config": compute_kernel_config, "tp": tp}
        self.layer_norm1 = TtLayerNorm(reference.layer_norm1, device, prefix=f"{prefix}layer_norm1.", **norms)
        self.self_attn = TtCLIPAttention(
            reference.self_attn, device, padded_len=padded_len, prefix=f"{prefix}self_attn.", **split
        )
        self.layer_norm2 = TtLayerNorm(reference.layer_norm2, device, prefix=f"{prefix}layer_norm2.", **norms)
        self.mlp = TtCLIPMLP(reference.mlp, device, hidden_act=hidden_act, prefix=f"{prefix}mlp.", **split)

    def forward(self, hidden_states: Any, attention_mask: Any) -> Any:
        """hidden_states: [B, 1, S, H] bf16 TILE; attention_mask: see TtCLIPAttention."""
        attn = self.self_attn(self.layer_norm1(hidden_states), attention_mask)
        hidden_states = ttnn.add(hidden_states, attn)
        mlp = self.mlp(self.layer_norm2(hidden_states))
        return ttnn.add(hidden_states, mlp)

    __call__ = forward
