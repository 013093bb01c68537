"""Paged KV caches on the simulator (tt-metal's LLM decode path): experimental.paged_update_cache,
experimental.paged_fill_cache and transformer.paged_scaled_dot_product_attention_decode.

A paged cache is [num_blocks, NKV, block_size, D]; a page table [B, max_blocks] (int32) maps user b's
logical block j to a physical block, so user b's position p lives at cache[page_table[b, p // block_size],
:, p % block_size] (the layout of ttnn/ttnn/operations/transformer_golden.py in the 0.81.1 wheel). Without a
page table the cache is the plain [B, NKV, S, D] one. Writes are in place and rounded to the cache's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .. import rules
from ..numerics import formats
from ..runtime import chips
from ..tensor import Tensor, compute_values, in_place_recorder, storage_values
from ..types import DataType, Layout, MemoryConfig
from .attention_helpers import scaled_dot_product_attention_decode
from .golden import attach_golden_function

__all__: list[str] = []  # reached through ttnn.experimental / ttnn.transformer

_INT_DTYPES = (DataType.INT32, DataType.UINT32, DataType.UINT16)


def _table(page_table: Tensor | None, chip: int) -> torch.Tensor | None:
    if page_table is None:
        return None
    rules.require(
        page_table.dtype in _INT_DTYPES, f"page_table must be an integer tensor, got {page_table.dtype!r}"
    )
    values = compute_values(page_table._chips[chip]).long()
    return values.reshape(values.shape[0], -1)


def _slot(cache_shape: torch.Size, table: torch.Tensor | None, user: int, position: int) -> tuple[int, int]:
    """(physical block or user row, offset) holding `user`'s cache position `position`."""
    if table is None:
        rules.require(
            0 <= position < cache_shape[2],
            f"cache position {position} is outside the cache length {cache_shape[2]}",
        )
        return user, position
    block = cache_shape[2]
    logical = position // block
    rules.require(
        0 <= logical < table.shape[1],
        f"cache position {position} is outside the page table's {table.shape[1]} blocks",
    )
    physical = int(table[user, logical])
    rules.require(
        0 <= physical < cache_shape[0], f"Page table contains an index outside [0, {cache_shape[0]})"
    )
    return physical, position % block


def _check_cache(name: str, cache: Tensor, input: Tensor) -> None:
    rules.require(
        cache.layout == Layout.TILE and input.layout == Layout.TILE,
        f"{name}: cache and input must be tilized",
    )
    rules.require(
        len(cache.shape) == 4 and len(input.shape) == 4,
        f"{name}: cache and input must be rank 4, got {list(cache.shape)} and {list(input.shape)}",
    )
    rules.require(
        cache.shape[-1] == input.shape[-1],
        f"{name}: input head dim ({input.shape[-1]}) must equal the cache's ({cache.shape[-1]})",
    )


def paged_update_cache(
    cache_tensor: Tensor,
    input_tensor: Tensor,
    *,
    update_idxs: Sequence[int] = (),
    update_idxs_tensor: Tensor | None = None,
    share_cache: bool | None = None,
    page_table: Tensor | None = None,
    batch_offset: int = 0,
    compute_kernel_config: Any = None,
    mesh_coords: Any = None,
    block_size: int | None = None,
    num_kv_heads: int | None = None,
    cache_position_modulo: int | None = None,
) -> Tensor:
    """One decode token per user: input [1, B, NKV, D] is written at user b's position update_idxs[b]
    (a negative index skips the user). Returns the cache, updated in place."""
    name = "paged_update_cache"
    rules.require(
        cache_position_modulo is None, "simulator: paged_update_cache(cache_position_modulo=) is not modelled"
    )
    extras = [t for t in (update_idxs_tensor, page_table) if t is not None]
    device = rules.require_same_device(name, [cache_tensor, input_tensor, *extras])
    _check_cache(name, cache_tensor, input_tensor)
    rules.require(
        input_tensor.shape[0] == 1, f"{name}: input must be [1, B, NKV, D], got {list(input_tensor.shape)}"
    )
    users, heads = input_tensor.shape[1], cache_tensor.shape[1]
    rules.require(
        input_tensor.shape[2] >= heads,
        f"{name}: input holds {input_tensor.shape[2]} heads, the cache {heads}",
    )
    rules.require(
        (update_idxs_tensor is None) != (len(update_idxs) == 0),
        f"{name}: pass exactly one of update_idxs and update_idxs_tensor",
    )
    dtype = cache_tensor.dtype
    record = in_place_recorder(name, device, cache_tensor, [input_tensor, *extras])
    for i in range(len(chips(device))):
        positions = (
            compute_values(update_idxs_tensor._chips[i]).reshape(-1).long().tolist()
            if update_idxs_tensor is not None
            else list(update_idxs)
        )
        rules.require(len(positions) >= users, f"{name}: {len(positions)} update indices for {users} users")
        table = _table(page_table, i)
        cache_values = cache_tensor.writable_chip(i)
        rows = compute_values(input_tensor._chips[i])[0, :, :heads, :]  # [B, NKV, D]
        rounded = storage_values(formats.quantize(rows.float(), dtype, formats.PACKER), dtype)
        for b in range(users):
            position = int(positions[b])
            if position < 0:
                continue
            user = 0 if share_cache else batch_offset + b
            row, offset = _slot(cache_tensor.shape, table, user, position)
            cache_values[row, :, offset, :] = rounded[b]
    record()
    return cache_tensor


