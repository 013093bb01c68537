"""ttnn.quantize / dequantize / requantize on the simulator (quantization_nanobind.cpp of 0.81.1): affine
quantization with a scalar or per-`axis` scale and zero point. quantize and requantize round half to even
and return INT32 unless `dtype` says otherwise (int8 / uint8 results would clamp to their range);
dequantize returns BFLOAT16 by default."""

from __future__ import annotations

from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import DataType, MemoryConfig
from .eltwise import into_output
from .golden import attach_golden_function

__all__ = ["dequantize", "quantize", "requantize"]

_RANGES = {DataType.UINT8: (0, 255), DataType.UINT16: (0, 65535)}


def _param(value: Any, x: torch.Tensor, axis: int | None) -> torch.Tensor | float:
    """A scale / zero point as values broadcasting over `x`: a number, or a 1-D tensor along `axis`."""
    if not isinstance(value, torch.Tensor):
        return float(value)
    if axis is None or value.numel() == 1:
        return value.reshape(()) if value.numel() == 1 else value
    shape = [1] * x.dim()
    shape[axis] = -1
    return value.reshape(shape)


def _affine(
    name: str,
    x: Tensor,
    params: tuple[Any, ...],
    fn: Any,
    axis: int | None,
    dtype: DataType,
    memory_config: MemoryConfig | None,
    output_tensor: Tensor | None,
) -> Tensor:
    tensors = [p for p in params if isinstance(p, Tensor)]
    rules.require_same_device(name, [x, *tensors])
    if axis is not None:
        rules.require(
            -len(x.shape) <= axis < len(x.shape),
            f"{name}: axis {axis} is out of range for rank {len(x.shape)}",
        )
        for t in tensors:
            rules.require(
                t.volume() in (1, x.shape[axis]),
                f"{name}: a per-axis scale / zero point needs {x.shape[axis]} values (axis {axis}), got {t.volume()}",
            )
    slots = [isinstance(p, Tensor) for p in params]
    low_high = _RANGES.get(dtype)

    def compute(v: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        it = iter(values)
        args = [_param(next(it) if s else p, v, axis) for s, p in zip(slots, params, strict=True)]
        out = fn(v.double() if not v.is_floating_point() else v.float(), *args)
        return out.clamp(*low_high) if low_high else out

    mc = memory_config or x.memory_config()
    result = device_op(name, [x, *tensors], compute, dtype=dtype, layout=x.layout, memory_config=mc)
    return into_output(result, output_tensor)


def quantize(
    input_tensor: Tensor,
    scale: Tensor | float,
    zero_point: Tensor | int,
    *,
    axis: int | None = None,
    dtype: DataType | None = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """round(x / scale + zero_point)."""
    fn = lambda v, s, z: torch.round(v / s + z)  # noqa: E731
    out = dtype or DataType.INT32
    return _affine("quantize", input_tensor, (scale, zero_point), fn, axis, out, memory_config, output_tensor)


def dequantize(
    input_tensor: Tensor,
    scale: Tensor | float,
    zero_point: Tensor | int,
    *,
    axis: int | None = None,
    dtype: DataType | None = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """(q - zero_point) * scale."""
    fn = lambda v, s, z: (v - z) * s  # noqa: E731
    out = dtype or DataType.BFLOAT16
    return _affine(
        "dequantize", input_tensor, (scale, zero_point), fn, axis, out, memory_config, output_tensor
    )


def requantize(
    input_tensor: Tensor,
    in_scale: Tensor | float,
    in_zero_point: Tensor | int,
    out_scale: Tensor | float,
    out_zero_point: Tensor | int,
    *,
    axis: int | None = None,
    dtype: DataType | None = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """round((q - in_zero_point) * in_scale / out_scale + out_zero_point)."""
    fn = lambda v, si, zi, so, zo: torch.round((v - zi) * (si / so) + zo)  # noqa: E731
    params = (in_scale, in_zero_point, out_scale, out_zero_point)
    out = dtype or DataType.INT32
    return _affine("requantize", input_tensor, params, fn, axis, out, memory_config, output_tensor)


def _golden(fn: Any, count: int, default: torch.dtype) -> Any:
    def golden(
        x: torch.Tensor, *args: Any, axis: int | None = None, dtype: Any = None, **_: Any
    ) -> torch.Tensor:
        params = [_param(a, x, axis) for a in args[:count]]
        return fn(x.double(), *params).to(default)

    return golden


attach_golden_function(quantize, _golden(lambda v, s, z: torch.round(v / s + z), 2, torch.int32))
attach_golden_function(dequantize, _golden(lambda v, s, z: (v - z) * s, 2, torch.bfloat16))
attach_golden_function(
    requantize, _golden(lambda v, si, zi, so, zo: torch.round((v - zi) * (si / so) + zo), 4, torch.int32)
)
