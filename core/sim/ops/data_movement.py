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
from ..tensor import Tensor, device_op, padded_shape_of, read_values
from ..types import DataType, Layout, MemoryConfig, StorageType
from .eltwise import into_output
from .kv_cache import fill_cache, update_cache

__all__ = [
    "chunk",
    "concat",
    "expand",
    "fill_cache",
    "fill_implicit_tile_padding",
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
    "untilize_with_unpadding",
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
    moves_only: bool = True,
    output_shapes: Callable[..., Any] | None = None,
) -> Tensor:
    """Run a single-input data-movement op on host values (host tensor) or as a device op. `moves_only`: fn
    only rearranges values (no new ones, unlike pad's fill). `output_shapes`: as device_op takes it (ops that
    know their output's shape spare device_op the run on meta tensors)."""
    layout = tensor.layout if layout is None else layout
    dtype = tensor.dtype if dtype is None else dtype
    if tensor.storage_type() == StorageType.HOST:
        rules.check_dtype_layout(dtype, layout)
        return Tensor([formats.quantize(fn(v), dtype) for v in read_values(tensor, name)], dtype, layout)
    mc = memory_config or tensor.memory_config()
    exact = moves_only and dtype == tensor.dtype and dtype in _EXACT_MOVE_DTYPES
    return device_op(
        name,
        [tensor],
        fn,
        dtype=dtype,
        layout=layout,
        memory_config=mc,
        stored_inputs=exact,
        rounding=formats.HOST if exact else formats.PACKER,
        output_shapes=output_shapes,
    )


#: Dtypes whose stored values a same-dtype move keeps bit for bit: such a move runs on the stored values
#: (a slice widens only what it keeps) and nothing is re-rounded (HOST quantize of bfloat16 storage is exact).
_EXACT_MOVE_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32)


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
    shape: Sequence[int] | None = None,
    padded_shape: Sequence[int] | None = None,
    *,
    logical_shape: Sequence[int] | None = None,
    memory_config: MemoryConfig | None = None,
    pad_value: float | None = None,
    reshape_tile_mode: Any = None,
    sub_core_grids: Any = None,
    skip_padding_fill: bool = False,
) -> Tensor:
    """ttnn.reshape: same values in row-major order, same layout and dtype. The (shape, padded_shape)
    overload gives the padded shape too: the simulator derives padding from the layout, so it only checks that
    the padded shape has the same rank and covers the logical one."""
    shape = logical_shape if shape is None else shape
    rules.require(shape is not None, "reshape: missing the shape (or logical_shape) argument")
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


