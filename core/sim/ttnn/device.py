"""ttnn.device on the simulator: the module of ttnn/ttnn/device.py that model code imports names from
(`from ttnn.device import Arch`, `ttnn.device.is_blackhole()`)."""

# ruff: noqa: F401 (re-exports)

from ..ops.command_queue import is_trace_capture_active
from ..ops.device import (
    DEFAULT_L1_SMALL_SIZE,
    DEFAULT_TRACE_REGION_SIZE,
    DEFAULT_WORKER_L1_SIZE,
    GetNumAvailableDevices,
    GetNumPCIeDevices,
    ReadDeviceProfiler,
    close_device,
    create_device,
    get_arch_name,
    open_device,
    synchronize_device,
)
from ..runtime import Device
from ..types import Arch, DispatchCoreAxis, DispatchCoreConfig, DispatchCoreType


def is_wormhole_b0(device: Device | None = None) -> bool:
    return (device.arch() if device is not None else get_arch_name()) == Arch.WORMHOLE_B0


def is_blackhole(device: Device | None = None) -> bool:
    return (device.arch() if device is not None else get_arch_name()) == Arch.BLACKHOLE


def CreateDevice(  # noqa: N802 (ttnn's name)
    device_id: int,
    num_command_queues: int = 1,
    l1_small_size: int = DEFAULT_L1_SMALL_SIZE,
    trace_region_size: int = DEFAULT_TRACE_REGION_SIZE,
    dispatch_core_config: DispatchCoreConfig | None = None,
    *,
    worker_l1_size: int = DEFAULT_WORKER_L1_SIZE,
) -> Device:
    """What tt-metal's conftest opens the `device` fixture with (num_command_queues from device_params)."""
    return create_device(device_id, num_command_queues, l1_small_size, trace_region_size, dispatch_core_config,
                         worker_l1_size)  # fmt: skip


def CloseDevice(device: Device, /) -> None:  # noqa: N802 (ttnn's name; positional-only as bound)
    close_device(device)


# Every other name real ttnn.device has that the simulator provides; the rest fail as "not simulated yet".
from ..ops import device as _device_ops  # noqa: E402
from ._surface import not_simulated as _not_simulated  # noqa: E402
from ._surface import reexport as _reexport  # noqa: E402

__all__ = _reexport(globals(), "ttnn.device", dict(globals()), _device_ops)
__getattr__ = _not_simulated("ttnn.device")
