"""ttnn.device on the simulator: the module of ttnn/ttnn/device.py that model code imports names from
(`from ttnn.device import Arch`, `ttnn.device.is_blackhole()`)."""

# ruff: noqa: F401 (re-exports)

from ..ops.device import (
    DEFAULT_L1_SMALL_SIZE,
    DEFAULT_TRACE_REGION_SIZE,
    DEFAULT_WORKER_L1_SIZE,
    close_device,
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
