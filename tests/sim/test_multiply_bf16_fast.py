"""eltwise._multiply_bf16's finite fast path (torch's nearest-even bfloat16 cast, the zero fill skipped when no
-0.0 is produced) gives the bits of the general computation: formats.round_bfloat16(HOST) then +0 wherever an
operand is 0. Edge values: NaN, infinities, -0.0, denormals, ties (87 x 3), overflow, underflow to -0.0."""

from __future__ import annotations

import torch

from ttport.sim.numerics import formats
from ttport.sim.ops import eltwise


def _general(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = formats.round_bfloat16(x * y, formats.HOST)
    return out.masked_fill_((x == 0) | (y == 0), 0.0)


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return formats.quantize(x, formats.DataType.BFLOAT16)


def _same(x: torch.Tensor, y: torch.Tensor) -> None:
    got, want = eltwise._multiply_bf16(x, y), _general(x, y)
    assert got.shape == want.shape
    assert torch.equal(got.contiguous().view(torch.int32), want.contiguous().view(torch.int32))


def test_finite_products_match_the_general_path() -> None:
    torch.manual_seed(5)
    x = _bf16(torch.randn(64, 96) * 10)
    y = _bf16(torch.randn(64, 96))
    _same(x, y)
    _same(x, torch.tensor(3.0))  # scalar operand
    _same(x, _bf16(torch.randn(96)))  # broadcast row
    # ties: 87 * 3 = 261 rounds to 260 (nearest-even), not 262
    _same(torch.tensor([87.0, 85.0, 89.0, -87.0]), torch.tensor(3.0))
    assert eltwise._multiply_bf16(torch.tensor([87.0]), torch.tensor(3.0)).item() == 260.0


def test_zeros_and_signed_zeros() -> None:
    x = torch.tensor([0.0, -0.0, 2.0, -2.0, -0.0, 1e-30, -1e-30, 3.0])
    y = torch.tensor([-5.0, 5.0, -0.0, 0.0, -0.0, -1e-30, -1e-30, 2.0])
    _same(x, y)  # -0.0 products become +0.0; underflow to -0.0 with non-zero operands stays -0.0
    got = eltwise._multiply_bf16(x, y)
    assert got[0].item() == 0.0 and not torch.signbit(got[:5]).any()
    assert torch.signbit(got[5])  # -1e-60 underflows to -0.0: no operand is zero, the sign stays
    _same(torch.tensor([-1e-30, 2.0]), torch.tensor([1e-30, 1.0]))  # only underflow -0.0, no zero operand


def test_denormals_overflow_and_non_finite() -> None:
    x = torch.tensor([1e-39, -1e-39, 3e38, -3e38, 1.5e-38, 2.0**-126, 1e-20])
    y = torch.tensor([1.0, 3.0, 2.0, 2.0, 0.75, 0.5, 1e-20])
    _same(x, y)  # denormal products and overflow into infinity
    nonfinite = torch.tensor([float("nan"), float("inf"), -float("inf"), float("inf"), 1.0, 0.0])
    _same(nonfinite, torch.tensor([1.0, 2.0, 3.0, 0.0, float("nan"), float("inf")]))
    _same(torch.tensor([float("nan"), 0.0, 2.0]), torch.tensor(0.0))
    # a sum that overflows float32 with finite products takes the general path: same bits
    _same(torch.full((8,), 3e38), torch.tensor(1.0))
