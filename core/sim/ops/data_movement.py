"""ttnn data-movement ops on the simulator: reshape, permute, transpose, concat, slice, pad, repeat, expand,
squeeze / unsqueeze, split / chunk, tilize / untilize, and the `Tensor.__getitem__` helper.

Values move exactly; the output is re-rounded to its dtype by `device_op` like every device op (which only
matters for block floats, whose shared exponents are recomputed when a tile is repacked on device).
Keywords follow the nanobind signatures under ttnn/cpp/ttnn/operations/data_movement/*/*_nanobind.cpp.
Ops that ttnn also runs on host tensors (reshape, slice, pad, permute, ...) keep host tensors on host.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import rules
from ..numerics import formats
from ..tensor import Tensor, device_op, read_values
from ..types import DataType, Layout, MemoryConfig, StorageType
from .kv_cache import fill_cache, update_cache

__all__ = [
    "chunk",
    "concat",
    "expand",
    "fill_cache",
    "pad",
    "permute",
    "repeat",
    "repeat_interleave",
    "reshape",
    "slice",
    "split",
    "squeeze",
    "tilize",
    "transpose",
    "unsqueeze",
    "untilize",
    "update_cache",
]


def _apply(
    name: str,
    tensor: Tensor,
    fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    memory_config: MemoryConfig | None = None,
    layout: Layout | None = None,
    dtype: DataType | None = None,
) -> Tensor:
    """Run a single-input data-movement op on host values (host tensor) or as a device op."""
    layout = tensor.layout if layout is None else layout
    dtype = tensor.dtype if dtype is None else dtype
    if tensor.storage_type() == StorageType.HOST:
        rules.check_dtype_layout(dtype, layout)
        return Tensor([formats.quantize(fn(v), dtype) for v in read_values(tensor, name)], dtype, layout)
    mc = memory_config or tensor.memory_config()
    return device_op(name, [tensor], fn, dtype=dtype, layout=layout, memory_config=mc)


def _dim(dim: int, rank: int, op: str) -> int:
    rules.require(-rank <= dim < rank, f"{op}: dimension {dim} is out of range for a tensor of rank {rank}")
    return dim % rank


# -- reshape family ------------------------------------------------------------------------------------


def _infer_shape(volume: int, shape: Sequence[int]) -> list[int]:
    # ttnn/cpp/ttnn/tensor/tensor_utils.cpp (infer_dims_for_reshape): at most one -1, volumes must match.
    dims = [int(d) for d in shape]
    rules.require(dims.count(-1) <= 1, "Shape cannot have more than 1 elements that is set to -1!")
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        rules.require(known != 0 and volume % known == 0, "Invalid arguments to reshape")
        dims[dims.index(-1)] = volume // known
    rules.require(math.prod(dims) == volume, "Invalid arguments to reshape")
    return dims


def reshape(
    input_tensor: Tensor,
    shape: Sequence[int],
    padded_shape: Sequence[int] | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    pad_value: float | None = None,
    reshape_tile_mode: Any = None,
    sub_core_grids: Any = None,
    skip_padding_fill: bool = False,
) -> Tensor:
    """ttnn.reshape: same values in row-major order, same layout and dtype. The (shape, padded_shape)
    overload gives the padded shape too: the simulator derives padding from the layout, so it only checks that
    the padded shape has the same rank and covers the logical one."""
    dims = _infer_shape(input_tensor.volume(), shape)
    if padded_shape is not None:
        padded = list(padded_shape)
        rules.require(
            len(padded) == len(dims) and all(p >= d for p, d in zip(padded, dims, strict=True)),
            f"reshape: padded shape {padded} does not cover logical shape {dims}",
        )
    return _apply("reshape", input_tensor, lambda v: v.reshape(dims), memory_config=memory_config)


def squeeze(input_tensor: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """ttnn.squeeze: drops size-1 dims (all, one, or a list), like torch.squeeze."""
    rank = len(input_tensor.shape)
    if dim is None:
        dims = [d for d in input_tensor.shape if d != 1]
    else:
        drop = {_dim(d, rank, "squeeze") for d in ([dim] if isinstance(dim, int) else dim)}
        dims = [d for i, d in enumerate(input_tensor.shape) if not (i in drop and d == 1)]
    return reshape(input_tensor, dims)


def unsqueeze(input_tensor: Tensor, dim: int) -> Tensor:
    """ttnn.unsqueeze: inserts a size-1 dim at `dim` (negative counts from the new rank)."""
    dims = list(input_tensor.shape)
    dims.insert(_dim(dim, len(dims) + 1, "unsqueeze"), 1)
    return reshape(input_tensor, dims)


# -- permutations -------------------------------------------------------------------------------------


def permute(
    input_tensor: Tensor,
    dims: Sequence[int],
    *,
    memory_config: MemoryConfig | None = None,
    pad_value: float = 0.0,
) -> Tensor:
    """ttnn.permute (ttnn/cpp/ttnn/operations/data_movement/permute/permute.cpp)."""
    rank = len(input_tensor.shape)
    rules.require(
        len(dims) == rank,
        "The number of dimensions in the tensor input does not match the length of the desired ordering",
    )
    # permute.cpp (probed on 0.81.1): host tensors are refused.
    rules.require(input_tensor.storage_type() == StorageType.DEVICE, "Tensor must already be on device")
    order = [_dim(d, rank, "permute") for d in dims]
    rules.require(
        sorted(order) == list(range(rank)), f"permute: {list(dims)} is not a permutation of the dims"
    )
    return _apply(
        "permute", input_tensor, lambda v: v.permute(order).contiguous(), memory_config=memory_config
    )


def transpose(
    input_tensor: Tensor,
    dim1: int,
    dim2: int,
    *,
    memory_config: MemoryConfig | None = None,
    pad_value: float = 0.0,
) -> Tensor:
    """ttnn.transpose of two dims."""
    # Probed on 0.81.1: host tensors are refused.
    rules.require(
        input_tensor.storage_type() == StorageType.DEVICE, "Device Operations expect device tensors as inputs"
    )
    rank = len(input_tensor.shape)
    a, b = _dim(dim1, rank, "transpose"), _dim(dim2, rank, "transpose")
    return _apply(
        "transpose", input_tensor, lambda v: v.transpose(a, b).contiguous(), memory_config=memory_config
    )


# -- concat / split -----------------------------------------------------------------------------------


def concat(
    tensors: Sequence[Tensor],
    dim: int = 0,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    groups: int = 1,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.concat; checks of concat_device_operation.cpp (layouts, dtypes, ranks, non-concat dims)."""
    rules.require(len(tensors) > 0, "need 1 or more tensors")
    first = tensors[0]
    rank = len(first.shape)
    rules.require(
        -rank <= dim < rank, "ConcatDeviceOperation dim specified is larger than input tensor rank."
    )
    d = dim % rank
    for t in tensors:
        rules.require(t.layout == first.layout, "All Tensors should have same layouts.")
        rules.require(t.dtype == first.dtype, "All Tensors should have same dtypes.")
        rules.require(len(t.shape) == rank, "Input tensor ranks must be equal")
        rules.require(
            all(a == b for i, (a, b) in enumerate(zip(t.shape, first.shape, strict=True)) if i != d),
            "concat tensors differ in shape across non-concat dimensions.",
        )
    mc = memory_config or (first.memory_config() if first.storage_type() == StorageType.DEVICE else None)
    return device_op(
        "concat",
        list(tensors),
        lambda *values: torch.cat(values, dim=d),
        dtype=first.dtype,
        layout=first.layout,
        memory_config=mc,
        output_shapes=lambda *shapes: (*shapes[0][:d], sum(sh[d] for sh in shapes), *shapes[0][d + 1 :]),
    )


