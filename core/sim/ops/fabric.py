"""Multi-chip runtime objects model code sets up before running CCL ops: the fabric config, topologies,
sub-devices and global semaphores (ttnn/cpp/ttnn-nanobind/fabric.cpp, device.cpp, global_semaphore.cpp).

The simulator moves no data over ethernet, so these are accepted and validated as tt-metal does (wording of
the strings in ttnn 0.81.1's libtt_metal), and remembered so that later calls can be checked against them.
"""

from __future__ import annotations

import enum
import itertools
import weakref
from dataclasses import dataclass
from typing import Any

from .. import rules
from ..runtime import Device, MeshDevice
from ..subdevices import SubDevice, SubDeviceId, SubDeviceManagerId, check_cores_in_grid
from ..types import BufferType, CoreRangeSet

__all__ = [
    "FabricConfig",
    "FabricReliabilityMode",
    "SubDevice",
    "SubDeviceId",
    "SubDeviceManagerId",
    "Topology",
    "create_global_semaphore",
    "get_fabric_config",
    "get_global_semaphore_address",
    "reset_global_semaphore_value",
    "set_fabric_config",
]


class FabricConfig(enum.Enum):
    DISABLED = 0
    FABRIC_1D = 1
    FABRIC_1D_RING = 2
    FABRIC_1D_NEIGHBOR_EXCHANGE = 3
    FABRIC_2D = 4
    FABRIC_2D_TORUS_XY = 5
    FABRIC_2D_TORUS_X = 6
    FABRIC_2D_TORUS_Y = 7
    CUSTOM = 8


class FabricReliabilityMode(enum.Enum):
    STRICT_INIT = 0
    RELAXED_INIT = 1
    DYNAMIC_RECONFIG = 2


class Topology(enum.Enum):
    """ttnn.Topology: how a CCL op walks the chips of a mesh axis (values as ttnn 0.81.1 has them)."""

    Ring = 2
    Linear = 1
    Mesh = 3
    Torus = 4


_fabric = {"config": FabricConfig.DISABLED}
_open_meshes: weakref.WeakSet[Any] = weakref.WeakSet()


def track_open(device: Device | MeshDevice) -> None:
    """open_device / open_mesh_device register what they open, so set_fabric_config can refuse to change
    the fabric under open devices, and a multi-chip fabric refuses a 1-chip mesh."""
    config = _fabric["config"]
    if config != FabricConfig.DISABLED and device.get_num_devices() < 2:
        raise rules.fatal(
            f"Fabric config {config.name} requires at least 2 participating chips, but the opened mesh has "
            f"{device.get_num_devices()} local device(s) on a single host. Either open a larger mesh (e.g. a "
            "MeshShape with >= 2 devices) or call SetFabricConfig(FabricConfig::DISABLED) before opening a "
            "1-chip mesh."
        )
    _open_meshes.add(device)


def set_fabric_config(
    config: FabricConfig,
    reliability_mode: FabricReliabilityMode = FabricReliabilityMode.STRICT_INIT,
    num_planes: int | None = None,
    fabric_tensix_config: Any = None,
    fabric_udm_mode: Any = None,
    fabric_manager_mode: Any = None,
    router_config: Any = None,
) -> None:
    """Choose the fabric before opening meshes; it cannot change to an enabled config under open devices."""
    rules.require(
        isinstance(config, FabricConfig), f"set_fabric_config: expected a ttnn.FabricConfig, got {config!r}"
    )
    if config != FabricConfig.DISABLED and any(d.is_open() for d in _open_meshes):
        raise rules.fatal(
            f"SetFabricConfig({config.name}) is not allowed while devices are still open: it would reinitialize "
            "the control plane underneath running fabric kernels and dangle the ControlPlane& held by the fabric "
            "firmware initializer. Close the mesh device before changing the fabric config to a non-DISABLED "
            "value."
        )
    _fabric["config"] = config


def get_fabric_config() -> FabricConfig:
    return _fabric["config"]


# -- global semaphores ------------------------------------------------------------------------------------


_semaphore_addresses = itertools.count(0x10000, 16)


@dataclass(eq=False)
class GlobalSemaphore:
    """What create_global_semaphore returns: one L1 word on each of `cores`, on every chip of the device."""

    device: Any
    cores: CoreRangeSet
    value: int
    buffer_type: BufferType
    address: int

    def __repr__(self) -> str:
        return (
            f"GlobalSemaphore(address={self.address:#x}, value={self.value}, cores={self.cores.num_cores()})"
        )


def create_global_semaphore(
    mesh_device: Device | MeshDevice,
    cores: CoreRangeSet,
    initial_value: int,
    buffer_type: BufferType = BufferType.L1,
) -> GlobalSemaphore:
    rules.require_open(mesh_device, "create_global_semaphore")
    rules.require(
        isinstance(cores, CoreRangeSet),
        f"create_global_semaphore: cores must be a ttnn.CoreRangeSet, got {cores!r}",
    )
    check_cores_in_grid(mesh_device, cores, "create_global_semaphore")
    rules.require(
        isinstance(initial_value, int) and initial_value >= 0,
        f"create_global_semaphore: initial_value must be a non-negative int, got {initial_value!r}",
    )
    return GlobalSemaphore(mesh_device, cores, initial_value, buffer_type, next(_semaphore_addresses))


def get_global_semaphore_address(global_semaphore: GlobalSemaphore) -> int:
    return global_semaphore.address


def reset_global_semaphore_value(global_semaphore: GlobalSemaphore, reset_value: int) -> None:
    global_semaphore.value = int(reset_value)
