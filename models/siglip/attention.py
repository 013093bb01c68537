"""SigLIP self-attention: fused q/k/v projection, head split, SDPA, head merge, output projection.

The reference's q_proj / k_proj / v_proj are concatenated once into one [D, 3 * H * Dp] weight (one matmul
instead of three), and each head is zero-padded from head_dim to Dp = a multiple of 32: ttnn's SDPA
refuses a padded head dim ("Padding is not supported on the head_dim", sdpa_device_operation.cpp), and
so400m's head_dim is 72. Zero columns in q and k add nothing to q.k; zero columns in v give zero outputs,
which meet zero rows of the padded out_proj weight. The softmax scale stays 1/sqrt(head_dim).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.patterns.matmul_config import multicast_2d_config, rows_of

from .common import (
    TILE,
    SequencePlan,
    linear_weight,
    matmul_compute_config,
    precise_compute_config,
    row_vector,
)


class SiglipAttention:
    """Bidirectional multi-head attention over [B, 1, S, D] hidden states (S = the plan's padded length)."""

    def __init__(
        self,
        config: Any,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        plan: SequencePlan,
        weights_dtype: Any = None,
    ):
        self.embed_dim = int(config.hidden_size)
        self.num_heads = int(config.num_attention_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.padded_head_dim = math.ceil(self.head_dim / TILE) * TILE
        self.scale = self.head_dim**-0.5
        weights_dtype = weights_dtype if weights_dtype is not None else ttnn.bfloat16

        def weight(name: str) -> torch.Tensor:
            return state_dict[f"{prefix}{name}.weight"].detach().float()

        def bias(name: str) -> torch.Tensor:
            return state_dict[f"{prefix}{name}.bias"].detach().float()

        qkv_weight = torch.cat([self._pad_heads(weight(n)) for n in ("q_proj", "k_proj", "v_proj")], dim=0)
        qkv_bias = torch.cat([self._pad_heads(bias(n)) for n in ("q_proj", "k_proj", "v_proj")], dim=0)
        self.qkv_weight = linear_weight(f"{prefix}qkv_proj.weight", qkv_weight, device, weights_dtype)
        self.qkv_bias = row_vector(f"{prefix}qkv_proj.bias", qkv_bias, device)
        # out_proj consumes the merged (padded) heads: pad its input columns the same way.
        out_weight = self._pad_heads(weight("out_proj").T).T
        self.out_weight = linear_weight(f"{prefix}out_proj.weight", out_weight, device, weights_dtype)
        self.out_bias = row_vector(f"{prefix}out_proj.bias", bias("out_proj"), device)

        self.matmul_config = matmul_compute_config(weights_dtype)
        self.device = device
        self._configs: dict[int, tuple[Any, Any]] = {}
        self.sdpa_config = precise_compute_config()
        grid = device.compute_with_storage_grid_size()
        self.sdpa_program_config = ttnn.SDPAProgramConfig(
            compute_with_storage_grid_size=(grid.x, grid.y),
            q_chunk_size=plan.q_chunk_size,
            k_chunk_size=plan.k_chunk_size,
            exp_approx_mode=False,
        )

    def _pad_heads(self, tensor: torch.Tensor) -> torch.Tensor:
        """[H * head_dim, ...] -> [H * padded_head_dim, ...], zeros appended to every head."""
        extra = self.padded_head_dim - self.head_dim
        if extra == 0:
            return tensor
        heads = tensor.reshape(self.num_heads, self.head_dim, *tensor.shape[1:])
        padding = torch.zeros(self.num_heads, extra, *tensor.shape[1:], dtype=tensor.dtype)
        return torch.cat([heads, padding], dim=1).reshape(
            self.num_heads * self.padded_head_dim, *tensor.shape[1:]
        )

    def program_configs(self, rows: int) -> tuple[Any, Any]:
        """The q/k/v and output projections' program configs for `rows` rows (built once per row count)."""
        if rows not in self._configs:
            fp32 = bool(self.matmul_config.fp32_dest_acc_en)
            merged = self.num_heads * self.padded_head_dim
            self._configs[rows] = (
                multicast_2d_config(self.device, rows, self.embed_dim, 3 * merged, fp32_dest_acc_en=fp32),
                multicast_2d_config(self.device, rows, merged, self.embed_dim, fp32_dest_acc_en=fp32),
            )
        return self._configs[rows]

    def forward(self, hidden_states: Any, attention_mask: Any = None, memory_config: Any = None) -> Any:
        """[B, 1, S, D] -> [B, 1, S, D]; `attention_mask` is an additive [B, 1, S, S] key mask or None;
        `memory_config`: where the projections' outputs go (None: DRAM)."""
        qkv_config, out_config = self.program_configs(rows_of(hidden_states))
        qkv = ttnn.linear(
            hidden_states,
            self.qkv_weight,
            bias=self.qkv_bias,
            program_config=qkv_config,
            memory_config=memory_config,
            compute_kernel_config=self.matmul_config,
        )
        query, key, value = ttnn.experimental.nlp_create_qkv_heads(
            qkv, num_heads=self.num_heads, num_kv_heads=self.num_heads, transpose_k_heads=False
        )
        ttnn.deallocate(qkv)
        attn = ttnn.transformer.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=attention_mask,
            is_causal=False,
            scale=self.scale,
            program_config=self.sdpa_program_config,
            compute_kernel_config=self.sdpa_config,
        )
        for tensor in (query, key, value):
            ttnn.deallocate(tensor)
        merged = ttnn.experimental.nlp_concat_heads(attn)
        ttnn.deallocate(attn)
        output = ttnn.linear(
            merged,
            self.out_weight,
            bias=self.out_bias,
            program_config=out_config,
            memory_config=memory_config,
            compute_kernel_config=self.matmul_config,
        )
        ttnn.deallocate(merged)
        return output

    __call__ = forward
