"""Collective (CCL) ops on a simulated mesh: ttnn.all_gather, ttnn.reduce_scatter, ttnn.all_reduce and the
experimental async / "minimal" variants model code calls (ttnn.experimental.all_gather_async,
reduce_scatter_minimal_async, all_reduce_async), with ttnn 0.81.1's signatures (probed on the wheel) and the
validation wording of tt-metal's ccl device operations.

Which chips take part: with `cluster_axis` the op runs independently on every line of chips along that mesh
axis (axis 0: each column, axis 1: each row); without it on the whole mesh, which a 2D mesh does as one op per
axis (ttnn/cpp/ttnn/operations/ccl/all_gather/all_gather.cpp: axis 1 then axis 0; reduce_scatter.cpp: axis 0
then axis 1). A chip's position along its line is its ring index ("my_chip_id" of the kernels).

Numerics: a reduce-scatter (and the all-reduce built from it) rounds every addition to the tensor's dtype
in the order the partial sums visit the chips: core/sim/numerics/collective.py says which order, with its
sources. all_reduce is a reduce-scatter on the last dim (in tiles) divisible by the number of chips, then an
all-gather (experimental/ccl/all_reduce_async/all_reduce_async.cpp); with no such dim, an all-gather and a
local sum in chip order.

Accounting: outputs and the buffers the ops allocate for themselves (reduce-scatter's intermediate: the input's
shape, twice as tall for Linear, reduce_scatter_minimal_async_op_device_operation.cpp compute_output_specs) are
allocated on every chip before anything is computed (out of memory fails first); intermediates are freed when
the op returns. Every chip's op record carries what crossed its ethernet links (bytes sent and received, the
busiest directed link's bytes, steps), and Stats counts the bytes: what the projection prices.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .. import rules
from ..numerics import formats
from ..numerics.collective import accumulate, reduce_slices
from ..records import OpConfig
from ..runtime import Buffer, Device, MeshDevice, chips
from ..subdevices import SubDeviceId
from ..tensor import (
    TILE_SIZE,
    Tensor,
    _free_all,
    _garbage,
    _record,
    allocate_buffers,
    padded_shape_of,
    program_key,
    storage_values,
)
from ..types import DataType, Layout, MemoryConfig, TensorMemoryLayout
from .fabric import FabricConfig, GlobalSemaphore, Topology, get_fabric_config
from .golden import attach_golden_function

__all__ = ["all_gather", "all_reduce", "get_usable_topology", "mesh_partition", "reduce_scatter"]

# ttnn.experimental names (re-exported by ttport.sim.ttnn.experimental).
EXPERIMENTAL = [
    "all_gather_async",
    "all_reduce_async",
    "reduce_scatter_minimal_async",
    "reduce_scatter_minimal_async_create_intermediate_buffer",
]

_RING_CONFIGS = {
    FabricConfig.FABRIC_1D_RING,
    FabricConfig.FABRIC_2D_TORUS_XY,
    FabricConfig.FABRIC_2D_TORUS_X,
    FabricConfig.FABRIC_2D_TORUS_Y,
}
_SUPPORTED_LAYOUTS = (
    TensorMemoryLayout.INTERLEAVED,
    TensorMemoryLayout.WIDTH_SHARDED,
    TensorMemoryLayout.BLOCK_SHARDED,
    TensorMemoryLayout.HEIGHT_SHARDED,
)


# -- which chips, which topology -------------------------------------------------------------------------


def _mesh_shape(device: Device | MeshDevice) -> tuple[int, int]:
    shape = device.shape
    return int(shape[0]), int(shape[1])


def _check_cluster_axis(device: Device | MeshDevice, cluster_axis: int | None) -> None:
    if cluster_axis is None:
        return
    rules.require(
        isinstance(cluster_axis, int) and cluster_axis in (0, 1),
        f"cluster_axis must be 0 or 1 on a 2D mesh, but got {cluster_axis}",
    )


def _is_line_mesh(device: Device | MeshDevice) -> bool:
    rows, cols = _mesh_shape(device)
    return rows == 1 or cols == 1


def _groups(device: Device | MeshDevice, cluster_axis: int | None) -> list[list[int]]:
    """Chip indices (row-major into the mesh) of every independent line the op runs on, in ring order."""
    return _line_groups(_mesh_shape(device), cluster_axis)


def _line_groups(shape: Sequence[int], cluster_axis: int | None) -> list[list[int]]:
    rows, cols = shape
    if cluster_axis is None:
        return [list(range(rows * cols))]
    if cluster_axis == 0:
        return [[r * cols + c for r in range(rows)] for c in range(cols)]
    return [[r * cols + c for c in range(cols)] for r in range(rows)]


def _line_axis(device: Device | MeshDevice, cluster_axis: int | None) -> int:
    """The mesh axis the chips of one group lie along."""
    if cluster_axis is not None:
        return cluster_axis
    rows, _ = _mesh_shape(device)
    return 0 if rows > 1 else 1


def _usable_topology(
    device: Device | MeshDevice, requested: Topology | None, cluster_axis: int | None
) -> Topology:
    """ttnn.get_usable_topology: the fabric's topology unless one is requested; 2D topologies map to 1D
    (Mesh -> Linear, Torus -> Ring: ccl_common convert_2d_to_1d_topology); Ring is demoted to Linear where the
    chips along the axis do not close into a ring on this board."""
    if requested is not None:
        rules.require(isinstance(requested, Topology), f"topology must be a ttnn.Topology, got {requested!r}")
    topology = requested
    if topology is None:
        topology = Topology.Ring if get_fabric_config() in _RING_CONFIGS else Topology.Linear
    if topology == Topology.Mesh:
        topology = Topology.Linear
    elif topology == Topology.Torus:
        topology = Topology.Ring
    if topology == Topology.Ring:
        rows, cols = _mesh_shape(device)
        fabric = device.board.fabric
        if fabric is None or not fabric.is_ring(rows, cols, _line_axis(device, cluster_axis)):
            topology = Topology.Linear
    return topology


def _default_links(device: Device | MeshDevice, cluster_axis: int | None) -> int:
    """ttnn's default num_links: the links between neighbours along the axis (the smaller of both axes
    without one)."""
    fabric = device.board.fabric
    if fabric is None:
        return 1
    if cluster_axis is None:
        return min(fabric.links) if not _is_line_mesh(device) else fabric.links[_line_axis(device, None)]
    return fabric.links[cluster_axis]


def get_usable_topology(
    tensor: Tensor, topology: Topology | None = None, cluster_axis: int | None = None
) -> Topology:
    """ttnn.get_usable_topology(tensor, topology=None, cluster_axis=None)."""
    device = _device_of(tensor, "get_usable_topology")
    _check_cluster_axis(device, cluster_axis)
    return _usable_topology(device, topology, cluster_axis)


def _device_of(tensor: Tensor, op: str) -> Device | MeshDevice:
    rules.require(isinstance(tensor, Tensor), f"{op}: input_tensor must be a ttnn.Tensor, got {type(tensor)}")
    rules.require(tensor.device() is not None, f"Operands to {op} need to be on device!")
    rules.require_open(tensor.device(), op)
    rules.require_allocated(tensor, op)
    return tensor.device()


# -- link traffic --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """What one collective moves over the ethernet links of one line of N chips, in units of one slice
    (the bytes of one chip's share). Directed links: forward (position p -> p+1) and backward (p+1 -> p)."""

    sent: tuple[float, ...]  # slices each position sends
    received: tuple[float, ...]
    busiest_link: float  # slices over the most loaded directed link
    steps: int  # sequential hops on the critical path


def gather_traffic(n: int, ring: bool) -> Traffic:
    """All-gather: every chip's slice reaches every other chip; one send is forwarded along its path (each
    link a slice crosses carries it once). Ring: each slice goes ceil((N-1)/2) hops one way and the rest the
    other way; Linear: to both ends."""
    if n <= 1:
        return Traffic((0.0,) * n, (0.0,) * n, 0.0, 0)
    if ring:
        fwd, bwd = math.ceil((n - 1) / 2), (n - 1) // 2
        sent = tuple(float(fwd + bwd) for _ in range(n))
        return Traffic(sent, sent, float(fwd), fwd)
    # link p -> p+1 carries the slices of positions 0..p; link p+1 -> p those of p+1..N-1
    sent = tuple(float((p + 1 if p < n - 1 else 0) + (n - p if p > 0 else 0)) for p in range(n))
    received = tuple(float(n - 1) for _ in range(n))
    return Traffic(sent, received, float(n - 1), n - 1)


def reduce_scatter_traffic(n: int, ring: bool) -> Traffic:
    """Reduce-scatter: the partial of every slice travels to its owner. Ring: half of each slice goes each
    way over N-1 hops ((N-1)/2 slices per directed link); Linear: link p -> p+1 carries the partials of the
    slices beyond p (N-1-p of them), link p+1 -> p those of slices 0..p."""
    if n <= 1:
        return Traffic((0.0,) * n, (0.0,) * n, 0.0, 0)
    if ring:
        per_link = (n - 1) / 2
        sent = tuple(2 * per_link for _ in range(n))
        return Traffic(sent, sent, per_link, n - 1)
    sent = tuple(float((n - 1 - p if p < n - 1 else 0) + (p if p > 0 else 0)) for p in range(n))
    # what p's neighbours send it: p-1 forwards the partials of slices p..N-1, p+1 those of slices 0..p
    received = tuple(float((n - p if p > 0 else 0) + (p + 1 if p < n - 1 else 0)) for p in range(n))
    return Traffic(sent, received, float(n - 1), n - 1)


# -- running a collective --------------------------------------------------------------------------------


@dataclass
class _Collective:
    """One collective over the chips of a device: its lines, topology, links and traffic per position."""

    name: str
    device: Device | MeshDevice
    groups: list[list[int]]
    topology: Topology
    num_links: int
    cluster_axis: int | None
    kind: str  # "all_gather" / "reduce_scatter" / "all_reduce"

    def attributes(self, slice_bytes: int) -> list[dict[str, Any]]:
        """Per chip: what its op record says about the collective (traffic in bytes)."""
        n = len(self.groups[0])
        if self.kind == "mesh_partition":  # a local slice: nothing crosses a link
            return [
                {"ring_size": n, "ring_index": group.index(chip), "cluster_axis": self.cluster_axis}
                for chip in range(len(chips(self.device)))
                for group in self.groups
                if chip in group
            ]
        ring = self.topology == Topology.Ring
        parts = {
            "all_gather": [gather_traffic(n, ring)],
            "reduce_scatter": [reduce_scatter_traffic(n, ring)],
            "all_reduce": [reduce_scatter_traffic(n, ring), gather_traffic(n, ring)],
        }[self.kind]
        per_chip: list[dict[str, Any]] = [{} for _ in chips(self.device)]
        for group in self.groups:
            for p, chip in enumerate(group):
                per_chip[chip] = {
                    "collective": self.kind,
                    "topology": self.topology.name,
                    "ring_size": n,
                    "ring_index": p,
                    "num_links": self.num_links,
                    "cluster_axis": self.cluster_axis,
                    "bytes_sent": int(sum(t.sent[p] for t in parts) * slice_bytes),
                    "bytes_received": int(sum(t.received[p] for t in parts) * slice_bytes),
                    "busiest_link_bytes": int(sum(t.busiest_link for t in parts) * slice_bytes),
                    "steps": sum(t.steps for t in parts),
                }
        return per_chip


def _plan(
    name: str,
    kind: str,
    tensor: Tensor,
    cluster_axis: int | None,
    topology: Topology | None,
    num_links: int | None,
    subdevice_id: SubDeviceId | None = None,
) -> _Collective:
    device = _device_of(tensor, name)
    _check_cluster_axis(device, cluster_axis)
    if subdevice_id is not None:
        device.check_sub_device_ids([subdevice_id])
    links = _default_links(device, cluster_axis) if num_links is None else num_links
    rules.require(
        isinstance(links, int) and links > 0, f"Error, num_links should be more than 0 but has {links}"
    )
    return _Collective(
        name,
        device,
        _groups(device, cluster_axis),
        _usable_topology(device, topology, cluster_axis),
        links,
        cluster_axis,
        kind,
    )


def _normalize_dim(dim: int, rank: int) -> int:
    rules.require(
        isinstance(dim, int) and -rank <= dim < rank,
        f"Dimension input should be in between -{rank} and {rank - 1}, but has {dim}",
    )
    return dim % rank


def _shape_index(dim: int, rank: int) -> int:
    """Shape::get_normalized_index (tt_metal/api/tt-metalium/shape.cpp), what the sync ops normalise `dim`
    with: a negative index counts from the end; the index is unsigned, so -5 on rank 4 wraps."""
    normalized = dim if dim >= 0 else rank + dim
    shown = normalized if normalized >= 0 else normalized + 2**64
    rules.require(
        0 <= normalized < rank,
        f"Index is out of bounds for the rank, should be between 0 and {rank - 1} however is {shown}",
    )
    return normalized


def _check_input_memory(tensor: Tensor) -> None:
    layout = tensor.memory_config().memory_layout
    rules.require(layout in _SUPPORTED_LAYOUTS, f"Unsupported input tensor memory layout {layout}.")


def _slice_bytes(tensor: Tensor, n: int) -> int:
    return max(1, tensor._nbytes() // max(1, n))


def _run(
    plan: _Collective,
    tensor: Tensor,
    out_shape: Sequence[int],
    compute: Callable[[list[torch.Tensor]], list[torch.Tensor]],
    memory_config: MemoryConfig,
    output_tensor: Tensor | None,
    intermediates: Sequence[tuple[Sequence[int], MemoryConfig]] = (),
    traffic_bytes: int | None = None,
    moves_bits: bool = False,
) -> Tensor:
    """Allocate the op's intermediates and output on every chip, compute every chip's result from all the
    chips' values (`compute`: per-chip input values -> per-chip outputs), record the op on every chip with
    its link traffic, free the intermediates. Captured into a trace like any device op.

    An op that only moves data (`moves_bits`: gathers, partitions) computes on the stored values and its
    results are stored as they are; the others compute in float32 and round to the dtype. Chips given the
    same result object keep sharing it (values are immutable), so a gather holds one copy per line."""
    device, dtype, layout = plan.device, tensor.dtype, tensor.layout
    in_values = tensor._chips
    rules.require_allocated(tensor, plan.name)
    key = program_key(
        plan.name, [tensor], tuple(out_shape), plan.topology, plan.cluster_axis, memory_config.buffer_type
    )
    captured = device.dispatch.before_op(key)
    scratch: list[Buffer] = []
    out_buffers: list[Buffer] = []
    try:
        for shape, mc in intermediates:
            scratch.extend(allocate_buffers(shape, dtype, layout, device, mc))
        if output_tensor is None:
            rules.check_dtype_layout(dtype, layout)
            out_buffers = allocate_buffers(out_shape, dtype, layout, device, memory_config)

        def results() -> list[torch.Tensor]:
            if moves_bits:
                return compute(list(in_values))
            values = compute([v.to(torch.float32) if v.dtype == torch.bfloat16 else v for v in in_values])
            rounded: dict[int, torch.Tensor] = {}
            for v in values:
                if id(v) not in rounded:
                    rounded[id(v)] = storage_values(formats.quantize(v, dtype, formats.PACKER), dtype)
            return [rounded[id(v)] for v in values]

        values = results() if not captured else [_placeholder(out_shape, dtype)] * len(in_values)
    except BaseException:
        _free_all(out_buffers)
        _free_all(scratch)
        raise
    if output_tensor is not None:
        output_tensor._chips = values
        output_tensor._owned = set()
        out = output_tensor
    else:
        out = Tensor._on_buffers(values, dtype, layout, device, memory_config, out_buffers)
    slice_bytes = traffic_bytes if traffic_bytes is not None else _slice_bytes(tensor, len(plan.groups[0]))
    attributes = plan.attributes(slice_bytes)
    _free_all(scratch)
    if not captured:
        _record_collective(plan, tensor, out, attributes)
        return out
    out_values = out._chips
    # an input made by the trace itself may have been deallocated during capture (its address is reused on
    # every replay, as on the card: ttport.sim.tensor.device_op); one from outside must still be allocated
    external = not device.dispatch.produced_by_trace(in_values)

    def step() -> None:
        if external:
            rules.require_allocated(tensor, plan.name)
        out_values[:] = results()
        _record_collective(plan, tensor, out, attributes)

    device.dispatch.record(step, [out_values])  # the value lists the op writes (one here)
    return out


def _placeholder(shape: Sequence[int], dtype: DataType) -> torch.Tensor:
    """What a buffer holds before anything is written to it (NaN for floats), without materialising it."""
    if dtype == DataType.FLOAT32:
        stored = torch.float32
    elif formats.is_float(dtype):
        stored = torch.bfloat16
    else:
        stored = torch.int64
    return _garbage(torch.empty(tuple(shape), dtype=stored, device="meta"))


def _record_collective(
    plan: _Collective, tensor: Tensor, out: Tensor, attributes: list[dict[str, Any]]
) -> None:
    """One op record per chip (its own attributes: traffic differs by position) and the link counters."""
    for i, chip in enumerate(chips(plan.device)):
        sub = _ChipView(chip)
        _record(plan.name, sub, [_OneChip(tensor, i)], [_OneChip(out, i)], OpConfig(attributes=attributes[i]))
        chip.record_ccl(attributes[i].get("bytes_sent", 0), attributes[i].get("bytes_received", 0))


class _ChipView:
    """One chip seen as a device handle (so `_record` writes that chip's record only)."""

    def __init__(self, chip: Device):
        self._chip = chip

    def get_devices(self) -> list[Device]:
        return [self._chip]


class _OneChip:
    """A tensor's description on chip `i`, for the record of that chip."""

    def __init__(self, tensor: Tensor, i: int):
        self._tensor, self._i = tensor, i

    def info(self, _: int) -> Any:
        return self._tensor.info(self._i)

    def infos(self, chip_ids: Any) -> list[Any]:
        return [self._tensor.info(self._i) for _ in chip_ids]


def _by_groups(
    plan: _Collective,
    values: list[torch.Tensor],
    per_group: Callable[[list[torch.Tensor]], list[torch.Tensor]],
) -> list[torch.Tensor]:
    out: list[torch.Tensor | None] = [None] * len(values)
    for group in plan.groups:
        for chip, v in zip(group, per_group([values[c] for c in group]), strict=True):
            out[chip] = v
    return out  # type: ignore[return-value]


# -- all-gather ----------------------------------------------------------------------------------------------


def _check_output(
    output: Tensor, tensor: Tensor, expected: Sequence[int], memory_config: MemoryConfig | None
) -> None:
    """A persistent / preallocated output: device, layout, dtype, memory config and shape
    (all_gather_async_device_operation.cpp validate)."""
    rules.require(isinstance(output, Tensor), f"output tensor must be a ttnn.Tensor, got {type(output)}")
    rules.require(output.device() is not None, "Operands to all_gather need to be on device!")
    rules.require(
        output.layout == tensor.layout,
        f"Error, Output tensor layout should be same as input tensor layout but has {output.layout}",
    )
    rules.require(
        output.dtype == tensor.dtype,
        f"Error, Output tensor dtype should be same as input tensor dtype but has {output.dtype}",
    )
    if memory_config is not None:
        rules.require(
            output.memory_config() == memory_config,
            "Error, Output tensor memory config should be same as output_mem_config but has "
            f"{output.memory_config()}",
        )
    got, want = tuple(output.padded_shape), tuple(padded_shape_of(expected, tensor.layout))
    rules.require(
        len(got) == len(want),
        "Error, Output tensor shape should have same number of dimensions as input tensor but has "
        f"{len(got)}",
    )
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        rules.require(g == w, f"Error, Output tensor shape at dimension {i} should be {w} but has {g}")


def _gather(plan: _Collective, tensor: Tensor, dim: int, memory_config: MemoryConfig, output: Tensor | None):
    n = len(plan.groups[0])
    out_shape = list(tensor.shape)
    out_shape[dim] *= n
    if output is not None:
        _check_output(output, tensor, out_shape, None)

    def compute(values: list[torch.Tensor]) -> list[torch.Tensor]:
        def per_group(vs: list[torch.Tensor]) -> list[torch.Tensor]:
            gathered = torch.cat(vs, dim=dim)
            return [gathered] * len(vs)  # values are immutable: the chips share one tensor

        return _by_groups(plan, values, per_group)

    # every chip's whole input is one slice of the gather
    return _run(
        plan,
        tensor,
        out_shape,
        compute,
        memory_config,
        output,
        traffic_bytes=tensor._nbytes(),
        moves_bits=True,
    )


def all_gather(
    input_tensor: Tensor,
    dim: int,
    *,
    cluster_axis: int | None = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    subdevice_id: SubDeviceId | None = None,
    sub_core_grids: Any = None,
    num_links: int | None = None,
    topology: Topology | None = None,
    chunks_per_sync: int | None = None,
    num_workers_per_link: int | None = None,
    num_buffers_per_channel: int | None = None,
    use_l1_small_for_semaphores: bool = False,
) -> Tensor:
    """ttnn.all_gather: concatenate every chip's tensor along `dim` on every chip (of each line along
    `cluster_axis`). num_links / topology and the tuning knobs are deprecated and ignored by ttnn 0.81.1."""
    device = _device_of(input_tensor, "all_gather")
    _check_cluster_axis(device, cluster_axis)
    rank = len(input_tensor.shape)
    d = _shape_index(dim, rank)
    _check_input_memory(input_tensor)
    if cluster_axis is None and not _is_line_mesh(device):
        # all_gather.cpp: a 2D mesh without cluster_axis gathers along axis 1, then axis 0
        inner = all_gather(input_tensor, d, cluster_axis=1, memory_config=memory_config)
        outer = all_gather(inner, d, cluster_axis=0, memory_config=memory_config, output_tensor=output_tensor)
        inner.deallocate()
        return outer
    plan = _plan("all_gather", "all_gather", input_tensor, cluster_axis, None, None, subdevice_id)
    mc = memory_config or input_tensor.memory_config()
    return _gather(plan, input_tensor, d, mc, output_tensor)


# -- reduce-scatter ------------------------------------------------------------------------------------------


def _is_composite_scatter(tensor: Tensor, dim: int, n: int) -> bool:
    """ttnn's composite reduce-scatter (all-gather + local sum): ROW_MAJOR inputs, or a scatter of the last
    two dims that splits tiles (composite_common use_composite_reduce_scatter)."""
    if tensor.layout != Layout.TILE:
        return True
    rank = len(tensor.shape)
    if dim >= rank - 2:
        size = tensor.shape[dim]
        return size % (n * TILE_SIZE) != 0
    return False


def _check_scatter(tensor: Tensor, dim: int, n: int) -> None:
    """reduce_scatter_common_validates (reduce_scatter_minimal_async_op_device_operation.cpp)."""
    rank = len(tensor.shape)
    rules.require(rank > 1, "reduce_scatter currently supports rank 2 tensors at minimum")
    rules.require(
        tensor.dtype in (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32),
        f"reduce_scatter: unsupported dtype {tensor.dtype}; supported are BFLOAT16, BFLOAT8_B, FLOAT32",
    )
    padded = padded_shape_of(tensor.shape, tensor.layout)
    if tensor.layout == Layout.TILE and dim >= rank - 2:
        rules.require(
            (padded[dim] // TILE_SIZE) % n == 0,
            f"Number of tiles at dimension {dim} must be divisible by ring_size",
        )
    else:
        rules.require(padded[dim] % n == 0, f"Dimension {dim} must be divisible by ring_size")


def _check_scatter_output(
    output: Tensor, tensor: Tensor, dim: int, n: int, memory_config: MemoryConfig
) -> None:
    """A preallocated reduce-scatter output (reduce_scatter_common_validates)."""
    rules.require(isinstance(output, Tensor), f"output tensor must be a ttnn.Tensor, got {type(output)}")
    rules.require(output.device() is not None, "Output tensor must be on device")
    rules.require(output.layout == tensor.layout, "Output tensor layout must match input tensor layout")
    rules.require(output.dtype == tensor.dtype, "Output tensor dtype must match input tensor dtype")
    rules.require(
        output.memory_config() == memory_config,
        "Output tensor memory config must match provided memory_config",
    )
    want = list(padded_shape_of(tensor.shape, tensor.layout))
    want[dim] //= n
    got = list(output.padded_shape)
    rules.require(len(got) == len(want), "Output tensor must have same number of dimensions as input tensor")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        rules.require(
            g == w,
            f"Output tensor dimension {i} must be input dimension / ring_size"
            if i == dim
            else f"Output tensor dimension {i} must match input dimension",
        )


def _scatter(
    plan: _Collective,
    tensor: Tensor,
    dim: int,
    memory_config: MemoryConfig,
    output: Tensor | None,
    intermediate_mc: MemoryConfig,
    composite: bool,
    intermediate_given: bool = False,
) -> Tensor:
    n = len(plan.groups[0])
    out_shape = list(tensor.shape)
    out_shape[dim] //= n
    if output is not None:
        _check_scatter_output(output, tensor, dim, n, memory_config)
    inter_shape = list(padded_shape_of(tensor.shape, tensor.layout))
    if plan.topology == Topology.Linear:
        inter_shape[0] *= 2
    dtype = tensor.dtype

    def compute(values: list[torch.Tensor]) -> list[torch.Tensor]:
        def per_group(vs: list[torch.Tensor]) -> list[torch.Tensor]:
            shares = [list(torch.chunk(v, n, dim=dim)) for v in vs]
            return reduce_slices(shares, dtype, plan.topology == Topology.Ring, composite)

        return _by_groups(plan, values, per_group)

    # the op allocates its intermediate unless the caller passed a persistent one
    inter = [] if intermediate_given else [(inter_shape, intermediate_mc)]
    return _run(plan, tensor, out_shape, compute, memory_config, output, inter)


def reduce_scatter(
    input_tensor: Tensor,
    dim: int,
    *,
    cluster_axis: int | None = None,
    subdevice_id: SubDeviceId | None = None,
    memory_config: MemoryConfig | None = None,
    intermediate_memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    num_links: int | None = None,
    topology: Topology | None = None,
    chunks_per_sync: int | None = None,
    num_workers_per_link: int | None = None,
    num_buffers_per_channel: int | None = None,
    compute_kernel_config: Any = None,
    use_l1_small_for_semaphores: bool = False,
) -> Tensor:
    """ttnn.reduce_scatter: sum the chips' tensors and leave chip p (along `cluster_axis`) with slice p of
    the sum along `dim` (dtype rounding in the ring / line order: module docstring)."""
    device = _device_of(input_tensor, "reduce_scatter")
    _check_cluster_axis(device, cluster_axis)
    rank = len(input_tensor.shape)
    rules.require(rank > 1, "reduce_scatter currently supports rank 2 tensors at minimum")
    d = _shape_index(dim, rank)
    _check_input_memory(input_tensor)
    if cluster_axis is None and not _is_line_mesh(device):
        # reduce_scatter.cpp: a 2D mesh without cluster_axis reduce-scatters along axis 0, then axis 1
        kw = dict(memory_config=memory_config, num_links=num_links, topology=topology)
        first = reduce_scatter(input_tensor, d, cluster_axis=0, **kw)
        second = reduce_scatter(first, d, cluster_axis=1, output_tensor=output_tensor, **kw)
        first.deallocate()
        return second
    plan = _plan(
        "reduce_scatter", "reduce_scatter", input_tensor, cluster_axis, topology, num_links, subdevice_id
    )
    n = len(plan.groups[0])
    _check_scatter(input_tensor, d, n)
    mc = memory_config or input_tensor.memory_config()
    inter_mc = intermediate_memory_config or input_tensor.memory_config()
    composite = _is_composite_scatter(input_tensor, d, n)
    return _scatter(plan, input_tensor, d, mc, output_tensor, inter_mc, composite)


# -- all-reduce ----------------------------------------------------------------------------------------------


def scatter_dim(tensor: Tensor, n: int) -> int | None:
    """all_reduce_async.cpp finding_scatter_dim: the last dim whose size (in tiles for the last two dims of a
    TILE tensor) is divisible by the number of chips; None if there is none."""
    padded = list(padded_shape_of(tensor.shape, tensor.layout))
    if tensor.layout == Layout.TILE:
        padded[-1] //= TILE_SIZE
        padded[-2] //= TILE_SIZE
    for d in range(len(padded) - 1, -1, -1):
        if padded[d] % n == 0:
            return d
    return None


def _all_reduce(plan: _Collective, tensor: Tensor, memory_config: MemoryConfig) -> Tensor:
    n = len(plan.groups[0])
    rank = len(tensor.shape)
    rules.require(rank >= 2, "Expected input tensor to be of at least rank 2")
    rules.require(
        tensor.dtype in (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32),
        f"all_reduce: unsupported dtype {tensor.dtype}; supported are BFLOAT16, BFLOAT8_B, FLOAT32",
    )
    d = scatter_dim(tensor, n)
    composite = d is None or _is_composite_scatter(tensor, d, n)
    dtype = tensor.dtype
    shape = list(tensor.shape)
    if composite:
        # all-gather (one extra leading dim) + local sum, summed in bfloat16 for bfloat8_b (moreh_sum)
        sum_dtype = DataType.BFLOAT16 if dtype == DataType.BFLOAT8_B else dtype
        gathered = [n, *padded_shape_of(shape, tensor.layout)]
        inter = [(gathered, memory_config)]
    else:
        rs_shape = list(shape)
        rs_shape[d] //= n
        inter_rs = list(padded_shape_of(shape, tensor.layout))
        if plan.topology == Topology.Linear:
            inter_rs[0] *= 2
        inter = [(inter_rs, tensor.memory_config()), (rs_shape, memory_config)]

    def compute(values: list[torch.Tensor]) -> list[torch.Tensor]:
        def per_group(vs: list[torch.Tensor]) -> list[torch.Tensor]:
            if composite:
                total = formats.quantize(accumulate(vs, sum_dtype), dtype, formats.PACKER)
                return [total] * len(vs)
            shares = [list(torch.chunk(v, n, dim=d)) for v in vs]
            reduced = torch.cat(reduce_slices(shares, dtype, plan.topology == Topology.Ring, False), dim=d)
            return [reduced] * len(vs)

        return _by_groups(plan, values, per_group)

    return _run(plan, tensor, shape, compute, memory_config, None, inter)


def all_reduce(
    input_tensor: Tensor,
    *,
    cluster_axis: int | None = None,
    subdevice_id: SubDeviceId | None = None,
    memory_config: MemoryConfig | None = None,
    num_links: int | None = None,
    topology: Topology | None = None,
) -> Tensor:
    """ttnn.all_reduce: every chip (of each line along `cluster_axis`) gets the sum of the chips' tensors
    (reduce-scatter + all-gather, or all-gather + local sum: module docstring)."""
    device = _device_of(input_tensor, "all_reduce")
    _check_cluster_axis(device, cluster_axis)
    _check_input_memory(input_tensor)
    mc = memory_config or input_tensor.memory_config()
    if cluster_axis is None and not _is_line_mesh(device):
        first = all_reduce(
            input_tensor, cluster_axis=0, memory_config=mc, num_links=num_links, topology=topology
        )
        second = all_reduce(first, cluster_axis=1, memory_config=mc, num_links=num_links, topology=topology)
        first.deallocate()
        return second
    plan = _plan("all_reduce", "all_reduce", input_tensor, cluster_axis, topology, num_links, subdevice_id)
    return _all_reduce(plan, input_tensor, mc)


# -- mesh_partition ------------------------------------------------------------------------------------------


def mesh_partition(
    input_tensor: Tensor,
    dim: int,
    cluster_axis: int | None = None,
    *,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.mesh_partition: chip p (of each line along `cluster_axis`, or of the whole mesh) keeps part p of
    its tensor along `dim` (the inverse of all_gather; a per-chip slice, no fabric traffic)."""
    device = _device_of(input_tensor, "mesh_partition")
    _check_cluster_axis(device, cluster_axis)
    rank = len(input_tensor.shape)
    d = _shape_index(dim, rank)
    plan = _Collective(
        "mesh_partition",
        device,
        _groups(device, cluster_axis),
        Topology.Linear,
        1,
        cluster_axis,
        "mesh_partition",
    )
    n = len(plan.groups[0])
    size = input_tensor.shape[d]
    rules.require(
        size % n == 0,
        f"mesh_partition: input_shape[{d}] = {size} must be evenly divisible by the {n} devices along the "
        "cluster axis",
    )
    out_shape = list(input_tensor.shape)
    out_shape[d] //= n

    def compute(values: list[torch.Tensor]) -> list[torch.Tensor]:
        return _by_groups(
            plan, values, lambda vs: [torch.chunk(v, n, dim=d)[p].contiguous() for p, v in enumerate(vs)]
        )

    mc = memory_config or input_tensor.memory_config()
    return _run(plan, input_tensor, out_shape, compute, mc, None, moves_bits=True)


# -- ttnn.experimental ---------------------------------------------------------------------------------------


def _semaphores(value: Any, expected: int | None, what: str) -> list[GlobalSemaphore]:
    """A GlobalSemaphoreArg: one semaphore or a list of them."""
    sems = list(value) if isinstance(value, (list, tuple)) else [value]
    for s in sems:
        rules.require(
            isinstance(s, GlobalSemaphore),
            f"{what}: expected ttnn global semaphores (ttnn.create_global_semaphore), got {s!r}",
        )
    if expected is not None:
        rules.require(len(sems) == expected, f"Expected {expected} semaphores but got {len(sems)}")
    return sems


def _check_async(plan: _Collective, tensor: Tensor, op: str) -> None:
    """all_gather_async's own checks (all_gather_async_device_operation.cpp invoke / validate)."""
    n = len(plan.groups[0])
    rules.require(n > 1, f"{op} op will only work for num_devices > 1, but has {n}")
    grid_y = plan.device.compute_with_storage_grid_size().y
    rules.require(plan.num_links <= grid_y, "Worker cores used by links are parallelizaed over rows")


_P = inspect.Parameter


def _signature(positional: str, keywords: dict[str, Any]) -> inspect.Signature:
    params = [
        _P(name.rstrip("?"), _P.POSITIONAL_OR_KEYWORD, default=None if name.endswith("?") else _P.empty)
        for name in positional.split()
    ]
    params += [_P(k, _P.KEYWORD_ONLY, default=v) for k, v in keywords.items()]
    return inspect.Signature(params)


_AG_COMMON = {
    "num_links": None,
    "memory_config": None,
    "topology": Topology.Ring,
    "subdevice_id": None,
}
_AG_SIGNATURES = [
    _signature(
        "input_tensor dim multi_device_global_semaphore",
        {
            **_AG_COMMON,
            "use_optimal_ccl_for_llama": False,
            "barrier_semaphore": None,
            "sub_core_grids": None,
            "num_workers_per_link": None,
            "num_buffers_per_channel": None,
        },
    ),
    _signature(
        "input_tensor persistent_output_buffer? dim? multi_device_global_semaphore?",
        {
            **_AG_COMMON,
            "cluster_axis": None,
            "use_optimal_ccl_for_llama": False,
            "use_broadcast": False,
            "barrier_semaphore": None,
            "chunks_per_sync": None,
            "num_workers_per_link": None,
            "num_buffers_per_channel": None,
            "sub_core_grids": None,
        },
    ),
    _signature(
        "input_tensor dim cluster_axis mesh_device topology multi_device_global_semaphore",
        {
            "persistent_output_tensor": None,
            "num_links": None,
            "memory_config": None,
            "subdevice_id": None,
            "use_optimal_ccl_for_llama": False,
            "use_broadcast": False,
            "barrier_semaphore": None,
            "sub_core_grids": None,
            "num_workers_per_link": None,
            "num_buffers_per_channel": None,
        },
    ),
]


def _bind(op: str, signatures: Sequence[inspect.Signature], args: tuple, kwargs: dict) -> dict[str, Any]:
    """The first overload the arguments bind to, as nanobind picks; TypeError listing them otherwise."""
    for sig in signatures:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            continue
        bound.apply_defaults()
        return dict(bound.arguments)
    listing = "\n".join(f"    {i}. {op}{sig}" for i, sig in enumerate(signatures, 1))
    raise TypeError(
        f"{op}(): incompatible function arguments. The following argument types are supported:\n{listing}"
    )


def _pick_ag_overload(args: tuple, kwargs: dict) -> list[inspect.Signature]:
    """Overload 3 takes the mesh device; overload 2 a persistent output buffer (or None) second."""
    if "mesh_device" in kwargs or (len(args) >= 4 and isinstance(args[3], (MeshDevice, Device))):
        return [_AG_SIGNATURES[2]]
    second = args[1] if len(args) > 1 else kwargs.get("persistent_output_buffer", 0)
    if "persistent_output_buffer" in kwargs or second is None or isinstance(second, Tensor):
        return [_AG_SIGNATURES[1]]
    if "cluster_axis" in kwargs or "chunks_per_sync" in kwargs or "use_broadcast" in kwargs:
        return [_AG_SIGNATURES[1]]
    return [_AG_SIGNATURES[0], _AG_SIGNATURES[1]]


def all_gather_async(*args: Any, **kwargs: Any) -> Tensor:
    """ttnn.experimental.all_gather_async (its three overloads): all-gather with the caller's global
    semaphores (2 for the default implementation), an optional persistent output buffer, `topology`
    (Ring unless given) and `num_links`."""
    a = _bind("all_gather_async", _pick_ag_overload(args, kwargs), args, kwargs)
    tensor = a["input_tensor"]
    rules.require(a.get("dim") is not None, "all_gather_async: dim is required")
    rules.require(
        a.get("multi_device_global_semaphore") is not None,
        "all_gather_async: multi_device_global_semaphore is required",
    )
    device = _device_of(tensor, "all_gather")
    sems = _semaphores(a["multi_device_global_semaphore"], None, "all_gather_async")
    rules.require(len(sems) == 2, "Default implementation requires 2 semaphores")
    if a.get("barrier_semaphore") is not None:
        _semaphores(a["barrier_semaphore"], 1, "all_gather_async")
    rank = len(tensor.shape)
    d = _normalize_dim(a["dim"], rank)
    rules.require(rank >= 2, "AllGatherAsync requires tensor of rank 2 or greater")
    _check_input_memory(tensor)
    cluster_axis = a.get("cluster_axis")
    if a.get("mesh_device") is not None:
        rules.require(a["mesh_device"] is device, "all_gather_async: mesh_device is not the input's device")
    plan = _plan(
        "all_gather_async",
        "all_gather",
        tensor,
        cluster_axis,
        a["topology"],
        a["num_links"],
        a["subdevice_id"],
    )
    _check_async(plan, tensor, "all_gather_async")
    mc = a["memory_config"] or tensor.memory_config()
    output = a.get("persistent_output_buffer") or a.get("persistent_output_tensor")
    if output is not None:
        rules.require(
            output.memory_config() == mc,
            "Error, Output tensor memory config should be same as output_mem_config but has "
            f"{output.memory_config()}",
        )
    return _gather(plan, tensor, d, mc, output)


def reduce_scatter_minimal_async(
    input_tensor: Tensor,
    persistent_output_buffers: Sequence[Tensor] | None = None,
    dim: int | None = None,
    multi_device_global_semaphore: Sequence[GlobalSemaphore] | None = None,
    *,
    barrier_semaphore: GlobalSemaphore | None = None,
    num_links: int | None = None,
    memory_config: MemoryConfig | None = None,
    intermediate_memory_config: MemoryConfig | None = None,
    topology: Topology = Topology.Ring,
    subdevice_id: SubDeviceId | None = None,
    cluster_axis: int | None = None,
    chunks_per_sync: int | None = None,
    num_workers_per_link: int | None = None,
    num_buffers_per_channel: int | None = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """ttnn.experimental.reduce_scatter_minimal_async: reduce-scatter with the caller's 3 global semaphores;
    `persistent_output_buffers` = [intermediate, output] preallocated (reduce_scatter_minimal_async_create_
    intermediate_buffer makes the intermediate)."""
    if dim is None or multi_device_global_semaphore is None:
        raise TypeError(
            "reduce_scatter_minimal_async(): incompatible function arguments: dim and "
            "multi_device_global_semaphore are required"
        )
    _device_of(input_tensor, "reduce_scatter_minimal_async")
    _semaphores(multi_device_global_semaphore, 3, "reduce_scatter_minimal_async")
    if barrier_semaphore is not None:
        _semaphores(barrier_semaphore, 1, "reduce_scatter_minimal_async")
    rank = len(input_tensor.shape)
    rules.require(rank > 1, "reduce_scatter currently supports rank 2 tensors at minimum")
    rules.require(isinstance(dim, int) and dim < rank, f"Invalid scatter dim {dim} for rank {rank} tensor")
    d = _normalize_dim(dim, rank)
    _check_input_memory(input_tensor)
    plan = _plan(
        "reduce_scatter_minimal_async",
        "reduce_scatter",
        input_tensor,
        cluster_axis,
        topology,
        num_links,
        subdevice_id,
    )
    n = len(plan.groups[0])
    _check_scatter(input_tensor, d, n)
    mc = memory_config or input_tensor.memory_config()
    inter_mc = intermediate_memory_config or input_tensor.memory_config()
    output = None
    if persistent_output_buffers is not None:
        buffers = list(persistent_output_buffers)
        rules.require(len(buffers) == 2, "persistent_output_buffers must hold [intermediate, output]")
        intermediate, output = buffers
        rules.require(intermediate.device() is not None, "Intermediate tensor must be on device")
        rules.require(
            intermediate.layout == input_tensor.layout,
            "Intermediate tensor layout must match input tensor layout",
        )
        rules.require(
            intermediate.dtype == input_tensor.dtype,
            "Intermediate tensor dtype must match input tensor dtype",
        )
    composite = _is_composite_scatter(input_tensor, d, n)
    given = persistent_output_buffers is not None
    return _scatter(plan, input_tensor, d, mc, output, inter_mc, composite, intermediate_given=given)


def reduce_scatter_minimal_async_create_intermediate_buffer(
    input_tensor: Tensor,
    dim: int,
    *,
    topology: Topology = Topology.Ring,
    cluster_axis: int | None = None,
    compute_kernel_config: Any = None,
) -> list[Tensor]:
    """The intermediate buffer(s) reduce_scatter_minimal_async would allocate, for persistent_output_buffers:
    the input's padded shape (twice as tall for Linear), in the input's dtype and memory config."""
    device = _device_of(input_tensor, "reduce_scatter_minimal_async_create_intermediate_buffer")
    _check_cluster_axis(device, cluster_axis)
    shape = list(padded_shape_of(input_tensor.shape, input_tensor.layout))
    if _usable_topology(device, topology, cluster_axis) == Topology.Linear:
        shape[0] *= 2
    mc = input_tensor.memory_config()
    values = [_placeholder(shape, input_tensor.dtype)] * input_tensor.num_chips
    buffers = allocate_buffers(shape, input_tensor.dtype, input_tensor.layout, device, mc)
    return [Tensor._on_buffers(values, input_tensor.dtype, input_tensor.layout, device, mc, buffers)]


_AR_SIGNATURES = [
    _signature(
        "input_tensor num_devices barrier_semaphores rs_global_semaphores ag_global_semaphores math_op",
        {"memory_config": None, "topology": Topology.Linear, "num_links": None, "subdevice_id": None},
    ),
    _signature(
        "input_tensor cluster_axis? mesh_device? barrier_semaphores? rs_global_semaphores? "
        "ag_global_semaphores? math_op?",
        {"memory_config": None, "topology": Topology.Linear, "num_links": None, "subdevice_id": None},
    ),
]


def all_reduce_async(*args: Any, **kwargs: Any) -> Tensor:
    """ttnn.experimental.all_reduce_async (the num_devices and the cluster_axis / mesh_device overloads):
    an all-reduce (Sum) with the caller's semaphores, computed as ttnn.all_reduce computes it."""
    by_count = (len(args) > 1 and isinstance(args[1], int) and "mesh_device" not in kwargs) or (
        "num_devices" in kwargs
    )
    sigs = [_AR_SIGNATURES[0]] if by_count else [_AR_SIGNATURES[1]]
    a = _bind("all_reduce_async", sigs, args, kwargs)
    tensor = a["input_tensor"]
    device = _device_of(tensor, "all_reduce_async")
    rules.require(a.get("math_op") is not None, "all_reduce_async: math_op is required")
    for key in ("barrier_semaphores", "rs_global_semaphores", "ag_global_semaphores"):
        if a.get(key) is not None:
            _semaphores(a[key], None, "all_reduce_async")
    cluster_axis = a.get("cluster_axis")
    if "num_devices" in a:
        rules.require(
            a["num_devices"] == device.get_num_devices() or not _is_line_mesh(device),
            f"all_reduce_async: num_devices {a['num_devices']} does not match the mesh's "
            f"{device.get_num_devices()} devices",
        )
    if a.get("mesh_device") is not None:
        rules.require(a["mesh_device"] is device, "all_reduce_async: mesh_device is not the input's device")
    _check_input_memory(tensor)
    mc = a["memory_config"] or tensor.memory_config()
    plan = _plan(
        "all_reduce_async",
        "all_reduce",
        tensor,
        cluster_axis,
        a["topology"],
        a["num_links"],
        a["subdevice_id"],
    )
    return _all_reduce(plan, tensor, mc)


# Golden functions (ttnn.get_golden_function): ttnn 0.81.1's collectives have comparison-mode goldens
# (ttnn/ttnn/operations/ccl.py) that take the per-device torch inputs in row-major mesh order plus the mesh
# shape and each mesh axis's shard dim (private keywords), and return the host composition of the per-device
# results (None without a mesh description). Same semantics here, summed in float like the real goldens.
def _compose(
    values: list[torch.Tensor], mesh_shape: Sequence[int], shard_dims: Sequence[int | None]
) -> torch.Tensor:
    """Per-device values -> one host tensor: from the last mesh axis to the first, concatenate along that
    axis's shard dim, or keep the first device's value where the axis replicates."""
    grid: list[Any] = list(values)
    for axis in range(len(mesh_shape) - 1, -1, -1):
        size, dim = mesh_shape[axis], shard_dims[axis]
        grid = [
            grid[i] if dim is None else torch.cat(grid[i : i + size], dim=dim)
            for i in range(0, len(grid), size)
        ]
    return grid[0]


def _mesh_golden(
    per_group: Callable[[list[torch.Tensor], int], list[torch.Tensor]], shards: Callable[..., list]
):
    def golden(
        input_tensor: Sequence[torch.Tensor],
        dim: int | None = None,
        *_: Any,
        cluster_axis: int | None = None,
        _ttnn_golden_mesh_shape: Sequence[int] | None = None,
        _ttnn_golden_mesh_shard_dims: Sequence[int | None] | None = None,
        **__: Any,
    ) -> torch.Tensor | None:
        if _ttnn_golden_mesh_shape is None or _ttnn_golden_mesh_shard_dims is None:
            return None
        shape, rank = tuple(_ttnn_golden_mesh_shape), input_tensor[0].ndim
        norm = None if dim is None else dim % rank
        outputs: list[Any] = [None] * len(input_tensor)
        if cluster_axis is not None and not -len(shape) <= cluster_axis < len(shape):
            raise ValueError(f"Collective axis {cluster_axis} is invalid for mesh shape {shape}")
        axis = None if cluster_axis is None else cluster_axis % len(shape)
        for group in _line_groups(shape, axis):
            for index, value in zip(group, per_group([input_tensor[i] for i in group], norm), strict=True):
                outputs[index] = value
        return _compose(outputs, shape, shards(list(_ttnn_golden_mesh_shard_dims), shape, axis, norm, rank))

    return golden


def _replicate_dim(dims: list, dim: int, rank: int) -> list:
    return [None if d is not None and d % rank == dim else d for d in dims]


def _gather_shards(dims: list, shape: tuple, axis: int | None, dim: int, rank: int) -> list:
    return _replicate_dim(dims, dim, rank)


def _reduce_shards(dims: list, shape: tuple, axis: int | None, dim: int | None, rank: int) -> list:
    return [None] * len(dims) if axis is None else [None if a == axis else d for a, d in enumerate(dims)]


def _scatter_shards(dims: list, shape: tuple, axis: int | None, dim: int, rank: int) -> list:
    dims = _replicate_dim(dims, dim, rank)
    if axis is None:
        return [dim if size > 1 else None for size in shape]
    dims[axis] = dim
    return dims


def _partition_shards(dims: list, shape: tuple, axis: int | None, dim: int, rank: int) -> list:
    if axis is None:
        return [dim] * len(dims)
    dims[axis] = dim
    return dims


attach_golden_function(
    all_gather, _mesh_golden(lambda xs, dim: [torch.cat(xs, dim=dim)] * len(xs), _gather_shards)
)
attach_golden_function(
    all_reduce, _mesh_golden(lambda xs, dim: [torch.stack(xs).sum(dim=0)] * len(xs), _reduce_shards)
)
attach_golden_function(
    reduce_scatter,
    _mesh_golden(
        lambda xs, dim: list(torch.chunk(torch.stack(xs).sum(dim=0), len(xs), dim=dim)), _scatter_shards
    ),
)
attach_golden_function(
    mesh_partition,
    _mesh_golden(
        lambda xs, dim: [torch.chunk(x, len(xs), dim=dim)[i] for i, x in enumerate(xs)], _partition_shards
    ),
)
