"""Reductions (sum, mean, max, min, argmax) and cumsum on the simulator.

Values are reduced in float32 (float64 for integer tensors) and rounded once to the output dtype; the
device's reduce-tile fidelity and Dst rounding of partial sums are not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import DRAM_MEMORY_CONFIG, DataType, Layout, MemoryConfig
from .eltwise import into_output

__all__ = ["argmax", "cumsum", "max", "mean", "min", "sum"]


def _dims(dim: int | Sequence[int] | None, rank: int) -> list[int]:
    if dim is None:
        return list(range(rank))
    dims = [dim] if isinstance(dim, int) else list(dim)
    for d in dims:
        rules.check_reduce_dim(d, rank)
    return sorted({d % rank for d in dims})


def _reduce(
    name: str,
    fn: Callable[[torch.Tensor, list[int]], torch.Tensor],
    x: Tensor,
    dim: int | Sequence[int] | None,
    keepdim: bool,
    memory_config: MemoryConfig | None,
    scalar: float = 1.0,
    output_layout: Layout | None = None,
) -> Tensor:
    rules.require_same_device(name, [x])
    dims = _dims(dim, len(x.shape))

    def compute(v: torch.Tensor) -> torch.Tensor:
        v = v if v.is_floating_point() else v.to(torch.float64)
        out = fn(v, dims)  # keeps the reduced dims
        out = out * scalar if scalar != 1.0 else out
        return out if keepdim else out.reshape([s for i, s in enumerate(out.shape) if i not in dims])

    mc = memory_config or x.memory_config()
    layout = output_layout or x.layout
    return device_op(name, [x], compute, dtype=x.dtype, layout=layout, memory_config=mc)


def _reduction_op(name: str, fn: Callable[[torch.Tensor, list[int]], torch.Tensor], doc: str) -> Callable:
    # reduction_nanobind.cpp (0.81.1): `correction` is std / var's; sum and mean also take output_layout.
    def op(
        input_tensor: Tensor,
        dim: int | Sequence[int] | None = None,
        keepdim: bool = False,
        *,
        memory_config: MemoryConfig | None = None,
        compute_kernel_config: Any = None,
        scalar: float = 1.0,
        correction: bool | None = None,
        sub_core_grids: Any = None,
        fast_and_approximate_mode: bool = False,
        output_layout: Layout | None = None,
    ) -> Tensor:
        return _reduce(name, fn, input_tensor, dim, keepdim, memory_config, scalar, output_layout)

    if name not in ("sum", "mean"):  # only they take output_layout
        full = op

        def op(  # type: ignore[no-redef]
            input_tensor: Tensor,
            dim: int | Sequence[int] | None = None,
            keepdim: bool = False,
            *,
            memory_config: MemoryConfig | None = None,
            compute_kernel_config: Any = None,
            scalar: float = 1.0,
            correction: bool | None = None,
            sub_core_grids: Any = None,
            fast_and_approximate_mode: bool = False,
        ) -> Tensor:
            return full(input_tensor, dim, keepdim, memory_config=memory_config, scalar=scalar)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


sum = _reduction_op("sum", lambda v, d: v.sum(dim=d, keepdim=True), "ttnn.sum over `dim` (all dims if None).")
mean = _reduction_op("mean", lambda v, d: v.mean(dim=d, keepdim=True), "ttnn.mean over `dim`.")
max = _reduction_op("max", lambda v, d: v.amax(dim=d, keepdim=True), "ttnn.max over `dim`.")
min = _reduction_op("min", lambda v, d: v.amin(dim=d, keepdim=True), "ttnn.min over `dim`.")


def argmax(
    input_tensor: Tensor,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    sub_core_grids: Any = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    enable_secondary_dm: bool | None = None,
) -> Tensor:
    """ttnn.argmax: uint32 index of the (first) maximum along `dim`, or over the flattened tensor."""
    rules.require_same_device("argmax", [input_tensor])
    rules.check_row_major_input(input_tensor.layout)
    rank = len(input_tensor.shape)
    if dim is not None:
        rules.check_reduce_dim(dim, rank)

    def compute(v: torch.Tensor) -> torch.Tensor:
        if dim is None:
            idx = torch.argmax(v.reshape(-1))
            return idx.reshape([1] * rank) if keepdim else idx
        return torch.argmax(v, dim=dim, keepdim=keepdim)

    mc = memory_config or input_tensor.memory_config()
    result = device_op(
        "argmax", [input_tensor], compute, dtype=DataType.UINT32, layout=Layout.ROW_MAJOR, memory_config=mc
    )
    return into_output(result, output_tensor)


def cumsum(
    input: Tensor,
    dim: int,
    *,
    dtype: DataType | None = None,
    reverse_order: bool = False,
    out: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    disable_compensated_sum: bool = False,
) -> Tensor:
    """ttnn.cumsum along `dim` (from the end when reverse_order)."""
    return _scan("cumsum", torch.cumsum, input, dim, dtype, reverse_order, out, memory_config)


def _scan(
    name: str,
    fn: Callable[..., torch.Tensor],
    x: Tensor,
    dim: int,
    dtype: DataType | None,
    reverse_order: bool,
    out: Tensor | None,
    memory_config: MemoryConfig | None,
) -> Tensor:
    """cumsum / cumprod: the running `fn` along `dim` (integers in float64), from the end when reverse_order."""
    rules.require_same_device(name, [x])
    rules.check_reduce_dim(dim, len(x.shape))

    def compute(v: torch.Tensor) -> torch.Tensor:
        v = v if v.is_floating_point() else v.to(torch.float64)
        if reverse_order:
            return torch.flip(fn(torch.flip(v, [dim]), dim=dim), [dim])
        return fn(v, dim=dim)

    mc = memory_config or x.memory_config()
    result = device_op(name, [x], compute, dtype=dtype or x.dtype, layout=x.layout, memory_config=mc)
    return into_output(result, out)


def _moment(name: str, take_sqrt: bool) -> Callable:
    # reduction_nanobind.cpp: correction=True is Bessel's (N - 1) correction, False the population moment.
    def op(
        input_tensor: Tensor,
        dim: int | Sequence[int] | None = None,
        keepdim: bool = False,
        *,
        memory_config: MemoryConfig | None = None,
        compute_kernel_config: Any = None,
        scalar: float = 1.0,
        correction: bool = True,
        sub_core_grids: Any = None,
    ) -> Tensor:
        def fn(v: torch.Tensor, d: list[int]) -> torch.Tensor:
            out = v.var(dim=d, keepdim=True, correction=1 if correction else 0)
            return out.sqrt() if take_sqrt else out

        return _reduce(name, fn, input_tensor, dim, keepdim, memory_config, scalar)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"ttnn.{name} over `dim` (Bessel-corrected unless correction=False)."
    return op


std = _moment("std", True)
var = _moment("var", False)


def prod(
    input_tensor: Tensor,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.prod: product over `dim`, or of every element when dim is None."""

    def fn(v: torch.Tensor, d: list[int]) -> torch.Tensor:
        out = v
        for axis in d:
            out = out.prod(dim=axis, keepdim=True)
        return out

    return _reduce("prod", fn, input_tensor, dim, keepdim, memory_config)


