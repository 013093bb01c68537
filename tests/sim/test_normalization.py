"""softmax, layer_norm and rms_norm of the simulator against torch, and the layernorm validation rules."""

from __future__ import annotations

import pytest
import torch

from ttport.compare import comp_pcc
from ttport.sim import ttnn

BF16_EPS = 2**-7


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def _precise() -> ttnn.WormholeComputeKernelConfig:
    return ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=False, fp32_dest_acc_en=True
    )


@pytest.mark.parametrize("dim", [-1, -2, 1])
def test_softmax_matches_torch(device, dim):
    x = _dev(device, torch.randn(2, 3, 40, 50) * 4)
    ref = torch.softmax(_host(x), dim=dim)
    out = ttnn.softmax(x, dim=dim)
    assert out.shape == x.shape and out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
    # Default config: approximate exp (fast Schraudolph) and reciprocal, 16-bit Dst. tt-metal's hardware test
    # of the default softmax asserts PCC >= 0.997 (tests/ttnn/unit_tests/operations/fused/test_softmax.py,
    # test_softmax_with_3D).
    assert comp_pcc(ref, _host(out), 0.997)[0]
    assert not comp_pcc(ref, _host(out), 0.99999)[0]  # the approximation shows
    precise = ttnn.softmax(x, dim=dim, compute_kernel_config=_precise())
    torch.testing.assert_close(_host(precise), ref, rtol=2 * BF16_EPS, atol=1e-6)


def test_softmax_without_numeric_stability_overflows_like_the_device(device):
    x = _dev(device, torch.tensor([[100.0, 0.0]]), ttnn.float32)
    assert torch.isfinite(_host(ttnn.softmax(x))).all()
    assert torch.isnan(_host(ttnn.softmax(x, numeric_stable=False))).any()


def test_softmax_needs_tile_layout(device):
    rm = _dev(device, torch.randn(4, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(RuntimeError, match="TILE"):
        ttnn.softmax(rm)


def test_layer_norm_with_tile_or_row_major_affine_params(device):
    w, b = torch.randn(64), torch.randn(64)
    x = _dev(device, torch.randn(1, 50, 64))
    ref = torch.nn.functional.layer_norm(
        _host(x), (64,), _host(_dev(device, w)), _host(_dev(device, b)), eps=1e-6
    )
    tile = ttnn.layer_norm(
        x, epsilon=1e-6, weight=_dev(device, w.reshape(1, 64)), bias=_dev(device, b.reshape(1, 64))
    )
    rm_w = _dev(device, w.reshape(1, 1, 2, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    rm_b = _dev(device, b.reshape(1, 1, 2, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    row_major = ttnn.layer_norm(x, epsilon=1e-6, weight=rm_w, bias=rm_b)
    assert tile.shape == [1, 50, 64] and tile.dtype == ttnn.bfloat16
    torch.testing.assert_close(_host(tile), ref, rtol=BF16_EPS, atol=BF16_EPS)
    assert torch.equal(_host(tile), _host(row_major))


def test_layer_norm_default_config_meets_tt_metal_floor(device):
    # tests/ttnn/unit_tests/operations/fused/test_layer_norm.py test_layer_norm: PCC >= 0.9998.
    x = torch.rand(32, 64).bfloat16().float()
    out = _host(ttnn.layer_norm(_dev(device, x)))
    assert comp_pcc(torch.nn.functional.layer_norm(x, (64,)), out, 0.9998)[0]


def test_layer_norm_adds_the_residual_first(device):
    x, r = torch.randn(2, 32, 96), torch.randn(2, 32, 96)
    tx, tr = _dev(device, x, ttnn.float32), _dev(device, r, ttnn.float32)
    out = ttnn.layer_norm(tx, residual_input_tensor=tr, epsilon=1e-5)
    # float32 CBs reach the FPU as TF32 and srcA keeps 9 mantissa bits at HiFi4 (numerics/tile_math.py).
    torch.testing.assert_close(
        _host(out), torch.nn.functional.layer_norm(x + r, (96,), eps=1e-5), rtol=2**-7, atol=2**-7
    )


def test_rms_norm_matches_reference(device):
    x, w = torch.randn(1, 3, 40, 128), torch.randn(128)
    tx, tw = _dev(device, x, ttnn.float32), _dev(device, w.reshape(1, 128), ttnn.float32)
    ref = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-6) * w
    precise = ttnn.rms_norm(tx, epsilon=1e-6, weight=tw, compute_kernel_config=_precise())
    torch.testing.assert_close(_host(precise), ref, rtol=2**-7, atol=2**-7)
    # Default: bfloat16 Dst and intermediate CBs; the same floor as layer_norm's test.
    default = _host(ttnn.rms_norm(tx, epsilon=1e-6, weight=tw))
    assert comp_pcc(ref, default, 0.9998)[0]
    assert (default - ref).abs().max() > (_host(precise) - ref).abs().max()


def test_norm_input_rules(device):
    rm = _dev(device, torch.randn(32, 64), layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(RuntimeError, match=r"^Input tensor must have TILE layout, got: Layout::ROW_MAJOR$"):
        ttnn.layer_norm(rm)
    u32 = ttnn.from_torch(
        torch.zeros(32, 64, dtype=torch.int32), dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT, device=device
    )
    with pytest.raises(
        RuntimeError, match=r"^Input tensor must be FLOAT32, BFLOAT16, or BFLOAT8_B, got: DataType::UINT32$"
    ):
        ttnn.rms_norm(u32)
    x = _dev(device, torch.randn(32, 64))
    with pytest.raises(RuntimeError, match=r"^Input and residual shapes must match"):
        ttnn.layer_norm(x, residual_input_tensor=_dev(device, torch.randn(64, 64)))


def test_norm_affine_rules(device):
    x = _dev(device, torch.randn(32, 64))
    with pytest.raises(RuntimeError, match=r"^64 != 96$"):
        ttnn.layer_norm(x, weight=_dev(device, torch.randn(1, 96)))
    with pytest.raises(RuntimeError, match=r"^Gamma's last padded dim needs to equal tile width"):
        ttnn.layer_norm(x, weight=_dev(device, torch.randn(1, 64), layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(
        RuntimeError, match=r"^Input and beta inner dimensions must match, got input: 64 vs beta: 96$"
    ):
        ttnn.layer_norm(x, bias=_dev(device, torch.randn(1, 96)))
    with pytest.raises(RuntimeError, match=r"^Beta tensor dimensions must align with input tensor"):
        ttnn.layer_norm(x, bias=_dev(device, torch.randn(1, 1, 1, 32), layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(RuntimeError, match=r"^Beta tensor height must be TILE_HEIGHT \(32\), got: 64$"):
        ttnn.layer_norm(x, bias=_dev(device, torch.randn(33, 64)))
    tile_w = _dev(device, torch.randn(1, 64))
    rm_b = _dev(device, torch.randn(1, 1, 2, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(RuntimeError, match=r"^Gamma and beta must have the same layout!$"):
        ttnn.layer_norm(x, weight=tile_w, bias=rm_b)
