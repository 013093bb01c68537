"""tt_lib.fallback_ops: torch ops applied to ttnn tensors on the host (tt_lib/fallback_ops/fallback_ops.py and
conversion_wrapper.py of the ttnn wheel).

The wheel's wrapper reads every ttnn.Tensor argument back to the host (ROW_MAJOR, bfloat16 widened to float32,
uint16 / uint32 narrowed to int16 / int32), runs the torch function, and turns torch results into ttnn tensors
again: padded to rank 4 with leading ones, float32 rounded to bfloat16, TILE when the last two dims are tile
multiples (unless `output_layout=ROW_MAJOR_LAYOUT`), and put on the device of the first device tensor argument
(unless `output_on_device=False`). torch tensors may be passed too; they go through the same conversion.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from ..ops import core as ttnn_core
from ..tensor import Tensor
from ..types import DataType, Layout, StorageType

__all__ = [
    "binary_bitwise_and",
    "binary_bitwise_left_shift",
    "binary_bitwise_or",
    "binary_bitwise_right_shift",
    "binary_bitwise_xor",
    "binary_fmod",
    "bitwise_not",
    "ceil",
    "chunk",
    "concat",
    "conv2d",
    "floor",
    "full",
    "group_norm",
    "interpolate",
    "layer_norm",
    "pad",
    "permute",
    "repeat",
    "repeat_interleave",
    "reshape",
    "silu",
    "softmax",
    "tensor_slice",
    "torch_argmax",
    "torch_argmin",
    "trunc",
    "unary_bitwise_and",
    "unary_bitwise_left_shift",
    "unary_bitwise_or",
    "unary_bitwise_right_shift",
    "unary_bitwise_xor",
    "unary_fmod",
]

_NARROW = {torch.bfloat16: torch.float32, torch.uint16: torch.int16, torch.uint32: torch.int32}


def _to_torch(value: Any, fmt: dict[str, Any]) -> Any:
    if isinstance(value, Tensor):
        if value.storage_type() == StorageType.DEVICE and fmt["on_device"] and fmt.get("device") is None:
            fmt["device"] = value.device()
        host = ttnn_core.to_layout(ttnn_core.from_device(value), Layout.ROW_MAJOR)
        result = ttnn_core.to_torch(host)
        return result.to(_NARROW.get(result.dtype, result.dtype))
    if isinstance(value, dict):
        return {k: _to_torch(v, fmt) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_torch(v, fmt) for v in value]
    return value


def _to_ttnn(value: Any, fmt: dict[str, Any]) -> Any:
    if isinstance(value, torch.Tensor):
        shape = list(value.shape)
        value = value.reshape([1] * (4 - len(shape)) + shape)
        if value.dtype == torch.float32:
            value = value.to(torch.bfloat16)
        tile = fmt["layout"] == Layout.TILE and value.shape[2] % 32 == 0 and value.shape[3] % 32 == 0
        layout = Layout.TILE if tile else Layout.ROW_MAJOR
        out = ttnn_core.from_torch(
            value, dtype=DataType.BFLOAT16 if value.is_floating_point() else None, layout=layout
        )
        if fmt["on_device"]:
            device = fmt.get("device")
            if device is None:
                raise RuntimeError(
                    "tt_lib.fallback_ops: output_on_device=True but no argument is a device tensor to take the "
                    "device from"
                )
            if layout == Layout.TILE or value.shape[3] % 2 == 0:
                out = ttnn_core.to_device(out, device)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_ttnn(v, fmt) for v in value]
    return value


def _fallback(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run `fn` (written on torch tensors) on ttnn tensors, converting as the wheel's wrapper does."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        fmt = {
            "on_device": kwargs.get("output_on_device", True),
            "layout": kwargs.get("output_layout", Layout.TILE),
        }
        torch_args = _to_torch(list(args), fmt)
        torch_kwargs = _to_torch(kwargs, fmt)
        return _to_ttnn(fn(*torch_args, **torch_kwargs), fmt)

    return wrapped


@_fallback
def full(size: list[int], fill_value: float, **kw: Any) -> torch.Tensor:
    return torch.full(size, fill_value, dtype=torch.float32)


@_fallback
def tensor_slice(input: torch.Tensor, slices: list[Any], **kw: Any) -> torch.Tensor:
    return input[tuple(slices)]


@_fallback
def reshape(input: torch.Tensor, N: int, C: int, H: int, W: int, **kw: Any) -> torch.Tensor:  # noqa: N803
    return input.reshape(N, C, H, W)


@_fallback
def permute(input: torch.Tensor, dims: list[int], **kw: Any) -> torch.Tensor:
    return input.permute(dims)


@_fallback
def chunk(input: torch.Tensor, chunks: int, dim: int = 0, **kw: Any) -> list[torch.Tensor]:
    return list(torch.chunk(input, chunks, dim))


@_fallback
def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1, **kw: Any) -> torch.Tensor:  # fmt: skip
    if bias is not None:
        bias = bias.reshape(-1)
    return torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups)


@_fallback
def group_norm(input: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5, **kw: Any) -> torch.Tensor:  # fmt: skip
    weight = weight.reshape(-1) if weight is not None else None
    bias = bias.reshape(-1) if bias is not None else None
    return torch.nn.functional.group_norm(input, num_groups, weight, bias, eps)


@_fallback
def layer_norm(input: torch.Tensor, normalized_shape: Any, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5, **kw: Any) -> torch.Tensor:  # fmt: skip
    shape = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
    weight = weight.reshape(shape) if weight is not None else None
    bias = bias.reshape(shape) if bias is not None else None
    return torch.nn.functional.layer_norm(input, shape, weight, bias, eps)


@_fallback
def pad(input: torch.Tensor, pad: Any, mode: str = "constant", value: float = 0.0, **kw: Any) -> torch.Tensor:
    return torch.nn.functional.pad(input, tuple(pad), mode, value)


@_fallback
def interpolate(input: torch.Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False, **kw: Any) -> torch.Tensor:  # fmt: skip
    return torch.nn.functional.interpolate(
        input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
    )


@_fallback
def repeat(input: torch.Tensor, sizes: list[int], **kw: Any) -> torch.Tensor:
    return input.repeat(sizes)


@_fallback
def repeat_interleave(input: torch.Tensor, repeats: Any, dim: int | None = None, *,
                      output_size: int | None = None, **kw: Any) -> torch.Tensor:  # fmt: skip
    return torch.repeat_interleave(input, repeats, dim, output_size=output_size)


@_fallback
def concat(tensors: list[torch.Tensor], dim: int = 0, **kw: Any) -> torch.Tensor:
    return torch.cat(tensors, dim)


@_fallback
def silu(input: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.nn.functional.silu(input)


@_fallback
def softmax(input: torch.Tensor, dim: int | None = None, **kw: Any) -> torch.Tensor:
    return torch.nn.functional.softmax(input, dim)


@_fallback
def ceil(input: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.ceil(input)


@_fallback
def floor(input: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.floor(input)


@_fallback
def trunc(input: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.trunc(input)


@_fallback
def unary_fmod(input: torch.Tensor, other: float, **kw: Any) -> torch.Tensor:
    return torch.fmod(input, other)


@_fallback
def binary_fmod(input: torch.Tensor, other: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.fmod(input, other)


@_fallback
def bitwise_not(input: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.bitwise_not(input)


@_fallback
def unary_bitwise_or(input: torch.Tensor, other: int, **kw: Any) -> torch.Tensor:
    return torch.bitwise_or(input, other)


@_fallback
def unary_bitwise_and(input: torch.Tensor, other: int, **kw: Any) -> torch.Tensor:
    return torch.bitwise_and(input, other)


@_fallback
def unary_bitwise_xor(input: torch.Tensor, other: int, **kw: Any) -> torch.Tensor:
    return torch.bitwise_xor(input, other)


@_fallback
def binary_bitwise_or(input: torch.Tensor, other: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.bitwise_or(input, other)


@_fallback
def binary_bitwise_and(input: torch.Tensor, other: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.bitwise_and(input, other)


@_fallback
def binary_bitwise_xor(input: torch.Tensor, other: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.bitwise_xor(input, other)


@_fallback
def unary_bitwise_right_shift(input: torch.Tensor, other: int, **kw: Any) -> torch.Tensor:
    return torch.bitwise_right_shift(input, other)


@_fallback
def unary_bitwise_left_shift(input: torch.Tensor, other: int, **kw: Any) -> torch.Tensor:
    return torch.bitwise_left_shift(input, other)


@_fallback
def binary_bitwise_right_shift(input: torch.Tensor, other: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.bitwise_right_shift(input, other)


@_fallback
def binary_bitwise_left_shift(input: torch.Tensor, other: torch.Tensor, **kw: Any) -> torch.Tensor:
    return torch.bitwise_left_shift(input, other)


@_fallback
def torch_argmax(
    input: torch.Tensor, dim: int | None = None, keepdim: bool = False, **kw: Any
) -> torch.Tensor:
    return torch.argmax(input, dim, keepdim)


@_fallback
def torch_argmin(input: torch.Tensor, dim: int, keepdim: bool, **kw: Any) -> torch.Tensor:
    return torch.argmin(input, dim, keepdim)
