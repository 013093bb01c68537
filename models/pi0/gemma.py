"""The Gemma decoder layer on TTNN, shared by PaliGemma's language model and PI0's action expert (both are
transformers GemmaModel stacks; names follow GemmaDecoderLayer so state-dict keys map by name).

- GemmaRMSNorm scales by (1 + weight): the offset is added once on the host, so the device runs a plain
  ttnn.rms_norm with the shifted weight.
- Attention: q/k/v fused into one [D, (H + 2 * KV) * head_dim] weight, split by nlp_create_qkv_heads
  (grouped-query: PI0's Gemmas have one KV head); HF's half-rotation rotary by
  ttnn.experimental.rotary_embedding with per-token cos/sin tables built on the host; SDPA with an explicit
  additive mask (PI0 never uses a plain causal mask).
- A layer may attend to a key/value prefix besides its own tokens (`past`, a `JointKV`): PI0's expert
  attends PaliGemma's cached prefix. The prefix tensors are only read, never written, so the cache computed
  once serves every denoising step; `JointKV` holds the joined [own; prefix] keys and values the SDPA reads,
  built once and then rewritten only in the own rows.
- MLP: down(gelu_tanh(gate(x)) * up(x)); the activation is fused into the gate matmul.
- Tensor parallel on a mesh (ttport.patterns.tensor_parallel): q/k/v and gate/up are column-parallel with
  whole heads per chip (the single KV head replicated), o_proj and down_proj row-parallel followed by an
  all-reduce; the hidden states between layers are replicated. On one chip this is the single-chip layer.

Weights are taken out of the state dict as they are converted (`pop`), so a caller streaming a large
model never holds the fp32 copy and the device copy of the same layer at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip.common import matmul_compute_config, precise_compute_config, row_vector
from ttport.patterns.matmul_config import multicast_2d_config, rows_of
from ttport.patterns.tensor_parallel import TensorParallel

TILE = 32
# rows from which a linear is prefill-shaped (PaliGemma's prefix) rather than a denoising step's few rows
PREFILL_ROWS = 256


def take(state_dict: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """Remove and return a float32 tensor from `state_dict` (the caller's copy is dropped once converted)."""
    return state_dict.pop(name).detach().float()


@dataclass(frozen=True)
class GemmaShape:
    """The dimensions a Gemma decoder layer needs (from a transformers GemmaConfig)."""

    hidden_size: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float

    @classmethod
    def from_config(cls, config: Any) -> GemmaShape:
        if getattr(config, "attention_bias", False):
            raise ValueError("Gemma with attention_bias=True is not supported")
        if config.hidden_act != "gelu_pytorch_tanh":
            raise ValueError(f"Gemma MLP supports hidden_act 'gelu_pytorch_tanh', got {config.hidden_act!r}")
        rope = dict(config.rope_parameters or {})
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"only the default rotary embedding is supported, got {rope.get('rope_type')!r}")
        head_dim = int(config.head_dim or config.hidden_size // config.num_attention_heads)
        if head_dim % (2 * TILE):
            # rotary_embedding splits the head into two halves of whole tiles (rotary_embedding op checks)
            raise ValueError(f"head_dim {head_dim} must be a multiple of {2 * TILE} for the rotary op")
        return cls(
            hidden_size=int(config.hidden_size),
            intermediate_size=int(config.intermediate_size),
            num_heads=int(config.num_attention_heads),
            num_kv_heads=int(config.num_key_value_heads),
            head_dim=head_dim,
            rms_norm_eps=float(config.rms_norm_eps),
            rope_theta=float(rope.get("rope_theta", 10000.0)),
        )


def rotary_tables(shape: GemmaShape, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Host half of the rotary embedding (GemmaRotaryEmbedding, default rope): positions [S] ->
    cos, sin [1, 1, S, head_dim] float32, one row per token (the device op reads rows 0..S-1)."""
    inv_freq = 1.0 / (
        shape.rope_theta ** (torch.arange(0, shape.head_dim, 2, dtype=torch.float32) / shape.head_dim)
    )
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos()[None, None], emb.sin()[None, None]


class JointKV:
    """One layer's keys and values as a denoising step's SDPA reads them: [own rows (E); prefix (P)] along the
    sequence (the expert mask orders its key columns the same way).

    The first `join` concatenates the step's own keys/values in front of the prefix cache (the prefix is copied
    once per inference); with one user (PI0's batch 1) every later step rewrites only the E own rows in place
    with ttnn.fill_cache, which writes rows 0..E-1 of one user (E is a tile multiple, so no prefix row shares a
    tile with them). Re-joining every step copied the whole prefix twice per layer and step (36 concats of
    P + E rows per step in PI0). With several users fill_cache would need a slice and a write per user, more
    ops than one concat, so those batches re-join every step. On a mesh each chip joins its own heads."""

    def __init__(self, prefix: tuple[Any, Any]):
        self.prefix = prefix  # read only: the VLM's cache, owned by the caller
        self.joint: tuple[Any, Any] | None = None

    def join(self, keys: Any, values: Any) -> tuple[Any, Any]:
        if self.joint is not None and keys.shape[0] == 1:
            for buffer, own in zip(self.joint, (keys, values), strict=True):
                ttnn.fill_cache(buffer, own, 0)
            return self.joint
        self.release()
        self.joint = (
            ttnn.concat([keys, self.prefix[0]], dim=2),
            ttnn.concat([values, self.prefix[1]], dim=2),
        )
        return self.joint

    def release(self) -> None:
        """Free the joined buffers (the prefix stays: it belongs to the caller)."""
        if self.joint is not None:
            for tensor in self.joint:
                ttnn.deallocate(tensor)
            self.joint = None


class GemmaRMSNorm:
    """x / rms(x) * (1 + weight), over the last dim."""

    def __init__(self, state_dict: dict[str, torch.Tensor], prefix: str, device: Any, eps: float):
        # the (1 + weight) of the host is what is cached: named apart from the checkpoint's weight
        self.weight = row_vector(f"{prefix}weight[1 + w]", 1.0 + take(state_dict, f"{prefix}weight"), device)
        self.eps = eps
        self.compute_kernel_config = precise_compute_config()

    def forward(self, x: Any, memory_config: Any = None) -> Any:
        return ttnn.rms_norm(
            x,
            epsilon=self.eps,
            weight=self.weight,
            memory_config=memory_config,
            compute_kernel_config=self.compute_kernel_config,
        )

    __call__ = forward


class GemmaAttention:
    """Grouped-query self-attention over [B, 1, S, D] with rotary positions and an additive mask."""

    def __init__(
        self,
        shape: GemmaShape,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        weights_dtype: Any,
        tp: TensorParallel,
    ):
        self.shape = shape
        self.tp = tp
        self.heads = tp.heads(shape.num_heads, shape.num_kv_heads, shape.head_dim)
        q, k, v = (take(state_dict, f"{prefix}{n}_proj.weight") for n in ("q", "k", "v"))
        self.qkv_weight = tp.qkv_weight(f"{prefix}qkv_proj.weight", self.heads, q, k, v, weights_dtype)
        del q, k, v
        o_proj = f"{prefix}o_proj.weight"
        self.o_weight = tp.row_weight(o_proj, take(state_dict, o_proj), weights_dtype)
        self.scale = shape.head_dim**-0.5
        self.matmul_config = matmul_compute_config(weights_dtype)
        self.sdpa_config = precise_compute_config()
        self.grid = device.compute_with_storage_grid_size()

    def _program_config(self, q_len: int, kv_len: int) -> Any:
        """Chunks of 64 rows/keys where they divide the (tile-padded) lengths, else 32."""
        return ttnn.SDPAProgramConfig(
            compute_with_storage_grid_size=(self.grid.x, self.grid.y),
            q_chunk_size=64 if q_len % 64 == 0 else TILE,
            k_chunk_size=64 if kv_len % 64 == 0 else TILE,
            exp_approx_mode=False,
        )

    def forward(
        self,
        hidden_states: Any,
        cos: Any,
        sin: Any,
        attention_mask: Any,
        past: JointKV | None = None,
        memory_config: Any = None,
    ) -> tuple[Any, Any, Any]:
        """[B, 1, S, D] -> (output [B, 1, S, D], this layer's keys and values [B, KV, S, head_dim]).
        With `past` (the prefix's keys and values [B, KV, P, head_dim]), the queries attend [own; prefix]
        (mask [B, 1, S, S + P]); the returned keys/values are the layer's own (rotated keys).
        On a mesh every chip runs its own heads (KV: its share, or the replicated head)."""
        heads = self.heads
        fused = ttnn.linear(
            hidden_states,
            self.qkv_weight,
            memory_config=memory_config,
            compute_kernel_config=self.matmul_config,
        )
        query, key, value = ttnn.experimental.nlp_create_qkv_heads(
            fused, num_heads=heads.local_heads, num_kv_heads=heads.local_kv_heads, transpose_k_heads=False
        )
        ttnn.deallocate(fused)
        rotated_query = ttnn.experimental.rotary_embedding(query, cos, sin)
        rotated_key = ttnn.experimental.rotary_embedding(key, cos, sin)
        ttnn.deallocate(query)
        ttnn.deallocate(key)
        keys, values = past.join(rotated_key, value) if past is not None else (rotated_key, value)
        attn = ttnn.transformer.scaled_dot_product_attention(
            rotated_query,
            keys,
            values,
            attn_mask=attention_mask,
            is_causal=False,
            scale=self.scale,
            program_config=self._program_config(rotated_query.shape[2], keys.shape[2]),
            compute_kernel_config=self.sdpa_config,
        )
        ttnn.deallocate(rotated_query)
        merged = ttnn.experimental.nlp_concat_heads(attn)
        ttnn.deallocate(attn)
        partial = ttnn.linear(
            merged, self.o_weight, memory_config=memory_config, compute_kernel_config=self.matmul_config
        )
        ttnn.deallocate(merged)
        return self.tp.all_reduce(partial), rotated_key, value

    __call__ = forward


class GemmaMLP:
    """down_proj(gelu_tanh(gate_proj(x)) * up_proj(x)), no biases."""

    def __init__(
        self,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        weights_dtype: Any,
        tp: TensorParallel,
    ):
        self.tp = tp
        self.gate_weight, self.up_weight = (
            tp.column_weight(f"{prefix}{n}.weight", take(state_dict, f"{prefix}{n}.weight"), weights_dtype)
            for n in ("gate_proj", "up_proj")
        )
        down = f"{prefix}down_proj.weight"
        self.down_weight = tp.row_weight(down, take(state_dict, down), weights_dtype)
        self.compute_kernel_config = matmul_compute_config(weights_dtype)
        grid = device.compute_with_storage_grid_size()
        # A core grid lets linear fuse the activation into the matmul (matmul.cpp bound_matmul).
        self.core_grid = ttnn.CoreGrid(y=grid.y, x=grid.x)
        self.device = device
        self._down_configs: dict[int, Any] = {}

    def down_config(self, gated: Any) -> Any:
        """down_proj's program config for the prefix (PaliGemma's 576 rows): the 2D multicast config with K
        blocks of 8 tiles. ttnn's own choice takes K blocks of Kt / 8 = 64 tiles there, shrinks the output block
        to one tile column to fit L1 and reads the 18 MiB activation 8 times (core/sim/projection/matmul.py);
        the projected kernel halves (2.3 -> 1.25 ms a layer). A denoising step's few rows keep ttnn's 1D
        choice (None)."""
        rows = rows_of(gated)
        if rows < PREFILL_ROWS:
            return None
        if rows not in self._down_configs:
            k, n = self.down_weight.padded_shape[-2], self.down_weight.padded_shape[-1]
            fp32 = bool(self.compute_kernel_config.fp32_dest_acc_en)
            self._down_configs[rows] = multicast_2d_config(self.device, rows, k, n, fp32_dest_acc_en=fp32)
        return self._down_configs[rows]

    def forward(self, x: Any, memory_config: Any = None) -> Any:
        gate = ttnn.linear(
            x,
            self.gate_weight,
            # gelu_pytorch_tanh as the device's accurate GELU kernel (False): its fast mode is a coarse table
            # (see models/siglip/mlp.py).
            activation=(ttnn.UnaryOpType.GELU, False),
            core_grid=self.core_grid,
            memory_config=memory_config,
            compute_kernel_config=self.compute_kernel_config,
        )
        up = ttnn.linear(
            x, self.up_weight, memory_config=memory_config, compute_kernel_config=self.compute_kernel_config
        )
        gated = ttnn.multiply(gate, up, memory_config=memory_config)
        ttnn.deallocate(gate)
        ttnn.deallocate(up)
        partial = ttnn.linear(
            gated,
            self.down_weight,
            program_config=self.down_config(gated),
            memory_config=memory_config,
            compute_kernel_config=self.compute_kernel_config,
        )
        ttnn.deallocate(gated)
        return self.tp.all_reduce(partial)

    __call__ = forward


class GemmaDecoderLayer:
    """input_layernorm -> self_attn -> residual; post_attention_layernorm -> mlp -> residual."""

    def __init__(
        self,
        shape: GemmaShape,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        weights_dtype: Any,
        tp: TensorParallel,
        activations: Any = None,
    ):
        """`activations`: memory config of the layer's activations (None: ttnn's default, DRAM)."""
        self.activations = activations
        eps = shape.rms_norm_eps
        self.input_layernorm = GemmaRMSNorm(state_dict, f"{prefix}input_layernorm.", device, eps)
        self.self_attn = GemmaAttention(shape, state_dict, f"{prefix}self_attn.", device, weights_dtype, tp)
        self.post_attention_layernorm = GemmaRMSNorm(
            state_dict, f"{prefix}post_attention_layernorm.", device, eps
        )
        self.mlp = GemmaMLP(state_dict, f"{prefix}mlp.", device, weights_dtype, tp)

    def forward(
        self,
        hidden_states: Any,
        cos: Any,
        sin: Any,
        attention_mask: Any,
        past: JointKV | None = None,
    ) -> tuple[Any, Any, Any]:
        """-> (output, keys, values); the input stays allocated (the caller owns it)."""
        memory = self.activations
        normed = self.input_layernorm(hidden_states, memory_config=memory)
        attn, keys, values = self.self_attn(normed, cos, sin, attention_mask, past, memory_config=memory)
        ttnn.deallocate(normed)
        hidden_states = ttnn.add(hidden_states, attn, memory_config=memory)
        ttnn.deallocate(attn)
        normed = self.post_attention_layernorm(hidden_states, memory_config=memory)
        mlp = self.mlp(normed, memory_config=memory)
        ttnn.deallocate(normed)
        output = ttnn.add(hidden_states, mlp, memory_config=memory)
        ttnn.deallocate(mlp)
        ttnn.deallocate(hidden_states)
        return output, keys, values

    __call__ = forward


def build_layers(
    shape: GemmaShape,
    num_layers: int,
    state_dict: dict[str, torch.Tensor],
    prefix: str,
    device: Any,
    weights_dtype: Any,
    tp: TensorParallel | None = None,
    activations: Any = None,
) -> list[GemmaDecoderLayer]:
    """`prefix`layers.{i}.* for every layer, each converted (and dropped from `state_dict`) in turn; split
    over the chips of `device` by `tp` (default: every chip of the device's mesh); `activations`: the layers'
    activation memory config."""
    tp = tp or TensorParallel(device)
    return [
        GemmaDecoderLayer(shape, state_dict, f"{prefix}layers.{i}.", device, weights_dtype, tp, activations)
        for i in range(num_layers)
    ]
