"""ttnn.experimental head split/merge and rotary embeddings on the simulator: values and rules."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.rules import TTFatal

exp = ttnn.experimental


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).float()


def _heads(x: torch.Tensor, n: int, d: int) -> torch.Tensor:
    """[B, 1, S, n*d] -> [B, n, S, d]"""
    b, _, s, _ = x.shape
    return x.reshape(b, s, n, d).transpose(1, 2)


# -- nlp_create_qkv_heads / nlp_concat_heads ----------------------------------------------------------


def test_create_qkv_heads_from_a_fused_projection(device):
    nh, nkv, d = 4, 2, 32
    x = torch.randn(2, 1, 50, (nh + 2 * nkv) * d)
    q, k, v = exp.nlp_create_qkv_heads(_dev(device, x), num_heads=nh, num_kv_heads=nkv)
    xb = _bf16(x)
    assert q.shape == [2, nh, 50, d] and k.shape == [2, nkv, d, 50] and v.shape == [2, nkv, 50, d]
    assert all(t.layout == ttnn.TILE_LAYOUT and t.dtype == ttnn.bfloat16 for t in (q, k, v))
    assert torch.equal(_host(q), _heads(xb[..., : nh * d], nh, d))
    assert torch.equal(_host(k), _heads(xb[..., nh * d : (nh + nkv) * d], nkv, d).transpose(-2, -1))
    assert torch.equal(_host(v), _heads(xb[..., (nh + nkv) * d :], nkv, d))


def test_create_qkv_heads_with_separate_kv_and_no_k_transpose(device):
    nh, d = 2, 64
    xq, xkv = torch.randn(1, 1, 32, nh * d), torch.randn(1, 1, 32, 2 * nh * d)
    q, k, v = exp.nlp_create_qkv_heads(
        _dev(device, xq), _dev(device, xkv), num_heads=nh, transpose_k_heads=False
    )
    assert k.shape == [1, nh, 32, d]
    assert torch.equal(_host(q), _heads(_bf16(xq), nh, d))
    assert torch.equal(_host(k), _heads(_bf16(xkv)[..., : nh * d], nh, d))
    assert torch.equal(_host(v), _heads(_bf16(xkv)[..., nh * d :], nh, d))


def test_concat_heads_inverts_create_heads(device):
    x = torch.randn(1, 3, 40, 64)
    out = exp.nlp_concat_heads(_dev(device, x))
    assert out.shape == [1, 1, 40, 192] and out.layout == ttnn.TILE_LAYOUT
    assert torch.equal(_host(out), _bf16(x).transpose(1, 2).reshape(1, 1, 40, 192))


def test_head_ops_rules(device):
    with pytest.raises(TTFatal, match="Unsupported input sequence length 2 is not equal to 1"):
        exp.nlp_create_qkv_heads(_dev(device, torch.randn(1, 2, 32, 96)), num_heads=1)
    with pytest.raises(TTFatal, match="Unsupported input shape"):
        exp.nlp_create_qkv_heads(_dev(device, torch.randn(1, 1, 32, 128)), num_heads=2)
    with pytest.raises(TTFatal, match="head_dim 48 is not a multiple of 32"):
        exp.nlp_create_qkv_heads(_dev(device, torch.randn(1, 1, 32, 288)), num_heads=2)
    with pytest.raises(TTFatal, match="Input tensor layout must be TILE"):
        rm = _dev(device, torch.randn(1, 1, 32, 96), layout=ttnn.ROW_MAJOR_LAYOUT)
        exp.nlp_create_qkv_heads(rm, num_heads=1)
    with pytest.raises(TTFatal, match="Head dims must be the same for Q and K, V"):
        exp.nlp_create_qkv_heads(
            _dev(device, torch.randn(1, 1, 32, 64)), _dev(device, torch.randn(1, 1, 32, 256)), num_heads=2
        )
    with pytest.raises(TTFatal, match="head_dim 72 is not a multiple of 32"):
        exp.nlp_concat_heads(_dev(device, torch.randn(1, 2, 32, 72)))


# -- rotary embeddings --------------------------------------------------------------------------------


def _cos_sin(seq: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
    angles = torch.outer(torch.arange(seq).float(), inv)
    return angles.cos(), angles.sin()


def test_rotary_embedding_matches_rotate_half_and_pads_the_sequence(device):
    x = torch.randn(1, 2, 50, 64)
    cos, sin = _cos_sin(64, 64)
    cos, sin = torch.cat([cos, cos], -1)[None, None], torch.cat([sin, sin], -1)[None, None]
    out = exp.rotary_embedding(_dev(device, x), _dev(device, cos), _dev(device, sin))
    # rotary_embedding_device_operation.cpp: the output shape is the padded input shape.
    assert out.shape == [1, 2, 64, 64] and out.dtype == ttnn.bfloat16
    xb, cb, sb = _bf16(x), _bf16(cos)[..., :50, :], _bf16(sin)[..., :50, :]
    x1, x2 = xb.chunk(2, -1)
    ref = xb * cb + torch.cat([-x2, x1], -1) * sb
    got = _host(out)
    assert (got[..., :50, :] - ref).abs().max() < 0.04 and not got[..., 50:, :].any()


def test_rotary_embedding_token_index_uses_one_position(device):
    x = torch.randn(1, 1, 32, 64)  # decode: rows are users
    cos, sin = _cos_sin(128, 64)
    cos, sin = torch.cat([cos, cos], -1)[None, None], torch.cat([sin, sin], -1)[None, None]
    out = _host(exp.rotary_embedding(_dev(device, x), _dev(device, cos), _dev(device, sin), 77))
    xb, cb, sb = _bf16(x), _bf16(cos)[..., 77:78, :], _bf16(sin)[..., 77:78, :]
    x1, x2 = xb.chunk(2, -1)
    assert (out - (xb * cb + torch.cat([-x2, x1], -1) * sb)).abs().max() < 0.04


def test_rotary_embedding_rules(device):
    cos = _dev(device, torch.ones(1, 1, 32, 64))
    with pytest.raises(TTFatal, match="Input X dim must be divisible into tiles"):
        exp.rotary_embedding(_dev(device, torch.randn(1, 1, 32, 32)), cos, cos)
    with pytest.raises(TTFatal, match="Cos dims must match input dims"):
        exp.rotary_embedding(_dev(device, torch.randn(1, 1, 64, 64)), cos, cos)
    with pytest.raises(TTFatal, match="Cos and Sin dims must match"):
        exp.rotary_embedding(
            _dev(device, torch.randn(1, 1, 32, 64)), cos, _dev(device, torch.ones(1, 1, 64, 64))
        )


def _trans_mat() -> torch.Tensor:
    """tt-transformers' get_rot_transformation_mat: pairs (x0, x1) -> (-x1, x0) within each 32-wide tile."""
    mat = torch.zeros(1, 1, 32, 32)
    mat[..., torch.arange(0, 32, 2), torch.arange(1, 32, 2)] = 1
    mat[..., torch.arange(1, 32, 2), torch.arange(0, 32, 2)] = -1
    return mat


