"""ttnn.transformer's head helpers on the simulator (split_query_key_value_and_split_heads,
concatenate_heads, attention_softmax / attention_softmax_, scaled_dot_product_attention_decode);
experimental.concatenate_heads is ttnn.experimental's own variant.

Shapes follow ttnn/ttnn/operations/transformer.py of the 0.81.1 wheel: a fused [B, S, (H + 2 Hkv) D] QKV
projection splits into q [B, H, S, D], k [B, Hkv, D, S] (transposed by default) and v [B, Hkv, S, D];
concatenate_heads is the inverse for [B, H, S, D] -> [B, S, H D]. These are data movement: values are copied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import Layout, MemoryConfig, TensorMemoryLayout
from .golden import attach_golden_function
from .normalization import _scale_mask_softmax

__all__ = [
    "attention_softmax",
    "attention_softmax_",
    "concatenate_heads",
    "split_query_key_value_and_split_heads",
]


def split_query_key_value_and_split_heads(
    input_tensor: Tensor,
    kv_input_tensor: Tensor | None = None,
    *,
    num_heads: int,
    num_kv_heads: int | None = None,
    transpose_key: bool = True,
    memory_config: MemoryConfig | None = None,
    use_falcon7b_backend: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Split a fused QKV projection [B, S, (H + 2 Hkv) D] (or q [B, S, H D] plus kv [B, S, 2 Hkv D]) into
    heads."""
    inputs = [input_tensor] + ([kv_input_tensor] if kv_input_tensor is not None else [])
    rules.require_same_device("split_query_key_value_and_split_heads", inputs)
    rules.require(
        len(input_tensor.shape) == 3,
        f"Input Tensor must have rank 3 [B, S, hidden], got {list(input_tensor.shape)}",
    )
    kv_heads = num_kv_heads or num_heads
    hidden = input_tensor.shape[-1] + (kv_input_tensor.shape[-1] if kv_input_tensor is not None else 0)
    rules.require(
        hidden % (num_heads + 2 * kv_heads) == 0,
        f"Hidden size ({hidden}) must be divisible by num_heads + 2 * num_kv_heads ({num_heads + 2 * kv_heads})",
    )
    head = hidden // (num_heads + 2 * kv_heads)

    def compute(x: torch.Tensor, *kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fused = torch.cat([x, *kv], dim=-1)
        b, s, _ = fused.shape
        q = fused[..., : num_heads * head].reshape(b, s, num_heads, head).permute(0, 2, 1, 3)
        kv_part = fused[..., num_heads * head :].reshape(b, s, 2 * kv_heads, head).permute(0, 2, 1, 3)
        k, v = kv_part[:, :kv_heads], kv_part[:, kv_heads:]
        return q.contiguous(), (k.transpose(-1, -2) if transpose_key else k).contiguous(), v.contiguous()

    mc = memory_config or input_tensor.memory_config()
    return device_op(
        "split_query_key_value_and_split_heads", inputs, compute, dtype=input_tensor.dtype, layout=Layout.TILE,
        memory_config=mc,
    )  # fmt: skip


def experimental_split_query_key_value_and_split_heads(
    input_tensor: Tensor,
    compute_with_storage_grid_size: Any,
    *,
    memory_config: MemoryConfig | None = None,
    num_heads: int = 16,
    output_tensors: Any = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """ttnn.experimental.split_query_key_value_and_split_heads (BERT-large's op): [B, 1, S, 3 H D] ->
    Q [B, H, S, D], K transposed [B, H, D, S], V [B, H, S, D]. Interleaved, the width is Q | K | V; BLOCK_SHARDED,
    each of the c shard columns holds its own heads' Q | K | V (the model interleaves its fused weight per
    column, see models/demos/nlp/encoder/metal_BERT_large_11/tt/mha.py QKV_INTERLEAVED)."""
    rules.require_same_device("split_query_key_value_and_split_heads", [input_tensor])
    rules.require(input_tensor.layout == Layout.TILE, "Input tensor must be in TILE layout")
    shape = input_tensor.shape
    rules.require(len(shape) == 4 and shape[1] == 1, f"Unsupported input shape {list(shape)}")
    width = shape[-1]
    rules.require(width % (3 * num_heads) == 0, f"Hidden size {width} must be divisible by 3 * num_heads")
    head = width // (3 * num_heads)
    mc_in = input_tensor.memory_config()
    columns = 1
    if mc_in.memory_layout == TensorMemoryLayout.BLOCK_SHARDED and mc_in.shard_spec is not None:
        columns = width // mc_in.shard_spec.shape[1]
    rules.require(num_heads % columns == 0, f"num_heads {num_heads} must be divisible by {columns} shard columns")

    def compute(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, _, s, _ = x.shape
        parts = x.reshape(b, s, columns, 3, num_heads // columns, head)
        q, k, v = (parts[:, :, :, i].reshape(b, s, num_heads, head).permute(0, 2, 1, 3) for i in range(3))
        return q.contiguous(), k.transpose(-1, -2).contiguous(), v.contiguous()

    mc = memory_config or mc_in
    return device_op(
        "split_query_key_value_and_split_heads", [input_tensor], compute, dtype=input_tensor.dtype,
        layout=Layout.TILE, memory_config=mc,
    )  # fmt: skip


def concatenate_heads(input_tensor: Tensor, *, memory_config: MemoryConfig | None = None) -> Tensor:
    """[B, H, S, D] -> [B, S, H D]."""
    rules.require_same_device("concatenate_heads", [input_tensor])
    rules.require(
        len(input_tensor.shape) == 4,
        f"Input Tensor must have rank 4 [B, H, S, D], got {list(input_tensor.shape)}",
    )
    b, h, s, d = input_tensor.shape
    mc = memory_config or input_tensor.memory_config()
    return device_op(
        "concatenate_heads", [input_tensor], lambda x: x.permute(0, 2, 1, 3).reshape(b, s, h * d),
        dtype=input_tensor.dtype, layout=input_tensor.layout, memory_config=mc,
    )  # fmt: skip


def experimental_concatenate_heads(
    input_tensor: Tensor,
    compute_with_storage_grid_size: Any,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.experimental.concatenate_heads: concatenate_heads with a compute grid (work split only) and an
    optional preallocated output."""
    from .eltwise import into_output

    return into_output(concatenate_heads(input_tensor, memory_config=memory_config), output_tensor)


experimental_concatenate_heads.__name__ = experimental_concatenate_heads.__qualname__ = "concatenate_heads"


def _attention_softmax(
    name: str,
    tensor: Tensor,
    head_size: int | None,
    attention_mask: Tensor | None,
    causal: bool,
    mc: Any,
    inplace: bool,
) -> Tensor:
    scale = 1.0 / head_size**0.5 if head_size is not None else None
    if attention_mask is not None and not causal:
        mask_shape = list(attention_mask.shape)
        causal = mask_shape[-2:] == list(tensor.shape[-2:]) and mask_shape[-2] != 1
    out = tensor if inplace else None
    return _scale_mask_softmax(name, tensor, scale, attention_mask, causal, True, mc, out)


def attention_softmax(
    tensor: Tensor,
    *,
    head_size: int | None = None,
    attention_mask: Tensor | None = None,
    program_config: Any = None,
    causal_mask: bool | None = False,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """softmax(tensor / sqrt(head_size) + attention_mask) over the last dim."""
    return _attention_softmax(
        "attention_softmax", tensor, head_size, attention_mask, bool(causal_mask), memory_config, False
    )


def attention_softmax_(
    tensor: Tensor,
    *,
    head_size: int | None = None,
    attention_mask: Tensor | None = None,
    program_config: Any = None,
    causal_mask: bool | None = False,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """attention_softmax written into `tensor`."""
    return _attention_softmax(
        "attention_softmax_", tensor, head_size, attention_mask, bool(causal_mask), memory_config, True
    )


def scaled_dot_product_attention_decode(
    input_tensor_q: Tensor,
    input_tensor_k: Tensor,
    input_tensor_v: Tensor,
    *,
    is_causal: bool = True,
    attn_mask: Tensor | None = None,
    cur_pos: Sequence[int] = (),
    cur_pos_tensor: Tensor | None = None,
    attention_sink: Tensor | None = None,
    scale: float | None = None,
    sliding_window_size: int | None = None,
    memory_config: MemoryConfig | None = None,
    program_config: Any = None,
    compute_kernel_config: Any = None,
    share_cache: bool | None = None,
) -> Tensor:
    """ttnn.transformer.scaled_dot_product_attention_decode: one new query token per user against a KV cache.
    q [1, B, NH, D], k / v [B (or 1 when shared), NKV, S, D]; user b attends to cache positions
    0..cur_pos[b] (causal; a negative position gives zeros), or to every position with `attn_mask`
    [B, 1, NH, S] when not causal; a sliding window keeps the last `sliding_window_size` positions. Output
    [1, B, NH, D]. Numerics: float32 softmax of the rounded inputs, rounded once (the decode kernel's
    chunked flash numerics are not modelled here, unlike scaled_dot_product_attention)."""
    q_shape, k_shape, v_shape = input_tensor_q.shape, input_tensor_k.shape, input_tensor_v.shape
    inputs = [input_tensor_q, input_tensor_k, input_tensor_v]
    extras = [t for t in (attn_mask, cur_pos_tensor) if t is not None]
    rules.require_same_device("scaled_dot_product_attention_decode", inputs + extras)
    rules.require(
        attention_sink is None,
        "simulator: scaled_dot_product_attention_decode(attention_sink=) is not modelled",
    )
    rules.require(
        len(q_shape) == 4 and q_shape[0] == 1, f"Decode query must be [1, B, NH, D], got {list(q_shape)}"
    )
    rules.require(
        len(k_shape) == 4 and list(k_shape) == list(v_shape),
        f"K and V caches must be [B, NKV, S, D] of the same shape, got {list(k_shape)} and {list(v_shape)}",
    )
    batch, heads, head_dim = q_shape[1], q_shape[2], q_shape[3]
    rules.require(k_shape[3] == head_dim, f"Q head dim {head_dim} does not match K head dim {k_shape[3]}")
    rules.require(k_shape[0] in (1, batch) or share_cache, f"K cache batch {k_shape[0]} must be 1 or {batch}")
    rules.require(
        heads % k_shape[1] == 0, f"num q heads ({heads}) must be a multiple of num kv heads ({k_shape[1]})"
    )
    if not is_causal:
        rules.require(attn_mask is not None, "Non-causal SDPA decode requires an attention mask")
    elif attn_mask is not None:
        raise rules.fatal("Causal SDPA decode does not take an attention mask; pass is_causal=False")
    positions = list(cur_pos)
    factor = scale if scale is not None else 1.0 / math.sqrt(head_dim)
    groups = heads // k_shape[1]
    has_mask, has_pos_tensor = attn_mask is not None, cur_pos_tensor is not None

    def compute(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        it = iter(rest)
        mask = next(it) if has_mask else None
        pos = next(it).reshape(-1).long().tolist() if has_pos_tensor else positions
        if not pos:
            pos = [k.shape[2] - 1] * batch
        out = torch.zeros(1, batch, heads, head_dim)
        for b in range(batch):
            p = int(pos[b % len(pos)]) if is_causal else k.shape[2] - 1
            if p < 0:
                continue
            cb = 0 if share_cache or k.shape[0] == 1 else b
            start = max(0, p + 1 - sliding_window_size) if sliding_window_size else 0
            keys = k[cb, :, start : p + 1].repeat_interleave(groups, dim=0)  # [NH, n, D]
            values = v[cb, :, start : p + 1].repeat_interleave(groups, dim=0)
            scores = torch.einsum("hd,hnd->hn", q[0, b], keys) * factor
            if mask is not None:
                scores = scores + mask[b % mask.shape[0], 0, :, start : p + 1]
            out[0, b] = torch.einsum("hn,hnd->hd", torch.softmax(scores, dim=-1), values)
        return out

    mc = memory_config or input_tensor_q.memory_config()
    return device_op(
        "scaled_dot_product_attention_decode", inputs + extras, compute, dtype=input_tensor_q.dtype,
        layout=Layout.TILE, memory_config=mc,
    )  # fmt: skip


def _split_golden(
    input_tensor: torch.Tensor, kv_input_tensor: torch.Tensor | None = None, *, num_heads: int,
    num_kv_heads: int | None = None, transpose_key: bool = True, **_: Any,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    fused = torch.cat([input_tensor, kv_input_tensor], -1) if kv_input_tensor is not None else input_tensor
    kv_heads = num_kv_heads or num_heads
    b, s, hidden = fused.shape
    head = hidden // (num_heads + 2 * kv_heads)
    q = fused[..., : num_heads * head].reshape(b, s, num_heads, head).permute(0, 2, 1, 3)
    kv = fused[..., num_heads * head :].reshape(b, s, 2 * kv_heads, head).permute(0, 2, 1, 3)
    k = kv[:, :kv_heads]
    return q, k.transpose(-1, -2) if transpose_key else k, kv[:, kv_heads:]


def _attention_softmax_golden(
    tensor: torch.Tensor,
    *,
    head_size: int | None = None,
    attention_mask: torch.Tensor | None = None,
    **_: Any,
) -> torch.Tensor:
    x = tensor.float() * (1.0 / head_size**0.5 if head_size is not None else 1.0)
    return torch.softmax(x + attention_mask.float() if attention_mask is not None else x, -1)


attach_golden_function(split_query_key_value_and_split_heads, _split_golden)
# real ttnn registers the transformer op's golden (3-D input, optional kv tensor) for the experimental op too
attach_golden_function(experimental_split_query_key_value_and_split_heads, _split_golden)
attach_golden_function(
    concatenate_heads,
    lambda x, **_: x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]),
)
attach_golden_function(
    experimental_concatenate_heads,
    lambda x, *a, **_: x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]),
)
attach_golden_function(attention_softmax, _attention_softmax_golden)
attach_golden_function(attention_softmax_, _attention_softmax_golden)


def _decode_golden(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, is_causal: bool = True, attn_mask: Any = None,
    cur_pos: Sequence[int] = (), cur_pos_tensor: Any = None, scale: float | None = None,
    sliding_window_size: int | None = None, share_cache: bool | None = None, **_: Any,
) -> torch.Tensor:  # fmt: skip
    batch, heads, head_dim = q.shape[1], q.shape[2], q.shape[3]
    positions = cur_pos_tensor.reshape(-1).tolist() if cur_pos_tensor is not None else list(cur_pos)
    positions = positions or [k.shape[2] - 1] * batch
    out = torch.zeros(1, batch, heads, head_dim)
    groups = heads // k.shape[1]
    for b in range(batch):
        p = int(positions[b % len(positions)]) if is_causal else k.shape[2] - 1
        if p < 0:
            continue
        cb = 0 if share_cache or k.shape[0] == 1 else b
        start = max(0, p + 1 - sliding_window_size) if sliding_window_size else 0
        keys = k[cb, :, start : p + 1].float().repeat_interleave(groups, 0)
        values = v[cb, :, start : p + 1].float().repeat_interleave(groups, 0)
        scores = torch.einsum("hd,hnd->hn", q[0, b].float(), keys) * (scale or 1.0 / math.sqrt(head_dim))
        if attn_mask is not None:
            scores = scores + attn_mask[b % attn_mask.shape[0], 0, :, start : p + 1].float()
        out[0, b] = torch.einsum("hn,hnd->hd", torch.softmax(scores, -1), values)
    return out


attach_golden_function(scaled_dot_product_attention_decode, _decode_golden)


def nlp_create_qkv_heads_decode(
    input_tensor: Tensor,
    *,
    num_heads: int,
    num_kv_heads: int | None = None,
    output_tensors: Sequence[Tensor] | None = None,
    overlap_qk_coregrid: bool | None = True,
    batch_offset: Tensor | None = None,
    slice_size: int | None = None,
    memory_config: MemoryConfig | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """ttnn.experimental.nlp_create_qkv_heads_decode: a fused decode QKV projection [1, 1, B, (NH + 2 NKV) D]
    -> q [1, B, NH, D], k [1, B, NKV, D], v [1, B, NKV, D] (the "1BQD" / "1BKD" tensors of tt-metal's LLM
    decode); with batch_offset / slice_size only users [offset, offset + slice_size) are taken. On a card
    the outputs are height-sharded; the simulator keeps the given (or input's) memory config."""
    rules.require(
        output_tensors is None, "simulator: nlp_create_qkv_heads_decode(output_tensors=) is not modelled"
    )
    inputs = [input_tensor] + ([batch_offset] if batch_offset is not None else [])
    rules.require_same_device("nlp_create_qkv_heads_decode", inputs)
    shape = input_tensor.shape
    rules.require(
        len(shape) == 4 and shape[0] == 1 and shape[1] == 1,
        f"Input tensor must be [1, 1, batch, hidden], got {list(shape)}",
    )
    kv_heads = num_kv_heads or num_heads
    rules.require(
        shape[3] % (num_heads + 2 * kv_heads) == 0,
        f"Hidden size ({shape[3]}) must be divisible by num_heads + 2 * num_kv_heads ({num_heads + 2 * kv_heads})",
    )
    head = shape[3] // (num_heads + 2 * kv_heads)
    rules.require(head % 32 == 0, f"Head dim ({head}) must be a multiple of 32")
    rules.require(
        (batch_offset is None) == (slice_size is None), "batch_offset and slice_size must be given together"
    )

    def compute(x: torch.Tensor, *offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = x[0, 0]
        if offset:
            start = int(offset[0].reshape(-1)[0])
            rows = rows[start : start + slice_size]
        users = rows.shape[0]
        q = rows[:, : num_heads * head].reshape(1, users, num_heads, head)
        k = rows[:, num_heads * head : (num_heads + kv_heads) * head].reshape(1, users, kv_heads, head)
        v = rows[:, (num_heads + kv_heads) * head :].reshape(1, users, kv_heads, head)
        return q, k, v

    mc = memory_config or input_tensor.memory_config()
    return device_op(
        "nlp_create_qkv_heads_decode",
        inputs,
        compute,
        dtype=input_tensor.dtype,
        layout=Layout.TILE,
        memory_config=mc,
    )


def nlp_concat_heads_decode(
    input_tensor: Tensor,
    *,
    num_heads: int,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.experimental.nlp_concat_heads_decode: attention output [1, B, H (>= num_heads, padded), D] ->
    [1, 1, B, num_heads * D], the first num_heads heads of every user side by side."""
    from .eltwise import into_output

    rules.require_same_device("nlp_concat_heads_decode", [input_tensor])
    shape = input_tensor.shape
    rules.require(
        len(shape) == 4 and shape[0] == 1,
        f"Input tensor must be [1, batch, heads, head_dim], got {list(shape)}",
    )
    rules.require(shape[2] >= num_heads, f"num_heads ({num_heads}) exceeds the input's {shape[2]} heads")
    users, head = shape[1], shape[3]
    mc = memory_config or input_tensor.memory_config()
    result = device_op(
        "nlp_concat_heads_decode", [input_tensor],
        lambda x: x[0, :, :num_heads, :].reshape(1, 1, users, num_heads * head),
        dtype=input_tensor.dtype, layout=Layout.TILE, memory_config=mc,
    )  # fmt: skip
    return into_output(result, output_tensor)


def joint_scaled_dot_product_attention(
    input_tensor_q: Tensor,
    input_tensor_k: Tensor,
    input_tensor_v: Tensor,
    joint_tensor_q: Tensor,
    joint_tensor_k: Tensor,
    joint_tensor_v: Tensor,
    *,
    joint_strategy: str,
    program_config: Any,
    scale: float | None = None,
    compute_kernel_config: Any = None,
) -> tuple[Tensor, Tensor]:
    """ttnn.transformer.joint_scaled_dot_product_attention (MM-DiT attention of SD3 / Flux in tt_dit): the
    joint sequence is appended behind the spatial one ("rear"), one non-causal attention runs over both,
    and the result is split back into (spatial, joint) outputs. Numerics: those of
    scaled_dot_product_attention (flash attention over k_chunk_size chunks of the concatenated keys)."""
    from . import transformer as _sdpa  # the flash-attention numerics live with scaled_dot_product_attention

    inputs = [input_tensor_q, input_tensor_k, input_tensor_v, joint_tensor_q, joint_tensor_k, joint_tensor_v]
    rules.require_same_device("joint_scaled_dot_product_attention", inputs)
    rules.require(
        joint_strategy == "rear", f"Only joint_strategy='rear' is supported, got {joint_strategy!r}"
    )
    for t in inputs:
        rules.require_tile("joint_scaled_dot_product_attention", t)
        rules.require(
            len(t.shape) == 4,
            f"joint_scaled_dot_product_attention: inputs must be rank 4, got {list(t.shape)}",
        )
    q, jq = input_tensor_q.shape, joint_tensor_q.shape
    for a, b in (
        (input_tensor_q, input_tensor_k),
        (input_tensor_q, input_tensor_v),
        (joint_tensor_q, joint_tensor_k),
        (joint_tensor_q, joint_tensor_v),
    ):
        rules.require(
            list(a.shape) == list(b.shape),
            f"joint_scaled_dot_product_attention: Q, K and V must have the same shape, got {list(a.shape)} and "
            f"{list(b.shape)}",
        )
    rules.require(
        q[0] == jq[0] and q[1] == jq[1] and q[3] == jq[3],
        f"joint_scaled_dot_product_attention: joint tensors must match batch, heads and head dim of the inputs, got "
        f"{list(q)} and {list(jq)}",
    )
    factor = 1.0 / math.sqrt(input_tensor_q.padded_shape[-1]) if scale is None else float(scale)
    k_chunk = program_config.k_chunk_size
    numerics = (
        _sdpa._DEFAULT_NUMERICS
        if compute_kernel_config is None
        else _sdpa.fidelity.numerics_from_config(compute_kernel_config)
    )
    # the SFPU side exactly as scaled_dot_product_attention sets it up (exp approximation, reciprocal)
    kernel = _sdpa.tile_math.from_compute_config(
        compute_kernel_config, _sdpa._DEFAULT_KERNEL, input_tensor_q.device().arch()
    )
    exp_approx = True if program_config.exp_approx_mode is None else bool(program_config.exp_approx_mode)
    softmax = _sdpa._Softmax(_sdpa._bf16_truncated(factor), exp_approx, kernel)
    dtypes = (input_tensor_q.dtype, input_tensor_k.dtype, input_tensor_v.dtype)
    n = q[2]

    def compute(*values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        qq, kk, vv = (torch.cat([values[i], values[i + 3]], dim=-2) for i in range(3))
        out = _sdpa._flash_attention(
            qq, kk, vv, None, is_causal=False, sliding_window=None, k_chunk=k_chunk, dtypes=dtypes,
            numerics=numerics, softmax=softmax,
        )  # fmt: skip
        return out[..., :n, :].contiguous(), out[..., n:, :].contiguous()

    out, joint = device_op(
        "joint_scaled_dot_product_attention", inputs, compute, dtype=input_tensor_q.dtype, layout=Layout.TILE,
        memory_config=input_tensor_q.memory_config(),
    )  # fmt: skip
    return out, joint


def _joint_golden(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, jq: torch.Tensor, jk: torch.Tensor, jv: torch.Tensor, *,
    joint_strategy: str = "rear", scale: float | None = None, **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    n = q.shape[-2]
    qq, kk, vv = (torch.cat([a.float(), b.float()], dim=-2) for a, b in ((q, jq), (k, jk), (v, jv)))
    out = torch.nn.functional.scaled_dot_product_attention(qq, kk, vv, scale=scale)
    return out[..., :n, :], out[..., n:, :]


attach_golden_function(joint_scaled_dot_product_attention, _joint_golden)
