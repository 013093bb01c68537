"""ttnn.pearson_correlation_coefficient on the simulator: the PCC tt-metal's op tests assert on (the
behaviour of ttnn/ttnn/operations/comparison.py: NaN / inf / all-zero special cases first)."""

from __future__ import annotations

from typing import Any

import torch

from ..tensor import Tensor
from .core import to_torch

__all__ = ["pearson_correlation_coefficient"]


def pearson_correlation_coefficient(expected: torch.Tensor, actual: Any) -> float:
    """PCC of two tensors (`actual` may be a ttnn.Tensor): 1.0 when both are all-NaN or equal, 0.0 when only
    one is all-NaN, an allclose verdict when only one is all-zero; otherwise the correlation with NaN and
    inf entries zeroed."""
    if isinstance(actual, Tensor):
        actual = to_torch(actual)
    if not isinstance(expected, torch.Tensor):
        raise ValueError("Expected tensor is not a torch.Tensor")
    expected, actual = expected.detach(), torch.as_tensor(actual).detach()
    if expected.dtype != actual.dtype:
        actual = actual.to(expected.dtype)
    exp_nan, act_nan = torch.isnan(expected).all(), torch.isnan(actual).all()
    if exp_nan and act_nan:
        return 1.0
    if exp_nan or act_nan:
        return 0.0
    if expected.bool().any() != actual.bool().any():
        return float(torch.allclose(expected.double(), actual.double(), rtol=1e-05, atol=1e-04))
    e = torch.where(torch.isfinite(expected), expected, torch.zeros_like(expected)).double().flatten()
    a = torch.where(torch.isfinite(actual), actual, torch.zeros_like(actual)).double().flatten()
    if torch.equal(e, a):
        return 1.0
    e, a = e - e.mean(), a - a.mean()
    denom = torch.sqrt((e * e).sum() * (a * a).sum())
    if denom == 0:  # one side constant: correlation undefined, agree only if both are
        return float(torch.allclose(e, a))
    return float((e * a).sum() / denom)