def test_rotary_embedding_llama_matches_complex_rotation(device):
    x = torch.randn(1, 4, 64, 128)
    cos, sin = _cos_sin(64, 128)
    cos_i, sin_i = cos.repeat_interleave(2, -1)[None, None], sin.repeat_interleave(2, -1)[None, None]
    out = exp.rotary_embedding_llama(
        _dev(device, x), _dev(device, cos_i), _dev(device, sin_i), _dev(device, _trans_mat())
    )
    assert out.shape == [1, 4, 64, 128] and out.layout == ttnn.TILE_LAYOUT
    xc = torch.view_as_complex(_bf16(x).reshape(1, 4, 64, 64, 2).contiguous())
    rot = torch.polar(torch.ones_like(cos), torch.atan2(_bf16(sin), _bf16(cos)))
    ref = torch.view_as_real(xc * rot).reshape(1, 4, 64, 128)
    assert (_host(out) - ref).abs().max() < 0.06


def test_rotary_embedding_llama_rules(device):
    x = _dev(device, torch.randn(1, 1, 32, 64))
    cs = _dev(device, torch.ones(1, 1, 32, 64))
    tm = _dev(device, _trans_mat())
    with pytest.raises(TTFatal, match="Head dim must be a multiple of TILE_WIDTH"):
        exp.rotary_embedding_llama(_dev(device, torch.randn(1, 1, 32, 48)), cs, cs, tm)
    with pytest.raises(TTFatal, match="Head dim must be less than 256"):
        big = _dev(device, torch.randn(1, 1, 32, 288))
        exp.rotary_embedding_llama(big, _dev(device, torch.ones(1, 1, 32, 288)), cs, tm)
    with pytest.raises(TTFatal, match="All input tensors must have dtype = bfloat16"):
        exp.rotary_embedding_llama(_dev(device, torch.randn(1, 1, 32, 64), dtype=ttnn.float32), cs, cs, tm)
    with pytest.raises(TTFatal, match="Transformation matrix must have 3rd dim equal to TILE_HEIGHT"):
        exp.rotary_embedding_llama(x, cs, cs, _dev(device, torch.zeros(1, 1, 64, 32)))
    with pytest.raises(TTFatal, match="Cos dims must match input dims"):
        exp.rotary_embedding_llama(
            x, _dev(device, torch.ones(2, 1, 32, 64)), _dev(device, torch.ones(2, 1, 32, 64)), tm
        )
    with pytest.raises(TTFatal, match="Sharded inputs for RoPE must be HEIGHT_SHARDED."):
        exp.rotary_embedding_llama(x, cs, cs, tm, is_decode_mode=True)
