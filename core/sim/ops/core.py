"""ttnn core ops on the simulator: host <-> device conversion, layouts, memory configs, typecast, creation,
serialisation (ttnn/ttnn/operations/core.py, ttnn/ttnn/core.py, ttnn/cpp/ttnn-nanobind/operations/core.cpp and
creation.cpp of tt-metal; keyword names follow ttnn 0.81.1).

Transfers are counted per chip in runtime.Stats (host_to_device / device_to_host, bytes = the chip's buffer
size); device-side conversions go through tensor.device_op like every other op.
"""

from __future__ import annotations

import math
import os
import pathlib
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import rules
from ..numerics import formats
from ..runtime import Device, MeshDevice, chips
from ..tensor import (
    PRINT_OPTIONS,
    Shape,
    Tensor,
    compute_values,
    device_op,
    padded_shape_of,
    program_key,
    read_values,
    same_shape,
)
from ..types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    CoreCoord,
    CoreGrid,
    CoreRange,
    CoreRangeSet,
    DataType,
    DumpTensorMode,
    Layout,
    MemoryConfig,
    ShardOrientation,
    ShardSpec,
    ShardStrategy,
    StorageType,
    TensorMemoryLayout,
)
from .distributed import ReplicateTensorToMeshWrapper
from .eltwise import into_output
from .golden import attach_golden_function

__all__ = [
    "arange",
    "as_tensor",
    "clone",
    "create_sharded_memory_config",
    "deallocate",
    "dump_tensor",
    "empty",
    "empty_like",
    "from_device",
    "from_torch",
    "full",
    "full_like",
    "get_memory_config",
    "has_storage_type_of",
    "interleaved_to_sharded",
    "num_cores_to_corerangeset",
    "num_cores_to_corerangeset_in_subcoregrids",
    "is_sharded",
    "is_tensor_storage_on_device",
    "load_tensor",
    "ones",
    "ones_like",
    "reallocate",
    "sharded_to_interleaved",
    "to_device",
    "to_layout",
    "to_memory_config",
    "to_torch",
    "ttnn_dtype_to_torch_dtype",
    "typecast",
    "zeros",
    "zeros_like",
]

_INT_DTYPES = (DataType.UINT32, DataType.INT32, DataType.UINT16, DataType.UINT8)


# -- host <-> device ---------------------------------------------------------------------------------------


_CHUNK = 1 << 22  # elements per step of a large host conversion to bfloat16


def _bfloat16_in_chunks(source: torch.Tensor) -> torch.Tensor:
    """Host rounding of a large tensor straight into bfloat16 storage, a slice at a time: the rounding is
    elementwise, so the result is formats.quantize's, without float32 / int32 temporaries the size of the
    whole tensor (a vocabulary-sized embedding table would need several GB of them)."""
    flat = source.reshape(-1)
    out = torch.empty(flat.shape, dtype=torch.bfloat16)
    for start in range(0, flat.numel(), _CHUNK):
        piece = formats.quantize(flat[start : start + _CHUNK], DataType.BFLOAT16, formats.HOST)
        out[start : start + _CHUNK] = formats.bfloat16_bits(piece)
    return out.reshape(source.shape)


def _host_values(
    torch_tensor: torch.Tensor, dtype: DataType, layout: Layout, pad_value: float | None = None
) -> torch.Tensor:
    """Round a torch tensor to `dtype` the way the host conversion does, never aliasing the caller's storage."""
    source = torch_tensor.detach()
    mode = formats.HOST_ROW_MAJOR if layout == Layout.ROW_MAJOR else formats.HOST
    if dtype == DataType.BFLOAT16 and source.dtype == torch.bfloat16:
        values = source  # the bits are copied as they are (formats.quantize), without a float32 detour
    elif dtype == DataType.BFLOAT16 and source.numel() > _CHUNK:
        values = _bfloat16_in_chunks(source)
    else:
        values = formats.quantize(source, dtype, mode, pad_value=pad_value or 0.0)
    if values.untyped_storage().data_ptr() == source.untyped_storage().data_ptr():
        values = values.clone()
    return values


def _upload(host: Tensor, device: Device | MeshDevice, memory_config: MemoryConfig | None) -> Tensor:
    """Copy a host tensor to every chip of `device` (replicating a single host value over a mesh)."""
    rules.require_open(device, "to_device")
    device.dispatch.require_no_capture("Writes")
    mc = memory_config or host._memory_config or DRAM_MEMORY_CONFIG
    rules.check_sharded_memory_config(mc, "ttnn.to_device")
    targets = chips(device)
    values = host._chips
    if len(values) == 1 and len(targets) > 1:
        values = values * len(targets)
    rules.require(
        len(values) == len(targets),
        f"to_device: tensor holds {len(values)} device shards but {device!r} has {len(targets)} devices",
    )
    out = Tensor(list(values), host.dtype, host.layout, device, mc)
    out._tile = host._tile
    for chip in targets:
        chip.record_write(out._nbytes())
    return out


def _download(tensor: Tensor, op: str) -> list[torch.Tensor]:
    """Per-chip values of a device tensor, counting one device -> host transfer per chip."""
    rules.require_open(tensor.device(), op)
    tensor.device().dispatch.require_no_capture("Reads")
    rules.require_allocated(tensor, op)
    for chip in chips(tensor.device()):
        chip.record_read(tensor._nbytes())
    return tensor._chips


