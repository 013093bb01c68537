"""comp_pcc follows tt-metal's special cases; assert_quality's failure message carries the diagnosis."""

from __future__ import annotations

import math

import pytest
import torch

from core.compare import assert_quality, comp_pcc


def test_identical_tensors_are_exactly_one() -> None:
    x = torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    assert comp_pcc(x, x.clone()) == (True, 1.0)


def test_matches_pearson_correlation() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1000, generator=g)
    y = x + 0.5 * torch.randn(1000, generator=g)
    expected = float(torch.corrcoef(torch.stack([x, y]).double())[0, 1])
    passed, value = comp_pcc(x, y, pcc=0.8)
    assert passed and value == pytest.approx(expected, abs=1e-12)
    assert comp_pcc(x, y, pcc=0.95)[0] is False


def test_anticorrelated_is_negative() -> None:
    x = torch.arange(10.0)
    assert comp_pcc(x, -x)[1] == pytest.approx(-1.0)


def test_nan_cases() -> None:
    nan = torch.full((8,), math.nan)
    x = torch.arange(8.0)
    assert comp_pcc(nan, nan.clone()) == (True, 1.0)
    assert comp_pcc(nan, x) == (False, 0.0)
    assert comp_pcc(x, nan) == (False, 0.0)


def test_one_all_zero_fails() -> None:
    assert comp_pcc(torch.zeros(8), torch.arange(8.0)) == (False, 0.0)
    assert comp_pcc(torch.arange(8.0), torch.zeros(8)) == (False, 0.0)


def test_partial_nan_and_inf_are_masked_to_zero() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    y = torch.tensor([1.0, 2.0, math.inf, 4.0, math.nan])
    masked_x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    masked_y = torch.tensor([1.0, 2.0, 0.0, 4.0, 0.0])
    expected = float(torch.corrcoef(torch.stack([masked_x, masked_y]).double())[0, 1])
    assert comp_pcc(x, y, 0.0)[1] == pytest.approx(expected)
    # inf in the same places in both, rest identical: equal after masking -> exactly 1.0
    assert comp_pcc(torch.tensor([1.0, math.inf]), torch.tensor([1.0, -math.inf])) == (True, 1.0)


def test_constant_tensor_counts_as_correlated() -> None:
    # tt-metal: numpy's masked corrcoef leaves the undefined correlation masked, and comp_pcc reports 1.0
    assert comp_pcc(torch.full((16,), 2.0), torch.full((16,), 3.0)) == (True, 1.0)
    assert comp_pcc(torch.full((16,), 2.0), torch.arange(16.0)) == (True, 1.0)


def test_dtype_of_calculated_follows_golden() -> None:
    x = torch.randn(64, generator=torch.Generator().manual_seed(2))
    passed, value = comp_pcc(x, x.to(torch.bfloat16))
    assert passed and 0.999 < value < 1.0


def test_assert_quality_returns_pcc() -> None:
    x = torch.randn(32, 32, generator=torch.Generator().manual_seed(3))
    assert assert_quality(x, x) == 1.0


def test_assert_quality_message_has_pcc_errors_shapes_dtypes() -> None:
    x = torch.randn(2, 32, generator=torch.Generator().manual_seed(4))
    y = (x + torch.randn(2, 32, generator=torch.Generator().manual_seed(5))).to(torch.bfloat16)
    with pytest.raises(AssertionError) as info:
        assert_quality(x, y, pcc=0.999, name="block 0")
    msg = str(info.value)
    _, value = comp_pcc(x, y)
    assert msg.startswith(f"block 0: PCC {value:.6f} < required 0.999")
    max_abs = float((y.double() - x.double()).abs().max())
    assert f"max abs error {max_abs:.6g}" in msg
    assert "relative error (L2)" in msg
    assert "shapes: reference [2, 32], actual [2, 32]" in msg
    assert "dtypes: reference torch.float32, actual torch.bfloat16" in msg


def test_assert_quality_shape_mismatch() -> None:
    with pytest.raises(
        AssertionError, match=r"out: shape mismatch; shapes: reference \[2, 3\], actual \[3, 2\]"
    ):
        assert_quality(torch.ones(2, 3), torch.ones(3, 2), name="out")


def test_assert_quality_sequences_report_the_element() -> None:
    x = torch.arange(8.0)
    with pytest.raises(AssertionError, match=r"^pair\[1\]: PCC -1\.000000"):
        assert_quality((x, x), (x, -x), name="pair")
