"""ttnn.l1_loss / ttnn.mse_loss on the simulator (loss_nanobind.cpp of 0.81.1): elementwise |ref - pred| or
(ref - pred)^2, then none / mean / sum reduction over every element (a rank-0 tensor for mean and sum, as
the 0.81.1 golden returns)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import MemoryConfig, _member_repr
from .eltwise import into_output
from .golden import attach_golden_function

__all__ = ["LossReductionMode", "l1_loss", "mse_loss"]


class LossReductionMode(enum.Enum):
    NONE = 0
    MEAN = 1
    SUM = 2

    __repr__ = _member_repr


def _loss(
    name: str,
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ref: Tensor,
    pred: Tensor,
    reduction: LossReductionMode,
    memory_config: MemoryConfig | None,
    output_tensor: Tensor | None,
) -> Tensor:
    rules.require_same_device(name, [ref, pred])
    rules.check_binary_broadcast(ref.shape, pred.shape)

    def compute(r: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        err = fn(r, p)
        if reduction == LossReductionMode.MEAN:
            return err.mean()
        if reduction == LossReductionMode.SUM:
            return err.sum()
        return err

    mc = memory_config or ref.memory_config()
    result = device_op(name, [ref, pred], compute, dtype=ref.dtype, layout=ref.layout, memory_config=mc)
    return into_output(result, output_tensor)


def l1_loss(
    input_reference: Tensor,
    input_prediction: Tensor,
    *,
    reduction: LossReductionMode = LossReductionMode.NONE,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """|reference - prediction|, reduced as `reduction` says."""
    return _loss(
        "l1_loss",
        lambda r, p: (r - p).abs(),
        input_reference,
        input_prediction,
        reduction,
        memory_config,
        output_tensor,
    )


def mse_loss(
    input_reference: Tensor,
    input_prediction: Tensor,
    *,
    reduction: LossReductionMode = LossReductionMode.NONE,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """(reference - prediction)^2, reduced as `reduction` says."""
    return _loss(
        "mse_loss",
        lambda r, p: (r - p).square(),
        input_reference,
        input_prediction,
        reduction,
        memory_config,
        output_tensor,
    )


def _golden(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    def golden(
        ref: torch.Tensor, pred: torch.Tensor, *args: Any, reduction: Any = "none", **_: Any
    ) -> torch.Tensor:
        err = fn(ref.float(), pred.float())
        mode = getattr(reduction, "name", str(reduction)).upper()
        return err.mean() if mode == "MEAN" else err.sum() if mode == "SUM" else err

    return golden


attach_golden_function(l1_loss, _golden(lambda r, p: (r - p).abs()))
attach_golden_function(mse_loss, _golden(lambda r, p: (r - p).square()))