def from_torch(
    tensor: torch.Tensor | None,
    dtype: DataType | None = None,
    *,
    spec: Any = None,
    tile: Any = None,
    pad_value: float | None = None,
    layout: Layout | None = None,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
    mesh_mapper: Any = None,
    cq_id: int | None = None,
    preserve_nan_values: bool = False,
    col_tilize: bool = False,
    enable_bfloat_opt: bool = False,
) -> Tensor | None:
    """torch -> ttnn.Tensor with the host's rounding; on `device` when given (one transfer per chip).

    `pad_value` fills TILE padding, which the simulator does not store (padding is metadata); it only
    matters to block floats, whose last 16-value group of a row shares its exponent with the padding."""
    if tensor is None:
        return None
    if spec is not None:
        dtype, layout, memory_config = spec.dtype, spec.layout, spec.memory_config
    if col_tilize:  # the argument checks of ttnn/ttnn/operations/core.py, then what the simulator lacks
        if dtype not in formats.BLOCK_FLOAT_DTYPES:
            raise RuntimeError("ttnn.from_torch: col_tilize=True requires BFP dtype (bfloat8_b or bfloat4_b)")
        if tensor.dim() < 2:
            raise RuntimeError("ttnn.from_torch: col_tilize=True requires tensor.ndim >= 2")
        if layout not in (None, Layout.TILE):
            raise RuntimeError(
                "ttnn.from_torch: col_tilize=True requires layout to be None or ttnn.TILE_LAYOUT"
            )
        raise NotImplementedError("from_torch(col_tilize=True) is not simulated")
    dtype = dtype if dtype is not None else formats.torch_dtype_to_ttnn(tensor.dtype)
    if layout is None:  # probed on 0.81.1: block floats default to TILE, everything else to ROW_MAJOR
        layout = Layout.TILE if dtype in formats.BLOCK_FLOAT_DTYPES else Layout.ROW_MAJOR
    rules.check_dtype_layout(dtype, layout)
    rules.check_sharded_memory_config(memory_config, "ttnn.from_torch")
    shards = _mapper_of(mesh_mapper).map(tensor) if mesh_mapper is not None else [tensor]
    # A replicating mapper hands the same tensor to every chip: rounded once, its values shared by the chips
    # (as _upload shares a single host value; values are never written in place).
    rounded: dict[int, torch.Tensor] = {}
    values = []
    for s in shards:
        if id(s) not in rounded:
            rounded[id(s)] = _host_values(s, dtype, layout, pad_value)
        values.append(rounded[id(s)])
    host = Tensor(values, dtype, layout, None, memory_config)
    host._tile = tile if layout == Layout.TILE else None
    if device is None:
        return host
    device.dispatch.queue(cq_id)
    return _upload(host, device, memory_config)


def to_device(
    tensor: Tensor,
    device: Device | MeshDevice,
    memory_config: MemoryConfig | None = None,
    *,
    queue_id: int | None = None,
) -> Tensor:
    """Host tensor -> device tensor; a tensor already on device is returned as is (core.cpp)."""
    if tensor.storage_type() == StorageType.DEVICE:
        return tensor
    device.dispatch.queue(queue_id)
    return _upload(tensor, device, memory_config)


def from_device(tensor: Tensor, blocking: bool = True, *, queue_id: int | None = None) -> Tensor:
    """Device tensor -> host tensor (same dtype, layout and memory config); host tensors pass through."""
    if tensor.storage_type() == StorageType.HOST:
        return tensor
    tensor.device().dispatch.queue(queue_id)
    values = _download(tensor, "from_device")
    return Tensor(list(values), tensor.dtype, tensor.layout, None, tensor.memory_config())


def to_torch(
    tensor: Tensor,
    dtype: torch.dtype | None = None,
    *,
    torch_rank: int | None = None,
    mesh_composer: Any = None,
    device: Device | MeshDevice | None = None,
    cq_id: int | None = None,
) -> torch.Tensor:
    """ttnn.Tensor -> torch in its logical shape, as the torch dtype ttnn returns for its dtype."""
    host = from_device(tensor, queue_id=cq_id)
    if mesh_composer is not None:
        result = mesh_composer.compose(host._chips)
    elif host.num_chips > 1:
        raise RuntimeError(
            f"to_torch: the tensor is distributed over {host.num_chips} devices; pass a mesh_composer "
            "(ttnn.ConcatMeshToTensor(mesh_device, dim=...)) or read one shard via ttnn.get_device_tensors"
        )
    else:
        result = host._chips[0]
    result = formats.to_torch_values(result, host.dtype)
    if torch_rank is not None:
        while result.dim() > torch_rank:
            if result.shape[0] != 1:
                raise RuntimeError("ttnn: Unable to squeeze to desired rank!")
            result = result.squeeze(0)
    return result.to(dtype) if dtype is not None else result


# -- layouts, memory configs, dtypes -----------------------------------------------------------------------


def to_layout(
    tensor: Tensor,
    layout: Layout,
    dtype: DataType | None = None,
    memory_config: MemoryConfig | None = None,
    sub_core_grids: CoreRangeSet | None = None,
    pad_value: float | None = None,
) -> Tensor:
    """Tilize / untilize (pad_value fills TILE padding, which the simulator keeps as metadata). As in to_layout_op.cpp: a tensor already in `layout` is returned unchanged (dtype and
    memory_config are then ignored); on host no dtype conversion happens."""
    if tensor.layout == layout:
        return tensor
    if tensor.storage_type() == StorageType.HOST:
        if dtype is not None and dtype != tensor.dtype:
            warnings.warn("ttnn.to_layout: dtype is ignored for host tensors", stacklevel=2)
        if tensor.dtype in formats.BLOCK_FLOAT_DTYPES:
            # Probed on 0.81.1 (host_pad_apis.cpp): a tile-aligned block-float tensor stays TILE; else TT_FATAL.
            rules.require(
                tensor.padded_shape == tensor.shape, "Tensor layout must be ROW_MAJOR for unpadding"
            )
            return tensor
        return Tensor(list(tensor._chips), tensor.dtype, layout, None, tensor._memory_config)
    if layout == Layout.ROW_MAJOR:
        rules.check_to_layout_dtype(tensor.dtype, dtype)
    out_dtype = dtype if dtype is not None else tensor.dtype
    return device_op(
        "to_layout",
        [tensor],
        lambda v: v,
        dtype=out_dtype,
        layout=layout,
        memory_config=memory_config or tensor.memory_config(),
        output_shapes=same_shape,
    )


