"""SDPA's pass-saving hints (core/sim/ops/transformer.py): the scores' bfloat16 rounding skips its NaN test when
the operands' magnitudes prove Q K^T finite, and P's alignment-noise row factor skips its count of zeros when
exp's smallest exponent proves P holds none. Each hint must only skip work: with the hints forced off the op
gives the same bits, on inputs that hit their edges (NaN, inf, 3e38, scores far below exp's underflow)."""

from __future__ import annotations

import math

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import fidelity, sfpu
from ttport.sim.ops import transformer as T
from ttport.sim.types import DataType, MathFidelity

_SFPU_FP32 = sfpu.Mode(approx=False, fp32_dest=True)


def _sdpa(
    device: ttnn.Device,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    def put(x: torch.Tensor) -> ttnn.Tensor:
        return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)

    out = ttnn.transformer.scaled_dot_product_attention(
        put(q),
        put(k),
        put(v),
        attn_mask=None if mask is None else put(mask),
        is_causal=False,
        scale=scale,
        program_config=ttnn.SDPAProgramConfig(
            compute_with_storage_grid_size=(8, 8), q_chunk_size=32, k_chunk_size=32, exp_approx_mode=False
        ),
        compute_kernel_config=ttnn.WormholeComputeKernelConfig(
            math_fidelity=MathFidelity.HiFi4,
            math_approx_mode=False,
            fp32_dest_acc_en=True,
            packer_l1_acc=False,
        ),
    )
    return ttnn.to_torch(out).float()


def _cases() -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, torch.Tensor | None]]:
    g = torch.Generator().manual_seed(7)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    q, k, v = r(1, 2, 64, 64), r(1, 2, 96, 64), r(1, 2, 96, 64)
    cases = {"plain": (q, k, v, 0.125, None)}
    cases["underflow"] = (q * 30, k * 30, v, 1.0, None)  # scale * (S - max) far below -104: zeros in P
    cases["borderline"] = (q * 3, k * 3, v, 1.0, None)  # exponents around -80
    # CLIP's additive causal + padding mask (-3.39e38): zeros in P, and a row of the second chunk whose keys
    # are all masked so far (-inf max)
    mask = torch.zeros(1, 1, 64, 96)
    mask.masked_fill_(torch.ones(64, 96, dtype=torch.bool).triu(1), -3.3895e38)
    mask[..., 80:] = -3.3895e38
    cases["masked"] = (q, k, v, 0.125, mask)
    inf_mask = mask.clone()
    inf_mask[0, 0, 3, 40] = float("inf")  # a +inf max: P above 1 in that row
    cases["inf mask"] = (q, k, v, 0.125, inf_mask)
    nan_q = q.clone()
    nan_q[0, 1, 5, 3] = float("nan")
    cases["nan"] = (nan_q, k, v, 0.125, None)
    huge_k = k.clone()
    huge_k[0, 0, 7, :20] = 3e38
    cases["huge"] = (q, huge_k, v, 0.125, None)
    inf_k = k.clone()
    inf_k[0, 1, 40, 2] = float("inf")
    cases["inf"] = (q, inf_k, v, 0.125, None)
    cases["negative scale"] = (q, k, v, -0.125, None)
    for value, tag in ((float("nan"), "nan v"), (3e38, "huge v"), (float("inf"), "inf v")):
        bad_v = v.clone()
        bad_v[0, 1, 50, 3] = value  # in the second K chunk: O's running bound turns unknown mid-loop
        cases[tag] = (q, k, bad_v, 0.125, None)
    return cases


