"""ttnn.transformer.scaled_dot_product_attention on the simulator: values against torch, the chunked
(online-softmax) evaluation, bounded memory, and the device's rules by message."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.numerics import formats
from ttport.sim.ops import transformer as sdpa_module
from ttport.sim.rules import TTFatal

sdpa = ttnn.transformer.scaled_dot_product_attention


def _dev(device, x: torch.Tensor, dtype=None, **kwargs) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, **kwargs)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def _reference(q, k, v, mask=None, is_causal=False, scale=None) -> torch.Tensor:
    """torch SDPA in float64 on the (already rounded) inputs, KV heads repeated for GQA."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
    m = None if mask is None else mask.double()
    return torch.nn.functional.scaled_dot_product_attention(
        q.double(), k.double(), v.double(), attn_mask=m, is_causal=is_causal, scale=scale
    ).float()


def _pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item()


def _qkv(device, b=1, nh=4, nkv=4, sq=64, sk=64, d=64):
    q, k, v = torch.randn(b, nh, sq, d), torch.randn(b, nkv, sk, d), torch.randn(b, nkv, sk, d)
    tq, tk, tv = _dev(device, q), _dev(device, k), _dev(device, v)
    return tq, tk, tv, _host(tq), _host(tk), _host(tv)


def test_packer_rounding_helper_matches_formats():
    x = torch.cat(
        [
            torch.randn(4096) * 100,
            torch.tensor(
                [1 + 2**-8, -(1 + 2**-8), 1 + 3 * 2**-8, 3.0e38, float("inf"), float("-inf"), 0.0, -0.0]
            ),
        ]
    )
    expected = formats.round_bfloat16(x, formats.PACKER)
    assert torch.equal(sdpa_module._pack_bf16_(x.clone()), expected)


@pytest.mark.parametrize("is_causal", [True, False])
def test_sdpa_matches_torch(device, is_causal):
    tq, tk, tv, q, k, v = _qkv(device, b=2, nh=4, nkv=4, sq=96, sk=96, d=64)
    out = sdpa(tq, tk, tv, is_causal=is_causal)
    assert out.shape == [2, 4, 96, 64] and out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
    got, ref = _host(out), _reference(q, k, v, is_causal=is_causal)
    assert torch.equal(got, formats.round_bfloat16(got))  # bfloat16 values
    # Defaults: approximate exp (exp_approx_mode), HiFi2, 16-bit Dst. tt-metal's hardware tests assert
    # PCC >= 0.994 (tests/tt_eager/python_api_testing/unit_testing/misc/test_scaled_dot_product_attention.py).
    assert _pcc(got, ref) > 0.9995
    assert (got - ref).abs().max() < 0.1
    assert sim.stats(device).ops_by_name["scaled_dot_product_attention"] == 1
    precise = _host(sdpa(tq, tk, tv, is_causal=is_causal, program_config=_exact_exp(device)))
    assert _pcc(precise, ref) > 0.9999 and (precise - ref).abs().max() < 0.05


def _exact_exp(device, chunk: int = 32) -> ttnn.SDPAProgramConfig:
    return ttnn.SDPAProgramConfig(
        compute_with_storage_grid_size=device.compute_with_storage_grid_size(),
        q_chunk_size=chunk,
        k_chunk_size=chunk,
        exp_approx_mode=False,
    )


def test_sdpa_sequence_need_not_be_a_tile_multiple_without_a_mask(device):
    # sdpa_device_operation.cpp: only the sequence dims may be padded; without a mask no chunk rule applies.
    tq, tk, tv, q, k, v = _qkv(device, nh=2, nkv=1, sq=50, sk=50, d=32)
    out = sdpa(tq, tk, tv, is_causal=True)
    assert out.shape == [1, 2, 50, 32] and out.padded_shape == [1, 2, 64, 32]
    got, ref = _host(out), _reference(q, k, v, is_causal=True)
    assert _pcc(got, ref) > 0.9995 and (got - ref).abs().max() < 0.1


def test_sdpa_grouped_query_attention_and_scale(device):
    tq, tk, tv, q, k, v = _qkv(device, b=1, nh=8, nkv=2, sq=64, sk=64, d=32)
    got = _host(sdpa(tq, tk, tv, is_causal=False, scale=0.3))
    ref = _reference(q, k, v, scale=0.3)
    assert _pcc(got, ref) > 0.9995 and (got - ref).abs().max() < 0.1


