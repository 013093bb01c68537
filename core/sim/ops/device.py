"""Opening and closing simulated devices (ttnn/ttnn/device.py, ttnn/ttnn/distributed/distributed.py).

The board comes from TTPORT_BOARD (ttport.sim.boards; default Wormhole n150): it fixes how many chips exist
(n300: 2), their grid, L1 and DRAM banks. Like ttnn, open_device returns the already-open device for an id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from .. import host_memory, rules
from ..boards import get_board
from ..runtime import Device, MeshDevice
from ..types import (
    Arch,
    DispatchCoreConfig,
    MathFidelity,
    MeshShape,
    WormholeComputeKernelConfig,
)
from .fabric import track_open

__all__ = [
    "GetDefaultDevice",
    "GetNumAvailableDevices",
    "GetNumPCIeDevices",
    "ReadDeviceProfiler",
    "SetDefaultDevice",
    "close_device",
    "close_mesh_device",
    "create_mesh_device",
    "get_arch_name",
    "get_dram_alignment",
    "get_l1_alignment",
    "get_max_worker_l1_unreserved_size",
    "get_num_devices",
    "get_num_pcie_devices",
    "init_device_compute_kernel_config",
    "manage_device",
    "open_device",
    "open_mesh_device",
    "synchronize_device",
]

# ttnn.device.DEFAULT_* (not exported at ttnn's top level): 0 = no L1_SMALL / trace region carved out.
DEFAULT_L1_SMALL_SIZE = 0
DEFAULT_TRACE_REGION_SIZE = 0
DEFAULT_WORKER_L1_SIZE = 0

_open_devices: dict[int, Device] = {}


def GetNumAvailableDevices() -> int:  # noqa: N802 (ttnn's name)
    """Chips of the simulated board (n300: 2)."""
    return get_board().chips


def GetNumPCIeDevices() -> int:  # noqa: N802
    """Chips reachable over PCIe: one per card (an n300's second chip hangs off ethernet; a T3K has 4)."""
    return get_board().pcie_chips


def get_num_devices() -> int:
    return GetNumAvailableDevices()


def get_num_pcie_devices() -> int:
    return GetNumPCIeDevices()


def get_arch_name() -> str:
    """ "wormhole_b0" or "blackhole", as ttnn.get_arch_name() reports for the simulated board."""
    return get_board().arch


def open_device(
    *,
    device_id: int,
    l1_small_size: int = DEFAULT_L1_SMALL_SIZE,
    trace_region_size: int = DEFAULT_TRACE_REGION_SIZE,
    dispatch_core_config: DispatchCoreConfig | None = None,
    worker_l1_size: int = DEFAULT_WORKER_L1_SIZE,
) -> Device:
    """One chip of the simulated board; an id that is already open returns that device."""
    return create_device(device_id, 1, l1_small_size, trace_region_size, dispatch_core_config, worker_l1_size)


def create_device(
    device_id: int,
    num_command_queues: int = 1,
    l1_small_size: int = DEFAULT_L1_SMALL_SIZE,
    trace_region_size: int = DEFAULT_TRACE_REGION_SIZE,
    dispatch_core_config: DispatchCoreConfig | None = None,
    worker_l1_size: int = DEFAULT_WORKER_L1_SIZE,
) -> Device:
    """open_device with a number of command queues (what ttnn.device.CreateDevice takes)."""
    board = get_board()
    rules.check_device_id(device_id, board.chips)
    device = _open_devices.get(device_id)
    if device is None or not device.is_open():
        device = Device(
            device_id,
            board,
            l1_small_size=l1_small_size,
            trace_region_size=trace_region_size,
            dispatch_core_config=dispatch_core_config,
            worker_l1_size=worker_l1_size,
            num_command_queues=num_command_queues,
        )
        host_memory.keep_freed_memory()
        track_open(device)
        _open_devices[device_id] = device
    return device


def close_device(device: Device) -> None:
    """Release the device: its tensors' buffers are freed and later use raises."""
    device.close()
    if _open_devices.get(device.id()) is device:
        del _open_devices[device.id()]


@contextlib.contextmanager
def manage_device(device_id: int) -> Iterator[Device]:
    device = open_device(device_id=device_id)
    try:
        yield device
    finally:
        close_device(device)


def open_mesh_device(
    mesh_shape: MeshShape | None = None,
    l1_small_size: int = DEFAULT_L1_SMALL_SIZE,
    trace_region_size: int = DEFAULT_TRACE_REGION_SIZE,
    num_command_queues: int = 1,
    dispatch_core_config: DispatchCoreConfig | None = None,
    offset: Any = None,
    physical_device_ids: Sequence[int] = (),
    worker_l1_size: int = DEFAULT_WORKER_L1_SIZE,
) -> MeshDevice:
    """A mesh over the board's chips; without a shape, the whole system mesh (1 x chips)."""
    board = get_board()
    system = MeshShape(1, board.chips)
    shape = mesh_shape or system
    rules.check_mesh_shape(
        shape.num_devices,
        f"MeshShape([{shape[0]}, {shape[1]}])",
        board.chips,
        f"MeshShape([1, {board.chips}])",
    )
    mesh_device = MeshDevice(
        shape,
        board,
        l1_small_size=l1_small_size,
        trace_region_size=trace_region_size,
        num_command_queues=num_command_queues,
        dispatch_core_config=dispatch_core_config,
    )
    host_memory.keep_freed_memory()
    track_open(mesh_device)
    return mesh_device


def close_mesh_device(mesh_device: MeshDevice) -> None:
    mesh_device.close()


@contextlib.contextmanager
def create_mesh_device(*args: Any, **kwargs: Any) -> Iterator[MeshDevice]:
    mesh_device = open_mesh_device(*args, **kwargs)
    try:
        yield mesh_device
    finally:
        close_mesh_device(mesh_device)


def synchronize_device(
    device: Device | MeshDevice, cq_id: int | None = None, sub_device_ids: Any = None
) -> None:
    """Every simulated op completes when called; this checks the device is open and the queue / sub-device
    ids exist."""
    rules.require_open(device, "synchronize_device")
    device.dispatch.queue(cq_id)
    device.check_sub_device_ids(sub_device_ids or ())


def ReadDeviceProfiler(device: Device | MeshDevice) -> None:  # noqa: N802 (ttnn's name)
    """Flush the device profiler's buffers (ttnn/ttnn/profiler.py). The simulator has no on-device profiler
    buffers, so nothing is read; the device must still be open."""
    rules.require_open(device, "ReadDeviceProfiler")


def init_device_compute_kernel_config(
    arch: Arch,
    device_kernel_config: WormholeComputeKernelConfig | None = None,
    *,
    math_fidelity: MathFidelity = MathFidelity.LoFi,
    math_approx_mode: bool = True,
    fp32_dest_acc_en: bool = False,
    packer_l1_acc: bool = False,
    dst_full_sync_en: bool = False,
    throttle_level: Any = None,
) -> WormholeComputeKernelConfig:
    """The given config, else one built from the keywords (compute_kernel_config.cpp: Wormhole and Blackhole
    share the struct)."""
    if device_kernel_config is not None:
        return device_kernel_config
    return WormholeComputeKernelConfig(
        math_fidelity=math_fidelity,
        math_approx_mode=math_approx_mode,
        fp32_dest_acc_en=fp32_dest_acc_en,
        packer_l1_acc=packer_l1_acc,
        dst_full_sync_en=dst_full_sync_en,
    )


_default_device: list[Device | None] = [None]


def SetDefaultDevice(device: Device) -> None:  # noqa: N802 (ttnn's name)
    """Remember `device` as the default one (what GetDefaultDevice returns)."""
    _default_device[0] = device


def GetDefaultDevice() -> Device | None:  # noqa: N802
    return _default_device[0]


def get_l1_alignment() -> int:
    """L1 buffer alignment in bytes (16 on Wormhole and Blackhole)."""
    return 16


def get_max_worker_l1_unreserved_size() -> int:
    """Bytes of a worker core's L1 above the firmware's reserved region: the board's usable L1 bank (the
    allocator's figure, boards.py; the HAL's unreserved size equals it when no l1_small region is asked for)."""
    return get_board().l1_bank_size


def get_dram_alignment() -> int:
    """DRAM buffer alignment in bytes: 32 on Wormhole, 64 on Blackhole."""
    return 64 if get_board().arch == "blackhole" else 32
