"""Matmul numerics (core/sim/numerics/fidelity.py) against hand-worked values.

ttnn.matmul(left, right) puts left in srcB (7-bit multiplier port) and right in srcA (5-bit port).
x = 1.9921875 = 1.1111111b (a full bfloat16 mantissa) splits as
  srcA: hi = 1.1111b = 1.9375, lo = 0.0000111b = 0.0546875
  srcB: hi = 1.111111b = 1.984375, lo = 0.0000001b = 0.0078125
so x * x per fidelity (phases: 0 A_hi*B_hi, 1 A_lo*B_hi, 2 A_hi*B_lo, 3 A_lo*B_lo):
  LoFi  = 1.9375 * 1.984375               = 3.8447265625
  HiFi2 = 1.9921875 * 1.984375            = 3.9532470703125
  HiFi3 = HiFi2 + 1.9375 * 0.0078125      = 3.9683837890625
  HiFi4 = 1.9921875 ** 2                  = 3.96881103515625
"""

from __future__ import annotations

import pytest
import torch

from ttport.sim.numerics import fidelity
from ttport.sim.types import DataType, MathFidelity

X = 1.9921875
EXPECTED = {
    MathFidelity.LoFi: 3.8447265625,
    MathFidelity.HiFi2: 3.9532470703125,
    MathFidelity.HiFi3: 3.9683837890625,
    MathFidelity.HiFi4: 3.96881103515625,
}

BF16 = DataType.BFLOAT16


def _mm(
    a: torch.Tensor, b: torch.Tensor, fid: MathFidelity, fp32_acc: bool = True, dtype=BF16
) -> torch.Tensor:
    return fidelity.matmul(a, b, dtype, dtype, fidelity.MatmulNumerics(fid, fp32_acc))


def test_truncate_mantissa_keeps_top_bits_toward_zero():
    x = torch.tensor([X, -X, 1.0, 0.0])
    assert fidelity.truncate_mantissa(x, 4).tolist() == [1.9375, -1.9375, 1.0, 0.0]
    assert fidelity.truncate_mantissa(x, 6).tolist() == [1.984375, -1.984375, 1.0, 0.0]


def test_float32_operands_become_tf32():
    x = torch.tensor([1.0 + 2**-10, 1.0 + 2**-11, 1.0 + 2**-20])
    assert fidelity.to_source_register(x, DataType.FLOAT32).tolist() == [1.0 + 2**-10, 1.0, 1.0]
    assert torch.equal(fidelity.to_source_register(x, BF16), x)


@pytest.mark.parametrize("fid", list(EXPECTED))
def test_each_fidelity_runs_its_phases(fid: MathFidelity):
    a = torch.tensor([[X]])
    assert _mm(a, a, fid).item() == EXPECTED[fid]


@pytest.mark.parametrize("fid", list(EXPECTED))
def test_negative_operands_split_symmetrically(fid: MathFidelity):
    a = torch.tensor([[-X]])
    assert _mm(a, torch.tensor([[X]]), fid).item() == -EXPECTED[fid]


def test_left_operand_is_srcb_and_right_operand_is_srca():
    # LoFi keeps hidden + 6 mantissa bits of the left operand but only hidden + 4 of the right one.
    x, one = torch.tensor([[X]]), torch.tensor([[1.0]])
    assert _mm(x, one, MathFidelity.LoFi).item() == 1.984375
    assert _mm(one, x, MathFidelity.LoFi).item() == 1.9375
    assert _mm(one, x, MathFidelity.HiFi2).item() == X


def test_tf32_srca_drops_its_last_mantissa_bit_even_at_hifi4():
    v = torch.tensor([[1.0 + 2**-10]])  # representable in TF32; its 10th mantissa bit is srcA's unused one
    one = torch.tensor([[1.0]])
    f32 = DataType.FLOAT32
    assert _mm(v, one, MathFidelity.HiFi4, dtype=f32).item() == 1.0 + 2**-10
    assert _mm(one, v, MathFidelity.HiFi4, dtype=f32).item() == 1.0
    assert _mm(one, torch.tensor([[1.0 + 2**-9]]), MathFidelity.HiFi4, dtype=f32).item() == 1.0 + 2**-9


