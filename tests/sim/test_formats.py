"""Hand-worked cases of the simulator's number formats (core/sim/numerics/formats.py).

Every expected value below is worked out by hand from the rules of tt-metal's host conversions
(bfloat16.hpp, blockfloat_common.cpp) and agrees with what real ttnn 0.81.1 returned when probed (the
parity suite, parity/, re-checks thousands of such cases against the real wheel).
"""

from __future__ import annotations

import pytest
import torch

from ttport.sim.numerics import formats
from ttport.sim.types import DataType

BF16, BF8, BF4 = DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B


def _f(bits: int) -> float:
    return torch.tensor([bits], dtype=torch.int64).to(torch.int32).view(torch.float32).item()


def _bits(x: torch.Tensor) -> list[int]:
    return [b & 0xFFFFFFFF for b in x.to(torch.float32).contiguous().view(torch.int32).flatten().tolist()]


def _row(*values: float) -> torch.Tensor:
    """One 16-value face row (zero-filled): the unit that shares an exponent in a block float."""
    row = torch.zeros(1, 16)
    row[0, : len(values)] = torch.tensor(values, dtype=torch.float32)
    return row


# -- bfloat16 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1 + 2**-8, 1.0),  # tie, 1.0 is even
        (1 + 3 * 2**-8, 1 + 2**-6),  # tie, rounds up to the even neighbour 1.015625
        (1 + 2**-8 + 2**-20, 1 + 2**-7),  # just above the tie
        (-(1 + 2**-8), -1.0),
        (3.4e38, float("inf")),  # the carry runs into the exponent: overflow to inf
        (_f(0x7F7F0000), _f(0x7F7F0000)),  # largest finite bfloat16 stays
        (2.0**-130, 2.0**-130),  # a denormal representable in bfloat16 stays (no flush on host)
        (2.0**-149, 0.0),  # the smallest float32 denormal rounds to zero
        (float("-inf"), float("-inf")),
    ],
)
def test_bfloat16_host_rounds_to_nearest_even(value: float, expected: float) -> None:
    out = formats.quantize(torch.tensor([value]), BF16)
    assert _bits(out) == _bits(torch.tensor([expected]))


def test_bfloat16_host_nan_is_canonical_0x7fc0() -> None:
    nans = torch.tensor([0x7FC00000, 0xFFC00000 - 2**32, 0x7F800001, 0x7FFFFFFF]).to(torch.int32)
    out = formats.quantize(nans.view(torch.float32), BF16)
    assert _bits(out) == [0x7FC00000] * 4


def test_bfloat16_packer_rounds_ties_away_from_zero() -> None:
    out = formats.quantize(torch.tensor([1 + 2**-8, -(1 + 2**-8), 1 + 2**-9]), BF16, formats.PACKER)
    assert out.tolist() == [1 + 2**-7, -(1 + 2**-7), 1.0]


def test_float64_is_rounded_to_float32_first() -> None:
    # 1 + 2^-8 + 2^-40: float32 drops 2^-40, leaving an exact tie that rounds to even (1.0).
    out = formats.quantize(torch.tensor([1 + 2**-8 + 2**-40], dtype=torch.float64), BF16)
    assert out.tolist() == [1.0]


def test_bfloat16_input_keeps_its_bits() -> None:
    nan_ffff = torch.tensor([-1], dtype=torch.int16).view(torch.bfloat16)
    out = formats.to_torch_values(formats.quantize(nan_ffff, BF16), BF16)
    assert out.view(torch.int16).tolist() == [-1]


def test_to_torch_values_bfloat16_nan_bits() -> None:
    # torch's own float -> bfloat16 cast would give 0xFFFF here; ttnn returns 0x7FC0.
    out = formats.to_torch_values(torch.tensor([float("nan"), 1.5]), BF16)
    assert out.dtype == torch.bfloat16
    assert out.view(torch.int16).tolist() == [0x7FC0, 0x3FC0]


# -- block floats ---------------------------------------------------------------------------------------


def test_bfloat8_b_probed_row_with_max_8() -> None:
    # Shared exponent 130 (8.0): a step of 2^(130-133) = 0.125.
    out = formats.quantize(_row(1.03125, 0.3, 0.1, -0.4, 0.0234, 8.0), BF8)
    assert out[0, :6].tolist() == [1.0, 0.25, 0.125, -0.375, 0.0, 8.0]