def paged_fill_cache(
    cache_tensor: Tensor,
    input_tensor: Tensor,
    page_table: Tensor,
    *,
    batch_idx_tensor: Tensor | None = None,
    batch_idx: int = 0,
    compute_kernel_config: Any = None,
    mesh_coords: Any = None,
    block_size: int | None = None,
    cache_position_modulo: int | None = None,
    valid_seq_len_tensor: Tensor | None = None,
) -> Tensor:
    """A prefill for one user: input [1, NKV, S, D] fills that user's positions 0..S-1 through the page
    table. Returns the cache, updated in place."""
    name = "paged_fill_cache"
    rules.require(
        cache_position_modulo is None, "simulator: paged_fill_cache(cache_position_modulo=) is not modelled"
    )
    extras = [t for t in (batch_idx_tensor, valid_seq_len_tensor) if t is not None]
    device = rules.require_same_device(name, [cache_tensor, input_tensor, page_table, *extras])
    _check_cache(name, cache_tensor, input_tensor)
    rules.require(
        input_tensor.shape[0] == 1, f"{name}: input must be [1, NKV, S, D], got {list(input_tensor.shape)}"
    )
    rules.require(
        input_tensor.shape[1] == cache_tensor.shape[1],
        f"{name}: input holds {input_tensor.shape[1]} heads, the cache {cache_tensor.shape[1]}",
    )
    dtype = cache_tensor.dtype
    record = in_place_recorder(name, device, cache_tensor, [input_tensor, page_table])
    for i in range(len(chips(device))):
        user = (
            int(compute_values(batch_idx_tensor._chips[i]).reshape(-1)[0])
            if batch_idx_tensor is not None
            else batch_idx
        )
        length = input_tensor.shape[2]
        if valid_seq_len_tensor is not None:
            length = min(length, int(compute_values(valid_seq_len_tensor._chips[i]).reshape(-1)[0]))
        table = _table(page_table, i)
        rules.require(
            0 <= user < table.shape[0],
            f"{name}: batch index {user} is outside the page table's {table.shape[0]} users",
        )
        cache_values = cache_tensor.writable_chip(i)
        values = compute_values(input_tensor._chips[i])[0]  # [NKV, S, D]
        rounded = storage_values(formats.quantize(values.float(), dtype, formats.PACKER), dtype)
        for position in range(length):
            row, offset = _slot(cache_tensor.shape, table, user, position)
            cache_values[row, :, offset, :] = rounded[:, position, :]
    record()
    return cache_tensor


def paged_scaled_dot_product_attention_decode(
    input_tensor_q: Tensor,
    input_tensor_k: Tensor,
    input_tensor_v: Tensor,
    page_table_tensor: Tensor,
    *,
    is_causal: bool = True,
    attn_mask: Tensor | None = None,
    cur_pos_tensor: Tensor | None = None,
    attention_sink: Tensor | None = None,
    scale: float | None = None,
    sliding_window_size: int | None = None,
    memory_config: MemoryConfig | None = None,
    program_config: Any = None,
    compute_kernel_config: Any = None,
    paged_cache_geometry: Any = None,
    cache_position_modulo: int | None = None,
    spec_multi_pos_tiles: int = 0,
) -> Tensor:
    """scaled_dot_product_attention_decode over paged K / V caches: each user's cache rows are gathered
    through the page table (a view: no values move), then attended as in the contiguous op."""
    rules.require(
        paged_cache_geometry is None and cache_position_modulo is None and not spec_multi_pos_tiles,
        "simulator: paged_cache_geometry / cache_position_modulo / spec_multi_pos_tiles are not modelled",
    )
    rules.require_same_device(
        "paged_scaled_dot_product_attention_decode", [input_tensor_k, page_table_tensor]
    )
    k, v = (_unpage(t, page_table_tensor) for t in (input_tensor_k, input_tensor_v))
    return scaled_dot_product_attention_decode(
        input_tensor_q, k, v, is_causal=is_causal, attn_mask=attn_mask, cur_pos_tensor=cur_pos_tensor,
        attention_sink=attention_sink, scale=scale, sliding_window_size=sliding_window_size,
        memory_config=memory_config, program_config=program_config, compute_kernel_config=compute_kernel_config,
    )  # fmt: skip


def _unpage(cache: Tensor, page_table: Tensor) -> Tensor:
    """The contiguous [B, NKV, max_blocks * block, D] view of a paged cache (no device op, no copy counted)."""
    views = []
    for i in range(cache.num_chips):
        table = _table(page_table, i)
        values = cache._chips[i]
        blocks, heads, block, dim = values.shape
        rules.require(
            bool(((table >= 0) & (table < blocks)).all()),
            f"Page table contains an index outside [0, {blocks})",
        )
        views.append(values[table].permute(0, 2, 1, 3, 4).reshape(table.shape[0], heads, -1, dim))
    view = Tensor(views, cache.dtype, cache.layout, cache.device(), cache.memory_config(), cache._buffers)
    return view


def _unpage_golden(cache: torch.Tensor, page_table: torch.Tensor) -> torch.Tensor:
    table = page_table.long().reshape(page_table.shape[0], -1)
    blocks, heads, block, dim = cache.shape
    return cache[table].permute(0, 2, 1, 3, 4).reshape(table.shape[0], heads, -1, dim)


attach_golden_function(
    paged_scaled_dot_product_attention_decode,
    lambda q, k, v, page_table_tensor, **kw: scaled_dot_product_attention_decode.golden_function(
        q, _unpage_golden(k, page_table_tensor), _unpage_golden(v, page_table_tensor), **kw
    ),
)
