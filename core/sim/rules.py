"""Validation rules of the device, raised with ttnn's wording (file cited per rule).

Op semantics live in core/sim/ops and number formats in core/sim/numerics; this module only decides what
the device refuses. Each function raises RuntimeError (ttnn surfaces TT_FATAL/TT_THROW as RuntimeError).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .real_surface import NotSimulatedError
from .types import DataType, Layout, StorageType

if TYPE_CHECKING:
    from .tensor import Tensor


class TTFatal(RuntimeError):
    """What ttnn raises for TT_FATAL / TT_THROW (a RuntimeError subclass, like ttnn's)."""


def fatal(message: str) -> TTFatal:
    return TTFatal(message)


def check_dtype_layout(dtype: DataType, layout: Layout) -> None:
    if dtype in (DataType.INT8, DataType.FP8_E4M3):
        raise NotSimulatedError(f"tensors of dtype DataType::{dtype.name} are not simulated yet")
    # ttnn/core/tensor/tensor_utils / tensor_spec: block floats exist only as tiles.
    if dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B) and layout != Layout.TILE:
        raise fatal("Layout must be Layout::TILE for bfloat8_b or bfloat4_b!")


def require_allocated(tensor: Tensor, op: str) -> None:
    # tt-metal raises when a deallocated buffer is read; current releases only warn for ops, with a plan to
    # make it an error (PR #43565): the simulator raises so ports cannot rely on use-after-free.
    if not tensor.is_allocated():
        raise fatal(f"{op}: Buffer is not allocated (tensor of shape {list(tensor.shape)} was deallocated)")


def require_same_device(op: str, inputs: Sequence[Tensor]) -> Any:
    """All tensor inputs on device, on the same device, allocated; returns that device."""
    device = None
    for i, t in enumerate(inputs):
        if t.storage_type() != StorageType.DEVICE:
            # binary_ng_device_operation.cpp and friends (probed on 0.81.1)
            which = "A" if i == 0 else ("B" if i == 1 else str(i))
            raise fatal(f"{op}: Input tensor {which} must be on device, got storage type: StorageType::HOST")
        require_allocated(t, op)
        if device is None:
            device = t.device()
        elif t.device() is not device:
            raise fatal(f"{op}: All input tensors must be on the same device")
    if device is None:
        raise fatal(f"{op}: needs at least one device tensor")
    return device


def require_tile(op: str, tensor: Tensor, name: str = "input") -> None:
    if tensor.layout != Layout.TILE:
        raise fatal(f"{op}: {name} tensor must be in TILE layout, got {tensor.layout!r}")


def require(condition: bool, message: str) -> None:
    """TT_FATAL(condition, message): the form of most device-operation checks in tt-metal."""
    if not condition:
        raise fatal(message)


# -- devices, transfers and layouts (core ops) --------------------------------------------------------------


def require_open(device: Any, op: str) -> None:
    """A closed device has released its allocator; real ttnn fails deep in the runtime ("Allocator ... is not
    initialized"); the simulator says so plainly."""
    if not device.is_open():
        raise fatal(f"{op}: {device!r} is closed (its buffers were released by close_device)")


def check_to_layout_dtype(tensor_dtype: DataType, dtype: DataType | None) -> None:
    # ttnn/cpp/ttnn/operations/core/to_layout/to_layout_op.cpp, wording of ttnn 0.81.1.
    if (
        dtype is not None
        and dtype != tensor_dtype
        and (tensor_dtype, dtype)
        != (
            DataType.BFLOAT8_B,
            DataType.BFLOAT16,
        )
    ):
        raise fatal(
            "dtype cannot be different from tensor dtype when converting to ROW_MAJOR_LAYOUT on device "
            "(allowed exception: BFLOAT8_B -> BFLOAT16, which untilize handles natively)!"
        )


def check_sharded_memory_config(memory_config: Any, op: str) -> None:
    # ttnn/ttnn/operations/core.py (from_torch) and tensor_spec validation: a sharded config needs a shard spec.
    if (
        memory_config is not None
        and memory_config.is_sharded()
        and memory_config.shard_spec is None
        and memory_config.nd_shard_spec is None
    ):
        raise fatal(f"{op}: Shard spec must not be None for sharded tensors")


def require_sharded(tensor: Tensor, op: str) -> None:
    # sharded_to_interleaved_op.cpp: "Input tensor must be sharded"
    if not tensor.is_sharded():
        raise fatal(f"{op}: Input tensor must be sharded")


