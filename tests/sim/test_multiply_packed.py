"""ttnn.multiply with a bfloat16 output computes straight into bfloat16 storage (eltwise._multiply_bf16_packed):
its bits must be those of the unfused path, _multiply_bf16 (nearest-even, zeros forced to +0) then the packer."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import formats
from ttport.sim.ops import eltwise


def _bf16(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).to(torch.bfloat16)


def _unfused(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return formats.pack_bfloat16(eltwise._multiply_bf16(x.float(), y.float()))


def _cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(7)
    x = (torch.randn(64, 96, generator=g) * 3).to(torch.bfloat16)
    y = (torch.randn(64, 96, generator=g) * 3).to(torch.bfloat16)
    zeros = x.clone()
    zeros[::3] = 0.0
    zeros[1::3] = -0.0
    big = torch.full((64, 96), 3e38).to(torch.bfloat16)
    tiny = torch.full((64, 96), 1e-30).to(torch.bfloat16)
    ties = _bf16([[87.0, -87.0, 3.0, 1.0 + 2**-7, -(1.0 + 2**-7)] * 2])
    special = x.clone()
    special[0, 0], special[1, 1], special[2, 2] = float("inf"), float("nan"), float("-inf")
    return [
        ("random", x, y),
        ("zeros and -0 (times negatives)", zeros, -y.abs()),
        ("finite overflow into inf", big, -big),
        ("denormal and underflowing products", tiny, -tiny),
        ("ties", ties, _bf16([[3.0] * 10])),
        ("inf, nan and 0 * inf", special, zeros),
        ("row broadcast", x, y[:1]),
    ]


@pytest.mark.parametrize("case", range(7))
def test_packed_multiply_is_the_unfused_path(device, case) -> None:
    _, x, y = _cases()[case]
    out = ttnn.multiply(
        ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device),
        ttnn.from_torch(y, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device),
    )
    got = ttnn.to_torch(out)
    assert torch.equal(got.view(torch.int16), _unfused(x, y).view(torch.int16))
    assert torch.equal(
        eltwise._multiply_bf16_packed(x.float(), y.float()).view(torch.int16), got.view(torch.int16)
    )


def test_packed_multiply_by_a_scalar_and_fused_activation(device) -> None:
    _, x, _ = _cases()[1]
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    scalar = ttnn.to_torch(ttnn.multiply(t, -3.0))
    assert torch.equal(scalar.view(torch.int16), _unfused(x, torch.tensor(-3.0)).view(torch.int16))
    # a fused activation runs on the unpacked product, then the packer rounds once
    relu = ttnn.to_torch(ttnn.multiply(t, t, activations=[ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)]))
    expected = formats.pack_bfloat16(torch.relu(eltwise._multiply_bf16(x.float(), x.float())))
    assert torch.equal(relu.view(torch.int16), expected.view(torch.int16))