@pytest.mark.parametrize("mask_heads", [1, 4])
def test_sdpa_additive_mask(device, mask_heads):
    tq, tk, tv, q, k, v = _qkv(device, b=2, nh=4, nkv=4, sq=64, sk=128, d=64)
    mask = torch.zeros(2, mask_heads, 64, 128)
    mask[..., 100:] = float("-inf")  # padding keys
    mask[1, ..., :20] = -1e9
    mask += torch.randn_like(mask) * 0.5  # a real-valued bias as well
    tmask = _dev(device, mask)
    got = _host(sdpa(tq, tk, tv, attn_mask=tmask, is_causal=False, program_config=_exact_exp(device)))
    # The kernel adds the mask to the unscaled scores and folds the scale into the exp
    # (exp((QK^T + mask - max) * scale), compute_common.hpp sub_exp_block), so a real-valued bias is scaled
    # too; 0 / -inf masks are unaffected.
    scale = 1 / 8
    ref = _reference(q, k, v, mask=_host(tmask) * scale)
    assert _pcc(got, ref) > 0.9999 and (got - ref).abs().max() < 0.05
    assert _pcc(got, _reference(q, k, v, mask=_host(tmask))) < 0.99


def test_sdpa_chunk_sizes_change_only_the_rounding(device):
    tq, tk, tv, q, k, v = _qkv(device, nh=2, nkv=2, sq=256, sk=256, d=64)
    ref = _reference(q, k, v, is_causal=True)
    outs = []
    for chunk in (32, 64, 256):
        config = ttnn.SDPAProgramConfig(
            compute_with_storage_grid_size=device.compute_with_storage_grid_size(),
            q_chunk_size=chunk,
            k_chunk_size=chunk,
            exp_approx_mode=False,
        )
        outs.append(_host(sdpa(tq, tk, tv, is_causal=True, program_config=config)))
        assert _pcc(outs[-1], ref) > 0.9999 and (outs[-1] - ref).abs().max() < 0.05
    # The running max/sum/output are rounded to bfloat16 once per K chunk, so the chunking is visible.
    assert not torch.equal(outs[0], outs[2])


def test_sdpa_block_float_inputs_give_block_float_output(device):
    q, k, v = torch.randn(1, 2, 64, 64), torch.randn(1, 2, 64, 64), torch.randn(1, 2, 64, 64)
    tq, tk, tv = (_dev(device, x, dtype=ttnn.bfloat8_b) for x in (q, k, v))
    out = sdpa(tq, tk, tv, is_causal=True)
    assert out.dtype == ttnn.bfloat8_b
    got = _host(out)
    assert torch.equal(got, formats.quantize(got, ttnn.bfloat8_b))
    assert _pcc(got, _reference(_host(tq), _host(tk), _host(tv), is_causal=True)) > 0.999


def test_sdpa_query_rows_are_blocked_to_the_step_budget(device, monkeypatch):
    """4096 tokens: query rows go through the K loop in blocks, so one K-chunk step of all heads touches at
    most _BLOCK_ELEMENTS values and no [*, Sq, Sk] intermediate exists."""
    heads, seq, dim = 2, 4096, 32
    tq, tk, tv = (_dev(device, torch.randn(1, heads, seq, dim)) for _ in range(3))
    rows_per_step = []
    attend = sdpa_module._attend_rows

    def spy(q_rows, chunks, mask, q_pos, shape, **kwargs):
        rows_per_step.append(shape[2])
        return attend(q_rows, chunks, mask, q_pos, shape, **kwargs)

    monkeypatch.setattr(sdpa_module, "_attend_rows", spy)
    monkeypatch.setattr(sdpa_module, "_BLOCK_ELEMENTS", 1 << 16)
    out = sdpa(tq, tk, tv, is_causal=False)
    assert out.shape == [1, heads, seq, dim]
    assert rows_per_step == [1024] * 4  # 1024 rows x 2 heads x 32 (k chunk = head dim) = 2**16 values


@pytest.mark.parametrize(("is_causal", "mask_heads"), [(True, None), (False, 1), (False, 8)])
def test_sdpa_query_blocking_does_not_change_the_result(device, monkeypatch, is_causal, mask_heads):
    tq, tk, tv, *_ = _qkv(device, b=2, nh=8, nkv=2, sq=256, sk=256, d=32)
    mask = None if mask_heads is None else _dev(device, torch.randn(2, mask_heads, 256, 256) * 3)
    whole = _host(sdpa(tq, tk, tv, attn_mask=mask, is_causal=is_causal))
    monkeypatch.setattr(sdpa_module, "_BLOCK_ELEMENTS", 1 << 12)  # 32-row query blocks
    assert torch.equal(_host(sdpa(tq, tk, tv, attn_mask=mask, is_causal=is_causal)), whole)