def check_mesh_shape(requested: int, shape_repr: str, available: int, system_repr: str) -> None:
    # tt_metal/distributed/system_mesh.cpp (wording of ttnn 0.81.1)
    if requested > available:
        raise fatal(
            f"Requested mesh shape {shape_repr} requires {requested} devices, but only {available} devices are "
            f"available in the system mesh {system_repr}."
        )


def check_device_id(device_id: int, available: int) -> None:
    # tt_metal/impl/device/device_manager.cpp: "Device ID {} exceeds maximum supported devices {}"
    if not 0 <= device_id < available:
        raise fatal(f"Device ID {device_id} exceeds maximum supported devices {available}")


# -- compute ops: eltwise, matmul, normalization, embedding, reduction ---------------------------------------


def _fmt(value: Any) -> str:
    """Enums the way ttnn's fmt formatting prints them (e.g. Layout::ROW_MAJOR, DataType::UINT32)."""
    return f"{type(value).__name__}::{value.name}"


def _last_hw(shape: Sequence[int]) -> tuple[int, int]:
    return (shape[-2] if len(shape) >= 2 else 1), (shape[-1] if len(shape) >= 1 else 1)


def check_binary_broadcast(shape_a: Sequence[int], shape_b: Sequence[int]) -> None:
    """binary_ng_device_operation.cpp: the sub-tile broadcast kind is chosen from the logical (H, W) first
    (get_subtile_broadcast_type), then every dim pair must be equal or 1 (validate_on_program_cache_hit)."""
    (a_h, a_w), (b_h, b_w) = _last_hw(shape_a), _last_hw(shape_b)
    if (a_h, a_w) != (b_h, b_w) and 1 not in (a_h, a_w, b_h, b_w):
        raise fatal("Invalid subtile broadcast type")
    rank_a, rank_b = len(shape_a), len(shape_b)
    for i in range(-1, -max(rank_a, rank_b) - 1, -1):
        a_dim = shape_a[i] if i >= -rank_a else 1
        b_dim = shape_b[i] if i >= -rank_b else 1
        if not (a_dim == b_dim or a_dim == 1 or b_dim == 1):
            raise fatal(f"Broadcasting rule violation for rank {i}, dim a: {a_dim}, dim b: {b_dim}")
        if i <= -6 and a_dim != b_dim:
            raise fatal(
                f"Broadcasting rule violation for rank >= 6 : dim {i}, Broadcast is supported up to rank 5, "
                f"dim a: {a_dim}, dim b: {b_dim}"
            )


def check_output_dtype(dtype: DataType | None, output_dtype: DataType | None) -> None:
    # binary_ng.cpp
    if dtype is not None and output_dtype is not None and dtype != output_dtype:
        raise fatal("If both output dtype and output tensor are provided, their dtypes should match")


def check_output_shape(provided: Sequence[int], expected: Sequence[int]) -> None:
    # binary_ng_device_operation.cpp compute_output_specs
    if list(provided) != list(expected):
        raise fatal(
            f"Shape of Output tensor {list(provided)} provided does not match the broadcasted output shape "
            f"{list(expected)}"
        )


def check_matmul_inputs(
    a_layout: Layout, b_layout: Layout, a_dtype: DataType, a_shape: Sequence[int], b_shape: Sequence[int]
) -> None:
    """matmul_device_operation.cpp (validate_on_program_cache_miss, validate_matmul_matrix_dimensions);
    shapes are taken after transpose_a / transpose_b."""
    if a_layout != Layout.TILE or b_layout != Layout.TILE:
        raise fatal("Inputs to matmul must be tilized")
    if len(b_shape) < 2:
        raise fatal(f"Matmul expects input B rank >= 2, got {len(b_shape)}")
    if a_shape[-1] != b_shape[-2]:
        raise fatal(
            "The width of the first tensor must be equal to the height of the second tensor. "
            f"Mismatch: width={a_shape[-1]} height={b_shape[-2]}"
        )
    if a_dtype not in (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B):
        raise fatal("Unsupported data format")


def batch_size(shape: Sequence[int]) -> int:
    """Product of all dims but the last two (get_batch_size in matmul_device_operation.cpp)."""
    size = 1
    for d in shape[:-2]:
        size *= d
    return size


def check_matmul_batch(a_shape: Sequence[int], b_shape: Sequence[int], bcast_batch: bool) -> None:
    """matmul_device_operation.cpp: B's batch may broadcast (all ones), A's may not."""
    if bcast_batch:
        return
    if len(a_shape) != len(b_shape):
        raise fatal(
            f"Input tensors must have the same rank, got a_shape rank: {len(a_shape)} vs b_shape rank: "
            f"{len(b_shape)}"
        )
    for i in range(len(a_shape) - 2):
        if a_shape[i] != b_shape[i]:
            raise fatal(
                "bmm (non-bcast matmul) expects input tensors of shapes BCMK*BCKN=BCMN or batch dimension "
                f"{i} mismatch: a={a_shape[i]} vs b={b_shape[i]} (dimension mismatch only allowed on the "
                "broadcast batch dim when a[batch_dim]=1 and using MatmulMultiCoreReuseMultiCast1DProgramConfig "
                "with fuse_batch=false, fused_activation=none, mcast_in0=false, and non-sharded inputs for in0 "
                "reuse optimization)"
            )