def to_memory_config(
    tensor: Tensor,
    memory_config: MemoryConfig,
    dtype: DataType | None = None,
    output_tensor: Tensor | None = None,
) -> Tensor:
    """Move a device tensor between DRAM / L1 / sharded; a tensor already there (same dtype) is returned."""
    rules.check_sharded_memory_config(memory_config, "ttnn.to_memory_config")
    rules.require_same_device("to_memory_config", [tensor])
    if memory_config == tensor.memory_config() and dtype in (None, tensor.dtype) and output_tensor is None:
        return tensor
    return into_output(_copy("to_memory_config", tensor, dtype, memory_config), output_tensor)


def _copy(name: str, tensor: Tensor, dtype: DataType | None, memory_config: MemoryConfig | None) -> Tensor:
    """A device copy keeping the layout, optionally converting dtype (packer rounding) and memory config.
    A same-dtype bfloat16 / float32 copy runs on the stored values and re-rounds nothing."""
    out_dtype = dtype if dtype is not None else tensor.dtype
    exact = out_dtype == tensor.dtype and out_dtype in (DataType.BFLOAT16, DataType.FLOAT32)
    return device_op(
        name,
        [tensor],
        lambda v: v,
        dtype=out_dtype,
        layout=tensor.layout,
        memory_config=memory_config or tensor.memory_config(),
        stored_inputs=exact,
        rounding=formats.HOST if exact else formats.PACKER,
        output_shapes=same_shape,
    )


def _grid_range_set(grid: CoreGrid) -> CoreRangeSet:
    """The cores of a CoreGrid as the one range (0, 0)..(x - 1, y - 1) that shard specs take."""
    return CoreRangeSet({CoreRange(CoreCoord(0, 0), CoreCoord(grid.x - 1, grid.y - 1))})


def sharded_to_interleaved(
    input_tensor: Tensor,
    memory_config: MemoryConfig = DRAM_MEMORY_CONFIG,
    output_dtype: DataType | None = None,
) -> Tensor:
    rules.require_same_device("sharded_to_interleaved", [input_tensor])
    rules.require_sharded(input_tensor, "sharded_to_interleaved")
    return _copy("sharded_to_interleaved", input_tensor, output_dtype, memory_config)


def interleaved_to_sharded(
    input_tensor: Tensor,
    grid: CoreGrid | MemoryConfig,
    shard_shape: Sequence[int] | None = None,
    shard_scheme: TensorMemoryLayout | None = None,
    shard_orientation: ShardOrientation | None = None,
    output_dtype: DataType | None = None,
    *,
    keep_l1_aligned: bool = False,
) -> Tensor:
    """Either (tensor, sharded_memory_config) or (tensor, grid, shard_shape, shard_scheme, shard_orientation)."""
    if isinstance(grid, MemoryConfig):
        memory_config = grid
    else:
        shard_grid = _grid_range_set(grid)
        orientation = shard_orientation or ShardOrientation.ROW_MAJOR
        spec = ShardSpec(shard_grid, tuple(shard_shape), orientation)
        memory_config = MemoryConfig(shard_scheme, BufferType.L1, spec)
    rules.check_sharded_memory_config(memory_config, "interleaved_to_sharded")
    return _copy("interleaved_to_sharded", input_tensor, output_dtype, memory_config)


def _cast(values: torch.Tensor, source: DataType, target: DataType, on_device: bool) -> torch.Tensor:
    """Float -> integer conversion rules (ttnn/ttnn/operations/core.py typecast golden, TTNN_FACTS §6): the host
    truncates; the device rounds half up for uint16 (except from block floats), truncates for (u)int32 and wraps
    modulo 256 for uint8. Clamping to the target range happens in formats.quantize."""
    if target not in _INT_DTYPES or not formats.is_float(source):
        return values
    if not on_device:
        return values.trunc()
    if target == DataType.UINT16 and source not in formats.BLOCK_FLOAT_DTYPES:
        return torch.floor(values.to(torch.float64) + 0.5)
    if target == DataType.UINT8:
        return torch.remainder(values.to(torch.float64).trunc(), 256)
    return values.trunc()


def typecast(
    input_tensor: Tensor,
    dtype: DataType,
    output_dtype: DataType | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: CoreRangeSet | None = None,
) -> Tensor:
    """typecast(t, dtype) or typecast(t, input_dtype, output_dtype); on host or on device, layout kept."""
    target = output_dtype if output_dtype is not None else dtype
    source = input_tensor.dtype
    if input_tensor.storage_type() == StorageType.HOST:
        layout = input_tensor.layout
        if target in formats.BLOCK_FLOAT_DTYPES and layout == Layout.ROW_MAJOR:
            # tensor_apis.cpp to_dtype (probed on 0.81.1): tiles implicitly, only if that adds no padding.
            padded = padded_shape_of(input_tensor.shape, Layout.TILE)
            before = (math.prod(input_tensor.shape[:-1]), input_tensor.shape[-1])
            after = (math.prod(padded[:-1]), padded[-1])
            rules.require(
                before == after,
                f"to_dtype: Converting layout to Layout::TILE implicitly changed physical shape from {before} to "
                f"{after} due to alignment constraints. This is currently unsupported. Please pad the tensor "
                "explicitly before conversion.",
            )
            layout = Layout.TILE
        values = [
            formats.quantize(_cast(v, source, target, False), target)
            for v in read_values(input_tensor, "typecast")
        ]
        return Tensor(values, target, layout, None, input_tensor._memory_config)
    result = device_op(
        "typecast",
        [input_tensor],
        lambda v: _cast(v, source, target, True),
        dtype=target,
        layout=input_tensor.layout,
        memory_config=memory_config or input_tensor.memory_config(),
        output_shapes=same_shape,
    )
    return into_output(result, output_tensor)