def cumprod(
    input_tensor: Tensor,
    dim: int,
    *,
    dtype: DataType | None = None,
    reverse_order: bool = False,
    out: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.cumprod along `dim` (from the end when reverse_order)."""
    return _scan("cumprod", torch.cumprod, input_tensor, dim, dtype, reverse_order, out, memory_config)


def topk(
    input_tensor: Tensor,
    k: int = 32,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,
    *,
    memory_config: MemoryConfig | None = None,
    sub_core_grids: Any = None,
    indices_tensor: Tensor | None = None,
    output_tensor: Any = None,
    stable: bool = False,
) -> list[Tensor]:
    """ttnn.topk: the k largest (or smallest) values along `dim` and their uint16 indices (topk.cpp returns
    values in the input's dtype and layout, indices as UINT16)."""
    rules.require_same_device("topk", [input_tensor])
    rank = len(input_tensor.shape)
    rules.check_reduce_dim(dim, rank)
    size = input_tensor.shape[dim]
    rules.require(0 < k <= size, f"topk: k ({k}) must be in [1, {size}] (the size of dim {dim})")

    def compute(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, indices = torch.topk(v, k, dim=dim, largest=largest, sorted=True)
        return values, indices

    mc = memory_config or input_tensor.memory_config()
    values, indices = device_op(
        "topk", [input_tensor], compute, dtype=[input_tensor.dtype, DataType.UINT16],
        layout=[input_tensor.layout, input_tensor.layout], memory_config=mc,
    )  # fmt: skip
    return [values, indices]


__all__ += ["cumprod", "prod", "std", "topk", "var"]


def fast_reduce_nc(
    input: Tensor,
    *,
    dims: Sequence[int] = (),
    output: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.experimental.fast_reduce_nc: sum over the outer dims 0 and / or 1, keeping them as size 1, TILE,
    the input's dtype (experimental/reduction/fast_reduce_nc/device/fast_reduce_nc_device_operation.cpp)."""
    rules.require(input.dtype in (DataType.BFLOAT16, DataType.BFLOAT8_B), "FastReduceNC: input dtype must be bfloat16 or bfloat8_b")
    rank = len(input.shape)
    rules.require(len(dims) > 0, "fast_reduce_nc: dims must name at least one of the dims 0 and 1")
    for dim in dims:
        rules.require(0 <= dim <= 6, "dim must be between 0 and 6.")
        rules.require(dim < rank, f"dim must be smaller than input tensor rank {rank}.")
    reduced = sorted(set(dims))

    def compute(v: torch.Tensor) -> torch.Tensor:
        return v.sum(dim=reduced, keepdim=True)

    result = device_op(
        "fast_reduce_nc",
        [input],
        compute,
        dtype=input.dtype,
        layout=Layout.TILE,
        memory_config=memory_config or DRAM_MEMORY_CONFIG,
    )
    return into_output(result, output)
