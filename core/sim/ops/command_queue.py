"""Trace capture, events and explicit queue transfers (ttnn/cpp/ttnn/operations/trace.cpp, events.cpp,
ttnn/ttnn/core.py copy_*_tensor): what tt-metal's performant runners use to overlap input uploads (queue 1)
with traced model runs (queue 0).

Semantics live in ttport.sim.dispatch: capture records ops without running them, execute_trace replays them on
the buffers they were captured on, host transfers are refused while capturing, events are accepted and
checked against the queues a device was opened with (the simulator runs everything in order, so every wait is
already satisfied).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import rules
from ..dispatch import MeshEvent, MeshTraceId, QueueId
from ..runtime import Device, MeshDevice, chips
from ..tensor import Tensor, storage_values
from ..types import DRAM_MEMORY_CONFIG, DataType, Layout, MemoryConfig, StorageType
from .core import _filled

__all__ = [
    "MeshEvent",
    "MeshTraceId",
    "QueueId",
    "allocate_tensor_on_device",
    "begin_trace_capture",
    "copy_device_to_host_tensor",
    "copy_host_to_device_tensor",
    "end_trace_capture",
    "event_synchronize",
    "execute_trace",
    "is_trace_capture_active",
    "record_event",
    "release_trace",
    "wait_for_event",
]

Handle = Device | MeshDevice


def begin_trace_capture(mesh_device: Handle, *, cq_id: Any = None) -> MeshTraceId:
    """Start recording the ops enqueued on `cq_id`; they run only when the trace is executed."""
    rules.require_open(mesh_device, "begin_trace_capture")
    return mesh_device.dispatch.begin(cq_id)


def end_trace_capture(mesh_device: Handle, trace_id: MeshTraceId, *, cq_id: Any = None) -> None:
    mesh_device.dispatch.end(trace_id, cq_id)


def execute_trace(
    mesh_device: Handle, trace_id: MeshTraceId, *, cq_id: Any = None, blocking: bool = True
) -> None:
    """Replay the captured ops in order, on the buffers they were captured on."""
    rules.require_open(mesh_device, "execute_trace")
    mesh_device.dispatch.execute(trace_id, cq_id)


def release_trace(mesh_device: Handle, trace_id: MeshTraceId) -> None:
    mesh_device.dispatch.release(trace_id)


def is_trace_capture_active(device: Handle) -> bool:
    return device.dispatch.capturing is not None


def record_event(
    mesh_device: Handle, cq_id: Any = None, sub_device_ids: Sequence[Any] = (), device_range: Any = None
) -> MeshEvent:
    """An event completed once everything enqueued on `cq_id` before this call has run."""
    rules.require_open(mesh_device, "record_event")
    return mesh_device.dispatch.record_event(cq_id, sub_device_ids)


def wait_for_event(cq_id: Any = None, mesh_event: MeshEvent | None = None) -> None:
    """Make queue `cq_id` of the event's device wait for the event (always already complete here)."""
    rules.require(
        isinstance(mesh_event, MeshEvent), f"wait_for_event: expected a ttnn.MeshEvent, got {mesh_event!r}"
    )
    mesh_event.device.dispatch.wait_for_event(cq_id, mesh_event)


def event_synchronize(mesh_event: MeshEvent) -> None:
    rules.require(
        isinstance(mesh_event, MeshEvent), f"event_synchronize: expected a ttnn.MeshEvent, got {mesh_event!r}"
    )
    rules.require(
        mesh_event.device.dispatch.capturing is None,
        "Event Synchronization is not supported during trace capture.",
    )


def allocate_tensor_on_device(
    shape: Sequence[int],
    dtype: DataType,
    layout: Layout,
    mesh_device: Handle,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """An allocated device tensor with unspecified contents (zeros here), typically a trace's input slot."""
    rules.check_dtype_layout(dtype, layout)
    rules.require_open(mesh_device, "allocate_tensor_on_device")
    values = _filled(list(shape), 0.0, dtype)
    return Tensor(
        [values] * len(chips(mesh_device)), dtype, layout, mesh_device, memory_config or DRAM_MEMORY_CONFIG
    )


def _require_same_spec(host: Tensor, device: Tensor, op: str) -> None:
    rules.require(
        host.shape == device.shape and host.dtype == device.dtype and host.layout == device.layout,
        f"{op}: host_tensor.tensor_spec() == device_tensor.tensor_spec(): host tensor {list(host.shape)} "
        f"{host.dtype!r} {host.layout!r} does not match device tensor {list(device.shape)} {device.dtype!r} "
        f"{device.layout!r}",
    )


def copy_host_to_device_tensor(host_tensor: Tensor, device_tensor: Tensor, cq_id: Any = None) -> None:
    """Write a host tensor into an existing device tensor's buffers (same spec): what refreshes a trace's
    inputs between replays."""
    op = "copy_host_to_device_tensor"
    rules.require(
        host_tensor.storage_type() == StorageType.HOST,
        "host_tensor.storage_type() == ttnn::StorageType::HOST",
    )
    rules.require(
        device_tensor.storage_type() == StorageType.DEVICE,
        f"{op}: device_tensor must be on device, got storage type: StorageType::HOST",
    )
    device = device_tensor.device()
    rules.require_open(device, op)
    dispatch = device.dispatch
    dispatch.queue(cq_id)
    dispatch.require_no_capture("Writes")
    rules.require_allocated(device_tensor, op)
    _require_same_spec(host_tensor, device_tensor, op)
    targets = chips(device)
    values = host_tensor._chips
    if len(values) == 1 and len(targets) > 1:
        values = values * len(targets)
    rules.require(
        len(values) == len(targets),
        f"{op}: host tensor holds {len(values)} device shards but {device!r} has {len(targets)} devices",
    )
    # In place: the device tensor keeps its buffers (and a captured trace keeps reading them).
    device_tensor._chips[:] = [storage_values(v, device_tensor.dtype) for v in values]
    device_tensor._owned = set()
    for chip in targets:
        chip.record_write(device_tensor._nbytes())


def copy_device_to_host_tensor(
    device_tensor: Tensor, host_tensor: Tensor, blocking: bool = True, cq_id: Any = None
) -> None:
    """Read a device tensor into an existing host tensor of the same spec."""
    op = "copy_device_to_host_tensor"
    rules.require(
        device_tensor.storage_type() == StorageType.DEVICE,
        f"{op}: device_tensor must be on device, got storage type: StorageType::HOST",
    )
    rules.require(
        host_tensor.storage_type() == StorageType.HOST,
        "host_tensor.storage_type() == ttnn::StorageType::HOST",
    )
    device = device_tensor.device()
    rules.require_open(device, op)
    device.dispatch.queue(cq_id)
    device.dispatch.require_no_capture("Reads")
    rules.require_allocated(device_tensor, op)
    _require_same_spec(host_tensor, device_tensor, op)
    for chip in chips(device):
        chip.record_read(device_tensor._nbytes())
    host_tensor._chips[:] = list(device_tensor._chips)
    host_tensor._owned = set()
