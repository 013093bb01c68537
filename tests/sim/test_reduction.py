"""Reductions and cumsum of the simulator against torch."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn

BF16_EPS = 2**-7


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


@pytest.mark.parametrize(
    ("op", "ref"),
    [
        (ttnn.sum, lambda v, d, k: v.sum(d, keepdim=k)),
        (ttnn.mean, lambda v, d, k: v.mean(d, keepdim=k)),
        (ttnn.max, lambda v, d, k: v.amax(d, keepdim=k)),
        (ttnn.min, lambda v, d, k: v.amin(d, keepdim=k)),
    ],
)
@pytest.mark.parametrize(("dim", "keepdim"), [(-1, True), (-2, False), ([1, 2], True), (None, False)])
def test_reductions_match_torch(device, op, ref, dim, keepdim):
    x = _dev(device, torch.randn(2, 40, 50))
    out = op(x, dim=dim, keepdim=keepdim)
    dims = list(range(3)) if dim is None else dim
    expected = ref(_host(x), dims, keepdim)
    assert list(out.shape) == list(expected.shape)
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
    torch.testing.assert_close(_host(out), expected, rtol=BF16_EPS, atol=1e-2)


def test_sum_scalar_and_dim_range(device):
    x = _dev(device, torch.ones(4, 32))
    assert torch.equal(_host(ttnn.sum(x, dim=-1, scalar=0.5)), torch.full((4,), 16.0))
    with pytest.raises(RuntimeError, match="out of range"):
        ttnn.sum(x, dim=2)


def test_argmax(device):
    v = torch.randn(3, 5, 17)
    x = _dev(device, v, layout=ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.argmax(x, dim=-1)
    assert out.dtype == ttnn.uint32 and out.layout == ttnn.ROW_MAJOR_LAYOUT and out.shape == [3, 5]
    assert torch.equal(ttnn.to_torch(out).long(), torch.argmax(_host(x), dim=-1))
    kept = ttnn.argmax(x, dim=1, keepdim=True)
    assert kept.shape == [3, 1, 17]
    assert ttnn.to_torch(ttnn.argmax(x)).item() == torch.argmax(_host(x)).item()
    with pytest.raises(RuntimeError, match="^Only ROW_MAJOR layout is supported for inputs!$"):
        ttnn.argmax(_dev(device, v), dim=-1)


@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum(device, reverse):
    v = torch.randint(-3, 4, (2, 32, 40)).float()
    out = ttnn.cumsum(_dev(device, v, ttnn.float32), 1, reverse_order=reverse)
    expected = v.flip(1).cumsum(1).flip(1) if reverse else v.cumsum(1)
    assert torch.equal(_host(out), expected)
    assert out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.float32
