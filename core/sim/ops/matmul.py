"""ttnn.matmul / ttnn.linear and the matmul program config classes on the simulator.

The op flow follows ttnn/cpp/ttnn/operations/matmul/matmul.cpp (bound_matmul): validation of
matmul_device_operation.cpp, the product with the device's fidelity/accumulation numerics
(core/sim/numerics/fidelity.py), then - when ttnn does so - the bias and the activation as separate device
ops (each rounding its output), otherwise fused before the single output rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import projection, rules
from ..numerics import derived, fidelity
from ..records import OpConfig
from ..tensor import Tensor, broadcast_shape, compute_values, device_op
from ..types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    CoreCoord,
    CoreGrid,
    CoreRangeSet,
    DataType,
    Layout,
    MemoryConfig,
    TensorMemoryLayout,
    UnaryWithParam,
    WormholeComputeKernelConfig,
)
from . import eltwise

__all__ = [
    "MatmulMultiCoreReuseMultiCast1DProgramConfig",
    "MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig",
    "MatmulMultiCoreReuseMultiCastProgramConfig",
    "MatmulMultiCoreReuseProgramConfig",
    "MinimalMatmulConfig",
    "linear",
    "matmul",
]


def _coord(grid: Any) -> CoreCoord:
    """Program configs take a CoreCoord; ports also pass (x, y) tuples, which nanobind converts."""
    return grid if isinstance(grid, CoreCoord) else CoreCoord(*grid)


def _multicast_post_init(config: Any) -> None:
    """__post_init__ of the two multicast configs: out_block_h / out_block_w default to per_core_M / N."""
    config.compute_with_storage_grid_size = _coord(config.compute_with_storage_grid_size)
    config.out_block_h = config.out_block_h or config.per_core_M
    config.out_block_w = config.out_block_w or config.per_core_N


# Keyword names and defaults from matmul_nanobind.cpp (all keyword-only there too).
@dataclass(kw_only=True)
class MinimalMatmulConfig:
    """ttnn.MinimalMatmulConfig: the blocking (in tiles) of ttnn.experimental.minimal_matmul."""

    M_block_size: int = 1
    K_block_size: int = 1
    N_block_size: int = 1
    subblock_h: int = 1
    subblock_w: int = 1
    compute_with_storage_grid_size: Any = None

    def __post_init__(self) -> None:
        if self.compute_with_storage_grid_size is not None:
            self.compute_with_storage_grid_size = _coord(self.compute_with_storage_grid_size)


@dataclass(kw_only=True)
class MatmulMultiCoreReuseProgramConfig:
    compute_with_storage_grid_size: CoreCoord
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    per_core_M: int
    per_core_N: int
    allowed_worker_cores: CoreRangeSet | None = None  # placement only

    def __post_init__(self) -> None:
        self.compute_with_storage_grid_size = _coord(self.compute_with_storage_grid_size)


@dataclass(kw_only=True)
class MatmulMultiCoreReuseMultiCastProgramConfig:
    compute_with_storage_grid_size: CoreCoord
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    out_block_h: int | None = None
    out_block_w: int | None = None
    per_core_M: int
    per_core_N: int
    transpose_mcast: bool
    fused_activation: UnaryWithParam | None = None
    fuse_batch: bool = True
    allowed_worker_cores: CoreRangeSet | None = None  # placement only

    __post_init__ = _multicast_post_init


@dataclass(kw_only=True)
class MatmulMultiCoreReuseMultiCast1DProgramConfig:
    compute_with_storage_grid_size: CoreCoord
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    out_block_h: int | None = None
    out_block_w: int | None = None
    per_core_M: int
    per_core_N: int
    fuse_batch: bool
    fused_activation: UnaryWithParam | None = None
    mcast_in0: bool
    gather_in0: bool = False
    hop_cores: CoreRangeSet | None = None
    num_global_cb_receivers: int = 1
    untilize_out: bool = False
    allowed_worker_cores: CoreRangeSet | None = None  # placement only
    stream_in1: bool = False  # data movement only

    __post_init__ = _multicast_post_init


@dataclass(kw_only=True)
class MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig:
    in0_block_w: int
    per_core_M: int
    per_core_N: int
    fused_activation: UnaryWithParam | None = None
    num_workers_per_dram_bank: int | None = None  # placement only


_FUSE_BATCH_CONFIGS = (
    MatmulMultiCoreReuseMultiCastProgramConfig,
    MatmulMultiCoreReuseMultiCast1DProgramConfig,
)


def _swap_last(shape: Any, swap: bool) -> list[int]:
    dims = list(shape)
    if swap and len(dims) >= 2:
        dims[-1], dims[-2] = dims[-2], dims[-1]
    return dims


def _is_batched(shape: Any) -> bool:
    """matmul.cpp detail::is_input_batched: any dim before the last two larger than 1."""
    return any(d > 1 for d in list(shape)[:-2])


def _cores(program_config: Any, core_grid: CoreGrid | None) -> int | None:
    """Worker cores fixed by the caller (a program config's compute grid, or core_grid); None when ttnn
    picks the grid itself."""
    grid = getattr(program_config, "compute_with_storage_grid_size", None) or core_grid
    return None if grid is None else int(grid.x) * int(grid.y)


def _post_process_bias(program_config: Any, core_grid: Any, mc: MemoryConfig, a: Tensor, b: Tensor) -> bool:
    """matmul.cpp get_post_process_bias: when ttnn adds the bias as a separate ttnn.add after the matmul."""
    if program_config is not None or core_grid is not None:
        return False  # none of the simulator's program configs is MatmulMultiCoreProgramConfig
    if mc.buffer_type != BufferType.DRAM:
        return True
    if a.is_sharded():
        return False
    interleaved_dram = all(
        t.memory_layout == TensorMemoryLayout.INTERLEAVED and t.buffer_type == BufferType.DRAM
        for t in (a.memory_config(), b.memory_config())
    )
    return not (interleaved_dram and mc.memory_layout == TensorMemoryLayout.INTERLEAVED)


def _k_blocking(
    device: Any,
    a: Tensor,
    b: Tensor,
    a_padded: list[int],
    b_padded: list[int],
    out_dtype: DataType,
    numerics: fidelity.MatmulNumerics,
    mc: MemoryConfig,
    *,
    program_config: Any,
    core_grid: CoreGrid | None,
    fused_bias: bool,
    packer_l1_acc: bool,
) -> fidelity.KBlocking | None:
    """The K blocks the kernel accumulates over (numerics/fidelity.py KBlocking): in0_block_w from the program
    config, or from the one ttnn generates (the projection's `blocking`, matmul_program_config.cpp). Only
    resolved when the blocks can change the values (fidelity.blocks_can_matter)."""
    if not fidelity.blocks_can_matter(numerics, out_dtype, packer_l1_acc):
        return None
    grid = None if core_grid is None or program_config is not None else (int(core_grid.x), int(core_grid.y))
    problem = projection.MatmulProblem(
        m=a_padded[-2],
        k=a_padded[-1],
        n=b_padded[-1],
        batch=rules.batch_size(a_padded),
        b_batched=rules.batch_size(b_padded) > 1,
        dtype_a=a.dtype.name,
        dtype_b=b.dtype.name,
        dtype_out=out_dtype.name,
        fidelity=numerics.math_fidelity.name,
        fp32_acc=numerics.fp32_dest_acc_en,
        a_buffer=a.memory_config().buffer_type.name,
        b_buffer=b.memory_config().buffer_type.name,
        out_buffer=mc.buffer_type.name,
        a_sharded=a.is_sharded(),
        out_sharded=mc.memory_layout != TensorMemoryLayout.INTERLEAVED,
        program_config=program_config,
        grid=grid,
    )
    in0_block_w = projection.blocking(problem, device.board).in0_block_w
    return fidelity.k_blocking(
        a_padded[-1] // 32,
        in0_block_w,
        packer_l1_acc=packer_l1_acc,
        fp32_dest_acc_en=numerics.fp32_dest_acc_en,
        output_dtype=out_dtype,
        fused_bias=fused_bias,
    )


def _bound_matmul(
    name: str,
    a: Tensor,
    b: Tensor,
    bias: Tensor | None,
    *,
    transpose_a: bool,
    transpose_b: bool,
    memory_config: MemoryConfig | None,
    dtype: DataType | None,
    program_config: Any,
    activation: Any,
    compute_kernel_config: WormholeComputeKernelConfig | None,
    core_grid: CoreGrid | None,
    optional_output_tensor: Tensor | None,
) -> Tensor:
    device = rules.require_same_device(name, [a, b] + ([bias] if bias is not None else []))
    a_shape, b_shape = _swap_last(a.shape, transpose_a), _swap_last(b.shape, transpose_b)
    a_padded, b_padded = _swap_last(a.padded_shape, transpose_a), _swap_last(b.padded_shape, transpose_b)
    if bias is not None:
        rules.check_linear_bias(
            _is_batched(b.shape), bias.layout, bias.shape, bias.padded_shape, b_shape, b_padded
        )
    rules.check_matmul_inputs(a.layout, b.layout, a.dtype, a_shape, b_shape)

    rules.check_matmul_grid_or_config(core_grid is not None, program_config is not None)
    bcast_batch = rules.batch_size(b_padded) == 1
    if isinstance(program_config, MatmulMultiCoreReuseProgramConfig):
        bcast_batch = bcast_batch and rules.batch_size(a_padded) > 1
    rules.check_matmul_batch(a_shape, b_shape, bcast_batch)
    if isinstance(program_config, _FUSE_BATCH_CONFIGS) and program_config.fuse_batch:
        rules.check_matmul_fuse_batch(b_padded)

    out_dtype = dtype or a.dtype
    if compute_kernel_config is not None:
        numerics = fidelity.numerics_from_config(compute_kernel_config)
        full_sync = compute_kernel_config.dst_full_sync_en
    else:
        numerics = fidelity.default_matmul_numerics(
            a.dtype,
            b.dtype,
            out_dtype,
            arch=device.arch(),
            has_program_config_or_grid=program_config is not None or core_grid is not None,
        )
        full_sync = False
    if program_config is not None:
        # ttnn::get_dest_reg_count: 8 tiles of a half-synced 16-bit Dst, halved for fp32, doubled by full sync.
        dest_tiles = (16 if full_sync else 8) // (2 if numerics.fp32_dest_acc_en else 1)
        m_tiles = rules.batch_size(a_padded) * a_padded[-2] // 32
        grid = device.compute_with_storage_grid_size()
        rules.check_matmul_program_config(
            program_config, (grid.x, grid.y), m_tiles, b_padded[-1] // 32, dest_tiles
        )

    user_activation = eltwise.resolve_activation(activation)
    fused = [getattr(program_config, "fused_activation", None)]
    post_activation = None
    if core_grid is not None:
        fused.append(user_activation)
    else:
        post_activation = user_activation
    # A fused activation runs on the matmul's Dst with its compute switches (approx unknown without a config:
    # taken as off).
    approx = bool(compute_kernel_config.math_approx_mode) if compute_kernel_config is not None else False
    fused_fns = [
        eltwise.activation_fn(
            eltwise.resolve_activation(f),
            math_approx_mode=approx,
            fp32_dest=numerics.fp32_dest_acc_en,
            arch=device.arch(),
        )
        for f in fused
        if f is not None
    ]

    mc = memory_config or DRAM_MEMORY_CONFIG
    post_bias = bias is not None and _post_process_bias(program_config, core_grid, mc, a, b)
    fused_bias = bias is not None and not post_bias
    n = b_shape[-1]
    blocking = _k_blocking(
        device, a, b, a_padded, b_padded, out_dtype, numerics, mc,
        program_config=program_config, core_grid=core_grid, fused_bias=fused_bias,
        packer_l1_acc=bool(getattr(compute_kernel_config, "packer_l1_acc", False)),
    )  # fmt: skip

    def compute(av: torch.Tensor, b_stored: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        # stored_inputs: b's buffer values identify a weight to the per-weight caches (numerics/derived.py;
        # fidelity.matmul widens a large weight itself, block by block)
        if fidelity.widens_by_column_blocks(b_stored, numerics):
            bv = b_stored
        elif derived.widen_once(b_stored, av.numel() // av.shape[-2 if transpose_a else -1]):
            bv = derived.widened_weights().get(b_stored, torch.float32, lambda: compute_values(b_stored))
        else:
            bv = compute_values(b_stored)
        av, rest = compute_values(av), [compute_values(r) for r in rest]
        if transpose_a:
            av = av.transpose(-1, -2)
        if transpose_b:
            bv = bv.transpose(-1, -2)
        out = fidelity.matmul(
            av, bv, a.dtype, b.dtype, numerics, arch=device.arch(), blocking=blocking,
            b_stored=(b_stored, transpose_b),
        )  # fmt: skip
        if fused_bias:
            # The kernel broadcasts the bias tile's first row over the output rows (add_bcast_rows).
            out.add_(rest[0].reshape(-1, rest[0].shape[-1])[0, :n])  # out is the fresh product
        for fn in fused_fns:
            out = fn(out)
        return out

    inputs = [a, b] + ([bias] if fused_bias else [])
    untilize = getattr(program_config, "untilize_out", False)
    layout = Layout.ROW_MAJOR if untilize else Layout.TILE
    config = OpConfig(
        math_fidelity=numerics.math_fidelity.name,
        fp32_dest_acc_en=numerics.fp32_dest_acc_en,
        packer_l1_acc=getattr(compute_kernel_config, "packer_l1_acc", None),
        program_config=type(program_config).__name__ if program_config is not None else None,
        cores=_cores(program_config, core_grid),
        attributes={
            "transpose_a": transpose_a,
            "transpose_b": transpose_b,
            "program_config": program_config,
            "core_grid": core_grid,
        },
    )

    def output_shape(a_in: tuple[int, ...], b_in: tuple[int, ...], *_: tuple[int, ...]) -> tuple[int, ...]:
        """[*broadcast batch, M, N] of the (transposed) operands, as torch.matmul gives it."""
        a_dims, b_dims = _swap_last(a_in, transpose_a), _swap_last(b_in, transpose_b)
        return (*broadcast_shape(a_dims[:-2], b_dims[:-2]), a_dims[-2], b_dims[-1])

    out = device_op(
        name,
        inputs,
        compute,
        dtype=out_dtype,
        layout=layout,
        memory_config=mc,
        config=config,
        output_shapes=output_shape,
        stored_inputs=True,
        # a data-parallel batch against a replicated weight: one product for all chips (the output's dim 0
        # is a's while b has no batch and no more dims than a)
        stack_chips=(0,)
        if not transpose_a and not _is_batched(b.shape) and len(a.shape) >= len(b.shape)
        else (),
    )
    if post_bias:
        out = eltwise.add(out, bias, memory_config=mc)
    if post_activation is not None:
        out = eltwise.apply_activation(out, post_activation, mc)
    return eltwise.into_output(out, optional_output_tensor)


def matmul(
    input_tensor_a: Tensor,
    input_tensor_b: Tensor,
    *,
    transpose_a: bool = False,
    transpose_b: bool = False,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    program_config: Any = None,
    activation: Any = None,
    compute_kernel_config: WormholeComputeKernelConfig | None = None,
    core_grid: CoreGrid | None = None,
    output_tile: Any = None,
    optional_output_tensor: Tensor | None = None,
    global_cb: Any = None,
    sub_device_id: Any = None,
) -> Tensor:
    """ttnn.matmul: batched a @ b of TILE tensors; B's batch may broadcast, A's may not."""
    return _bound_matmul(
        "matmul",
        input_tensor_a,
        input_tensor_b,
        None,
        transpose_a=transpose_a,
        transpose_b=transpose_b,
        memory_config=memory_config,
        dtype=dtype,
        program_config=program_config,
        activation=activation,
        compute_kernel_config=compute_kernel_config,
        core_grid=core_grid,
        optional_output_tensor=optional_output_tensor,
    )


def linear(
    input_tensor_a: Tensor,
    input_tensor_b: Tensor,
    *,
    bias: Tensor | None = None,
    transpose_a: bool = False,
    transpose_b: bool = False,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    program_config: Any = None,
    activation: Any = None,
    compute_kernel_config: WormholeComputeKernelConfig | None = None,
    core_grid: CoreGrid | None = None,
    output_tile: Any = None,
    optional_output_tensor: Tensor | None = None,
    global_cb: Any = None,
    sub_device_id: Any = None,
) -> Tensor:
    """ttnn.linear: a @ b + bias ([1, N] TILE row); B must not be batched when a bias is given."""
    return _bound_matmul(
        "linear",
        input_tensor_a,
        input_tensor_b,
        bias,
        transpose_a=transpose_a,
        transpose_b=transpose_b,
        memory_config=memory_config,
        dtype=dtype,
        program_config=program_config,
        activation=activation,
        compute_kernel_config=compute_kernel_config,
        core_grid=core_grid,
        optional_output_tensor=optional_output_tensor,
    )


def addmm(
    input_tensor: Tensor,
    mat1_tensor: Tensor,
    mat2_tensor: Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    program_config: Any = None,
    compute_kernel_config: WormholeComputeKernelConfig | None = None,
    core_grid: CoreGrid | None = None,
    output_tile: Any = None,
    optional_output_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.addmm: beta * input + alpha * (mat1 @ mat2): the matmul with its numerics, then the scaled add as
    further device ops (addmm.cpp composes them the same way)."""
    product = matmul(
        mat1_tensor, mat2_tensor, memory_config=memory_config, dtype=dtype, program_config=program_config,
        compute_kernel_config=compute_kernel_config, core_grid=core_grid,
    )  # fmt: skip
    if alpha != 1.0:
        product = eltwise.multiply(product, alpha)
    scaled = eltwise.multiply(input_tensor, beta) if beta != 1.0 else input_tensor
    out = eltwise.add(product, scaled, memory_config=memory_config)
    return eltwise.into_output(out, optional_output_tensor)


__all__ += ["addmm"]