def _split_sizes(size: int, split_size: int | Sequence[int], op: str) -> list[int]:
    if isinstance(split_size, int):
        rules.require(split_size > 0, f"{op}: split size must be positive, got {split_size}")
        return [min(split_size, size - s) for s in range(0, size, split_size)]
    sizes = [int(s) for s in split_size]
    rules.require(sum(sizes) == size, f"{op}: split sizes {sizes} do not add up to the dimension size {size}")
    return sizes


def _split(
    name: str, tensor: Tensor, sizes: list[int], d: int, memory_config: MemoryConfig | None
) -> list[Tensor]:
    if len(sizes) == 1:
        return [_apply(name, tensor, lambda v: v.clone(), memory_config=memory_config)]
    mc = memory_config or tensor.memory_config()
    outs = device_op(
        name,
        [tensor],
        lambda v: tuple(p.contiguous() for p in torch.split(v, sizes, dim=d)),
        dtype=tensor.dtype,
        layout=tensor.layout,
        memory_config=mc,
    )
    return list(outs)


def split(
    input_tensor: Tensor,
    split_size: int | Sequence[int],
    dim: int = 0,
    *,
    memory_config: MemoryConfig | None = None,
) -> list[Tensor]:
    """ttnn.split, torch semantics: pieces of `split_size` (the last may be smaller) or explicit sizes."""
    d = _dim(dim, len(input_tensor.shape), "split")
    sizes = _split_sizes(input_tensor.shape[d], split_size, "split")
    return _split("split", input_tensor, sizes, d, memory_config)


