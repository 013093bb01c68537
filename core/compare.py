"""Comparing a port's outputs with the reference: PCC with tt-metal's semantics, and a readable assertion.

`comp_pcc` follows models/common/utility_functions.py in tt-metal, so figures here mean the same as the
PCC floors of upstream ports: identical tensors -> 1.0; both all-NaN -> 1.0; one all-NaN -> 0.0; one
all-zero and the other not -> 0.0; remaining NaN/inf masked to 0 in both; a constant tensor (zero
variance, where the correlation is undefined) -> 1.0, as numpy's masked corrcoef makes it upstream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from core.backend import ttnn


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


def assert_quality(reference: Any, actual: Any, pcc: float = 0.99, *, name: str = "output") -> float:
    """Assert PCC(reference, actual) >= pcc; returns the PCC. `actual` may be a ttnn tensor (replicated
    on a mesh) or torch; sequences are compared element-wise and the lowest PCC is returned."""
    if isinstance(reference, Sequence) and not isinstance(reference, torch.Tensor):
        if not isinstance(actual, Sequence) or len(actual) != len(reference):
            raise AssertionError(f"{name}: expected {len(reference)} outputs, got {actual!r:.200}")
        return min(
            assert_quality(r, a, pcc, name=f"{name}[{i}]")
            for i, (r, a) in enumerate(zip(reference, actual, strict=True))
        )
    if _is_ttnn_tensor(actual):
        actual = to_torch(actual)
    if reference.shape != actual.shape:
        raise AssertionError(f"{name}: shape mismatch; {error_summary(reference, actual)}")
    passed, value = comp_pcc(reference, actual, pcc)
    if not passed:
        raise AssertionError(f"{name}: PCC {value:.6f} < required {pcc}; {error_summary(reference, actual)}")
    return value
