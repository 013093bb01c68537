"""ttnn.avg_pool2d on flattened channels-last activations, against torch, and its rules."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.rules import TTFatal


def _flat(x_nchw: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [1, 1, N*H*W, C], the layout ttnn's pools take."""
    n, c, h, w = x_nchw.shape
    return x_nchw.permute(0, 2, 3, 1).reshape(1, 1, n * h * w, c)


def _dev(device, x: torch.Tensor, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=layout or ttnn.ROW_MAJOR_LAYOUT, device=device)


def test_avg_pool2d_gemma3_projector_shape(device):
    # Gemma3's projector pools the 64x64 patch grid 4x4 -> 16x16 (models/demos/gemma3/tt/mmp.py); scaled down.
    x = torch.randn(2, 64, 16, 16)
    t = _dev(device, _flat(x))
    out = ttnn.avg_pool2d(t, 2, 16, 16, 64, [4, 4], [4, 4], [0, 0])
    assert out.shape == [1, 1, 2 * 4 * 4, 64]
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.ROW_MAJOR_LAYOUT
    ref = _flat(
        torch.nn.functional.avg_pool2d(ttnn.to_torch(t).float().reshape(2, 16, 16, 64).permute(0, 3, 1, 2), 4)
    )
    got = ttnn.to_torch(out).float()
    assert (got - ref).abs().max() <= 2**-7 * ref.abs().max() + 1e-6


@pytest.mark.parametrize(("count_include_pad", "ceil_mode"), [(True, False), (False, False), (False, True)])
def test_avg_pool2d_padding_and_ceil_mode_match_torch(device, count_include_pad, ceil_mode):
    x = torch.randn(1, 32, 9, 11)
    t = _dev(device, _flat(x))
    out = ttnn.avg_pool2d(
        t, 1, 9, 11, 32, [3, 3], [2, 2], [1, 1], ceil_mode=ceil_mode, count_include_pad=count_include_pad
    )
    xin = ttnn.to_torch(t).float().reshape(1, 9, 11, 32).permute(0, 3, 1, 2)
    ref = _flat(
        torch.nn.functional.avg_pool2d(xin, 3, 2, 1, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    )
    got = ttnn.to_torch(out).float()
    assert got.shape == ref.shape
    assert (got - ref).abs().max() < 0.02


def test_avg_pool2d_output_dtype_and_layout_keywords(device):
    t = _dev(device, _flat(torch.randn(1, 32, 8, 8)))
    out = ttnn.avg_pool2d(
        t, 1, 8, 8, 32, [2, 2], [2, 2], [0, 0], dtype=ttnn.bfloat8_b, output_layout=ttnn.TILE_LAYOUT
    )
    assert out.dtype == ttnn.bfloat8_b and out.layout == ttnn.TILE_LAYOUT and out.shape == [1, 1, 16, 32]


def test_avg_pool2d_rules(device):
    t = _dev(device, _flat(torch.randn(1, 32, 8, 8)))
    with pytest.raises(TTFatal, match=r"input must be \[1, 1, batch_size\*input_h\*input_w, channels\]"):
        ttnn.avg_pool2d(t, 1, 8, 4, 32, [2, 2], [2, 2], [0, 0])
    with pytest.raises(TTFatal, match="divisor_override is not currently supported"):
        ttnn.avg_pool2d(t, 1, 8, 8, 32, [2, 2], [2, 2], [0, 0], divisor_override=3)
    with pytest.raises(TTFatal, match="must be on device"):
        ttnn.avg_pool2d(
            ttnn.from_torch(torch.randn(1, 1, 64, 32), dtype=ttnn.bfloat16),
            1,
            8,
            8,
            32,
            [2, 2],
            [2, 2],
            [0, 0],
        )
    with pytest.raises(TTFatal, match="Layout must be Layout::TILE for bfloat8_b"):
        ttnn.avg_pool2d(t, 1, 8, 8, 32, [2, 2], [2, 2], [0, 0], dtype=ttnn.bfloat8_b)
