"""softmax, layer_norm and rms_norm on the simulator.

All three compute in float32 from the (already rounded) inputs and round once to the output dtype. The
device's defaults (TTNN_FACTS §6: layer_norm HiFi4 with fp32 accumulation, rms_norm HiFi4 with bf16 Dst)
and its SFPU approximations of exp / rsqrt are not modelled: at HiFi4 the multiplies are exact for bf16
operands, so the remaining differences are Dst rounding of partial sums, below the output rounding for
typical widths.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op, same_shape
from ..types import Layout, MemoryConfig

__all__ = ["layer_norm", "rms_norm", "softmax"]


def softmax(
    input_tensor: Tensor,
    dim: int = -1,
    *,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    numeric_stable: bool = True,
) -> Tensor:
    """ttnn.softmax along `dim`. Without numeric_stable the max is not subtracted first (as on device), so
    large logits overflow exp like they do there."""
    rules.require_same_device("softmax", [input_tensor])
    rules.require_tile("softmax", input_tensor)
    rules.check_reduce_dim(dim, len(input_tensor.shape))

    def compute(x: torch.Tensor) -> torch.Tensor:
        if numeric_stable:
            return torch.softmax(x, dim=dim)
        e = torch.exp(x)
        return e / e.sum(dim=dim, keepdim=True)

    mc = memory_config or input_tensor.memory_config()
    return device_op(
        "softmax",
        [input_tensor],
        compute,
        dtype=input_tensor.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        output_shapes=same_shape,
    )


def _affine_values(v: torch.Tensor, layout: Layout, width: int) -> torch.Tensor:
    """gamma / beta as a [width] vector: the first row of a TILE [.., 32, W] tensor, or the flattened
    [.., W/32, 32] ROW_MAJOR form."""
    if layout == Layout.TILE:
        return v.reshape(-1, v.shape[-1])[0, :width]
    return v.reshape(-1)[:width]


def _norm(
    name: str,
    rms: bool,
    x: Tensor,
    epsilon: float,
    weight: Tensor | None,
    bias: Tensor | None,
    residual_input_tensor: Tensor | None,
    memory_config: MemoryConfig | None,
) -> Tensor:
    extras = [t for t in (residual_input_tensor, weight, bias) if t is not None]
    rules.require_same_device(name, [x, *extras])
    residual_padded = residual_input_tensor.padded_shape if residual_input_tensor is not None else None
    rules.check_norm_input(x.layout, x.dtype, x.padded_shape, residual_padded)
    for label, t in (("Gamma", weight), ("Beta", bias)):
        if t is not None:
            rules.check_norm_affine(label, t.layout, t.dtype, t.padded_shape, t.volume(), x.padded_shape)
    rules.check_norm_affine_layouts(
        weight.layout if weight is not None else None, bias.layout if bias is not None else None
    )
    width = x.shape[-1]
    has_res, has_w, has_b = residual_input_tensor is not None, weight is not None, bias is not None

    def compute(v: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        it = iter(rest)
        if has_res:
            v = v + next(it)
        if rms:
            y = v * torch.rsqrt(v.square().mean(dim=-1, keepdim=True) + epsilon)
        else:
            mean = v.mean(dim=-1, keepdim=True)
            centered = v - mean
            y = centered * torch.rsqrt(centered.square().mean(dim=-1, keepdim=True) + epsilon)
        if has_w:
            y = y * _affine_values(next(it), weight.layout, width)
        if has_b:
            y = y + _affine_values(next(it), bias.layout, width)
        return y

    mc = memory_config or x.memory_config()
    return device_op(
        name,
        [x, *extras],
        compute,
        dtype=x.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        output_shapes=same_shape,
    )


def layer_norm(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    epsilon: float = 1e-12,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    residual_input_tensor: Tensor | None = None,
    program_config: Any = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """ttnn.layer_norm over the last dim (biased variance); the residual is added first."""
    return _norm(
        "layer_norm", False, input_tensor, epsilon, weight, bias, residual_input_tensor, memory_config
    )


def rms_norm(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    epsilon: float = 1e-12,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    residual_input_tensor: Tensor | None = None,
    program_config: Any = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """ttnn.rms_norm over the last dim: x / sqrt(mean(x^2) + eps) * weight + bias."""
    return _norm("rms_norm", True, input_tensor, epsilon, weight, bias, residual_input_tensor, memory_config)
