"""Paged KV caches: paged_fill_cache / paged_update_cache write through the page table, and
paged_scaled_dot_product_attention_decode reads through it, agreeing with the contiguous decode op."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.rules import TTFatal

BLOCK, HEADS, DIM = 32, 2, 64
TABLE = torch.tensor([[3, 0, 6, 1], [7, 2, 5, 4]], dtype=torch.int32)  # user -> physical blocks


def _dev(device, x, dtype=None, layout=None):
    return ttnn.from_torch(x, dtype=dtype or ttnn.float32, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _table(device):
    return _dev(device, TABLE, ttnn.int32, ttnn.ROW_MAJOR_LAYOUT)


def _contiguous(paged: torch.Tensor) -> torch.Tensor:
    return paged[TABLE.long()].permute(0, 2, 1, 3, 4).reshape(2, HEADS, -1, DIM)


def test_fill_then_update_write_through_the_page_table(device):
    cache = _dev(device, torch.zeros(8, HEADS, BLOCK, DIM))
    prefill = torch.randn(1, HEADS, 70, DIM)
    assert (
        ttnn.experimental.paged_fill_cache(cache, _dev(device, prefill), _table(device), batch_idx=1) is cache
    )
    logical = _contiguous(ttnn.to_torch(cache))
    assert (
        torch.equal(logical[1, :, :70], prefill[0]) and not logical[0].any() and not logical[1, :, 70:].any()
    )
    token = torch.randn(1, 2, HEADS, DIM)
    positions = ttnn.from_torch(torch.tensor([5, 70], dtype=torch.int32), dtype=ttnn.int32, device=device)
    ttnn.experimental.paged_update_cache(
        cache, _dev(device, token), update_idxs_tensor=positions, page_table=_table(device)
    )
    logical = _contiguous(ttnn.to_torch(cache))
    assert torch.equal(logical[0, :, 5], token[0, 0]) and torch.equal(logical[1, :, 70], token[0, 1])
    assert torch.equal(logical[1, :, :70], prefill[0])  # earlier positions untouched
    with pytest.raises(TTFatal, match="pass exactly one of update_idxs and update_idxs_tensor"):
        ttnn.experimental.paged_update_cache(cache, _dev(device, token), page_table=_table(device))
    with pytest.raises(TTFatal, match="cache position 128 is outside the page table's 4 blocks"):
        ttnn.experimental.paged_update_cache(
            cache, _dev(device, token), update_idxs=[128, 0], page_table=_table(device)
        )


def test_update_without_a_page_table_is_the_plain_cache(device):
    cache = _dev(device, torch.zeros(2, HEADS, 64, DIM), ttnn.bfloat16)
    token = torch.randn(1, 2, HEADS, DIM)
    ttnn.experimental.paged_update_cache(cache, _dev(device, token, ttnn.bfloat16), update_idxs=[3, -1])
    values = ttnn.to_torch(cache).float()
    assert (
        torch.equal(values[0, :, 3], token[0, 0].bfloat16().float()) and not values[1].any()
    )  # -1 skips user 1


def test_paged_decode_equals_the_contiguous_decode(device):
    k, v = torch.randn(8, HEADS, BLOCK, DIM), torch.randn(8, HEADS, BLOCK, DIM)
    q = torch.randn(1, 2, 8, DIM)
    positions = torch.tensor([40, 127], dtype=torch.int32)
    paged = ttnn.transformer.paged_scaled_dot_product_attention_decode(
        _dev(device, q), _dev(device, k), _dev(device, v), _table(device),
        cur_pos_tensor=_dev(device, positions, ttnn.int32, ttnn.ROW_MAJOR_LAYOUT),
    )  # fmt: skip
    contiguous = ttnn.transformer.scaled_dot_product_attention_decode(
        _dev(device, q),
        _dev(device, _contiguous(k)),
        _dev(device, _contiguous(v)),
        cur_pos=positions.tolist(),
    )
    assert torch.equal(ttnn.to_torch(paged), ttnn.to_torch(contiguous))
    bad = _dev(
        device,
        torch.tensor([[9, 0, 1, 2], [3, 4, 5, 6]], dtype=torch.int32),
        ttnn.int32,
        ttnn.ROW_MAJOR_LAYOUT,
    )
    with pytest.raises(TTFatal, match=r"Page table contains an index outside \[0, 8\)"):
        ttnn.transformer.paged_scaled_dot_product_attention_decode(
            _dev(device, q), _dev(device, k), _dev(device, v), bad
        )


def test_decode_head_helpers(device):
    fused = torch.randn(1, 1, 32, (8 + 2 * 2) * 64)
    q, k, v = ttnn.experimental.nlp_create_qkv_heads_decode(_dev(device, fused), num_heads=8, num_kv_heads=2)
    assert q.shape == [1, 32, 8, 64] and k.shape == [1, 32, 2, 64] and v.shape == [1, 32, 2, 64]
    assert torch.equal(ttnn.to_torch(q), fused[0, 0, :, :512].reshape(1, 32, 8, 64))
    assert torch.equal(ttnn.to_torch(k), fused[0, 0, :, 512:640].reshape(1, 32, 2, 64))
    assert torch.equal(ttnn.to_torch(v), fused[0, 0, :, 640:].reshape(1, 32, 2, 64))
    offset = ttnn.from_torch(torch.tensor([8], dtype=torch.int32), dtype=ttnn.int32, device=device)
    q8, _, _ = ttnn.experimental.nlp_create_qkv_heads_decode(
        _dev(device, fused), num_heads=8, num_kv_heads=2, batch_offset=offset, slice_size=8
    )
    assert torch.equal(ttnn.to_torch(q8), fused[0, 0, 8:16, :512].reshape(1, 8, 8, 64))
    merged = ttnn.experimental.nlp_concat_heads_decode(q, num_heads=8)
    assert merged.shape == [1, 1, 32, 512] and torch.equal(ttnn.to_torch(merged), fused[..., :512])
    with pytest.raises(TTFatal, match=r"Head dim \(48\) must be a multiple of 32"):
        ttnn.experimental.nlp_create_qkv_heads_decode(
            _dev(device, torch.randn(1, 1, 32, 12 * 48)), num_heads=8, num_kv_heads=2
        )
