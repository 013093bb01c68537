"""transformer.scaled_dot_product_attention_decode against a torch reference: causal positions per user,
GQA, sliding window, non-causal with a mask, a shared cache, and its rules."""

from __future__ import annotations

import math

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.rules import TTFatal


def _dev(device, x: torch.Tensor, dtype=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)


def _reference(q, k, v, positions, window=None, mask=None):
    batch, heads, dim = q.shape[1], q.shape[2], q.shape[3]
    out = torch.zeros(1, batch, heads, dim)
    groups = heads // k.shape[1]
    for b in range(batch):
        p = positions[b]
        if p < 0:
            continue
        start = max(0, p + 1 - window) if window else 0
        keys = k[b if k.shape[0] > 1 else 0].repeat_interleave(groups, 0)[:, start : p + 1]
        values = v[b if v.shape[0] > 1 else 0].repeat_interleave(groups, 0)[:, start : p + 1]
        scores = torch.einsum("hd,hnd->hn", q[0, b], keys) / math.sqrt(dim)
        if mask is not None:
            scores = scores + mask[b, 0, :, start : p + 1]
        out[0, b] = torch.einsum("hn,hnd->hd", torch.softmax(scores, -1), values)
    return out


def test_decode_attends_up_to_each_users_position(device):
    q, k, v = torch.randn(1, 3, 8, 64), torch.randn(3, 2, 128, 64), torch.randn(3, 2, 128, 64)
    positions = [0, 57, 127]
    out = ttnn.transformer.scaled_dot_product_attention_decode(
        _dev(device, q), _dev(device, k), _dev(device, v), cur_pos=positions
    )
    assert out.shape == [1, 3, 8, 64]
    torch.testing.assert_close(ttnn.to_torch(out), _reference(q, k, v, positions), rtol=1e-5, atol=1e-5)
    as_tensor = ttnn.from_torch(torch.tensor([-1, 5, 9], dtype=torch.int32), dtype=ttnn.int32, device=device)
    out = ttnn.transformer.scaled_dot_product_attention_decode(
        _dev(device, q), _dev(device, k), _dev(device, v), cur_pos_tensor=as_tensor, sliding_window_size=4
    )
    expected = _reference(q, k, v, [-1, 5, 9], window=4)
    torch.testing.assert_close(ttnn.to_torch(out), expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(ttnn.to_torch(out)[0, 0], torch.zeros(8, 64))  # a negative position attends to nothing


def test_decode_with_a_mask_and_a_shared_cache(device):
    q, k, v = torch.randn(1, 2, 4, 32), torch.randn(1, 4, 64, 32), torch.randn(1, 4, 64, 32)
    mask = torch.zeros(2, 1, 4, 64)
    mask[..., 40:] = -1e9
    out = ttnn.transformer.scaled_dot_product_attention_decode(
        _dev(device, q), _dev(device, k), _dev(device, v), is_causal=False, attn_mask=_dev(device, mask)
    )
    torch.testing.assert_close(
        ttnn.to_torch(out), _reference(q, k, v, [63, 63], mask=mask), rtol=1e-5, atol=1e-5
    )


def test_decode_rules(device):
    q, k = _dev(device, torch.randn(1, 2, 4, 32)), _dev(device, torch.randn(2, 3, 64, 32))
    with pytest.raises(TTFatal, match=r"num q heads \(4\) must be a multiple of num kv heads \(3\)"):
        ttnn.transformer.scaled_dot_product_attention_decode(q, k, k, cur_pos=[1, 2])
    with pytest.raises(TTFatal, match=r"Decode query must be \[1, B, NH, D\]"):
        ttnn.transformer.scaled_dot_product_attention_decode(_dev(device, torch.randn(2, 2, 4, 32)), k, k)
    kv = _dev(device, torch.randn(2, 2, 64, 32))
    with pytest.raises(TTFatal, match="Non-causal SDPA decode requires an attention mask"):
        ttnn.transformer.scaled_dot_product_attention_decode(q, kv, kv, is_causal=False)


def test_joint_attention_is_attention_over_both_sequences(device):
    q, k, v = (torch.randn(1, 4, 64, 64) for _ in range(3))
    jq, jk, jv = (torch.randn(1, 4, 32, 64) for _ in range(3))
    bf = [
        ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        for x in (q, k, v, jq, jk, jv)
    ]
    config = ttnn.SDPAProgramConfig(
        compute_with_storage_grid_size=ttnn.CoreCoord(8, 8), q_chunk_size=32, k_chunk_size=32
    )
    out, joint = ttnn.transformer.joint_scaled_dot_product_attention(
        *bf, joint_strategy="rear", program_config=config
    )
    assert out.shape == [1, 4, 64, 64] and joint.shape == [1, 4, 32, 64]
    cat = [
        ttnn.from_torch(torch.cat([a, b], -2), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        for a, b in ((q, jq), (k, jk), (v, jv))
    ]
    whole = ttnn.to_torch(
        ttnn.transformer.scaled_dot_product_attention(*cat, is_causal=False, program_config=config)
    )
    assert torch.equal(ttnn.to_torch(out), whole[..., :64, :]) and torch.equal(
        ttnn.to_torch(joint), whole[..., 64:, :]
    )
    with pytest.raises(TTFatal, match="Only joint_strategy='rear' is supported"):
        ttnn.transformer.joint_scaled_dot_product_attention(
            *bf, joint_strategy="front", program_config=config
        )
