"""ttnn.embedding on the simulator against torch, and its dtype / layout rules."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn


def _ids(device, ids: torch.Tensor, dtype=None) -> ttnn.Tensor:
    return ttnn.from_torch(ids, dtype=dtype or ttnn.uint32, device=device)


def _table(device, w: torch.Tensor, layout=None, dtype=None) -> ttnn.Tensor:
    return ttnn.from_torch(
        w, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.ROW_MAJOR_LAYOUT, device=device
    )


def test_lookup_matches_torch_and_keeps_the_weight_layout(device):
    w = torch.randn(100, 64)
    ids = torch.randint(0, 100, (2, 7))
    out = ttnn.embedding(_ids(device, ids), _table(device, w))
    assert out.shape == [2, 7, 64] and out.layout == ttnn.ROW_MAJOR_LAYOUT and out.dtype == ttnn.bfloat16
    assert torch.equal(ttnn.to_torch(out).float(), torch.nn.functional.embedding(ids, w.bfloat16().float()))
    flat = ttnn.embedding(_ids(device, ids[0]), _table(device, w))
    assert flat.shape == [7, 64]
    four_d = ttnn.embedding(_ids(device, ids.reshape(2, 1, 1, 7)), _table(device, w))
    assert four_d.shape == [2, 7, 64]


def test_tile_output_and_its_dtype(device):
    w = torch.randn(100, 64)
    ids = torch.randint(0, 100, (1, 32))
    tiled = ttnn.embedding(
        _ids(device, ids), _table(device, w), layout=ttnn.TILE_LAYOUT, dtype=ttnn.bfloat8_b
    )
    assert (
        tiled.layout == ttnn.TILE_LAYOUT
        and tiled.dtype == ttnn.bfloat8_b
        and tiled.padded_shape == [1, 32, 64]
    )
    from_tile_weight = ttnn.embedding(_ids(device, ids), _table(device, w, layout=ttnn.TILE_LAYOUT))
    assert from_tile_weight.layout == ttnn.TILE_LAYOUT


def test_padding_idx_returns_the_weight_row(device):
    w = torch.randn(10, 32)
    ids = torch.tensor([[0, 3, 3, 5]])
    out = ttnn.embedding(_ids(device, ids), _table(device, w), padding_idx=3)
    assert torch.equal(ttnn.to_torch(out)[0, 1].float(), w[3].bfloat16().float())  # not zeros


def test_bfloat16_indices_are_truncated(device):
    w = torch.randn(10, 32)
    ids = _ids(device, torch.tensor([[1.0, 2.0, 7.0]]), ttnn.bfloat16)
    out = ttnn.embedding(ids, _table(device, w))
    assert torch.equal(ttnn.to_torch(out).float()[0], w[[1, 2, 7]].bfloat16().float())


def test_dtype_rules(device):
    ids = _ids(device, torch.randint(0, 10, (1, 32)))
    with pytest.raises(RuntimeError, match="^Weights tensor must have BFLOAT16 dtype$"):
        ttnn.embedding(ids, _table(device, torch.randn(10, 32), dtype=ttnn.float32))
    int_ids = ttnn.from_torch(torch.zeros(1, 32, dtype=torch.int32), dtype=ttnn.int32, device=device)
    with pytest.raises(RuntimeError, match="^Input must be UINT32 or BFLOAT16$"):
        ttnn.embedding(int_ids, _table(device, torch.randn(10, 32)))
    with pytest.raises(
        RuntimeError, match="^Can only typecast output embeddings when producing TILE_LAYOUT output$"
    ):
        ttnn.embedding(ids, _table(device, torch.randn(10, 32)), dtype=ttnn.float32)