def check_matmul_fuse_batch(b_padded: Sequence[int]) -> None:
    # matmul_device_operation.cpp: program configs with fuse_batch=True
    if batch_size(b_padded) != 1:
        raise fatal(
            "Matmul with fused batch requires input tensors of shapes BCMK*11KN=BCMN or equivalent. Please "
            "change the second input tensor or adjust the program config."
        )


def check_linear_bias(
    b_batched: bool,
    bias_layout: Layout,
    bias_shape: Sequence[int],
    bias_padded: Sequence[int],
    b_shape: Sequence[int],
    b_padded: Sequence[int],
) -> None:
    """matmul.cpp (LinearOperation::invoke) then matmul_device_operation.cpp bias checks."""
    if b_batched:
        raise fatal("Batched input not supported when bias exists (linear operation).")
    if bias_layout != Layout.TILE:
        raise fatal("Unsupported input layout")
    if batch_size(bias_shape) != 1:
        raise fatal("Unsupported bias shape: batch size not equal to 1.")
    # A rank-1 TILE bias occupies one tile row, like a [1, N] one.
    padded_h = bias_padded[-2] if len(bias_padded) >= 2 else 32
    if padded_h != 32:
        raise fatal(
            "Unsupported bias shape: padded second last dimension of bias, "
            f"{padded_h}, not equal to tile height, 32"
        )
    if bias_padded[-1] != b_padded[-1]:
        raise fatal(
            f"Unsupported bias shape: padded last dimension of bias, {bias_padded[-1]}, not equal to second "
            f"input's padded last dimension, {b_padded[-1]}."
        )
    if bias_shape[-1] < b_shape[-1]:
        raise fatal(
            f"Unsupported bias shape: last dimension of bias, {bias_shape[-1]}, not equal to or greater than "
            f"second input's last dimension, {b_shape[-1]}."
        )


def check_unknown_activation(name: str) -> None:
    # unary_op_utils.cpp string_to_unary_with_param
    raise fatal(f"Unknown unary op: {name}")


def check_norm_input(layout: Layout, dtype: DataType, padded: Sequence[int], residual_padded: Any) -> None:
    """layernorm_device_operation.cpp (layer_norm and rms_norm share it)."""
    if layout != Layout.TILE:
        raise fatal(f"Input tensor must have TILE layout, got: {_fmt(layout)}")
    if dtype not in (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B):
        raise fatal(f"Input tensor must be FLOAT32, BFLOAT16, or BFLOAT8_B, got: {_fmt(dtype)}")
    if residual_padded is not None and list(residual_padded) != list(padded):
        raise fatal(
            f"Input and residual shapes must match, got input: {list(padded)} vs residual: {list(residual_padded)}"
        )


def check_norm_affine(
    name: str,
    layout: Layout,
    dtype: DataType,
    padded: Sequence[int],
    volume: int,
    input_padded: Sequence[int],
) -> None:
    """gamma ("Gamma") / beta ("Beta") of layer_norm / rms_norm: TILE [.., 32, W] or ROW_MAJOR [.., W/32, 32]
    in bf16 / fp32 (layernorm_device_operation.cpp; the two params have their own wordings)."""
    width = input_padded[-1]
    gamma = name == "Gamma"
    if layout == Layout.TILE:
        if padded[-1] != width:
            raise fatal(
                f"{width} != {padded[-1]}"
                if gamma
                else f"Input and beta inner dimensions must match, got input: {width} vs beta: {padded[-1]}"
            )
        if padded[-2] != 32:
            raise fatal(f"{name} tensor height must be TILE_HEIGHT (32), got: {padded[-2]}")
        return
    if padded[-1] != 32 or volume // 32 != width // 32:
        raise fatal(
            "Gamma's last padded dim needs to equal tile width and gamma's volume needs to align with last padded "
            f"dim of input. Error with gamma.value().padded_shape(): {list(padded)}, TILE_WIDTH: 32, "
            f"gamma.value().physical_volume(): {volume}, a.padded_shape(): {list(input_padded)}"
            if gamma
            else f"Beta tensor dimensions must align with input tensor. Got beta padded shape: {padded[-1]}, "
            f"physical volume: {volume}, input padded shape: {width}, TILE_WIDTH: 32"
        )
    if dtype not in (DataType.FLOAT32, DataType.BFLOAT16):
        raise fatal(f"{name} tensor must be FLOAT32 or BFLOAT16, got: {_fmt(dtype)}")


