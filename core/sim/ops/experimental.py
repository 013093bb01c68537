"""ttnn.experimental transformer helpers on the simulator: nlp_create_qkv_heads, nlp_concat_heads,
rotary_embedding, rotary_embedding_llama.

Keywords: ttnn/cpp/ttnn/operations/experimental/transformer/*/*_nanobind.cpp. Checks: the matching
device/*_device_operation.cpp. These kernels move whole tiles, so a head_dim that is not a tile multiple
would interleave tile padding into the output on device without an error; the simulator refuses it instead
of silently producing the mathematically right answer.
Rotary numerics: x*cos and rot(x)*sin are packed to bfloat16 before the final add (intermediate circular
buffers), the sum is rounded to the output dtype; matmul fidelity on the llama transformation matrix is not
modelled (its entries are 0 / +-1).
"""

from __future__ import annotations

from typing import Any

import torch

from .. import rules
from ..numerics import formats
from ..tensor import Tensor, device_op
from ..types import (
    DataType,
    Layout,
    MemoryConfig,
    ShardOrientation,
    ShardSpec,
    StorageType,
    TensorMemoryLayout,
)
from . import matmul as _matmul
from .golden import attach_golden_function

__all__ = [
    "create_qkv_heads_from_separate_tensors",
    "minimal_matmul",
    "nlp_concat_heads",
    "nlp_create_qkv_heads",
    "nlp_create_qkv_heads_falcon7b",
    "nlp_create_qkv_heads_segformer",
    "rotary_embedding",
    "rotary_embedding_llama",
]

TILE = 32
_TM_DTYPES = (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B)


def _pack(x: torch.Tensor) -> torch.Tensor:
    return formats.round_bfloat16(x, formats.PACKER)


def _require_tm_input(t: Tensor, what: str = "Input tensor") -> None:
    # nlp_create_qkv_heads_device_operation.cpp / nlp_concat_heads_device_operation.cpp
    rules.require(t.storage_type() == StorageType.DEVICE, "Operands to TM need to be on device!")
    rules.require(t.dtype in _TM_DTYPES, "Unsupported data format")
    rules.require(t.layout == Layout.TILE, f"{what} layout must be TILE but got {t.layout!r}")
    rules.require(len(t.shape) == 4, f"{what} must be rank 4, got shape {list(t.shape)}")


def _require_tile_head_dim(head_dim: int, op: str) -> None:
    rules.require(
        head_dim % TILE == 0,
        f"{op}: head_dim {head_dim} is not a multiple of {TILE}; the device kernel copies whole tiles and "
        "would mix tile padding into the heads (simulator refusal: pad head_dim to a tile multiple)",
    )


