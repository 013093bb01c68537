"""Comparing a port's outputs with the reference: PCC with tt-metal's semantics, and a readable assertion.

`comp_pcc` follows models/common/utility_functions.py in tt-metal, so figures here mean the same as the
PCC floors of upstream ports: identical tensors -> 1.0; both all-NaN -> 1.0; one all-NaN -> 0.0; one
all-zero and the other not -> 0.0; remaining NaN/inf masked to 0 in both; a constant tensor (zero
variance, where the correlation is undefined) -> 1.0, as numpy's masked corrcoef makes it upstream.

Those special cases make `comp_pcc` pass outputs that are plainly wrong (an all-NaN reference from a
checkpoint with one NaN weight, a constant or +inf port output), so the verdict on a component is
`compare` / `compare_outputs` (used by the runner, the shared templates through it, and `assert_quality`):
they refuse empty, non-finite and constant-versus-varying outputs before the PCC is taken, and add a
second metric independent of the PCC, the relative RMS error and the max abs error vs the reference
(what tt-metal's comp_allclose prints next to the PCC).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ttport.backend import ttnn


def _is_ttnn_tensor(x: Any) -> bool:
    return not isinstance(x, torch.Tensor) and hasattr(x, "storage_type")


def to_torch(tensor: Any, *, mesh_dim: int | None = None, mesh_composer: Any = None) -> torch.Tensor:
    """A ttnn tensor (one chip or a mesh) on host or device -> torch.

    On a mesh, give `mesh_composer` or `mesh_dim` (concatenate the per-chip shards along it); with
    neither the tensor is taken to be replicated and chip 0's copy is returned.
    """
    if isinstance(tensor, torch.Tensor):
        return tensor
    device = tensor.device()
    chips = int(device.get_num_devices()) if device is not None and hasattr(device, "get_num_devices") else 1
    if chips > 1:
        if mesh_composer is None and mesh_dim is not None:
            mesh_composer = ttnn.ConcatMeshToTensor(device, dim=mesh_dim)
        if mesh_composer is None:
            return ttnn.to_torch(ttnn.get_device_tensors(tensor)[0])
    return ttnn.to_torch(tensor, mesh_composer=mesh_composer) if mesh_composer else ttnn.to_torch(tensor)


def comp_pcc(golden: torch.Tensor, calculated: torch.Tensor, pcc: float = 0.99) -> tuple[bool, float]:
    """(passed, PCC) of `calculated` against `golden`, with tt-metal's special cases (module docstring)."""
    golden = golden.detach()
    calculated = calculated.detach()
    if golden.dtype != calculated.dtype:
        calculated = calculated.to(golden.dtype)
    golden_nan, calculated_nan = torch.isnan(golden), torch.isnan(calculated)
    if bool(golden_nan.all()) and bool(calculated_nan.all()):
        return True, 1.0
    if bool(golden_nan.all()) or bool(calculated_nan.all()):
        return False, 0.0
    if bool(golden.bool().any()) != bool(calculated.bool().any()):
        return False, 0.0
    golden = torch.where(torch.isfinite(golden), golden, torch.zeros_like(golden))
    calculated = torch.where(torch.isfinite(calculated), calculated, torch.zeros_like(calculated))
    if torch.equal(golden, calculated):
        return True, 1.0
    x = golden.flatten().double()
    y = calculated.flatten().double()
    if x.numel() != y.numel():
        raise ValueError(f"cannot correlate {list(golden.shape)} with {list(calculated.shape)}")
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    if denominator == 0.0:
        return True, 1.0
    value = float((x * y).sum()) / denominator
    return value >= pcc, value


def error_summary(golden: torch.Tensor, calculated: torch.Tensor) -> str:
    """Max absolute error, relative L2 error, shapes and dtypes: what a failing comparison should show."""
    text = (
        f"shapes: reference {list(golden.shape)}, actual {list(calculated.shape)}; "
        f"dtypes: reference {golden.dtype}, actual {calculated.dtype}"
    )
    if golden.shape != calculated.shape:
        return text
    diff = calculated.double() - golden.double()
    max_abs = float(diff.abs().max()) if diff.numel() else 0.0
    norm = float(golden.double().norm())
    rel = float(diff.norm()) / norm if norm else math.inf if max_abs else 0.0
    return f"max abs error {max_abs:.6g}, relative error (L2) {rel:.6g}; {text}"


#: two constant outputs match when they agree to bfloat16's precision (its machine epsilon, 2**-7)
CONSTANT_RTOL = 2.0**-7


@dataclass(frozen=True)
class Comparison:
    """The verdict on a port's output(s) against the reference's: the PCC (None where it is undefined or
    meaningless: see `failure`), the relative RMS error ||actual - reference|| / ||reference|| and the max
    abs error (None where an output is not finite), and why it failed, in one line."""

    passed: bool
    pcc: float | None
    rel_rms_error: float | None
    max_abs_error: float | None
    failure: str | None = None
    #: which output of a sequence failed (None for a single tensor or a count mismatch)
    index: int | None = None


def _describe_values(x: torch.Tensor) -> str:
    nan, inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
    return f"{nan} NaN, {inf} Inf of {x.numel()} values"


