"""Ternary elementwise ops of ttnn 0.81.1 (addcmul, addcdiv, lerp, mac; `where` lives in eltwise.py) and the
clamp / clip pair, whose bounds may be tensors.

Keywords: ternary_nanobind.cpp / unary_nanobind.cpp of the 0.81.1 wheel. The three operands broadcast like
binary ops (NumPy rules on logical shapes); values are computed in float32 and rounded once to the output
dtype (the first tensor operand's), as `mac`'s fused multiply-add does on device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import Layout, MemoryConfig
from .eltwise import _float, into_output
from .golden import attach_golden_function

__all__ = ["addcdiv", "addcmul", "clamp", "clip", "lerp", "mac", "snake_beta"]


def _ternary(
    name: str,
    fn: Callable[..., torch.Tensor],
    operands: tuple[Any, ...],
    memory_config: MemoryConfig | None,
    output_tensor: Tensor | None,
) -> Tensor:
    """`fn(*values)` over operands that are tensors (broadcast together) or Python numbers."""
    tensors = [t for t in operands if isinstance(t, Tensor)]
    rules.require(bool(tensors), f"{name}: at least one operand must be a ttnn.Tensor")
    rules.require_same_device(name, tensors)
    first = tensors[0]
    for t in tensors[1:]:
        rules.check_binary_broadcast(first.shape, t.shape)
    slots = [isinstance(o, Tensor) for o in operands]

    def compute(*values: torch.Tensor) -> torch.Tensor:
        it = iter(values)
        args = [_float(next(it)) if is_tensor else o for is_tensor, o in zip(slots, operands, strict=True)]
        return fn(*args)

    layout = Layout.ROW_MAJOR if all(t.layout == Layout.ROW_MAJOR for t in tensors) else Layout.TILE
    out_dtype = output_tensor.dtype if output_tensor is not None else first.dtype
    mc = memory_config or first.memory_config()
    result = device_op(name, tensors, compute, dtype=out_dtype, layout=layout, memory_config=mc)
    return into_output(result, output_tensor)


def addcmul(
    input_a: Tensor,
    input_b: Tensor,
    input_c: Tensor,
    *,
    value: float = 1.0,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.addcmul: a + value * b * c."""
    return _ternary(
        "addcmul",
        lambda a, b, c: a + value * b * c,
        (input_a, input_b, input_c),
        memory_config,
        output_tensor,
    )


def addcdiv(
    input_a: Tensor,
    input_b: Tensor,
    input_c: Tensor,
    *,
    value: float = 1.0,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.addcdiv: a + value * b / c."""
    return _ternary(
        "addcdiv",
        lambda a, b, c: a + value * b / c,
        (input_a, input_b, input_c),
        memory_config,
        output_tensor,
    )


def lerp(
    input: Tensor,
    end: Tensor,
    weight: Tensor | float,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.lerp: input + weight * (end - input), weight a tensor or a number."""
    return _ternary(
        "lerp", lambda a, e, w: a + w * (e - a), (input, end, weight), memory_config, output_tensor
    )


def mac(
    input_tensor_a: Tensor,
    input_tensor_b: Tensor | float,
    input_tensor_c: Tensor | float,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.mac: a * b + c, fused (one rounding); b and c may be numbers."""
    operands = (input_tensor_a, input_tensor_b, input_tensor_c)
    return _ternary("mac", lambda a, b, c: a * b + c, operands, memory_config, output_tensor)


def _clamp(
    name: str, x: Tensor, low: Any, high: Any, memory_config: MemoryConfig | None, out: Tensor | None
) -> Tensor:
    rules.require(
        low is not None or high is not None,
        "Only one of 'min' or 'max' can be None. Please provide one value",
    )

    def fn(v: torch.Tensor, lo: Any, hi: Any) -> torch.Tensor:
        if lo is not None:
            v = torch.maximum(
                v, lo if isinstance(lo, torch.Tensor) else torch.tensor(float(lo), dtype=v.dtype)
            )
        if hi is not None:
            v = torch.minimum(
                v, hi if isinstance(hi, torch.Tensor) else torch.tensor(float(hi), dtype=v.dtype)
            )
        return v

    return _ternary(name, fn, (x, low, high), memory_config, out)


def clamp(
    input_tensor: Tensor,
    min: Tensor | float | None = None,
    max: Tensor | float | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.clamp: min(max(x, min), max); bounds are numbers or tensors, either may be None."""
    return _clamp("clamp", input_tensor, min, max, memory_config, output_tensor)


def clip(
    input_tensor: Tensor,
    min: Tensor | float | None = None,
    max: Tensor | float | None = None,
    *,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.clip: alias of clamp."""
    return _clamp("clip", input_tensor, min, max, memory_config, None)


def _clamp_golden(input_tensor: torch.Tensor, min: Any = None, max: Any = None, **_: Any) -> torch.Tensor:
    return torch.clamp(input_tensor, min, max)


attach_golden_function(addcmul, lambda a, b, c, *args, value=1.0, **kw: torch.addcmul(a, b, c, value=value))
attach_golden_function(addcdiv, lambda a, b, c, *args, value=1.0, **kw: torch.addcdiv(a, b, c, value=value))
attach_golden_function(lerp, lambda a, e, w, *args, **kw: torch.lerp(a, e, w))
attach_golden_function(mac, lambda a, b, c, *args, **kw: a.float() * b + c)
attach_golden_function(clamp, _clamp_golden)
attach_golden_function(clip, _clamp_golden)


def snake_beta(
    input_tensor: Tensor,
    alpha: Tensor,
    beta: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.snake_beta (BigVGAN's Snake activation): x + sin(alpha x)^2 / beta, alpha and beta broadcast
    (per channel)."""
    fn = lambda x, a, b: x + torch.sin(a * x).square() / b  # noqa: E731
    return _ternary("snake_beta", fn, (input_tensor, alpha, beta), memory_config, output_tensor)


attach_golden_function(snake_beta, lambda x, a, b, *args, **kw: x + torch.sin(a * x) ** 2 / b)