def chunk(input_tensor: Tensor, chunks: int, dim: int) -> list[Tensor]:
    """ttnn.chunk, torch semantics: ceil(size / chunks) per piece (chunk_nanobind.cpp: dim is required)."""
    rules.require(chunks > 0, f"chunk: number of chunks must be positive, got {chunks}")
    d = _dim(dim, len(input_tensor.shape), "chunk")
    size = input_tensor.shape[d]
    sizes = _split_sizes(size, max(1, math.ceil(size / chunks)), "chunk")
    return _split("chunk", input_tensor, sizes, d, None)


# -- slice / getitem ----------------------------------------------------------------------------------


def _slice_bounds(
    shape: Sequence[int], starts: Sequence[int], ends: Sequence[int], steps: Sequence[int]
) -> list[builtins.slice]:
    rank = len(shape)
    rules.require(
        len(starts) == rank and len(ends) == rank and len(steps) == rank,
        f"slice: start, end and step must each have {rank} entries (the input rank), got "
        f"{len(starts)}, {len(ends)}, {len(steps)}",
    )
    out = []
    for size, s, e, st in zip(shape, starts, ends, steps, strict=True):
        rules.require(st > 0, f"slice: step must be positive, got {st}")
        s = s + size if s < 0 else s
        e = e + size if e < 0 else e
        s, e = max(0, min(s, size)), max(0, min(e, size))
        rules.require(s <= e, f"slice: start {s} must not exceed end {e}")
        out.append(builtins.slice(s, e, st))
    return out