def _constant(x: torch.Tensor) -> float | None:
    """The value every element of `x` has, or None if they differ."""
    low, high = torch.aminmax(x.flatten())
    return float(low) if bool(low == high) else None


def _errors(golden: torch.Tensor, calculated: torch.Tensor) -> tuple[float, float]:
    """(relative RMS error, max abs error) of finite `calculated` against finite `golden`."""
    diff = calculated.double() - golden.double()
    max_abs = float(diff.abs().max())
    norm = float(golden.double().norm())
    rel = float(diff.norm()) / norm if norm else (math.inf if max_abs else 0.0)
    return rel, max_abs


def compare(golden: torch.Tensor, calculated: torch.Tensor, pcc: float = 0.99) -> Comparison:
    """Whether `calculated` reproduces `golden` with PCC >= `pcc`, refusing what the PCC cannot judge:
    shapes that differ, empty outputs, NaN / Inf on either side (comp_pcc masks them, or calls two all-NaN
    tensors identical), and one side constant while the other varies (the correlation is undefined and
    comp_pcc calls it 1.0). Two constant outputs pass when they agree to CONSTANT_RTOL."""
    golden, calculated = golden.detach(), calculated.detach()
    if golden.shape != calculated.shape:
        return Comparison(False, None, None, None, f"shape mismatch; {error_summary(golden, calculated)}")
    if golden.numel() == 0:
        return Comparison(False, None, None, None, f"outputs are empty (shape {list(golden.shape)})")
    if not golden.is_floating_point():
        golden = golden.double()
    if not calculated.is_floating_point():
        calculated = calculated.double()
    if not bool(torch.isfinite(golden).all()):
        reason = (
            f"reference output is not finite ({_describe_values(golden)}): "
            "the checkpoint or the inputs are broken"
        )
        return Comparison(False, None, None, None, reason)
    if not bool(torch.isfinite(calculated).all()):
        return Comparison(
            False, None, None, None, f"port output is not finite ({_describe_values(calculated)})"
        )
    rel, max_abs = _errors(golden, calculated)
    golden_value, calculated_value = _constant(golden), _constant(calculated)
    if golden_value is not None and calculated_value is not None:
        if math.isclose(calculated_value, golden_value, rel_tol=CONSTANT_RTOL, abs_tol=0.0):
            return Comparison(True, 1.0, rel, max_abs)
        reason = (
            f"both outputs are constant but differ: reference {golden_value:g}, port {calculated_value:g}"
        )
        return Comparison(False, None, rel, max_abs, reason)
    if golden_value is not None:
        reason = (
            f"reference output is constant (every value {golden_value:g}) while the port's varies: "
            "PCC is undefined; the checkpoint or the inputs are degenerate"
        )
        return Comparison(False, None, rel, max_abs, reason)
    if calculated_value is not None:
        reason = f"port output is constant (every value {calculated_value:g}) while the reference varies"
        return Comparison(False, None, rel, max_abs, reason)
    passed, value = comp_pcc(golden, calculated, pcc)
    if not passed:
        reason = f"PCC {value:.6f} < required {pcc}; {error_summary(golden, calculated)}"
        return Comparison(False, value, rel, max_abs, reason)
    return Comparison(True, value, rel, max_abs)


def _is_sequence(x: Any) -> bool:
    return isinstance(x, Sequence) and not isinstance(x, torch.Tensor)


def _worst(values: list[float | None], pick: Any) -> float | None:
    return None if any(v is None for v in values) else pick(values)


def compare_outputs(reference: Any, actual: Any, pcc: float = 0.99) -> Comparison:
    """`compare` over a component's outputs (a tensor or a sequence of them; `actual` may hold ttnn
    tensors, replicated on a mesh): the lowest PCC, the largest errors and the first failure."""
    if not _is_sequence(reference):
        return compare(reference, to_torch(actual) if _is_ttnn_tensor(actual) else actual, pcc)
    if not _is_sequence(actual) or len(actual) != len(reference):
        got = f"{len(actual)} outputs" if _is_sequence(actual) else f"{type(actual).__name__}"
        return Comparison(False, None, None, None, f"port returned {got}, reference {len(reference)} outputs")
    results = [
        compare(r, to_torch(a) if _is_ttnn_tensor(a) else a, pcc)
        for r, a in zip(reference, actual, strict=True)
    ]
    failed = [(i, c) for i, c in enumerate(results) if not c.passed]
    first = failed[0] if failed else (None, None)
    return Comparison(
        passed=not failed,
        pcc=_worst([c.pcc for c in results], min),
        rel_rms_error=_worst([c.rel_rms_error for c in results], max),
        max_abs_error=_worst([c.max_abs_error for c in results], max),
        failure=first[1].failure if first[1] else None,
        index=first[0],
    )


def assert_quality(reference: Any, actual: Any, pcc: float = 0.99, *, name: str = "output") -> float:
    """Assert that `actual` passes `compare_outputs` against `reference`; returns the (lowest) PCC.
    `actual` may be a ttnn tensor (replicated on a mesh) or torch, or a sequence of them."""
    result = compare_outputs(reference, actual, pcc)
    if not result.passed:
        where = name if result.index is None else f"{name}[{result.index}]"
        raise AssertionError(f"{where}: {result.failure}")
    assert result.pcc is not None
    return result.pcc
