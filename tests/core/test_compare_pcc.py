"""comp_pcc follows tt-metal's special cases; compare / assert_quality refuse what those cases let pass
(non-finite, constant, empty outputs) and carry the diagnosis and the second metric."""

from __future__ import annotations

import math

import pytest
import torch

from ttport.compare import CONSTANT_RTOL, assert_quality, comp_pcc, compare, compare_outputs


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
    with pytest.raises(AssertionError, match=r"^pair: port returned 1 outputs, reference 2 outputs$"):
        assert_quality((x, x), (x,), name="pair")


NAN8 = torch.full((8,), math.nan)
RAMP = torch.arange(8.0)


@pytest.mark.parametrize(
    ("reference", "actual", "reason"),
    [
        # comp_pcc: both all NaN -> (True, 1.0): the case of a checkpoint with one NaN weight
        (NAN8, NAN8.clone(), "reference output is not finite (8 NaN, 0 Inf of 8 values): "
         "the checkpoint or the inputs are broken"),
        (torch.tensor([1.0, math.inf, 3.0]), torch.tensor([1.0, 2.0, 3.0]),
         "reference output is not finite (0 NaN, 1 Inf of 3 values): the checkpoint or the inputs are broken"),
        # comp_pcc masks +inf to 0 in both; all-inf against anything non-zero -> constant -> 1.0
        (RAMP, torch.full((8,), math.inf), "port output is not finite (0 NaN, 8 Inf of 8 values)"),
        (RAMP, torch.tensor([0.0, 1, 2, 3, 4, 5, 6, math.nan]), "port output is not finite (1 NaN, 0 Inf of 8 values)"),
        # comp_pcc: zero variance -> 1.0
        (RAMP, torch.full((8,), 3.5), "port output is constant (every value 3.5) while the reference varies"),
        (torch.full((8,), 2.0), RAMP, "reference output is constant (every value 2) while the port's varies: "
         "PCC is undefined; the checkpoint or the inputs are degenerate"),
        (torch.full((8,), 2.0), torch.full((8,), 3.0), "both outputs are constant but differ: reference 2, port 3"),
        # comp_pcc: both empty -> all(isnan) of nothing is True -> 1.0
        (torch.zeros(0, 4), torch.zeros(0, 4), "outputs are empty (shape [0, 4])"),
    ],
)  # fmt: skip
def test_compare_refuses_what_comp_pcc_passes(reference, actual, reason: str) -> None:
    result = compare(reference, actual, 0.99)
    assert (result.passed, result.pcc, result.failure) == (False, None, reason)
    with pytest.raises(AssertionError) as info:
        assert_quality(reference, actual, 0.99, name="out")
    assert str(info.value) == f"out: {reason}"


def test_comp_pcc_keeps_tt_metal_semantics_for_those_cases() -> None:
    assert comp_pcc(NAN8, NAN8.clone()) == (True, 1.0)
    assert comp_pcc(RAMP, torch.full((8,), math.inf)) == (True, 1.0)
    assert comp_pcc(RAMP, torch.full((8,), 3.5)) == (True, 1.0)
    assert comp_pcc(torch.zeros(0, 4), torch.zeros(0, 4)) == (True, 1.0)


def test_equal_constant_outputs_pass() -> None:
    zeros = torch.zeros(4, 4)
    result = compare(zeros, zeros.clone())
    assert (result.passed, result.pcc, result.rel_rms_error, result.max_abs_error) == (True, 1.0, 0.0, 0.0)
    close = compare(torch.full((4,), 2.0), torch.full((4,), 2.0 * (1 + CONSTANT_RTOL / 2)))
    assert close.passed and close.pcc == 1.0


def test_second_metric_is_relative_rms_and_max_abs_error() -> None:
    g = torch.Generator().manual_seed(6)
    x = torch.randn(64, 32, generator=g)
    y = x + 0.01 * torch.randn(64, 32, generator=g)
    result = compare(x, y)
    diff = y.double() - x.double()
    assert result.passed and result.pcc == comp_pcc(x, y)[1]
    assert result.rel_rms_error == pytest.approx(float(diff.norm() / x.double().norm()), rel=1e-12)
    assert result.max_abs_error == pytest.approx(float(diff.abs().max()), rel=1e-12)
    # independent of the PCC: a scaled output has PCC 1.0 but a relative error of 1
    doubled = compare(x, 2 * x)
    assert doubled.pcc == pytest.approx(1.0) and doubled.rel_rms_error == pytest.approx(1.0)


def test_compare_outputs_takes_the_worst_and_never_reports_nan_as_one() -> None:
    """`min(1.0, nan)` is 1.0: a NaN output among good ones must not leave the PCC at 1.0."""
    x = torch.randn(16, generator=torch.Generator().manual_seed(7))
    noisy = x + 0.1 * torch.randn(16, generator=torch.Generator().manual_seed(8))
    result = compare_outputs([x, x, noisy], [x, torch.full((16,), math.nan), noisy], 0.5)
    assert not result.passed and result.pcc is None and result.index == 1
    assert result.failure == "port output is not finite (16 NaN, 0 Inf of 16 values)"
    good = compare_outputs((x, x), (x, noisy), 0.5)
    assert (
        good.passed
        and good.pcc == comp_pcc(x, noisy)[1]
        and good.rel_rms_error == compare(x, noisy).rel_rms_error
    )