def test_sdpa_peak_memory_at_4096_tokens():
    """In a fresh process: materialising fp32 scores for 4 heads x 4096^2 would take 256 MiB; the chunked
    evaluation must stay far below that (its working set is a few MiB per K chunk)."""
    script = textwrap.dedent(
        """
        import resource, torch
        torch.set_num_threads(1)
        from ttport.sim import ttnn
        device = ttnn.open_device(device_id=0)
        q, k, v = (ttnn.from_torch(torch.randn(1, 4, 4096, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                                   device=device) for _ in range(3))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=False)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    grown_mib = int(result.stdout.split()[-1])
    assert grown_mib < 64, f"peak RSS grew by {grown_mib} MiB"


# -- rules --------------------------------------------------------------------------------------------


def test_sdpa_rules_on_inputs(device):
    tq, tk, tv, *_ = _qkv(device, nh=4, nkv=4, sq=64, sk=64, d=64)
    rm = ttnn.from_torch(torch.randn(1, 4, 64, 64), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTFatal, match="Inputs to SDPA must be tilized"):
        sdpa(rm, tk, tv)
    with pytest.raises(TTFatal, match="Data type of input tensor must be BFLOAT16, BFLOAT8_B, or BFLOAT4_B"):
        sdpa(_dev(device, torch.randn(1, 4, 64, 64), dtype=ttnn.float32), tk, tv)
    with pytest.raises(TTFatal, match="Operands to SDPA need to be on device"):
        sdpa(ttnn.from_torch(torch.randn(1, 4, 64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT), tk, tv)
    with pytest.raises(TTFatal, match="Padding is not supported on the head_dim dimension"):
        q72, k72, v72, *_ = _qkv(device, nh=2, nkv=2, sq=32, sk=32, d=72)
        sdpa(q72, k72, v72)


def test_sdpa_rules_on_shapes(device):
    tq, tk, tv, *_ = _qkv(device, nh=4, nkv=4, sq=64, sk=128, d=64)
    with pytest.raises(TTFatal, match="Causal SDPA requires Q and K to have the same sequence length"):
        sdpa(tq, tk, tv, is_causal=True)
    k3 = _dev(device, torch.randn(1, 3, 128, 64))
    with pytest.raises(TTFatal, match="Q num_heads must be >= K num_heads and divisible by K num_heads"):
        sdpa(tq, k3, k3, is_causal=False)
    with pytest.raises(TTFatal, match="K and V sequence length must match"):
        sdpa(tq, tk, _dev(device, torch.randn(1, 4, 96, 64)), is_causal=False)
    with pytest.raises(TTFatal, match="K and V hidden dim must match"):
        sdpa(tq, tk, _dev(device, torch.randn(1, 4, 128, 32)), is_causal=False)
    config = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=48, k_chunk_size=32)
    with pytest.raises(TTFatal, match="q_chunk_size must be divisible by TILE_SIZE"):
        sdpa(tq, tk, tv, is_causal=False, program_config=config)


def test_sdpa_rules_on_the_mask(device):
    tq, tk, tv, *_ = _qkv(device, b=2, nh=4, nkv=4, sq=96, sk=96, d=64)
    mask = _dev(device, torch.zeros(2, 1, 96, 96))
    with pytest.raises(TTFatal, match="is_causal and attn_mask cannot both be present"):
        sdpa(tq, tk, tv, attn_mask=mask)  # is_causal defaults to True, as in ttnn
    with pytest.raises(TTFatal, match="Mask batch dim must match Q batch dim"):
        sdpa(tq, tk, tv, attn_mask=_dev(device, torch.zeros(1, 1, 96, 96)), is_causal=False)
    with pytest.raises(TTFatal, match="Mask num_heads must either be 1"):
        sdpa(tq, tk, tv, attn_mask=_dev(device, torch.zeros(2, 2, 96, 96)), is_causal=False)
    with pytest.raises(TTFatal, match="Mask sequence length must match K sequence length"):
        sdpa(tq, tk, tv, attn_mask=_dev(device, torch.zeros(2, 1, 96, 64)), is_causal=False)
    with pytest.raises(TTFatal, match="When mask is provided to SDPA, it must be tilized"):
        rm_mask = ttnn.from_torch(torch.zeros(2, 1, 96, 96), dtype=ttnn.bfloat16, device=device)
        sdpa(tq, tk, tv, attn_mask=rm_mask, is_causal=False)
    with pytest.raises(TTFatal, match="it must be in DRAM"):
        l1_mask = _dev(device, torch.zeros(2, 1, 96, 96), memory_config=ttnn.L1_MEMORY_CONFIG)
        sdpa(tq, tk, tv, attn_mask=l1_mask, is_causal=False)
    config = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=64, k_chunk_size=32)
    with pytest.raises(
        TTFatal, match="If mask is provided, Q sequence length must be divisible by q_chunk_size"
    ):
        sdpa(tq, tk, tv, attn_mask=mask, is_causal=False, program_config=config)