def grouped_concat(a: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """`a` and `b` split into `groups` channel groups, each group of `a` followed by that group of `b`."""
    lead = a.shape[:-1]
    ga = a.reshape(*lead, groups, a.shape[-1] // groups)
    gb = b.reshape(*lead, groups, b.shape[-1] // groups)
    return torch.cat([ga, gb], dim=-1).reshape(*lead, a.shape[-1] + b.shape[-1])


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
    if groups > 1:
        # ttnn/ttnn/operations/data_movement.py (concat's golden): with groups, two [N, H, W, C] tensors are
        # interleaved group by group along the channels (the UNet skip connections' layout).
        rules.require(len(tensors) == 2, f"concat: groups > 1 takes exactly 2 tensors, got {len(tensors)}")
        rules.require(d == rank - 1, f"concat: groups > 1 concatenates the last dim, got dim={dim}")
        for t in tensors:
            rules.require(
                t.shape[-1] % groups == 0,
                f"concat: channel count {t.shape[-1]} must be divisible by the number of groups {groups}",
            )
    mc = memory_config or (first.memory_config() if first.storage_type() == StorageType.DEVICE else None)
    return device_op(
        "concat",
        list(tensors),
        (lambda *values: grouped_concat(*values, groups))
        if groups > 1
        else (lambda *values: torch.cat(values, dim=d)),
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
    shape = tuple(len(range(i.start, i.stop, i.step)) for i in index)
    return _apply(
        "slice",
        input_tensor,
        lambda v: v[index].contiguous(),
        memory_config=memory_config,
        output_shapes=lambda *_: shape,
    )


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
    *args: Any,
    padding: Sequence[Sequence[int]] | None = None,
    output_padded_shape: Sequence[int] | None = None,
    input_tensor_start: Sequence[int] | None = None,
    value: float | None = None,
    use_multicore: bool = True,
    memory_config: MemoryConfig | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.pad, both overloads: pad(t, padding, value) with (before, after) per dim from dim 0 (a shorter
    list pads the trailing dims), or pad(t, output_padded_shape, input_tensor_start, value). Rank > 4
    tensors may only pad their lower 3 dims (pad_nanobind.cpp doc); a TILE tensor on device cannot be
    padded at the front (pad.cpp invoke_tile)."""
    rank = len(input_tensor.shape)
    if len(args) > 3:
        raise TypeError(f"pad() takes at most 4 positional arguments ({len(args) + 1} given)")
    # the (output_padded_shape, input_tensor_start[, value]) overload: a flat shape of ints first, or a second
    # positional that is a start list rather than the value (pad(t, shape, start, value=0) as tt-metal's tests call it)
    shape_first = (
        bool(args) and isinstance(args[0], (list, tuple)) and all(isinstance(x, int) for x in args[0])
    )
    if len(args) == 3 or output_padded_shape is not None or (len(args) == 2 and shape_first):
        names = ("output_padded_shape", "input_tensor_start", "value")
        given = {
            "output_padded_shape": output_padded_shape,
            "input_tensor_start": input_tensor_start,
            "value": value,
        }
        given.update(zip(names, args, strict=False))
        out_shape, value = list(given["output_padded_shape"]), given["value"]
        start = list(given["input_tensor_start"] if given["input_tensor_start"] is not None else [0] * rank)
        rules.require(
            len(out_shape) == rank and len(start) == rank,
            f"ttnn.pad: output_padded_shape {out_shape} and input_tensor_start {start} must have the input's rank "
            f"{rank}",
        )
        pairs = [(b, o - i - b) for o, i, b in zip(out_shape, input_tensor.shape, start, strict=True)]
    else:
        given = {"padding": padding, "value": value}
        given.update(zip(("padding", "value"), args, strict=False))
        padding, value = given["padding"], given["value"]
        rules.require(padding is not None, "ttnn.pad: missing the padding argument")
        pairs = [tuple(int(x) for x in p) for p in padding]
        rules.require(len(pairs) <= rank, "ttnn.pad: padding len can't be larger than input tensor rank")
        pairs = [(0, 0)] * (rank - len(pairs)) + pairs
    rules.require(value is not None, "ttnn.pad: missing the value argument")
    rules.require(all(b >= 0 and a >= 0 for b, a in pairs), "ttnn.pad: padding must be non-negative")
    if input_tensor.layout == Layout.TILE and input_tensor.storage_type() == StorageType.DEVICE:
        rules.require(
            all(b == 0 for b, _ in pairs), "ttnn.pad: on device tile padding does not support front padding"
        )
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

    return _apply("pad", input_tensor, compute, memory_config=memory_config, moves_only=False)


def repeat(
    input_tensor: Tensor,
    repeat_dims: Sequence[int],
    *,
    memory_config: MemoryConfig | None = None,
    optional_output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.repeat: torch.Tensor.repeat semantics (a longer vector adds leading dims)."""
    reps = [int(r) for r in repeat_dims]
    rules.require(
        len(reps) >= len(input_tensor.shape),
        "ttnn.repeat: repetition vector must have at least as many entries as the input rank",
    )
    rules.require(all(r > 0 for r in reps), "ttnn.repeat: repetition vector entries must be positive")
    return into_output(
        _apply("repeat", input_tensor, lambda v: v.repeat(*reps), memory_config=memory_config),
        optional_output_tensor,
    )


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
    tile: Any = None,
    use_low_perf: bool = False,
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


def untilize_with_unpadding(
    input_tensor: Tensor,
    output_tensor_end: Sequence[int],
    *,
    memory_config: MemoryConfig | None = None,
    use_multicore: bool = True,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.untilize_with_unpadding: TILE -> ROW_MAJOR keeping [0, end] (inclusive) of every dim
    (untilize_with_unpadding_op.cpp)."""
    rules.require(input_tensor.layout == Layout.TILE, "Can only untilize tile major data")
    shape = input_tensor.shape
    end = [int(e) for e in output_tensor_end]
    rules.require(
        len(end) == len(shape) and all(0 <= e < d for e, d in zip(end, shape, strict=True)),
        f"untilize_with_unpadding: output_tensor_end {end} must index inside the input shape {list(shape)}",
    )
    index = tuple(builtins.slice(0, e + 1) for e in end)
    dtype = DataType.BFLOAT16 if input_tensor.dtype in formats.BLOCK_FLOAT_DTYPES else input_tensor.dtype
    return _apply(
        "untilize_with_unpadding",
        input_tensor,
        lambda v: v[index].contiguous(),
        memory_config=memory_config,
        layout=Layout.ROW_MAJOR,
        dtype=dtype,
    )


def fill_implicit_tile_padding(
    input_tensor: Tensor, fill_value: float, *, memory_config: MemoryConfig | None = None
) -> Tensor:
    """ttnn.fill_implicit_tile_padding: a copy whose TILE padding holds fill_value. The simulator keeps
    padding as metadata (ops never read it), so the logical values are copied unchanged."""
    return _apply("fill_implicit_tile_padding", input_tensor, lambda v: v, memory_config=memory_config)


# -- more data movement (ttnn 0.81.1 names) ------------------------------------------------------------------


def stack(input_tensors: Sequence[Tensor], dim: int) -> Tensor:
    """ttnn.stack: unsqueeze every tensor at `dim`, then concat (stack.cpp does the same)."""
    rules.require(len(input_tensors) > 0, "stack: input_tensors must not be empty")
    shape = list(input_tensors[0].shape)
    for t in input_tensors[1:]:
        rules.require(
            list(t.shape) == shape,
            f"stack: all tensors must have the same shape, got {list(t.shape)} and {shape}",
        )
    d = _dim(dim, len(shape) + 1, "stack")
    return concat([unsqueeze(t, d) for t in input_tensors], d)


def roll(
    input_tensor: Tensor,
    shifts: int | Sequence[int],
    dim: int | Sequence[int] | None = None,
    *,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.roll: torch.roll semantics (no dim: the flattened tensor rolls)."""
    if isinstance(shifts, int) != (dim is None or isinstance(dim, int)):
        rules.require(
            not isinstance(shifts, int)
            and not isinstance(dim, int)
            and dim is not None
            and len(shifts) == len(dim),
            "roll: shifts and dim must both be ints or sequences of the same length",
        )
    return _apply("roll", input_tensor, lambda v: torch.roll(v, shifts, dim), memory_config=memory_config)


def narrow(input_tensor: Tensor, dim: int, start: int, length: int) -> Tensor:
    """ttnn.narrow: `length` entries of `dim` from `start` (a slice)."""
    rank = len(input_tensor.shape)
    d = _dim(dim, rank, "narrow")
    rules.require(
        0 <= start and start + length <= input_tensor.shape[d],
        f"narrow: start ({start}) + length ({length}) exceeds dimension size ({input_tensor.shape[d]})",
    )
    starts, ends = [0] * rank, list(input_tensor.shape)
    starts[d], ends[d] = start, start + length
    return slice(input_tensor, starts, ends)


def view(input_tensor: Tensor, shape: Sequence[int]) -> Tensor:
    """ttnn.view: a reshape that changes no memory; on device TILE tensors the last dim and the padded
    second-last dim must stay (view.cpp), so such a view is free."""
    dims = _infer_shape(input_tensor.volume(), shape)
    if input_tensor.layout == Layout.TILE and input_tensor.storage_type() == StorageType.DEVICE:
        old, new = input_tensor.padded_shape, padded_shape_of(dims, Layout.TILE)
        rules.require(
            old[-1] == new[-1] and old[-2] == new[-2],
            "Changing the last two dimensions of a TILE tensor is not supported by view; use ttnn.reshape",
        )
    return reshape(input_tensor, dims)


def gather(
    input: Tensor,
    dim: int,
    index: Tensor,
    *,
    sparse_grad: bool = False,
    memory_config: MemoryConfig | None = None,
    out: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.gather: torch.gather semantics; output shaped like `index`, in the input's dtype."""
    rules.require_same_device("gather", [input, index])
    rules.require(
        index.dtype in (DataType.UINT32, DataType.UINT16, DataType.INT32),
        f"gather: index tensor must be UINT32, UINT16 or INT32, got DataType::{index.dtype.name}",
    )
    d = _dim(dim, len(input.shape), "gather")
    mc = memory_config or input.memory_config()
    result = device_op(
        "gather", [input, index], lambda v, i: torch.gather(v, d, i.long()), dtype=input.dtype, layout=input.layout,
        memory_config=mc,
    )  # fmt: skip
    return into_output(result, out)


def scatter(
    input: Tensor,
    dim: int,
    index: Tensor,
    src: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    reduce: str | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.scatter: torch.scatter (reduce None, "add" / "sum", "multiply" / "prod", "amax", "amin")."""
    rules.require_same_device("scatter", [input, index, src])
    d = _dim(dim, len(input.shape), "scatter")
    modes = {
        None: None,
        "add": "sum",
        "sum": "sum",
        "multiply": "prod",
        "prod": "prod",
        "amax": "amax",
        "amin": "amin",
    }
    rules.require(reduce in modes, f"scatter: unsupported reduce {reduce!r}")

    def compute(v: torch.Tensor, i: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        if modes[reduce] is None:
            return torch.scatter(v, d, i.long(), s.to(v.dtype))
        return torch.scatter_reduce(v, d, i.long(), s.to(v.dtype), modes[reduce])

    mc = memory_config or input.memory_config()
    return device_op(
        "scatter", [input, index, src], compute, dtype=input.dtype, layout=input.layout, memory_config=mc
    )


def sort(
    input_tensor: Tensor,
    dim: int = -1,
    descending: bool = False,
    stable: bool = False,
    *,
    memory_config: MemoryConfig | None = None,
    out: Any = None,
) -> list[Tensor]:
    """ttnn.sort: sorted values and their uint16 indices along `dim`."""
    rules.require_same_device("sort", [input_tensor])
    d = _dim(dim, len(input_tensor.shape), "sort")

    def compute(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, indices = torch.sort(v, dim=d, descending=descending, stable=True)
        return values, indices

    mc = memory_config or input_tensor.memory_config()
    values, indices = device_op(
        "sort", [input_tensor], compute, dtype=[input_tensor.dtype, DataType.UINT16],
        layout=[input_tensor.layout, input_tensor.layout], memory_config=mc,
    )  # fmt: skip
    return [values, indices]


def tilize_with_val_padding(
    input_tensor: Tensor,
    output_tensor_shape: Sequence[int],
    pad_value: float,
    *,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    use_multicore: bool = True,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.tilize_with_val_padding: ROW_MAJOR -> TILE whose padded shape is output_tensor_shape (tile
    multiples) filled with pad_value; the logical shape stays the input's (the 0.81.1 golden's contract).
    The simulator keeps padding as metadata, so it models the tile-rounded padded shape only."""
    rules.require(input_tensor.layout == Layout.ROW_MAJOR, "Can only tilize row major data")
    target = [int(s) for s in output_tensor_shape]
    shape = list(input_tensor.shape)
    rules.require(
        len(target) == len(shape) and all(t >= s for t, s in zip(target, shape, strict=True)),
        f"tilize_with_val_padding: output shape {target} must be at least the input shape {shape} in every dim",
    )
    rules.require(target[-1] % 32 == 0 and target[-2] % 32 == 0, "Output shape must be tilizable")
    natural = list(padded_shape_of(shape, Layout.TILE))
    if target != natural:
        raise NotImplementedError(
            f"simulator: tilize_with_val_padding to padded shape {target} is not modelled (a TILE tensor of shape "
            f"{shape} is padded to {natural} here)"
        )
    return _apply(
        "tilize_with_val_padding",
        input_tensor,
        lambda v: v,
        memory_config=memory_config,
        layout=Layout.TILE,
        dtype=dtype,
    )


def tilize_with_zero_padding(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    output_dtype: DataType | None = None,
    use_multicore: bool = True,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.tilize_with_zero_padding: ROW_MAJOR -> TILE, the tile padding zero-filled; logical shape kept."""
    target = list(padded_shape_of(input_tensor.shape, Layout.TILE))
    return tilize_with_val_padding(
        input_tensor,
        target,
        0.0,
        memory_config=memory_config,
        dtype=output_dtype,
        use_multicore=use_multicore,
    )


def copy(input_a: Tensor, input_b: Tensor) -> Tensor:
    """ttnn.copy: input_a's values written into input_b (same shape), which is returned."""
    rules.require_same_device("copy", [input_a, input_b])
    rules.require(
        list(input_a.shape) == list(input_b.shape),
        f"copy: tensors must have the same shape, got {list(input_a.shape)} and {list(input_b.shape)}",
    )
    result = device_op(
        "copy",
        [input_a],
        lambda v: v,
        dtype=input_b.dtype,
        layout=input_b.layout,
        memory_config=input_b.memory_config(),
    )
    return into_output(result, input_b)


def assign(
    input_tensor: Tensor,
    *args: Any,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.assign: assign(a, b) copies a into b; assign(a, memory_config=..., dtype=...) makes a copy."""
    if args:
        return copy(input_tensor, args[0])
    result = _apply("assign", input_tensor, lambda v: v, memory_config=memory_config, dtype=dtype)
    return into_output(result, output_tensor)


def move(input_tensor: Tensor, *, memory_config: MemoryConfig | None = None) -> Tensor:
    """ttnn.move: the tensor re-allocated (to memory_config); the old buffer is freed."""
    out = _apply("move", input_tensor, lambda v: v, memory_config=memory_config)
    input_tensor.deallocate()
    return out


def nonzero(input_tensor: Tensor, *, memory_config: MemoryConfig | None = None) -> list[Tensor]:
    """ttnn.nonzero of a rank-4 tensor (0.81.1): a uint32 [1, 1, 1, 8] count (the number of nonzero
    elements at [0, 0, 0, 0]) and uint32 [1, 1, 1, 4 * volume] indices holding one (n, c, h, w) tuple per
    nonzero element in row-major order, zero beyond them (the golden's layout)."""
    shape = input_tensor.shape
    rules.require(len(shape) == 4, f"nonzero requires a rank-4 input, got rank {len(shape)}")
    volume = input_tensor.volume()

    def compute(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coordinates = torch.nonzero(v, as_tuple=False).reshape(-1)
        count = torch.zeros(1, 1, 1, 8)
        count[..., 0] = coordinates.numel() // 4
        indices = torch.zeros(1, 1, 1, 4 * volume)
        indices[..., : coordinates.numel()] = coordinates.to(indices.dtype)
        return count, indices

    mc = memory_config or input_tensor.memory_config()
    count, indices = device_op(
        "nonzero", [input_tensor], compute, dtype=[DataType.UINT32, DataType.UINT32],
        layout=[Layout.ROW_MAJOR, Layout.ROW_MAJOR], memory_config=mc,
    )  # fmt: skip
    return [count, indices]


__all__ += [
    "assign", "copy", "gather", "move", "narrow", "nonzero", "roll", "scatter", "sort", "stack",
    "tilize_with_val_padding", "tilize_with_zero_padding", "view",
]  # fmt: skip


def fold(
    input: Tensor,
    stride_h: int,
    stride_w: int,
    use_transpose_as_fold: bool = False,
    output_shape: Sequence[int] | None = None,
    padding: Sequence[int] = (0, 0),
    grid_size: Any = None,
    override_memory_config: MemoryConfig | None = None,
    collapse_output: bool = False,
) -> Tensor:
    """ttnn.fold: space-to-depth of an NHWC [N, H, W, C] tensor, zero-padded first ([ph, pw], [top, bottom,
    left, right] or with channel padding [.., c_front, c_back]), to [N, H/sh, W/sw, C*sh*sw] (or flattened
    to [1, 1, N*H/sh*W/sw, C*sh*sw] with collapse_output); each output pixel holds its sh x sw window
    row-major, channels innermost (fold_device_op.cpp / the 0.81.1 golden)."""
    rules.require(not use_transpose_as_fold, "simulator: fold(use_transpose_as_fold=True) is not modelled")
    shape = list(input.shape)
    rules.require(len(shape) == 4, f"fold: input must be NHWC [N, H, W, C], got {list(shape)}")
    pads = [int(p) for p in padding]
    if len(pads) == 2:
        pads = [pads[0], pads[0], pads[1], pads[1], 0, 0]
    elif len(pads) == 4:
        pads = pads + [0, 0]
    rules.require(len(pads) == 6, f"fold: padding must have 2, 4 or 6 entries, got {list(padding)}")
    top, bottom, left, right, c_front, c_back = pads
    n, h, w, c = shape[0], shape[1] + top + bottom, shape[2] + left + right, shape[3] + c_front + c_back
    rules.require(
        h % stride_h == 0 and w % stride_w == 0,
        f"fold: padded height {h} and width {w} must be divisible by stride ({stride_h}, {stride_w})",
    )

    def compute(v: torch.Tensor) -> torch.Tensor:
        v = torch.nn.functional.pad(v, (c_front, c_back, left, right, top, bottom))
        out = v.reshape(n, h // stride_h, stride_h, w // stride_w, stride_w, c).permute(0, 1, 3, 2, 4, 5)
        out = out.reshape(n, h // stride_h, w // stride_w, c * stride_h * stride_w)
        return out.reshape(1, 1, -1, out.shape[-1]) if collapse_output else out

    return _apply("fold", input, compute, memory_config=override_memory_config)


def index_fill(
    input: Tensor, dim: int, index: Tensor, value: float, *, memory_config: MemoryConfig | None = None
) -> Tensor:
    """ttnn.index_fill: `value` written at the entries of `dim` listed in `index` (torch.index_fill)."""
    rules.require_same_device("index_fill", [input, index])
    d = _dim(dim, len(input.shape), "index_fill")
    rules.require(len(index.shape) == 1, f"index_fill: index must be 1-D, got {list(index.shape)}")
    mc = memory_config or input.memory_config()
    return device_op(
        "index_fill", [input, index], lambda v, i: torch.index_fill(v, d, i.long(), float(value)),
        dtype=input.dtype, layout=input.layout, memory_config=mc,
    )  # fmt: skip


def indexed_fill(
    batch_id: Tensor,
    input_tensor_a: Tensor,
    input_tensor_b: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    dim: int = 0,
) -> Tensor:
    """ttnn.indexed_fill: input_tensor_a with its batch entries batch_id[i] replaced by input_tensor_b's entry
    i (dim 0)."""
    rules.require_same_device("indexed_fill", [batch_id, input_tensor_a, input_tensor_b])
    rules.require(dim == 0, "indexed_fill: only dim 0 is supported")
    rules.require(
        list(input_tensor_a.shape[1:]) == list(input_tensor_b.shape[1:]),
        f"indexed_fill: input tensors must match beyond dim 0, got {list(input_tensor_a.shape)} and "
        f"{list(input_tensor_b.shape)}",
    )

    def compute(ids: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = a.clone()
        for source, target in enumerate(ids.reshape(-1).long().tolist()):
            out[target] = b[source]
        return out

    mc = memory_config or input_tensor_a.memory_config()
    return device_op(
        "indexed_fill", [batch_id, input_tensor_a, input_tensor_b], compute, dtype=input_tensor_a.dtype,
        layout=input_tensor_a.layout, memory_config=mc,
    )  # fmt: skip


def reshard(
    input_tensor: Tensor, output_memory_config: MemoryConfig, output_tensor: Tensor | None = None
) -> Tensor:
    """ttnn.reshard: a sharded tensor moved to another sharded memory config (values unchanged)."""
    rules.require(input_tensor.is_sharded(), "reshard: input tensor must be sharded")
    rules.require(output_memory_config.is_sharded(), "reshard: output memory config must be sharded")
    rules.check_sharded_memory_config(output_memory_config, "reshard")
    result = _apply("reshard", input_tensor, lambda v: v, memory_config=output_memory_config)
    return into_output(result, output_tensor)


def bcast(
    input_a: Tensor,
    input_b: Tensor,
    math_op: Any,
    dim: Any,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.bcast: a (+ - *) b where b's first row (dim H), first column (W) or first element (HW) is
    broadcast over a (the device reads only that row / column / element of b's tile)."""
    rules.require_same_device("bcast", [input_a, input_b])
    ops = {"ADD": torch.add, "SUB": torch.sub, "MUL": torch.mul}
    kind = getattr(dim, "name", str(dim))
    rules.require(kind in ("H", "W", "HW"), f"bcast: invalid dim {dim!r}")
    op = ops[getattr(math_op, "name", str(math_op))]

    def compute(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if kind in ("W", "HW"):
            b = b[..., :1]
        if kind in ("H", "HW"):
            b = b[..., :1, :]
        return op(a, b)

    mc = memory_config or input_a.memory_config()
    result = device_op(
        "bcast", [input_a, input_b], compute, dtype=input_a.dtype, layout=input_a.layout, memory_config=mc
    )
    return into_output(result, output_tensor)


__all__ += ["bcast", "fold", "index_fill", "indexed_fill", "reshard"]


def scatter_add(
    input: Tensor,
    dim: int,
    index: Tensor,
    src: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.scatter_add: torch.scatter_add (src values summed into input at index along dim)."""
    return scatter(input, dim, index, src, memory_config=memory_config, reduce="add")


__all__ += ["scatter_add"]