def test_block_float_operands_are_exact_at_their_minimum_fidelity():
    # bfloat8_b values carry <= 7 significant bits: as srcA (right operand) exact from HiFi2; bfloat4_b
    # (<= 3 bits) exact at LoFi. As srcB (left operand) 7 bits are always exact.
    row = torch.tensor([[1.984375, 0.75]])
    bf8 = torch.tensor([[1.984375], [-0.4921875]])  # 1.111111b, -0.1111110b
    exact = 1.984375 * 1.984375 - 0.75 * 0.4921875
    assert _mm(row, bf8, MathFidelity.HiFi2, dtype=DataType.BFLOAT8_B).item() == exact
    assert _mm(row, bf8, MathFidelity.LoFi, dtype=DataType.BFLOAT8_B).item() != exact
    short = torch.tensor([[1.9375], [0.75]])  # <= 5 significant bits: exact in srcA at LoFi
    assert (
        _mm(bf8.T, short, MathFidelity.LoFi, dtype=DataType.BFLOAT8_B).item()
        == 1.984375 * 1.9375 - 0.4921875 * 0.75
    )
    bf4 = torch.tensor([[1.75], [-0.375]])
    assert _mm(row, bf4, MathFidelity.LoFi, dtype=DataType.BFLOAT4_B).item() == 1.984375 * 1.75 - 0.75 * 0.375


def test_bf16_dst_rounds_the_running_sum_after_every_k_tile():
    # K = 96: tile sums 256, 1, 1. fp32 Dst: 258. bf16 Dst: 256 + 1 = 257 rounds (tie, even) to 256, twice.
    # Rounding only the final sum would give 258: the per-tile rounding is what is tested.
    a = torch.ones(1, 96)
    b = torch.cat([torch.full((32, 1), 8.0), torch.full((64, 1), 1 / 32)])
    assert _mm(a, b, MathFidelity.HiFi4, fp32_acc=True).item() == 258.0
    assert _mm(a, b, MathFidelity.HiFi4, fp32_acc=False).item() == 256.0


def test_bf16_dst_rounds_each_partial_to_nearest_even():
    # One K tile summing to 1 + 3 * 2**-8 (a tie between 1.0078125 and 1.015625): nearest-even gives 1.015625.
    a = torch.zeros(1, 32)
    a[0, :4] = torch.tensor([1.0, 2**-8, 2**-8, 2**-8])
    b = torch.ones(32, 1)
    assert _mm(a, b, MathFidelity.HiFi4, fp32_acc=False).item() == 1.015625


def test_batched_operands_broadcast_like_torch():
    torch.manual_seed(0)
    a = torch.randint(-2, 3, (2, 3, 5, 64)).float()
    b = torch.randint(-2, 3, (64, 7)).float()
    b4 = torch.randint(-2, 3, (2, 3, 64, 7)).float()
    for fp32_acc in (True, False):
        assert torch.equal(
            _mm(a, b, MathFidelity.HiFi4, fp32_acc), a @ b
        )  # |sums| <= 256: exact in bfloat16 too
        assert torch.equal(_mm(a, b4, MathFidelity.LoFi, fp32_acc), a @ b4)


@pytest.mark.parametrize(
    ("a_dtype", "b_dtype", "out_dtype", "arch", "configured", "expected"),
    [
        (BF16, BF16, BF16, "wormhole_b0", False, (MathFidelity.HiFi2, False)),
        (BF16, DataType.BFLOAT8_B, BF16, "wormhole_b0", False, (MathFidelity.HiFi2, False)),
        (DataType.BFLOAT8_B, DataType.BFLOAT4_B, BF16, "wormhole_b0", False, (MathFidelity.LoFi, False)),
        (BF16, BF16, BF16, "wormhole_b0", True, (MathFidelity.LoFi, False)),
        (BF16, BF16, DataType.FLOAT32, "wormhole_b0", False, (MathFidelity.HiFi2, True)),
        (
            DataType.FLOAT32,
            DataType.FLOAT32,
            DataType.FLOAT32,
            "wormhole_b0",
            False,
            (MathFidelity.HiFi3, True),
        ),
        (
            DataType.FLOAT32,
            DataType.FLOAT32,
            DataType.FLOAT32,
            "blackhole",
            False,
            (MathFidelity.HiFi4, True),
        ),
    ],
)
def test_default_numerics(a_dtype, b_dtype, out_dtype, arch, configured, expected):
    got = fidelity.default_matmul_numerics(
        a_dtype, b_dtype, out_dtype, arch=arch, has_program_config_or_grid=configured
    )
    assert (got.math_fidelity, got.fp32_dest_acc_en) == expected