def check_norm_affine_layouts(gamma_layout: Layout | None, beta_layout: Layout | None) -> None:
    if gamma_layout is not None and beta_layout is not None and gamma_layout != beta_layout:
        raise fatal("Gamma and beta must have the same layout!")


def check_embedding(index_dtype: DataType, weight_dtype: DataType, refused_typecast: bool) -> None:
    """embedding.cpp / embedding_device_operation.cpp; `refused_typecast`: a dtype change asked of the
    ROW_MAJOR path (embedding.cpp decides when)."""
    if index_dtype not in (DataType.UINT32, DataType.BFLOAT16):
        raise fatal("Input must be UINT32 or BFLOAT16")
    if weight_dtype != DataType.BFLOAT16:
        raise fatal("Weights tensor must have BFLOAT16 dtype")
    if refused_typecast:
        raise fatal("Can only typecast output embeddings when producing TILE_LAYOUT output")


def check_row_major_input(layout: Layout) -> None:
    # argmax_device_operation.cpp
    if layout != Layout.ROW_MAJOR:
        raise fatal("Only ROW_MAJOR layout is supported for inputs!")


def check_reduce_dim(dim: int, rank: int) -> None:
    if not -rank <= dim < rank:
        raise fatal(f"Dimension {dim} is out of range for a tensor of rank {rank}")


def check_matmul_grid_or_config(has_core_grid: bool, has_program_config: bool) -> None:
    # matmul_device_operation.cpp create_matmul_attributes
    if has_core_grid and has_program_config:
        raise fatal("Cannot use both user core grid/coordinates and a program config")


def check_matmul_program_config(
    config: Any, device_grid: tuple[int, int], m_tiles: int, n_tiles: int, dest_tiles: int
) -> None:
    """matmul_device_operation.cpp: block/subblock shapes, grid and Dst capacity of a program config."""
    for field in ("in0_block_w", "per_core_M", "per_core_N"):
        if getattr(config, field) == 0:
            raise fatal(f"{field} is 0, which is not valid")
    grid = getattr(config, "compute_with_storage_grid_size", None)
    if grid is None:  # DRAM-sharded configs carry no grid or subblocks
        return
    if grid.x > device_grid[0] or grid.y > device_grid[1]:
        raise fatal(
            f"compute_with_storage_grid_size ({grid.x}, {grid.y}) must fit within device grid "
            f"({device_grid[0]}, {device_grid[1]})"
        )
    sub_h, sub_w = config.out_subblock_h, config.out_subblock_w
    if sub_h == 0 or sub_w == 0:
        raise fatal(f"out_subblock_{'h' if sub_h == 0 else 'w'} is 0, which is not valid")
    block_h = getattr(config, "out_block_h", None) or config.per_core_M
    block_w = getattr(config, "out_block_w", None) or config.per_core_N
    if block_h % sub_h:
        raise fatal(f"out_block_h ({block_h}) must be divisible by out_subblock_h ({sub_h})")
    if block_w % sub_w:
        raise fatal(f"out_block_w ({block_w}) must be divisible by out_subblock_w ({sub_w})")
    if sub_h * sub_w > dest_tiles:
        raise fatal(
            f"out_subblock_w {sub_w} times out_subblock_h {sub_h} needs to be at most {dest_tiles} to fit in "
            "hardware"
        )
    blocks_y = (m_tiles - 1) // config.per_core_M + 1
    blocks_x = (n_tiles - 1) // config.per_core_N + 1
    if type(config).__name__ == "MatmulMultiCoreReuseMultiCastProgramConfig":
        if config.transpose_mcast:
            blocks_x, blocks_y = blocks_y, blocks_x
        if blocks_x > grid.x:
            raise fatal(
                f"Num output blocks along x ({blocks_x}) must be smaller than or equal to the number of columns "
                f"in compute grid ({grid.x})!"
            )
        if blocks_y > grid.y:
            raise fatal(
                f"Num output blocks along y ({blocks_y}) must be smaller than or equal to the number of rows in "
                f"compute grid ({grid.y})!"
            )
    elif type(config).__name__ == "MatmulMultiCoreReuseMultiCast1DProgramConfig":
        if blocks_x * blocks_y > grid.x * grid.y:
            raise fatal(
                f"Number of blocks exceeds number of cores: {blocks_x * blocks_y} blocks > {grid.x * grid.y} cores"
            )
