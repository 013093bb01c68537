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

    def forward(self, x: Any, memory_config: Any = None) -> Any:
        return ttnn.layer_norm(
            x,
            epsilon=self.epsilon,
            weight=self.weight,
            bias=self.bias,
            memory_config=memory_config,
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
        linear_config: Any = None,
        weights_dtype: Any = None,
        prefix: str = "",
    ):
        """`mesh_mapper`: of the replicated layer norms; `tp`: how attention and MLP are split;
        `linear_config` / `weights_dtype`: the linears' compute config (default `compute_kernel_config`) and
        weight dtype (default bfloat16)."""
        norms = {"compute_kernel_config": compute_kernel_config, "mesh_mapper": mesh_mapper}
        linears = {
            "linear_config": linear_config or compute_kernel_config,
            "weights_dtype": weights_dtype,
            "tp": tp,
        }
        self.layer_norm1 = TtLayerNorm(reference.layer_norm1, device, prefix=f"{prefix}layer_norm1.", **norms)
        self.self_attn = TtCLIPAttention(
            reference.self_attn,
            device,
            padded_len=padded_len,
            prefix=f"{prefix}self_attn.",
            compute_kernel_config=compute_kernel_config,
            **linears,
        )
        self.layer_norm2 = TtLayerNorm(reference.layer_norm2, device, prefix=f"{prefix}layer_norm2.", **norms)
        self.mlp = TtCLIPMLP(reference.mlp, device, hidden_act=hidden_act, prefix=f"{prefix}mlp.", **linears)

    def forward(self, hidden_states: Any, attention_mask: Any) -> Any:
        """hidden_states: [B, 1, S, H] bf16 TILE; attention_mask: see TtCLIPAttention. The layer's
        activations stay in L1 (77 tokens: at most 2 x 96 x 5120 bf16 = 1.9 MiB per chip, spread over the
        banks of every core), so its elementwise ops and the linears' activation reads skip DRAM."""
        l1 = ttnn.L1_MEMORY_CONFIG
        attn = self.self_attn(self.layer_norm1(hidden_states, memory_config=l1), attention_mask)
        hidden_states = ttnn.add(hidden_states, attn, memory_config=l1)
        mlp = self.mlp(self.layer_norm2(hidden_states, memory_config=l1))
        return ttnn.add(hidden_states, mlp, memory_config=l1)

    __call__ = forward