def clone(
    input: Tensor,
    *,
    dtype: DataType | None = None,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    return _copy("clone", input, dtype, memory_config)


def deallocate(tensor: Tensor, force: bool = True) -> None:
    """Free the tensor's device buffers now; later reads of it raise."""
    tensor.deallocate(force)


def reallocate(tensor: Tensor, memory_config: MemoryConfig | None = None) -> Tensor:
    """Move a device tensor to a fresh allocation (the move op frees the input first, then allocates)."""
    rules.require_same_device("reallocate", [tensor])
    source, device = tensor._chips, tensor.device()
    mc = memory_config or tensor.memory_config()
    captured = device.dispatch.before_op(
        program_key("reallocate", [tensor], mc.memory_layout, mc.buffer_type)
    )
    tensor.deallocate()
    out = Tensor(list(source), tensor.dtype, tensor.layout, device, mc)
    moved = out._chips

    def step() -> None:  # a traced move copies whatever the source buffer holds when the trace runs
        moved[:] = list(source)
        for chip in chips(device):
            chip.record_op("reallocate")

    if captured:
        device.dispatch.record(step, [moved])
    else:
        step()
    return out


# -- storage predicates (ttnn/ttnn/core.py) ---------------------------------------------------------------


def has_storage_type_of(tensor: Tensor, storage_type: StorageType) -> bool:
    return tensor.storage_type() == storage_type


def is_tensor_storage_on_device(tensor: Tensor) -> bool:
    return tensor.storage_type() == StorageType.DEVICE


def is_sharded(tensor: Tensor) -> bool:
    return tensor.is_sharded()


def get_memory_config(tensor: Tensor, /) -> MemoryConfig | None:
    return tensor.memory_config() if is_tensor_storage_on_device(tensor) else None


def ttnn_dtype_to_torch_dtype(dtype: DataType) -> torch.dtype:
    return formats.ttnn_dtype_to_torch(dtype)


# -- creation ---------------------------------------------------------------------------------------------


def _filled(shape: Sequence[int], fill_value: float, dtype: DataType) -> torch.Tensor:
    """A constant tensor as a broadcast view of one rounded scalar: creating a multi-GB device tensor (to
    exercise the allocator) costs no host memory. Ops never write into their inputs, so the view is safe."""
    scalar = formats.quantize(torch.tensor(float(fill_value)), dtype, formats.HOST)
    return scalar.expand(tuple(shape))


def full(
    shape: Sequence[int],
    fill_value: float,
    dtype: DataType | None = None,
    layout: Layout | None = None,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
    optional_tensor: Tensor | None = None,
) -> Tensor:
    """A filled tensor: on host, or written on device by a fill kernel (operations/full/device), one op per
    chip and no transfer."""
    dtype = dtype or DataType.BFLOAT16
    if dtype in formats.BLOCK_FLOAT_DTYPES:  # probed on 0.81.1: TILE by default, ROW_MAJOR refused
        rules.require(layout in (None, Layout.TILE), f"Only TILE layout is supported for {dtype.name} dtype!")
    layout = layout or (Layout.TILE if dtype in formats.BLOCK_FLOAT_DTYPES else Layout.ROW_MAJOR)
    values = _filled(shape, fill_value, dtype)
    if device is None:
        return Tensor([values], dtype, layout, None, memory_config)
    rules.require_open(device, "full")
    targets = chips(device)
    out = Tensor([values] * len(targets), dtype, layout, device, memory_config or DRAM_MEMORY_CONFIG)
    for chip in targets:
        chip.record_op("full")
    return out


def zeros(
    shape: Sequence[int],
    dtype: DataType | None = None,
    layout: Layout | None = None,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    return full(shape, 0.0, dtype, layout, device, memory_config)


def ones(
    shape: Sequence[int],
    dtype: DataType | None = None,
    layout: Layout | None = None,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    return full(shape, 1.0, dtype, layout, device, memory_config)


def full_like(
    tensor: Tensor,
    fill_value: float,
    dtype: DataType | None = None,
    layout: Layout | None = None,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
    optional_tensor: Tensor | None = None,
) -> Tensor:
    """Defaults (dtype, layout, device, memory config) come from `tensor`."""
    return full(
        list(tensor.shape),
        fill_value,
        dtype or tensor.dtype,
        layout or tensor.layout,
        device or tensor.device(),
        memory_config or get_memory_config(tensor),
    )


def zeros_like(
    tensor: Tensor,
    dtype: DataType | None = None,
    layout: Layout | None = None,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
    optional_tensor: Tensor | None = None,
) -> Tensor:
    return full_like(tensor, 0.0, dtype, layout, device, memory_config)


def ones_like(
    tensor: Tensor,
    dtype: DataType | None = None,
    layout: Layout | None = None,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
    optional_tensor: Tensor | None = None,
) -> Tensor:
    return full_like(tensor, 1.0, dtype, layout, device, memory_config)


def empty(
    shape: Sequence[int],
    dtype: DataType = DataType.BFLOAT16,
    layout: Layout = Layout.ROW_MAJOR,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig = DRAM_MEMORY_CONFIG,
) -> Tensor:
    """An allocated device tensor; its contents are unspecified (zeros in the simulator). No op runs."""
    rules.check_dtype_layout(dtype, layout)
    rules.require(device is not None, "ttnn.empty: a device is required")
    rules.require_open(device, "empty")
    return Tensor([_filled(shape, 0.0, dtype)] * len(chips(device)), dtype, layout, device, memory_config)


def empty_like(
    tensor: Tensor,
    *,
    dtype: DataType = DataType.BFLOAT16,
    layout: Layout = Layout.ROW_MAJOR,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig = DRAM_MEMORY_CONFIG,
) -> Tensor:
    return empty(list(tensor.shape), dtype, layout, device or tensor.device(), memory_config)


def arange(
    start: int,
    end: int | None = None,
    step: int = 1,
    *,
    dtype: DataType = DataType.BFLOAT16,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig = DRAM_MEMORY_CONFIG,
    layout: Layout = Layout.ROW_MAJOR,
) -> Tensor:
    """arange(end) or arange(start, end, step): built on host (creation.hpp), then copied to `device`."""
    if end is None:
        start, end = 0, start
    rules.require(dtype not in formats.BLOCK_FLOAT_DTYPES, "Unsupported dtype")  # probed on 0.81.1
    rules.check_dtype_layout(dtype, layout)
    host = Tensor(
        [_host_values(torch.arange(start, end, step), dtype, layout)], dtype, layout, None, memory_config
    )
    return _upload(host, device, memory_config) if device is not None else host


def create_sharded_memory_config(
    shape: Sequence[int],
    core_grid: CoreGrid | CoreRangeSet | Sequence[CoreGrid],
    strategy: ShardStrategy,
    orientation: ShardOrientation | None = None,
    use_height_and_width_as_shard_shape: bool = False,
) -> MemoryConfig:
    """An L1 sharded MemoryConfig; the shard shape follows ttnn/ttnn/core.py (the tensor seen as
    [prod(leading dims) * H, W], split over the grid by the strategy)."""
    layouts = {
        ShardStrategy.BLOCK: TensorMemoryLayout.BLOCK_SHARDED,
        ShardStrategy.WIDTH: TensorMemoryLayout.WIDTH_SHARDED,
        ShardStrategy.HEIGHT: TensorMemoryLayout.HEIGHT_SHARDED,
    }
    if strategy not in layouts:
        raise RuntimeError("Invalid sharding strategy")
    orientation = orientation or ShardOrientation.ROW_MAJOR
    if isinstance(core_grid, CoreGrid):
        shard_grid = _grid_range_set(core_grid)
    elif isinstance(core_grid, CoreRangeSet):
        if not use_height_and_width_as_shard_shape:
            raise RuntimeError("height and width must be shard shape with CoreRangeSet")
        shard_grid = core_grid
    else:
        raise RuntimeError("Invalid core_grid type")
    *batch, height, width = shape
    if use_height_and_width_as_shard_shape:
        shard_shape = (height, width) if orientation == ShardOrientation.ROW_MAJOR else (width, height)
    else:
        rows, cols = math.prod(batch) * height, width
        if strategy == ShardStrategy.BLOCK:
            along_h, along_w = (
                (core_grid.y, core_grid.x)
                if orientation == ShardOrientation.ROW_MAJOR
                else (core_grid.x, core_grid.y)
            )
        elif strategy == ShardStrategy.HEIGHT:
            along_h, along_w = core_grid.num_cores, 1
        else:
            along_h, along_w = 1, core_grid.num_cores
        if rows % along_h or cols % along_w:
            raise RuntimeError("Invalid sharding core_grid")
        shard_shape = (rows // along_h, cols // along_w)
    return MemoryConfig(layouts[strategy], BufferType.L1, ShardSpec(shard_grid, shard_shape, orientation))


def _cores_of(core_range: CoreRange, row_wise: bool) -> list[CoreCoord]:
    """The cores of a rectangle in work-split order: x fastest when row_wise, else y fastest."""
    xs = range(core_range.start.x, core_range.end.x + 1)
    ys = range(core_range.start.y, core_range.end.y + 1)
    if row_wise:
        return [CoreCoord(x, y) for y in ys for x in xs]
    return [CoreCoord(x, y) for x in xs for y in ys]


def _ranges_of(cores: list[CoreCoord], core_range: CoreRange, row_wise: bool) -> list[CoreRange]:
    """Consecutive cores of one rectangle (in _cores_of order) as ranges: full lines merged into one block, each
    partial line its own range, as tt_metal/common/work_split.cpp returns them ({[0-0 - 7-0], [0-1 - 1-1]} for 10
    cores of 8x8 row by row)."""
    line_of = (lambda c: c.y) if row_wise else (lambda c: c.x)
    full = (
        (core_range.end.x - core_range.start.x + 1)
        if row_wise
        else (core_range.end.y - core_range.start.y + 1)
    )
    lines: list[list[CoreCoord]] = []
    for core in cores:
        if lines and line_of(lines[-1][-1]) == line_of(core):
            lines[-1].append(core)
        else:
            lines.append([core])
    ranges: list[CoreRange] = []
    block: list[list[CoreCoord]] = []
    for line in lines:
        if len(line) == full:
            block.append(line)
            continue
        if block:
            ranges.append(CoreRange(block[0][0], block[-1][-1]))
            block = []
        ranges.append(CoreRange(line[0], line[-1]))
    if block:
        ranges.append(CoreRange(block[0][0], block[-1][-1]))
    return ranges


def num_cores_to_corerangeset(
    target_num_cores: int, grid_size: CoreCoord, row_wise: bool = False
) -> CoreRangeSet:
    """The first `target_num_cores` cores of a grid_size.x x grid_size.y grid (row by row when row_wise, else
    column by column), as the CoreRangeSet tt_metal/common/work_split.cpp builds."""
    total = grid_size.x * grid_size.y
    rules.require(
        0 < target_num_cores <= total,
        f"Target number of cores {target_num_cores} is greater than total number of available cores {total}",
    )
    grid = CoreRange(CoreCoord(0, 0), CoreCoord(grid_size.x - 1, grid_size.y - 1))
    return CoreRangeSet(_ranges_of(_cores_of(grid, row_wise)[:target_num_cores], grid, row_wise))


def num_cores_to_corerangeset_in_subcoregrids(
    start_core: CoreCoord, target_num_cores: int, sub_core_grids: CoreRangeSet, row_wise: bool = False
) -> CoreRangeSet:
    """`target_num_cores` cores of `sub_core_grids` from `start_core` on: the ranges in order, each filled (row by
    row when row_wise) before the next; probed on 0.81.1 ({[1-0 - 3-1], [1-2 - 2-2]} for 8 cores from (1, 0) of
    [1-0 - 3-9], [5-0 - 6-9])."""
    ranges: list[CoreRange] = []
    left = target_num_cores
    started = False
    for core_range in sub_core_grids.ranges():
        cores = _cores_of(core_range, row_wise)
        if not started:
            if start_core not in cores:
                continue
            cores = cores[cores.index(start_core) :]
            started = True
        taken = cores[:left]
        if taken:
            ranges += _ranges_of(taken, core_range, row_wise)
            left -= len(taken)
        if left == 0:
            break
    rules.require(started, f"start core {start_core} is not in the sub core grids")
    rules.require(
        left == 0,
        f"Target number of cores {target_num_cores} is greater than the cores available in the sub core grids",
    )
    return CoreRangeSet(ranges)


# -- serialisation ----------------------------------------------------------------------------------------

_FORMAT = "ttport-sim-tensor"
_VERSION = 1


def _check_extension(file_name: pathlib.Path) -> None:
    if not str(file_name).endswith(".tensorbin"):
        raise RuntimeError(f"File {file_name} must have .tensorbin extension")


def _encode_memory_config(mc: MemoryConfig | None) -> dict[str, Any] | None:
    if mc is None:
        return None
    encoded: dict[str, Any] = {"memory_layout": mc.memory_layout.name, "buffer_type": mc.buffer_type.name}
    if mc.shard_spec is not None:
        spec = mc.shard_spec
        encoded["shard_grid"] = [[r.start.x, r.start.y, r.end.x, r.end.y] for r in spec.grid.ranges()]
        encoded["shard_shape"] = list(spec.shape)
        encoded["shard_orientation"] = spec.orientation.name
    return encoded


def _decode_memory_config(encoded: dict[str, Any] | None) -> MemoryConfig | None:
    if encoded is None:
        return None
    spec = None
    if "shard_grid" in encoded:
        grid = CoreRangeSet(
            {CoreRange(CoreCoord(a, b), CoreCoord(c, d)) for a, b, c, d in encoded["shard_grid"]}
        )
        spec = ShardSpec(grid, tuple(encoded["shard_shape"]), ShardOrientation[encoded["shard_orientation"]])
    return MemoryConfig(
        TensorMemoryLayout[encoded["memory_layout"]], BufferType[encoded["buffer_type"]], spec
    )


def _write_atomically(file_name: pathlib.Path, payload: dict[str, Any]) -> None:
    """Write to a temp file beside the target and rename it over, so readers never see a partial file."""
    file_name.parent.mkdir(parents=True, exist_ok=True)
    tmp = file_name.with_name(f"{file_name.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, file_name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def dump_tensor(
    file_name: str | pathlib.Path,
    tensor: Tensor,
    *,
    mode: DumpTensorMode = DumpTensorMode.DISTRIBUTED_GATHER,
) -> None:
    """Save a tensor (all its shards, dtype, layout, memory config) in the simulator's own file format."""
    file_name = pathlib.Path(file_name)
    _check_extension(file_name)
    values = _download(tensor, "dump_tensor") if is_tensor_storage_on_device(tensor) else tensor._chips
    payload = {
        "format": _FORMAT,
        "version": _VERSION,
        "dtype": tensor.dtype.name,
        "layout": tensor.layout.name,
        "memory_config": _encode_memory_config(tensor._memory_config),
        "chips": [v.contiguous() for v in values],
    }
    _write_atomically(file_name, payload)


def load_tensor(file_name: str | pathlib.Path, *, device: Device | MeshDevice | None = None) -> Tensor:
    """Load a tensor written by dump_tensor; onto `device` (with its saved memory config) when given.
    An unreadable or foreign file raises RuntimeError."""
    file_name = pathlib.Path(file_name)
    _check_extension(file_name)
    if not file_name.exists():
        raise RuntimeError(f"Unable to load the tensor from {file_name}.  The file does not exist.")
    if not file_name.is_file():
        raise RuntimeError(f"Unable to load the tensor from {file_name}.  The file is not a file.")
    try:
        payload = torch.load(file_name, weights_only=True)
        if payload.get("format") != _FORMAT or payload.get("version") != _VERSION:
            raise ValueError("not a simulator tensor file of a known version")
        dtype, layout = DataType[payload["dtype"]], Layout[payload["layout"]]
        values = list(payload["chips"])
        memory_config = _decode_memory_config(payload["memory_config"])
        if not values or not all(isinstance(v, torch.Tensor) for v in values):
            raise ValueError("no tensor data")
    except Exception as exc:  # any decoding failure means the file is unusable
        raise RuntimeError(f"Unable to load the tensor from {file_name}: {exc}") from exc
    host = Tensor(values, dtype, layout, None, memory_config)
    if device is None:
        return host
    return _upload(host, device, memory_config)


def as_tensor(
    tensor: torch.Tensor,
    dtype: DataType | None = None,
    *,
    layout: Layout | None = Layout.ROW_MAJOR,
    device: Device | MeshDevice | None = None,
    memory_config: MemoryConfig | None = None,
    cache_file_name: str | pathlib.Path | None = None,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    mesh_mapper: Any = None,
    cache_dump_mode: DumpTensorMode = DumpTensorMode.DISTRIBUTED_GATHER,
) -> Tensor:
    """from_torch with an on-disk cache: the host tensor is written once to
    f"{cache_file_name}_dtype_{dtype}_layout_{layout}.tensorbin" and loaded on later calls; a file that
    cannot be loaded is rebuilt. Replicated tensors are cached unsharded (ttnn/ttnn/operations/core.py)."""
    if device is not None and memory_config is None:
        raise RuntimeError("memory_config must be specified when device is specified")

    def convert(target: Device | MeshDevice | None, mapper: Any) -> Tensor:
        source = preprocess(tensor) if preprocess else tensor
        return from_torch(
            source, dtype=dtype, layout=layout, device=target, memory_config=memory_config, mesh_mapper=mapper
        )

    if cache_file_name is None:
        return convert(device, mesh_mapper)
    dtype_name = dtype.name if dtype is not None else "None"
    layout_name = layout.name if layout is not None else "None"
    path = pathlib.Path(f"{cache_file_name}_dtype_{dtype_name}_layout_{layout_name}.tensorbin")
    if path.is_file():
        try:
            return load_tensor(path, device=device)
        except RuntimeError as exc:
            warnings.warn(f"Failed to load cache for {path}: {exc}; rebuilding it", stacklevel=2)
    host = convert(None, None if isinstance(mesh_mapper, ReplicateTensorToMeshWrapper) else mesh_mapper)
    dump_tensor(path, host, mode=cache_dump_mode)
    return _upload(host, device, memory_config) if device is not None else host


def _mapper_of(mesh_mapper: Any) -> Any:
    """The mapper behind ReplicateTensorToMesh's wrapper (as from_torch unwraps it)."""
    return mesh_mapper.unwrap() if isinstance(mesh_mapper, ReplicateTensorToMeshWrapper) else mesh_mapper


# -- small host helpers (ttnn/ttnn/core.py and the tensor bindings of 0.81.1) -----------------------------------


def to_dtype(tensor: Tensor, dtype: DataType) -> Tensor:
    """A host tensor converted to `dtype` on host (ROW_MAJOR, as ttnn's to_dtype returns it)."""
    rules.require(tensor.storage_type() == StorageType.HOST, "to_dtype only supports host tensors")
    values = [
        formats.quantize(compute_values(v).float(), dtype, formats.HOST_ROW_MAJOR) for v in tensor._chips
    ]
    layout = Layout.TILE if dtype in formats.BLOCK_FLOAT_DTYPES else Layout.ROW_MAJOR
    return Tensor(values, dtype, layout, None, tensor._memory_config)


def unsqueeze_to_4D(tensor: Tensor) -> Tensor:  # noqa: N802 (ttnn's name)
    """Leading 1s up to rank 4 ([3, 5] -> [1, 1, 3, 5])."""
    rank = len(tensor.shape)
    rules.require(rank <= 4, f"unsqueeze_to_4D: tensor rank {rank} is above 4")
    from .data_movement import reshape

    return reshape(tensor, [1] * (4 - rank) + list(tensor.shape))


def has_tile_padding(tensor: Tensor, *, dim: int | None = None) -> bool:
    """Whether a TILE tensor's last two dims (or `dim`) are padded."""
    if tensor.layout != Layout.TILE:
        return False
    shape, padded = list(tensor.shape), list(tensor.padded_shape)
    if dim is not None:
        return shape[dim] != padded[dim]
    return shape[-2:] != padded[-2:]


def element_size(dtype: DataType) -> int:
    """Bytes per element of a non-block-float dtype (block floats raise, as ttnn does)."""
    if dtype in formats.BLOCK_FLOAT_DTYPES:
        raise ValueError("datum for bfp2, bfp4, bfp8 is invalid")
    return int(formats.element_size(dtype))


def tile_size(dtype: DataType) -> int:
    """Bytes of one 32x32 tile of `dtype` (bfloat8_b: 1088, with its 64 shared exponents)."""
    return formats.tile_bytes(dtype)


__all__ += ["element_size", "has_tile_padding", "tile_size", "to_dtype", "unsqueeze_to_4D"]


def _div_up(a: int, b: int) -> int:
    return -(-a // b)


def create_sharded_memory_config_(
    shape: Sequence[int],
    core_grid: CoreGrid | CoreRangeSet | Sequence[CoreGrid],
    strategy: ShardStrategy | TensorMemoryLayout,
    orientation: ShardOrientation,
    use_height_and_width_as_shard_shape: bool = False,
    tile_layout: bool = False,
) -> MemoryConfig:
    """The older form of create_sharded_memory_config (ttnn/ttnn/core.py, probed on 0.81.1): orientation is
    required (None is refused), the strategy may be a TensorMemoryLayout, any CoreRangeSet is accepted, shards
    round up (the last one is padded) and `tile_layout` pads the sharded height first."""
    if not isinstance(shape, (list, tuple, Shape)):
        raise RuntimeError("Invalid input shape")
    if not isinstance(core_grid, (CoreGrid, CoreRangeSet, list, tuple)):
        raise RuntimeError("Invalid core_grid type")
    layouts = {
        ShardStrategy.BLOCK: TensorMemoryLayout.BLOCK_SHARDED,
        ShardStrategy.WIDTH: TensorMemoryLayout.WIDTH_SHARDED,
        ShardStrategy.HEIGHT: TensorMemoryLayout.HEIGHT_SHARDED,
    }
    if isinstance(strategy, ShardStrategy):
        layout = layouts[strategy]
    elif isinstance(strategy, TensorMemoryLayout):
        layout = strategy
    else:
        raise RuntimeError("Invalid type of sharding strategy")
    if not isinstance(orientation, ShardOrientation):
        raise RuntimeError("Invalid type of shard orientation")
    if isinstance(core_grid, CoreGrid):
        grid = _grid_range_set(core_grid)
    elif isinstance(core_grid, CoreRangeSet):
        grid = core_grid
    else:  # (full rows grid, last partial row grid): two rectangles
        if len(core_grid) != 2:
            raise RuntimeError("Invalid core_grid")
        if not all(isinstance(g, CoreGrid) for g in core_grid):
            raise RuntimeError("Invalid core_grid type")
        full, last = core_grid
        grid = CoreRangeSet(
            {
                CoreRange(CoreCoord(0, 0), CoreCoord(full.x - 1, full.y - 1)),
                CoreRange(CoreCoord(0, full.y), CoreCoord(last.x - 1, full.y)),
            }
        )
    *batch, height, width = shape
    row_major = orientation == ShardOrientation.ROW_MAJOR
    if use_height_and_width_as_shard_shape:
        shard_shape = (height, width) if row_major else (width, height)
    else:
        rows, cols = math.prod(batch) * height, width
        cores = grid.num_cores()
        box = grid.bounding_box()
        gx, gy = box.end.x - box.start.x + 1, box.end.y - box.start.y + 1
        if layout == TensorMemoryLayout.BLOCK_SHARDED:
            if gx * gy != cores:
                raise RuntimeError("Invalid CoreRangeSet for block sharding strategy")
            along_h, along_w = (gy, gx) if row_major else (gx, gy)
            if tile_layout:
                rows = _div_up(rows, along_h * 32) * along_h * 32
            shard_shape = (_div_up(rows, along_h), _div_up(cols, along_w))
        elif layout == TensorMemoryLayout.HEIGHT_SHARDED:
            if tile_layout:
                rows = _div_up(rows, cores) * cores
            shard_shape = (_div_up(rows, cores), cols)
        elif layout == TensorMemoryLayout.WIDTH_SHARDED:
            shard_shape = (rows, _div_up(cols, cores))
        else:
            raise RuntimeError("Invalid sharding scheme")
    if tile_layout and shard_shape[0] % 32 and shard_shape[1] % 32:
        raise RuntimeError("Incorrect tensor shape")
    return MemoryConfig(layout, BufferType.L1, ShardSpec(grid, shard_shape, orientation))


__all__ += ["create_sharded_memory_config_"]


def interleaved_to_sharded_partial(
    input_tensor: Tensor,
    grid: CoreCoord | CoreRangeSet,
    shard_shape: Sequence[int],
    num_slices: int,
    slice_index: int,
    shard_scheme: TensorMemoryLayout,
    shard_orientation: ShardOrientation,
    *,
    output_dtype: DataType | None = None,
) -> Tensor:
    """Slice `slice_index` of `num_slices` equal row blocks of the tensor seen as [1, 1, rows, W], sharded
    (falcon7b's sliced attention). grid: a CoreCoord grid size or a CoreRangeSet."""
    rules.require(input_tensor.layout == Layout.TILE, "Input tensor must be in TILE layout")
    rules.require(0 <= slice_index < num_slices, f"slice_index {slice_index} must be in [0, {num_slices})")
    width = input_tensor.shape[-1]
    rows = input_tensor.volume() // width
    rules.require(rows % num_slices == 0, f"Tensor height {rows} is not divisible by num_slices {num_slices}")
    size = rows // num_slices
    shard_grid = grid if isinstance(grid, CoreRangeSet) else _grid_range_set(grid)
    memory_config = MemoryConfig(
        shard_scheme, BufferType.L1, ShardSpec(shard_grid, tuple(shard_shape), shard_orientation)
    )
    rules.check_sharded_memory_config(memory_config, "interleaved_to_sharded_partial")

    def compute(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(1, 1, rows, width)[:, :, slice_index * size : (slice_index + 1) * size, :]

    return device_op(
        "interleaved_to_sharded_partial",
        [input_tensor],
        compute,
        dtype=output_dtype or input_tensor.dtype,
        layout=Layout.TILE,
        memory_config=memory_config,
    )


def _interleaved_to_sharded_partial_golden(
    tensor: torch.Tensor, grid: Any, shard_shape: Any, num_slices: int, slice_index: int, *_: Any, **__: Any
) -> torch.Tensor:
    rows = tensor.reshape(1, 1, -1, tensor.shape[-1])
    size = rows.shape[-2] // num_slices
    return rows[:, :, slice_index * size : (slice_index + 1) * size, :]


attach_golden_function(interleaved_to_sharded_partial, _interleaved_to_sharded_partial_golden)
__all__ += ["interleaved_to_sharded_partial"]


def set_printoptions(
    *, profile: str, sci_mode: str | bool | None = None, precision: int | None = None
) -> None:
    """How tensors print: profile "empty" (no values), "short" (summarized) or "full" (every value); sci_mode
    None / "default" (auto), True or False; precision: digits after the decimal point."""
    if profile.lower() not in ("empty", "short", "full"):
        raise RuntimeError("bad optional access")  # 0.81.1's answer to an unknown profile (probed)
    if sci_mode is not None and not isinstance(sci_mode, bool) and sci_mode != "default":
        raise RuntimeError("bad optional access")
    PRINT_OPTIONS.update(profile=profile.lower(), sci_mode=sci_mode, precision=precision)


__all__ += ["set_printoptions"]