def slice(
    input_tensor: Tensor,
    slice_start: Sequence[int],
    slice_end: Sequence[int],
    slice_step: Sequence[int] | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    pad_value: float | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.slice: python-style start/end/step per dim (negative indices count from the end)."""
    steps = list(slice_step) if slice_step is not None else [1] * len(slice_end)
    index = tuple(_slice_bounds(input_tensor.shape, list(slice_start), list(slice_end), steps))
    return _apply("slice", input_tensor, lambda v: v[index].contiguous(), memory_config=memory_config)


def getitem(tensor: Tensor, key: Any) -> Tensor:
    """Tensor.__getitem__ as ttnn/ttnn/operations/core.py does it: ttnn.slice, then squeeze the dims indexed
    by an integer. Host tensors cannot use a non-unit step."""
    shape = list(tensor.shape)
    rank = len(shape)
    items = list(key) if isinstance(key, tuple) else [key]
    if any(k is Ellipsis for k in items):
        rules.require(items.count(Ellipsis) == 1, "Only one ellipsis ('...') is allowed in a slice.")
        at = items.index(Ellipsis)
        items[at : at + 1] = [builtins.slice(None)] * (rank - len(items) + 1)
    if len(items) > rank:
        raise IndexError(f"Too many indices for tensor of dimension {rank}")
    items += [builtins.slice(None)] * (rank - len(items))
    starts, ends, steps, squeezed = [], [], [], []
    for d, k in enumerate(items):
        if isinstance(k, int):
            idx = k + shape[d] if k < 0 else k
            if not 0 <= idx < shape[d]:
                raise IndexError(
                    f"Index {k} (converted to {idx}) is out of bounds for dimension {d} of size {shape[d]}"
                )
            starts.append(idx)
            ends.append(idx + 1)
            steps.append(1)
            squeezed.append(d)
        elif isinstance(k, builtins.slice):
            starts.append(0 if k.start is None else k.start)
            ends.append(shape[d] if k.stop is None else k.stop)
            steps.append(1 if k.step is None else k.step)
        else:
            raise TypeError(f"Invalid slice type: {k}")
    if tensor.storage_type() == StorageType.HOST and any(s != 1 for s in steps):
        raise RuntimeError("Host tensors cannot be accessed with non-unit stride")
    out = slice(tensor, starts, ends, steps)
    return squeeze(out, squeezed) if squeezed else out


# -- pad / repeat / expand ----------------------------------------------------------------------------


def pad(
    input_tensor: Tensor,
    padding: Sequence[Sequence[int]],
    value: float,
    *,
    use_multicore: bool = True,
    memory_config: MemoryConfig | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.pad: `padding` lists (before, after) per dim from dim 0; a shorter list pads the trailing dims.
    Rank > 4 tensors may only pad their lower 3 dims (pad_nanobind.cpp doc)."""
    rank = len(input_tensor.shape)
    pairs = [tuple(int(x) for x in p) for p in padding]
    rules.require(len(pairs) <= rank, "ttnn.pad: padding len can't be larger than input tensor rank")
    pairs = [(0, 0)] * (rank - len(pairs)) + pairs
    rules.require(all(b >= 0 and a >= 0 for b, a in pairs), "ttnn.pad: padding must be non-negative")
    if rank > 4:
        rules.require(
            all(p == (0, 0) for p in pairs[: rank - 3]),
            "ttnn.pad: tensors with rank > 4 can only be padded in the lower 3 dimensions",
        )
    flat = [x for b, a in reversed(pairs) for x in (b, a)]  # torch.nn.functional.pad order: last dim first

    def compute(v: torch.Tensor) -> torch.Tensor:
        if not v.is_floating_point():
            return torch.nn.functional.pad(v, flat, value=int(value))
        return torch.nn.functional.pad(v, flat, value=float(value))

    return _apply("pad", input_tensor, compute, memory_config=memory_config)


def repeat(
    input_tensor: Tensor,
    repeat_dims: Sequence[int],
    *,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.repeat: torch.Tensor.repeat semantics (a longer vector adds leading dims)."""
    reps = [int(r) for r in repeat_dims]
    rules.require(
        len(reps) >= len(input_tensor.shape),
        "ttnn.repeat: repetition vector must have at least as many entries as the input rank",
    )
    rules.require(all(r > 0 for r in reps), "ttnn.repeat: repetition vector entries must be positive")
    return _apply("repeat", input_tensor, lambda v: v.repeat(*reps), memory_config=memory_config)


def repeat_interleave(
    input_tensor: Tensor,
    repeats: int,
    dim: int,
    *,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.repeat_interleave with an integer repeat count."""
    d = _dim(dim, len(input_tensor.shape), "repeat_interleave")
    return _apply(
        "repeat_interleave",
        input_tensor,
        lambda v: torch.repeat_interleave(v, int(repeats), dim=d),
        memory_config=memory_config,
    )


def expand(
    input_tensor: Tensor, output_shape: Sequence[int], *, memory_config: MemoryConfig | None = None
) -> Tensor:
    """ttnn.expand: broadcast size-1 dims (torch.Tensor.expand; -1 keeps a dim)."""
    shape = list(input_tensor.shape)
    target = [int(s) for s in output_shape]
    rules.require(len(target) >= len(shape), "ttnn.expand: output shape rank must be >= input rank")
    aligned = [1] * (len(target) - len(shape)) + shape
    final = [a if t == -1 else t for a, t in zip(aligned, target, strict=True)]
    rules.require(
        all(a in (1, t) for a, t in zip(aligned, final, strict=True)),
        f"ttnn.expand: cannot expand shape {shape} to {target}: only size-1 dims can be expanded",
    )
    return _apply(
        "expand",
        input_tensor,
        lambda v: v.reshape(aligned).expand(final).contiguous(),
        memory_config=memory_config,
    )


# -- layout conversions -------------------------------------------------------------------------------


def tilize(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    use_multicore: bool = True,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.tilize: ROW_MAJOR -> TILE; the last two dims must already be tile multiples (tilize_op.cpp)."""
    rules.require(input_tensor.layout == Layout.ROW_MAJOR, "Can only tilize row major data")
    shape = input_tensor.shape
    rules.require(
        len(shape) >= 2 and shape[-1] % 32 == 0 and shape[-2] % 32 == 0,
        "Input tensor shape must be tile aligned for tilize (use tilize_with_val_padding otherwise)",
    )
    return _apply(
        "tilize", input_tensor, lambda v: v, memory_config=memory_config, layout=Layout.TILE, dtype=dtype
    )


def untilize(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    use_multicore: bool = True,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.untilize: TILE -> ROW_MAJOR; block floats come out as bfloat16 (they exist only as tiles)."""
    rules.require(input_tensor.layout == Layout.TILE, "Can only untilize tile major data")
    dtype = input_tensor.dtype
    if dtype in formats.BLOCK_FLOAT_DTYPES:
        dtype = DataType.BFLOAT16
    return _apply(
        "untilize",
        input_tensor,
        lambda v: v,
        memory_config=memory_config,
        layout=Layout.ROW_MAJOR,
        dtype=dtype,
    )