@pytest.mark.parametrize("name", list(_cases()))
def test_hints_change_no_value(device: ttnn.Device, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    q, k, v, scale, mask = _cases()[name]
    finite_scores, dense_p = [], []
    scores_are_finite, prepare_left = T._scores_are_finite, fidelity.prepare_left

    def record_scores(*args):
        finite_scores.append(scores_are_finite(*args))
        return finite_scores[-1]

    def record_p(*args, nonzeros=None):
        if nonzeros is not None:  # what the hint gives is what _row_scale would count
            assert torch.equal(nonzeros, fidelity._nonzeros_per_row(args[0]))
        dense_p.append(nonzeros is not None and bool((nonzeros == args[0].shape[-1]).all()))
        return prepare_left(*args, nonzeros=nonzeros)

    monkeypatch.setattr(T, "_scores_are_finite", record_scores)
    monkeypatch.setattr(fidelity, "prepare_left", record_p)
    below_overflow, bounds = T._below_overflow, []
    monkeypatch.setattr(
        T, "_below_overflow", lambda bound: bounds.append(below_overflow(bound)) or bounds[-1]
    )
    fast = _sdpa(device, q, k, v, scale, mask)
    monkeypatch.undo()
    # which hints fired: both on ordinary inputs, neither where their proof fails
    assert all(finite_scores) is (name not in ("nan", "inf", "huge"))
    if name == "plain":
        assert all(bounds)
    if name in ("nan v", "inf v"):
        assert not all(bounds)
    if name == "plain":
        assert dense_p[1:] and all(dense_p[1:])  # the first is Q (one block of query rows here)
    if name in ("underflow", "nan"):
        assert not any(dense_p)
    monkeypatch.setattr(T, "_scores_are_finite", lambda *_: False)
    monkeypatch.setattr(T, "_NO_UNDERFLOW_ABOVE", math.inf)
    monkeypatch.setattr(T, "_nonzeros_of_p", lambda *_: None)
    monkeypatch.setattr(T, "_below_overflow", lambda _: False)
    plain = _sdpa(device, q, k, v, scale, mask)
    assert torch.equal(fast.view(torch.int32), plain.view(torch.int32)) or torch.equal(
        torch.nan_to_num(fast, nan=7.0), torch.nan_to_num(plain, nan=7.0)
    )
    if name in ("nan", "inf", "huge", "inf mask", "nan v", "huge v", "inf v"):
        assert not bool(torch.isfinite(fast).all())  # the poisoned rows stay poisoned
    else:
        assert bool(torch.isfinite(fast).all())


def _operand(values: torch.Tensor) -> fidelity.Operand:
    return fidelity.prepare_right(
        values, DataType.BFLOAT16, fidelity.MatmulNumerics(MathFidelity.HiFi4, True)
    )


@pytest.mark.parametrize(
    "q_value, k_value, finite",
    [
        (1.0, 1.0, True),
        (1e15, 1e15, True),  # |S| <= 2 x 64 x 1e30: far from float32's 3.4e38
        (3e38, 1.0, False),
        (1e18, 1e18, False),
        (float("inf"), 1.0, False),
        (float("nan"), 1.0, False),
    ],
)
def test_scores_are_finite_bound(q_value: float, k_value: float, finite: bool) -> None:
    q = torch.full((64, 64), 0.5)
    q[3, 4] = q_value
    k = torch.full((64, 32), 0.25)
    k[5, 6] = k_value
    q_size = T._magnitudes(
        fidelity.prepare_left(q, DataType.BFLOAT16, fidelity.MatmulNumerics(MathFidelity.HiFi4, True))
    )
    assert T._scores_are_finite(q_size, T._magnitudes(_operand(k)), 64) is finite
    if finite:
        assert bool(torch.isfinite(q @ k).all())


def test_magnitudes_without_prepared_parts_prove_nothing() -> None:
    bare = fidelity.Operand(torch.ones(4, 4), DataType.BFLOAT16)  # exact mode: nothing prepared
    assert T._magnitudes(bare) == ((math.inf,), math.inf)
    assert not T._scores_are_finite(T._magnitudes(bare), T._magnitudes(bare), 4)


def test_row_scale_without_zero_count_is_the_counted_one() -> None:
    a = torch.rand(3, 40, 256) + 1e-30  # dense, as SDPA's P
    full = torch.full((3, 40, 1), 256.0)
    assert torch.equal(fidelity._row_scale(a, full), fidelity._row_scale(a))


@pytest.mark.parametrize(
    "values, lowest",
    [
        ([0.0, -1.0, -80.5], -80.5),
        ([-200.0, 1.0], -200.0),
        ([float("-inf"), 0.0], -math.inf),
        ([float("nan"), 0.0], math.nan),
        ([3.0, -0.0, 2e-45], -0.0),
    ],
)
def test_exp_reports_its_smallest_input(values: list[float], lowest: float) -> None:
    x = torch.tensor(values)
    expected = torch.exp(x * 0.5)
    y, low = sfpu.exp_(x.clone(), _SFPU_FP32, scale=0.5)
    assert torch.equal(torch.nan_to_num(y, nan=9.0), torch.nan_to_num(expected, nan=9.0))
    assert low == lowest * 0.5 or (math.isnan(low) and math.isnan(lowest))
    assert torch.equal(
        sfpu.apply_(sfpu.exp, x.clone(), _SFPU_FP32, scale=0.5).nan_to_num(9.0), y.nan_to_num(9.0)
    )


def test_exp_reports_nothing_off_the_shortcut() -> None:
    x = torch.tensor([-1.0, -100.0])
    y, low = sfpu.exp_(x.clone(), sfpu.Mode(approx=False, fp32_dest=False))
    assert low is None
    assert torch.equal(y, sfpu.apply(sfpu.exp, x, sfpu.Mode(approx=False, fp32_dest=False)))


@pytest.mark.parametrize("at_most_one", [True, False])
def test_nonzeros_of_p_are_the_counted_ones(at_most_one: bool) -> None:
    g = torch.Generator().manual_seed(3)
    p = torch.rand(2, 8, 40, generator=g)
    p[p < 0.4] = 0.0
    p[0, 0] = 0.0  # a row of zeros
    p[1, 2, :5] = 1e-40  # denormals are not 0
    if not at_most_one:
        p[1, 3, 7] = float("inf")
        p[1, 4, 2] = 3.0
    counts = T._nonzeros_of_p(p, no_zeros=False, nan_free=True, at_most_one=at_most_one)
    assert torch.equal(counts, fidelity._nonzeros_per_row(p))
    assert T._nonzeros_of_p(p, no_zeros=False, nan_free=False, at_most_one=at_most_one) is None
    dense = torch.rand(3, 5, 16, generator=g) + 0.5
    assert torch.equal(T._nonzeros_of_p(dense, True, True, True), fidelity._nonzeros_per_row(dense))