def nlp_create_qkv_heads(
    input: Tensor,
    input_kv: Tensor | None = None,
    *,
    num_heads: int,
    num_kv_heads: int | None = None,
    transpose_k_heads: bool = True,
    kv_tied: bool = False,
    memory_config: MemoryConfig | None = None,
    output_tensors: Any = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Split a fused [B, 1, S, (nh + 2 nkv) * D] projection (Q heads, then K heads, then V heads) into
    Q [B, nh, S, D], K [B, nkv, D, S] (or [B, nkv, S, D] without transpose_k_heads) and V [B, nkv, S, D].
    With `input_kv`, Q comes from `input` [B, 1, S, nh*D] and K, V from `input_kv` [B, 1, S, 2*nkv*D]."""
    if kv_tied:
        raise NotImplementedError("simulator: nlp_create_qkv_heads(kv_tied=True) is not modelled")
    nkv = num_heads if num_kv_heads is None else num_kv_heads
    _require_tm_input(input)
    width = input.padded_shape[3]
    # nlp_create_qkv_heads.cpp: head_dim from the padded width
    if input_kv is not None:
        _require_tm_input(input_kv, "Input tensor KV")
        kv_width = input_kv.padded_shape[3]
        rules.require(width % num_heads == 0, "Unsupported input shape")
        rules.require(kv_width % (2 * nkv) == 0, "Unsupported input shape")
        head_dim = width // num_heads
        rules.require(kv_width // (2 * nkv) == head_dim, "Head dims must be the same for Q and K, V")
        rules.require(input_kv.dtype == input.dtype, "KV tensor dtype must be same as Q tensor dtype!")
        rules.require(
            input_kv.shape[0] == input.shape[0], "KV tensor batch dim must be same as Q tensor batch!"
        )
        rules.require(
            input_kv.shape[1] == 1, f"Unsupported input shape {input_kv.shape[1]} is not equal to 1"
        )
        rules.require(
            input_kv.shape[2] == input.shape[2], "KV tensor seq_len dim must be same as Q tensor seq_len!"
        )
    else:
        rules.require(width % (num_heads + 2 * nkv) == 0, "Unsupported input shape")
        head_dim = width // (num_heads + 2 * nkv)
    rules.require(
        input.shape[1] == 1, f"Unsupported input sequence length {input.shape[1]} is not equal to 1"
    )
    _require_tile_head_dim(head_dim, "nlp_create_qkv_heads")
    mc = memory_config or input.memory_config()
    rules.require(
        mc.memory_layout == TensorMemoryLayout.INTERLEAVED,
        f"Output memory config layout must be INTERLEAVED but got {mc.memory_layout!r}",
    )

    def split(x: torch.Tensor, kv: torch.Tensor | None = None):
        B, _, S, _ = x.shape
        if kv is None:
            q, k, v = torch.split(x, [num_heads * head_dim, nkv * head_dim, nkv * head_dim], dim=-1)
        else:
            q, (k, v) = x, torch.split(kv, [nkv * head_dim, nkv * head_dim], dim=-1)
        q = q.reshape(B, S, num_heads, head_dim).transpose(1, 2).contiguous()
        k = (
            k.reshape(B, S, nkv, head_dim).permute(0, 2, 3, 1)
            if transpose_k_heads
            else k.reshape(B, S, nkv, head_dim).transpose(1, 2)
        )
        v = v.reshape(B, S, nkv, head_dim).transpose(1, 2).contiguous()
        return q, k.contiguous(), v

    inputs = [input] if input_kv is None else [input, input_kv]
    return device_op(
        "nlp_create_qkv_heads",
        inputs,
        split,
        dtype=input.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        stack_chips=tuple(range(len(inputs))),  # batch by batch
    )


def nlp_concat_heads(input_tensor: Tensor, *, memory_config: MemoryConfig | None = None) -> Tensor:
    """[B, H, S, D] -> [B, 1, S, H*D] (heads side by side), TILE, input_tensor's dtype."""
    _require_tm_input(input_tensor)
    _require_tile_head_dim(input_tensor.shape[3], "nlp_concat_heads")
    mc = memory_config or input_tensor.memory_config()
    rules.require(
        mc.memory_layout == TensorMemoryLayout.INTERLEAVED,
        f"Output memory config layout must be INTERLEAVED but got {mc.memory_layout!r}",
    )

    def concat(x: torch.Tensor) -> torch.Tensor:
        B, H, S, D = x.shape
        return x.transpose(1, 2).reshape(B, 1, S, H * D)

    return device_op(
        "nlp_concat_heads",
        [input_tensor],
        concat,
        dtype=input_tensor.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        stack_chips=(0,),  # batch by batch
    )


def _require_rope_inputs(inputs: list[Tensor]) -> None:
    device = inputs[0].device()
    for t in inputs:
        rules.require(
            t.storage_type() == StorageType.DEVICE, "Operands to rotary embedding need to be on device!"
        )
        rules.require(t.device() is device, "Operands to rotary embedding need to be on same device!")
        rules.require(t.layout == Layout.TILE, "Inputs to rotary embedding must be tilized")


def rotary_embedding(
    input_tensor: Tensor,
    cos_cache: Tensor,
    sin_cache: Tensor,
    token_index: int | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """HF-style rotary embedding: x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, x1] over the halves of
    the last dim. cos/sin are [1, 1, S_max, D]; rows [0, S) are used, or row `token_index` for every row.
    As on device (rotary_embedding_device_operation.cpp compute_output_specs), the output's shape is the
    input's padded shape (the sequence rounded up to 32 when no token_index is given)."""
    _require_rope_inputs([input_tensor, cos_cache, sin_cache])
    padded = input_tensor.padded_shape
    width = padded[-1]
    rules.require(width % (TILE * 2) == 0, "Input X dim must be divisible into tiles")
    rules.require(cos_cache.dtype == sin_cache.dtype, "Cos and Sin dtypes must match")
    rules.require(cos_cache.padded_shape == sin_cache.padded_shape, "Cos and Sin dims must match")
    cp = cos_cache.padded_shape
    rules.require(cp[0] == 1 and cp[1] == 1 and cp[-1] == width, "Cos dims must match input dims")
    if token_index is not None:
        rules.require(cp[-2] >= token_index, "Cos dims must match input dims")
        rules.require(
            0 <= token_index < cos_cache.shape[-2], f"token_index {token_index} is outside the cos cache"
        )
    else:
        rules.require(cp[-2] >= padded[-2], "Cos dims must match input dims")
    out_shape = list(padded)
    mc = memory_config or input_tensor.memory_config()

    def compute(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        pad = [0, width - x.shape[-1], 0, out_shape[-2] - x.shape[-2]]
        x = torch.nn.functional.pad(x, pad).reshape(out_shape)
        rows = x.shape[-2]
        if token_index is None:
            c = torch.nn.functional.pad(cos, [0, 0, 0, max(0, rows - cos.shape[-2])])[..., :rows, :]
            s = torch.nn.functional.pad(sin, [0, 0, 0, max(0, rows - sin.shape[-2])])[..., :rows, :]
        else:
            c, s = cos[..., token_index : token_index + 1, :], sin[..., token_index : token_index + 1, :]
        x1, x2 = x.chunk(2, dim=-1)
        rotated = torch.cat([-x2, x1], dim=-1)
        return _pack(x * c) + _pack(rotated * s)

    return device_op(
        "rotary_embedding",
        [input_tensor, cos_cache, sin_cache],
        compute,
        dtype=input_tensor.dtype,
        layout=input_tensor.layout,
        memory_config=mc,
        output_shapes=lambda *_: out_shape,  # the packing reads values (not runnable on meta tensors)
    )


def rotary_embedding_llama(
    input_tensor: Tensor,
    cos_cache: Tensor,
    sin_cache: Tensor,
    trans_mat: Tensor,
    *,
    is_decode_mode: bool = False,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """Llama (interleaved-pair) rotary embedding: x*cos + (x @ trans_mat)*sin, with the 32x32 trans_mat
    applied to every 32-wide tile column of x (rotary_embedding_llama_device_operation.cpp checks)."""
    inputs = [input_tensor, cos_cache, sin_cache, trans_mat]
    _require_rope_inputs(inputs)
    head_dim = input_tensor.shape[-1]
    fp32_acc = bool(getattr(compute_kernel_config, "fp32_dest_acc_en", False))
    rules.require(head_dim <= 128 or not fp32_acc, "If head_dim is > 128, fp32_dest_acc_en must be False")
    rules.require(head_dim <= 256, "Head dim must be less than 256")
    rules.require(head_dim % TILE == 0, "Head dim must be a multiple of TILE_WIDTH")
    rules.require(
        all(t.dtype == DataType.BFLOAT16 for t in inputs), "All input tensors must have dtype = bfloat16"
    )
    rules.require(cos_cache.shape == sin_cache.shape, "Cos and Sin dims must match")
    rules.require(
        len(input_tensor.shape) == 4, f"Input tensor must be rank 4, got {list(input_tensor.shape)}"
    )
    ts = trans_mat.shape
    rules.require(
        len(ts) == 4 and ts[0] == 1 and ts[1] == 1, "Transformation matrix must have 1st & 2nd dim equal to 1"
    )
    rules.require(ts[-2] == TILE, "Transformation matrix must have 3rd dim equal to TILE_HEIGHT")
    rules.require(ts[-1] == TILE, "Transformation matrix must have 4rd dim equal to TILE_WIDTH")
    cs = cos_cache.shape
    if is_decode_mode:
        rules.require(
            input_tensor.shape[0] == 1,
            "rotary_embedding_llama currently only supports sharded inputs in decode mode, and therefore, "
            "seq_len (in dim 0) must be 1.",
        )
        rules.require(
            all(t.memory_config().memory_layout == TensorMemoryLayout.HEIGHT_SHARDED for t in inputs),
            "Sharded inputs for RoPE must be HEIGHT_SHARDED.",
        )
        rules.require(
            input_tensor.shape[1] == cs[1], "Cos and Sin must have the same batch size as the input"
        )
    else:
        rules.require(
            input_tensor.memory_config().memory_layout == TensorMemoryLayout.INTERLEAVED,
            "Input tensor must be interleaved in prefill mode",
        )
        rules.require(
            len(cs) == 4 and cs[0] == 1 and cs[1] in (1, input_tensor.shape[1]) and cs[-1] == head_dim,
            "Cos dims must match input dims",
        )
        rules.require(
            cs[-2] >= input_tensor.shape[-2],
            f"cos/sin cover {cs[-2]} positions, fewer than the input sequence {input_tensor.shape[-2]}",
        )
    mc = memory_config or input_tensor.memory_config()
    seq = input_tensor.shape[-2]

    def compute(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not is_decode_mode:
            cos, sin = cos[..., :seq, :], sin[..., :seq, :]
        tiles = x.reshape(*x.shape[:-1], head_dim // TILE, TILE)
        rotated = _pack(torch.matmul(tiles, t.reshape(TILE, TILE)).reshape(x.shape))
        return _pack(x * cos) + _pack(rotated * sin)

    return device_op(
        "rotary_embedding_llama",
        inputs,
        compute,
        dtype=input_tensor.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        output_shapes=lambda x, *_: x,  # like the input; the packing reads values
    )


def minimal_matmul(
    input_tensor: Tensor,
    weight_tensor: Tensor,
    bias_tensor: Tensor | None = None,
    *,
    fused_activation: Any = None,
    config: Any = None,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    compute_kernel_config: Any = None,
    fuse_swiglu: bool = False,
) -> Tensor:
    """ttnn.experimental.minimal_matmul: A @ B (+ bias, then the fused activation), TILE operands of one
    dtype, B without batch dims; numerically the linear op (its docstring in ttnn 0.81.1 lists the checks)."""
    if isinstance(input_tensor, (list, tuple)):
        raise NotImplementedError(
            "ttnn.experimental.minimal_matmul with a [prefix, suffix] input is not simulated yet"
        )
    if fuse_swiglu:
        raise NotImplementedError("ttnn.experimental.minimal_matmul(fuse_swiglu=True) is not simulated yet")
    for t, what in ((input_tensor, "input_tensor"), (weight_tensor, "weight_tensor")):
        rules.require(t.storage_type() == StorageType.DEVICE, f"minimal_matmul: {what} must be on device")
        rules.require(t.layout == Layout.TILE, f"minimal_matmul: {what} must be in TILE layout")
    rules.require(
        weight_tensor.dtype == input_tensor.dtype,
        f"minimal_matmul: weight dtype {weight_tensor.dtype!r} must match input dtype {input_tensor.dtype!r}",
    )
    rules.require(
        all(d == 1 for d in weight_tensor.shape[:-2]),
        f"minimal_matmul: weight must not be batched, got shape {list(weight_tensor.shape)}",
    )
    if config is not None:
        sizes = (
            config.M_block_size,
            config.K_block_size,
            config.N_block_size,
            config.subblock_h,
            config.subblock_w,
        )
        rules.require(all(v > 0 for v in sizes), "minimal_matmul: all block/subblock sizes must be > 0")
        rules.require(
            config.M_block_size % config.subblock_h == 0,
            "minimal_matmul: M_block_size % subblock_h must be 0",
        )
        rules.require(
            config.N_block_size % config.subblock_w == 0,
            "minimal_matmul: N_block_size % subblock_w must be 0",
        )
    if bias_tensor is not None:
        rules.require(
            bias_tensor.shape[-1] == weight_tensor.shape[-1] and all(d == 1 for d in bias_tensor.shape[:-1]),
            f"minimal_matmul: bias must be [..., N] with N = {weight_tensor.shape[-1]}, got {list(bias_tensor.shape)}",
        )
    return _matmul.linear(
        input_tensor,
        weight_tensor,
        bias=bias_tensor,
        memory_config=memory_config,
        dtype=dtype,
        activation=fused_activation,
        compute_kernel_config=compute_kernel_config,
    )


def create_qkv_heads_from_separate_tensors(
    input: Tensor,
    input_kv: Tensor,
    *,
    num_heads: int,
    num_kv_heads: int | None = None,
    transpose_k_heads: bool = True,
    memory_config: MemoryConfig | None = None,
    output_tensors: Any = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Q [B, 1, S, nh*D] -> [B, nh, S, D]; KV [B, 1, S, 2*nkv*D] with each head's K then V side by side
    (K0 V0 K1 V1 ...) -> K [B, nkv, D, S] (or [B, nkv, S, D]) and V [B, nkv, S, D]. Both inputs BLOCK_SHARDED
    with one batch per core row; the outputs keep the Q shard grid (create_qkv_heads_from_separate_tensors_
    device_operation.cpp: its checks and wording)."""
    nkv = num_heads if num_kv_heads is None else num_kv_heads
    q, kv = input, input_kv
    rules.require(
        q.storage_type() == StorageType.DEVICE and kv.storage_type() == StorageType.DEVICE,
        "Operands to TM need to be on device!",
    )
    rules.require(q.dtype in _TM_DTYPES, "Unsupported data format")
    rules.require(kv.dtype == q.dtype, "Unsupported data format")
    rules.require(
        q.layout == Layout.TILE and kv.layout == Layout.TILE,
        f"Q and KV input tensors must have TILE layout but got Q: {q.layout!r}, KV: {kv.layout!r}",
    )
    q_mc, kv_mc = q.memory_config(), kv.memory_config()
    rules.require(q_mc.is_sharded() and kv_mc.is_sharded(), "Operands to TM must be sharded")
    for label, mc in (("Q", q_mc), ("KV", kv_mc)):
        rules.require(
            mc.memory_layout == TensorMemoryLayout.BLOCK_SHARDED,
            f"{label} input tensor memory layout must be BLOCK_SHARDED but got {mc.memory_layout!r}",
        )
    spec = q_mc.shard_spec
    box = spec.grid.bounding_box()
    row_major = spec.orientation == ShardOrientation.ROW_MAJOR
    h_cores = (box.end.y if row_major else box.end.x) + 1
    w_cores = (box.end.x if row_major else box.end.y) + 1
    rules.require(
        num_heads % w_cores == 0, f"Number of q heads {num_heads} must fit evenly into cores {w_cores}"
    )
    rules.require(nkv % w_cores == 0, f"Number of kv heads {nkv} must fit evenly into cores {w_cores}")
    qs, kvs = q.padded_shape, kv.padded_shape
    rules.require(qs[1] == 1 and kvs[1] == 1, "Unsupported input shape")
    rules.require(qs[0] == kvs[0], f"Q {qs[0]} and KV {kvs[0]} batch size must match")
    for s in (qs, kvs):
        rules.require(
            s[3] % (w_cores * TILE) == 0,
            f"Flattened hidden dimension {s[3]} must be a multiple of width cores {w_cores} * tile width {TILE} "
            "to ensure that each core gets an even amount of tiles",
        )
        rules.require(
            s[0] * s[2] % (h_cores * TILE) == 0,
            f"Batch {s[0]} * Seq Len {s[2]} must be a multiple of height cores {h_cores} * tile height {TILE} "
            "to ensure that each core gets an even amount of tiles",
        )
    head_dim = qs[3] // num_heads
    rules.require(
        head_dim == kvs[3] // (2 * nkv),
        f"Head dims must be equal in size! Q {qs[3]} num_heads {num_heads} KV {kvs[3]} num_heads {nkv}",
    )
    rules.require(qs[0] == h_cores, f"Batch size {qs[0]} must be equal to num cores {h_cores}")
    cores = box.num_cores()
    B, S = q.shape[0], q.shape[2]
    k_shape = (B, nkv, head_dim, S) if transpose_k_heads else (B, nkv, S, head_dim)
    shapes = ((B, num_heads, S, head_dim), k_shape, (B, nkv, S, head_dim))
    out_mc = memory_config or q_mc
    mcs = [
        MemoryConfig(
            out_mc.memory_layout,
            out_mc.buffer_type,
            ShardSpec(spec.grid, (shape[0] * shape[1] * shape[2] // cores, shape[3]), spec.orientation),
        )
        for shape in shapes
    ]

    def split(xq: torch.Tensor, xkv: torch.Tensor):
        qh = xq.reshape(B, S, num_heads, head_dim).transpose(1, 2)
        pairs = xkv.reshape(B, S, nkv, 2, head_dim)
        k = pairs[..., 0, :].transpose(1, 2)
        v = pairs[..., 1, :].transpose(1, 2)
        k = k.transpose(-2, -1) if transpose_k_heads else k
        return qh.contiguous(), k.contiguous(), v.contiguous()

    outs = device_op(
        "create_qkv_heads_from_separate_tensors",
        [q, kv],
        split,
        dtype=q.dtype,
        layout=Layout.TILE,
        memory_config=out_mc,
        output_shapes=lambda *_: shapes,
    )
    for out, mc in zip(outs, mcs, strict=True):  # one program; each output sharded over Q's grid by its height
        out._memory_config = mc
    return outs


def nlp_create_qkv_heads_segformer(
    input: Tensor, *, memory_config: MemoryConfig | None = None, output_tensors: Any = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Segformer's head split with head_dim fixed at 32: [B, 1, S, W] -> Q [B, W/32, S, 32]. K and V have Q's
    shape but the kernel writes only Q (nlp_create_qkv_heads_segformer_program_factory.cpp): on a card they
    hold whatever their buffers held, here zeros."""
    _require_tm_input(input)
    shape = input.padded_shape
    rules.require(
        shape[2] % TILE == 0, f"Input shape[2] ({shape[2]}) must be divisible by TILE_HEIGHT ({TILE})"
    )
    rules.require(
        shape[3] % TILE == 0, f"Input shape[3] ({shape[3]}) must be divisible by TILE_HEIGHT ({TILE})"
    )
    mc = memory_config or input.memory_config()
    rules.require(
        mc.memory_layout == TensorMemoryLayout.INTERLEAVED,
        f"Output memory config layout must be INTERLEAVED but got {mc.memory_layout!r}",
    )
    rules.require(
        output_tensors is None or len(output_tensors) in (0, 3),
        "Optional output tensors must be empty or have exactly 3 tensors (Q, K, V), but got "
        f"{len(output_tensors or [])}",
    )
    heads = shape[3] // TILE

    def split(x: torch.Tensor):
        B, _, S, _ = x.shape
        q = x.reshape(B, S, heads, TILE).transpose(1, 2).contiguous()
        return q, torch.zeros_like(q), torch.zeros_like(q)

    return device_op(
        "nlp_create_qkv_heads_segformer", [input], split, dtype=input.dtype, layout=Layout.TILE, memory_config=mc
    )


def _create_qkv_heads_from_separate_tensors_golden(
    q: torch.Tensor,
    kv: torch.Tensor,
    *,
    num_heads: int,
    num_kv_heads: int | None = None,
    transpose_k_heads: bool = True,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    nkv = num_heads if num_kv_heads is None else num_kv_heads
    B, _, S, W = q.shape
    head_dim = W // num_heads
    query = q.reshape(B, S, num_heads, head_dim).permute(0, 2, 1, 3)
    chunks = kv.split(head_dim, dim=-1)
    key = torch.cat(chunks[0::2], dim=-1).reshape(B, S, nkv, head_dim).permute(0, 2, 1, 3)
    value = torch.cat(chunks[1::2], dim=-1).reshape(B, S, nkv, head_dim).permute(0, 2, 1, 3)
    if transpose_k_heads:
        key = key.transpose(-2, -1)
    return query.contiguous(), key.contiguous(), value.contiguous()


attach_golden_function(create_qkv_heads_from_separate_tensors, _create_qkv_heads_from_separate_tensors_golden)


def nlp_create_qkv_heads_falcon7b(
    input: Tensor, *, memory_config: MemoryConfig | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Falcon-7B's multi-query head split with head_dim 64: [B, 1, S, (H + 2) * 64] -> Q [B, H, S, 64], K and
    V [B, 1, S, 64] (71 query heads for Falcon-7B's 4672-wide fused projection)."""
    _require_tm_input(input)
    width = input.padded_shape[3]
    head_dim = 64
    rules.require(width % head_dim == 0 and width // head_dim > 2, "Unsupported input shape")
    rules.require(input.shape[1] == 1, f"Unsupported input shape {input.shape[1]} is not equal to 1")
    heads = width // head_dim - 2
    mc = memory_config or input.memory_config()
    rules.require(
        mc.memory_layout == TensorMemoryLayout.INTERLEAVED,
        f"Output memory config layout must be INTERLEAVED but got {mc.memory_layout!r}",
    )

    def split(x: torch.Tensor):
        B, _, S, _ = x.shape
        q, k, v = torch.split(x, [heads * head_dim, head_dim, head_dim], dim=-1)
        return q.reshape(B, S, heads, head_dim).transpose(1, 2).contiguous(), k.contiguous(), v.contiguous()

    return device_op(
        "nlp_create_qkv_heads_falcon7b", [input], split, dtype=input.dtype, layout=Layout.TILE, memory_config=mc
    )
