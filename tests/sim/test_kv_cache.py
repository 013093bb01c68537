"""KV-cache ops of the simulator: in-place writes, and the update_cache device-operation rules."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.numerics import formats
from ttport.sim.rules import TTFatal


def _dev(device, x: torch.Tensor, dtype=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def test_fill_cache_for_user_writes_one_user_in_place(device):
    cache = _dev(device, torch.zeros(2, 4, 128, 64))
    prefill = torch.randn(1, 4, 50, 64)
    out = ttnn.kv_cache.fill_cache_for_user_(cache, _dev(device, prefill), 1)
    assert out is cache
    expected = torch.zeros(2, 4, 128, 64)
    expected[1, :, :50] = prefill.to(torch.bfloat16).float()
    assert torch.equal(_host(cache), expected)
    assert sim.stats(device).ops_by_name["fill_cache"] == 1


def test_update_cache_for_token_writes_each_user_at_the_index(device):
    users = 3
    cache = _dev(device, torch.zeros(users, 2, 64, 32), dtype=ttnn.bfloat8_b)
    token = torch.randn(1, 2, 32, 32)  # [1, heads, users padded to 32, head_dim]
    ttnn.kv_cache.update_cache_for_token_(cache, _dev(device, token), 5, batch_offset=4)
    got = _host(cache)
    rows = token.to(torch.bfloat16).float()[0, :, 4 : 4 + users].transpose(0, 1)
    assert torch.equal(got[:, :, 5], formats.quantize(rows, ttnn.bfloat8_b))
    got[:, :, 5] = 0
    assert not got.any()


def test_top_level_fill_and_update_cache(device):
    cache = _dev(device, torch.zeros(1, 1, 64, 32))
    x = torch.randn(1, 1, 32, 32)
    ttnn.fill_cache(cache, _dev(device, x), batch_idx=0)
    ttnn.update_cache(cache, _dev(device, torch.ones(1, 1, 32, 32)), 40)
    got = _host(cache)
    assert torch.equal(got[0, 0, :32], x.to(torch.bfloat16).float()[0, 0])
    assert torch.equal(got[0, 0, 40], torch.ones(32)) and not got[0, 0, 32:40].any()


def test_kv_cache_rules(device):
    cache = _dev(device, torch.zeros(2, 4, 64, 64))
    with pytest.raises(TTFatal, match="Input tensor batch size must be 1"):
        ttnn.fill_cache(cache, _dev(device, torch.zeros(2, 4, 32, 64)), 0)
    with pytest.raises(TTFatal, match=r"Input tensor width \(32\) must equal cache tensor width \(64\)"):
        ttnn.fill_cache(cache, _dev(device, torch.zeros(1, 4, 32, 32)), 0)
    with pytest.raises(TTFatal, match=r"Batch index \(2\) must be less than cache tensor batch size \(2\)"):
        ttnn.fill_cache(cache, _dev(device, torch.zeros(1, 4, 32, 64)), 2)
    with pytest.raises(TTFatal, match="must be <= cache tensor height"):
        ttnn.fill_cache(cache, _dev(device, torch.zeros(1, 4, 96, 64)), 0)
    with pytest.raises(TTFatal, match="Input and cache tensors must have same dtype!"):
        ttnn.fill_cache(cache, _dev(device, torch.zeros(1, 4, 32, 64), dtype=ttnn.float32), 0)
    with pytest.raises(TTFatal, match="Inputs to update_cache must be tilized"):
        rm = ttnn.from_torch(torch.zeros(1, 4, 32, 64), dtype=ttnn.bfloat16, device=device)
        ttnn.update_cache(cache, rm, 0)
    with pytest.raises(TTFatal, match=r"Batch offset \(31\) \+ cache tensor batch size \(2\) must be <= 32"):
        ttnn.update_cache(cache, _dev(device, torch.zeros(1, 4, 32, 64)), 0, batch_offset=31)
    with pytest.raises(TTFatal, match="Operands to update_cache need to be on device!"):
        ttnn.update_cache(cache, ttnn.from_torch(torch.zeros(1, 4, 32, 64), dtype=ttnn.bfloat16), 0)