def test_bfloat4_b_probed_rows() -> None:
    # Max 8.0, step 2.0: 1.03125 is above the 1.0 tie -> 2.0; 1.0 is the tie -> even 0; 5.0 = 2.5 steps -> 4.0.
    out = formats.quantize(_row(1.03125, 5.0, 1.0, 8.0), BF4)
    assert out[0, :4].tolist() == [2.0, 4.0, 0.0, 8.0]
    assert _bits(out[0, 2:3]) == [0]  # +0.0


def test_block_float_shift_loses_bits_before_rounding() -> None:
    # Row max 2.0 (E=128); x = 1 + 2^-6 + 2^-23 has exponent 127. Its significand 0x820001 is shifted right
    # by 1 first (the 2^-23 bit falls off), leaving an exact tie 32.5 steps of 2^-5 -> even 32 -> 1.0. A
    # rounding that kept the lost bit as sticky would give 1.03125.
    out = formats.quantize(_row(2.0, 1 + 2**-6 + 2**-23), BF8)
    assert out[0, 1].item() == 1.0


def test_block_float_exponent_zero_values_encode_plus_zero() -> None:
    out = formats.quantize(_row(2.0**-130, -(2.0**-133), 1.0, -0.0, -1e-30), BF8)
    assert out[0, :5].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert _bits(out[0, :5]) == [0, 0, 0x3F800000, 0, 0]  # signs dropped with the magnitude
    all_denormal = formats.quantize(_row(2.0**-130, -(2.0**-140)), BF4)
    assert _bits(all_denormal) == [0] * 16


def test_block_float_saturates_without_bumping_the_exponent() -> None:
    # 1.999 rounds to 128 steps of 2^-6 with E=127: saturates at 127 (1.984375), bf4 at 7 (1.75).
    assert formats.quantize(_row(1.999, 1.0), BF8)[0, 0].item() == 127 * 2.0**-6
    assert formats.quantize(_row(1.999, 1.0), BF4)[0, 0].item() == 1.75


def test_block_float_nan_and_inf_rows() -> None:
    # A NaN or inf sets the shared exponent to 255: finite neighbours flush to +0.0, a quiet NaN keeps its
    # sign, a NaN whose payload sits below the kept bits decodes as inf.
    row = _row(float("nan"), 1.0, -2.0)
    assert _bits(formats.quantize(row, BF8)[0, :3]) == [0x7FC00000, 0, 0]
    nans = _row(0.0, 0.0)
    nans[0, :2] = torch.tensor([0xFFC00000 - 2**32, 0x7F800001]).to(torch.int32).view(torch.float32)
    assert _bits(formats.quantize(nans, BF8)[0, :2]) == [0xFFC00000, 0x7F800000]
    assert _bits(formats.quantize(_row(float("inf"), 1.0, -2.0), BF4)[0, :3]) == [0x7F800000, 0, 0]
    # 3e38 next to a NaN: bf8 keeps 1.75 * 2^127, bf4 rounds 3.5 steps up to 4 = 2^128 = inf.
    assert _bits(formats.quantize(_row(float("nan"), 3e38), BF8)[0, 1:2]) == [0x7F600000]
    assert _bits(formats.quantize(_row(float("nan"), 3e38), BF4)[0, 1:2]) == [0x7F800000]


def test_block_float_exponent_is_shared_per_16_values() -> None:
    x = torch.zeros(1, 32)
    x[0, 0], x[0, 1], x[0, 16] = 8.0, 1.03125, 1.03125
    out = formats.quantize(x, BF8)
    assert out[0, 1].item() == 1.0  # shares 8.0's exponent
    assert out[0, 16].item() == 1.03125  # next face row: its own exponent


def test_block_float_from_non_float32_goes_through_bfloat16() -> None:
    # float32 1 + 2^-7 + 2^-12 is above the bf8 tie -> 1.015625; float64 is first rounded to bfloat16
    # (1 + 2^-7), an exact tie -> 1.0.
    value = 1 + 2**-7 + 2**-12
    assert formats.quantize(_row(value), BF8)[0, 0].item() == 1.015625
    as_f64 = _row(value).to(torch.float64)
    assert formats.quantize(as_f64, BF8)[0, 0].item() == 1.0


