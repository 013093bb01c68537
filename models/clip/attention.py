"""CLIPAttention on TTNN: one fused QKV projection, SDPA with an additive mask, then out_proj.

SDPA with a mask needs the sequence to be a multiple of its chunk sizes, themselves tile multiples
(sdpa_device_operation.cpp), while CLIP's prompt is 77 tokens. The projections run on the 77 real rows;
only the fused QKV activation is padded to `padded_len` (96) rows before the heads are split, and the
attention output is cut back to 77 rows. The mask covers the padded keys, so no real query attends them.
The padded prompt is a single q / k chunk: the online softmax then needs no rescaling between chunks
(fewer bf16 roundings) and the simulator runs one step instead of three.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.models.clip.modeling_clip import CLIPAttention

from ttport.backend import ttnn
from ttport.weights import convert_state_dict

from .mlp import linear_core_grid, linear_policy, prepare_linear

TILE = 32


class TtCLIPAttention:
    def __init__(
        self,
        reference: CLIPAttention,
        device: Any,
        *,
        padded_len: int,
        compute_kernel_config: Any,
        linear_config: Any = None,
        weights_dtype: Any = None,
        mesh_mapper: Any = None,
        prefix: str = "",
    ):
        if padded_len % TILE:
            raise ValueError(f"padded length {padded_len} must be a multiple of the tile size {TILE}")
        self.num_heads = reference.num_heads
        self.head_dim = reference.head_dim
        self.padded_len = padded_len
        self.compute_kernel_config = compute_kernel_config
        self.linear_config = linear_config or compute_kernel_config
        self.core_grid = linear_core_grid(device)
        self.program_config = ttnn.SDPAProgramConfig(
            compute_with_storage_grid_size=device.compute_with_storage_grid_size(),
            q_chunk_size=padded_len,
            k_chunk_size=padded_len,
            exp_approx_mode=False,
        )
        # q, k, v fused along the output features, the layout nlp_create_qkv_heads splits
        projections = (reference.q_proj, reference.k_proj, reference.v_proj)
        state = {
            "qkv_proj.weight": torch.cat([p.weight.detach() for p in projections], dim=0),
            "qkv_proj.bias": torch.cat([p.bias.detach() for p in projections], dim=0),
            "out_proj.weight": reference.out_proj.weight.detach(),
            "out_proj.bias": reference.out_proj.bias.detach(),
        }
        params = convert_state_dict(
            state,
            device,
            policy=linear_policy(weights_dtype),
            prepare=prepare_linear,
            mesh_mapper=mesh_mapper,
            prefix=prefix,
        )
        self.qkv_weight, self.qkv_bias = params["qkv_proj.weight"], params["qkv_proj.bias"]
        self.out_weight, self.out_bias = params["out_proj.weight"], params["out_proj.bias"]

    def forward(self, x: Any, attention_mask: Any) -> Any:
        """x: [B, 1, S, H]; attention_mask: additive [B, 1, P, P] with P = padded_len."""
        batch, _, seq_len, hidden = x.shape
        qkv = ttnn.linear(
            x,
            self.qkv_weight,
            bias=self.qkv_bias,
            core_grid=self.core_grid,
            memory_config=ttnn.L1_MEMORY_CONFIG,
            compute_kernel_config=self.linear_config,
        )
        qkv = ttnn.pad(qkv, [(0, 0), (0, 0), (0, self.padded_len - seq_len), (0, 0)], 0.0)
        q, k, v = ttnn.experimental.nlp_create_qkv_heads(
            qkv, num_heads=self.num_heads, num_kv_heads=self.num_heads, transpose_k_heads=False
        )
        attn = ttnn.transformer.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attention_mask,
            is_causal=False,
            scale=self.head_dim**-0.5,
            program_config=self.program_config,
            compute_kernel_config=self.compute_kernel_config,
        )
        attn = ttnn.experimental.nlp_concat_heads(attn)
        attn = ttnn.slice(attn, (0, 0, 0, 0), (batch, 1, seq_len, hidden))
        return ttnn.linear(
            attn,
            self.out_weight,
            bias=self.out_bias,
            core_grid=self.core_grid,
            memory_config=ttnn.L1_MEMORY_CONFIG,
            compute_kernel_config=self.linear_config,
        )

    __call__ = forward
