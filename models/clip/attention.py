"""CLIPAttention on TTNN: one fused QKV projection, SDPA with an additive mask, then out_proj.

SDPA with a mask needs the sequence to be a multiple of its chunk sizes, themselves tile multiples
(sdpa_device_operation.cpp), while CLIP's prompt is 77 tokens. The projections run on the 77 real rows;
only the fused QKV activation is padded to `padded_len` (96) rows before the heads are split, and the
attention output is cut back to 77 rows. The mask covers the padded keys, so no real query attends them.
The padded prompt is a single q / k chunk: the online softmax then needs no rescaling between chunks
(fewer bf16 roundings) and the simulator runs one step instead of three.

On a tensor-parallel mesh (models/clip/mesh.py) each chip holds whole heads of the fused projection and a
row slice of out_proj; the partial outputs are all-reduced (the bias is added once, on chip 0).
"""

from __future__ import annotations

from typing import Any

from transformers.models.clip.modeling_clip import CLIPAttention

from ttport.backend import ttnn
from ttport.patterns.tensor_parallel import TensorParallel

from .mlp import linear_core_grid

TILE = 32


class TtCLIPAttention:
    def __init__(
        self,
        reference: CLIPAttention,
        device: Any,
        *,
        padded_len: int,
        compute_kernel_config: Any,
        tp: TensorParallel,
        linear_config: Any = None,
        weights_dtype: Any = None,
        prefix: str = "",
    ):
        """`compute_kernel_config`: SDPA's; `linear_config` the projections' (default the same), with weights
        in `weights_dtype` (default bfloat16). The projections run on the whole core grid, output in L1."""
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
        # q, k, v fused along the output features, the layout nlp_create_qkv_heads splits (per chip: its heads)
        self.tp = tp
        self.heads = tp.heads(self.num_heads, self.num_heads, self.head_dim)
        projections = (reference.q_proj, reference.k_proj, reference.v_proj)
        weights = [p.weight.detach().float() for p in projections]
        biases = [p.bias.detach().float() for p in projections]
        self.qkv_weight = tp.qkv_weight(f"{prefix}qkv_proj.weight", self.heads, *weights, weights_dtype)
        self.qkv_bias = tp.qkv_bias(f"{prefix}qkv_proj.bias", self.heads, *biases)
        out_proj = reference.out_proj
        self.out_weight = tp.row_weight(
            f"{prefix}out_proj.weight", out_proj.weight.detach().float(), weights_dtype
        )
        self.out_bias = tp.row_bias(f"{prefix}out_proj.bias", out_proj.bias.detach().float())

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
        heads = self.heads.local_heads
        q, k, v = ttnn.experimental.nlp_create_qkv_heads(
            qkv, num_heads=heads, num_kv_heads=heads, transpose_k_heads=False
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
        attn = ttnn.slice(attn, (0, 0, 0, 0), (batch, 1, seq_len, heads * self.head_dim))
        partial = ttnn.linear(
            attn,
            self.out_weight,
            bias=self.out_bias,
            core_grid=self.core_grid,
            memory_config=ttnn.L1_MEMORY_CONFIG,
            compute_kernel_config=self.linear_config,
        )
        return self.tp.all_reduce(partial)

    __call__ = forward