def test_block_float_pad_value_shares_the_last_group_exponent() -> None:
    # 5 values fill a 16-value group with 11 padding values: pad 8.0 lifts the shared exponent to 130.
    x = torch.tensor([[1.03125, 0.3, 0.1, -0.4, 0.0234]])
    assert formats.quantize(x, BF8, pad_value=8.0)[0].tolist() == [1.0, 0.25, 0.125, -0.375, 0.0]
    assert formats.quantize(x, BF8)[0].tolist() == [1.03125, 0.296875, 0.09375, -0.40625, 0.015625]


def test_block_float_empty_tensor() -> None:
    assert formats.quantize(torch.zeros(0, 5), BF8).shape == (0, 5)


# -- integers -------------------------------------------------------------------------------------------


def test_float_to_int_host_simd_rules() -> None:
    x = torch.tensor([-1.5, 4e9, 5e9, float("nan"), float("inf"), 2.7])
    assert formats.quantize(x, DataType.UINT32).tolist() == [2**32 - 1, 4_000_000_000, 2**31, 2**31, 2**31, 2]
    assert formats.quantize(x, DataType.INT32).tolist() == [-1, -(2**31), -(2**31), -(2**31), -(2**31), 2]
    y = torch.tensor([70000.0, -1.5, 4e9, 300.0])
    assert formats.quantize(y, DataType.UINT16).tolist() == [65535, 0, 0, 300]
    assert formats.quantize(y, DataType.UINT8).tolist() == [255, 0, 0, 255]


def test_float_to_int_row_major_scalar_tail() -> None:
    # Untiled buffers convert 8 values at a time (4 for float32 -> uint16); the remainder goes through
    # scalar casts that wrap instead of saturating.
    out = formats.quantize(torch.full((9,), 362.7), DataType.UINT8, formats.HOST_ROW_MAJOR)
    assert out.tolist() == [255] * 8 + [362 % 256]
    out = formats.quantize(torch.full((5,), -251.2), DataType.UINT16, formats.HOST_ROW_MAJOR)
    assert out.tolist() == [0] * 4 + [2**16 - 251]
    bf16_in = torch.full((5,), -251.0, dtype=torch.bfloat16)  # 8 lanes from bfloat16: all five are the tail
    assert formats.quantize(bf16_in, DataType.UINT16, formats.HOST_ROW_MAJOR).tolist() == [2**16 - 251] * 5
    out = formats.quantize(torch.tensor([5e9, float("nan"), -3e9]), DataType.UINT32, formats.HOST_ROW_MAJOR)
    assert out.tolist() == [5_000_000_000 % 2**32, 0, 2**32 - 3_000_000_000]


def test_int_to_int_wraps() -> None:
    x = torch.tensor([2**32 + 5, -1, 2**31, 2**40 + 7])
    assert formats.quantize(x, DataType.UINT32).tolist() == [5, 2**32 - 1, 2**31, 7]
    assert formats.quantize(x, DataType.INT32).tolist() == [5, -1, -(2**31), 7]
    assert formats.quantize(x, DataType.UINT8).tolist() == [5, 255, 0, 7]


def test_packer_saturates_integers() -> None:
    x = torch.tensor([-3.0, 70000.0, float("nan")])
    assert formats.quantize(x, DataType.UINT16, formats.PACKER).tolist() == [0, 65535, 0]


# -- torch dtypes ---------------------------------------------------------------------------------------


def test_torch_dtype_mapping_follows_ttnn() -> None:
    assert formats.torch_dtype_to_ttnn(torch.int64) == DataType.UINT32
    assert formats.torch_dtype_to_ttnn(torch.bool) == DataType.UINT8
    assert formats.torch_dtype_to_ttnn(torch.float16) == DataType.BFLOAT16
    with pytest.raises(RuntimeError, match="got unexpected dlpack dtype. code: 5, bits: 64"):
        formats.torch_dtype_to_ttnn(torch.complex64)
    assert formats.ttnn_dtype_to_torch(DataType.UINT32) == torch.uint32
    assert formats.ttnn_dtype_to_torch(DataType.UINT16) == torch.uint16
    assert formats.ttnn_dtype_to_torch(BF8) == torch.float32


def test_tile_bytes() -> None:
    assert [formats.tile_bytes(d) for d in (BF16, DataType.FLOAT32, BF8, BF4)] == [2048, 4096, 1088, 576]
