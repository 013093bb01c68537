"""Sub-devices: a device's worker grid split into groups of cores that run programs independently
(tt_metal/impl/sub_device/sub_device_manager.cpp; ttnn.SubDevice, MeshDevice.create_sub_device_manager).

The simulator runs ops whole, so sub-devices change no result: they are validated as tt-metal does and
remembered, so that `sub_device_ids=` arguments (synchronize_device, record_event) can be checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from . import rules
from .types import CoreRangeSet

# tt_metal hal: the most sub-devices one manager may hold ("larger than the max number of sub-devices")
MAX_NUM_SUB_DEVICES = 16

_manager_ids = itertools.count(1)


class SubDeviceId(int):
    """ttnn.SubDeviceId(n)."""

    def __new__(cls, id: int, /) -> SubDeviceId:  # noqa: A002 (ttnn's parameter name)
        return super().__new__(cls, id)

    def __repr__(self) -> str:
        return f"SubDeviceId({int(self)})"


class SubDeviceManagerId(int):
    def __new__(cls, value: int, /) -> SubDeviceManagerId:
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"SubDeviceManagerId({int(self)})"


class SubDevice:
    """ttnn.SubDevice([tensix_cores, ethernet_cores]): one CoreRangeSet per core type, Tensix first."""

    def __init__(self, cores: Sequence[CoreRangeSet]):
        cores = list(cores)
        for c in cores:
            rules.require(isinstance(c, CoreRangeSet), f"SubDevice: expected CoreRangeSet objects, got {c!r}")
        self.cores = cores

    def __repr__(self) -> str:
        return f"SubDevice({self.cores!r})"


def check_cores_in_grid(device: Any, cores: CoreRangeSet, what: str) -> None:
    """Cores a sub-device or semaphore names must exist in the device's worker grid (simulator wording)."""
    grid = device.compute_with_storage_grid_size()
    box = cores.bounding_box()
    rules.require(
        box.end.x < grid.x and box.end.y < grid.y,
        f"{what}: cores {box} are outside the {grid.x}x{grid.y} worker grid of {device!r}",
    )


class SubDeviceManagers:
    """Mixin of Device and MeshDevice: the sub-device managers created on the device and the active one
    (0: the default manager, one sub-device spanning the grid)."""

    def _init_sub_devices(self) -> None:
        self._sub_device_managers: dict[int, list[SubDevice]] = {}
        self._active_sub_device_manager = 0
        self._stall_group: list[int] = []

    def create_sub_device_manager(
        self, sub_devices: Sequence[SubDevice], local_l1_size: int
    ) -> SubDeviceManagerId:
        rules.require_open(self, "create_sub_device_manager")
        sub_devices = list(sub_devices)
        if len(sub_devices) > MAX_NUM_SUB_DEVICES:
            raise rules.fatal(
                f"Number of sub-devices specified {len(sub_devices)} is larger than the max number of sub-devices "
                f"{MAX_NUM_SUB_DEVICES}"
            )
        taken: set[tuple[int, int]] = set()
        for sd in sub_devices:
            if not sd.cores:
                continue
            check_cores_in_grid(self, sd.cores[0], "create_sub_device_manager")
            for r in sd.cores[0].ranges():
                cells = {(x, y) for x in range(r.start.x, r.end.x + 1) for y in range(r.start.y, r.end.y + 1)}
                rules.require(
                    not cells & taken, "create_sub_device_manager: sub-devices must not share cores"
                )
                taken |= cells
        manager = SubDeviceManagerId(next(_manager_ids))
        self._sub_device_managers[int(manager)] = sub_devices
        return manager

    def _require_manager(self, manager_id: Any) -> None:
        rules.require(
            int(manager_id) in self._sub_device_managers,
            f"Sub-device manager {int(manager_id)} does not exist on {self!r}",
        )

    def load_sub_device_manager(self, sub_device_manager_id: SubDeviceManagerId) -> None:
        self._require_manager(sub_device_manager_id)
        self._active_sub_device_manager = int(sub_device_manager_id)
        self._stall_group = []

    def clear_loaded_sub_device_manager(self) -> None:
        self._active_sub_device_manager = 0
        self._stall_group = []

    def remove_sub_device_manager(self, sub_device_manager_id: SubDeviceManagerId) -> None:
        self._require_manager(sub_device_manager_id)
        rules.require(
            self._active_sub_device_manager != int(sub_device_manager_id),
            f"Cannot remove active sub-device manager {int(sub_device_manager_id)}",
        )
        del self._sub_device_managers[int(sub_device_manager_id)]

    def num_sub_devices(self) -> int:
        return len(self._sub_device_managers.get(self._active_sub_device_manager, [None]))

    def check_sub_device_ids(self, sub_device_ids: Sequence[Any]) -> None:
        n = self.num_sub_devices()
        for sid in sub_device_ids or ():
            if not 0 <= int(sid) < n:
                raise rules.fatal(f"SubDevice index {int(sid)} out of bounds {n}")

    def set_sub_device_stall_group(self, sub_device_ids: Sequence[Any]) -> None:
        self.check_sub_device_ids(sub_device_ids)
        self._stall_group = [int(s) for s in sub_device_ids]

    def reset_sub_device_stall_group(self) -> None:
        self._stall_group = []
