"""Gemma's RMSNorm on TTNN: x / rms(x) * (1 + w).

Gemma stores the weight centred on zero and the reference applies `1 + w` in fp32 (transformers
Gemma3RMSNorm). The unit offset is folded into the weight once, in fp32 before the single rounding to
bfloat16, so the device runs a plain `ttnn.rms_norm` (tt-metal's models/demos/gemma3/tt/
gemma_vision_rmsnorm.py folds it the same way, `add_unit_offset`).
"""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip.common import precise_compute_config, row_vector


class Gemma3RMSNorm:
    """RMSNorm over the last dim with the reference's `weight` [dim] and `eps`."""

    def __init__(self, name: str, weight: torch.Tensor, eps: float, device: Any):
        """`name`: the weight's full parameter path (its (1 + weight) is what the weight cache keeps)."""
        self.weight = row_vector(f"{name}[1 + w]", 1.0 + weight.detach().float(), device)
        self.eps = float(eps)
        self.compute_kernel_config = precise_compute_config()

    def forward(self, x: Any) -> Any:
        return ttnn.rms_norm(
            x, epsilon=self.eps, weight=self.weight, compute_kernel_config=self.compute_kernel_config
        )

    __call__ = forward
