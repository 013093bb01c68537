"""Fabric config, submeshes, sub-devices, global semaphores and the profiler read: accepted and validated as
tt-metal does (ttport.sim.ops.fabric, ttport.sim.subdevices, MeshDevice.create_submesh)."""

from __future__ import annotations

import weakref

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.ops import fabric


@pytest.fixture
def n300(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTPORT_BOARD", "n300")


@pytest.fixture(autouse=True)
def _fabric_disabled(monkeypatch: pytest.MonkeyPatch):
    """Only devices opened by the test count as open (others may be left open by earlier tests)."""
    monkeypatch.setattr(fabric, "_open_meshes", weakref.WeakSet())
    yield
    ttnn.set_fabric_config(ttnn.FabricConfig.DISABLED)


def _cores(x0: int, y0: int, x1: int, y1: int) -> ttnn.CoreRangeSet:
    return ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(x0, y0), ttnn.CoreCoord(x1, y1))})


def test_fabric_config_is_set_before_opening_and_refused_under_open_devices(n300) -> None:
    ttnn.set_fabric_config(ttnn.FabricConfig.FABRIC_1D)
    assert ttnn.get_fabric_config() == ttnn.FabricConfig.FABRIC_1D
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    try:
        with pytest.raises(
            RuntimeError, match=r"SetFabricConfig\(FABRIC_2D\) is not allowed while devices are still open"
        ):
            ttnn.set_fabric_config(ttnn.FabricConfig.FABRIC_2D)
        ttnn.set_fabric_config(ttnn.FabricConfig.DISABLED)  # disabling is always allowed
    finally:
        ttnn.close_mesh_device(mesh)
    ttnn.set_fabric_config(ttnn.FabricConfig.FABRIC_1D_RING)  # nothing open any more


def test_fabric_needs_two_chips() -> None:
    ttnn.set_fabric_config(ttnn.FabricConfig.FABRIC_1D)
    with pytest.raises(RuntimeError, match="Fabric config FABRIC_1D requires at least 2 participating chips"):
        ttnn.open_mesh_device(ttnn.MeshShape(1, 1))
    with pytest.raises(RuntimeError, match="expected a ttnn.FabricConfig"):
        ttnn.set_fabric_config("FABRIC_1D")
    assert {t.name for t in ttnn.Topology} == {"Ring", "Linear", "Mesh", "Torus"}


def test_submesh_shares_the_parent_chips(n300) -> None:
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    try:
        right = mesh.create_submesh(ttnn.MeshShape(1, 1), ttnn.MeshCoordinate(0, 1))
        assert right.get_devices() == [mesh.get_devices()[1]]
        assert mesh.get_submeshes() == [right]
        x = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=right)
        assert torch.equal(ttnn.to_torch(ttnn.relu(x)), torch.relu(ttnn.to_torch(x)))
        assert [s.get_num_devices() for s in mesh.create_submeshes(ttnn.MeshShape(1, 1))] == [1, 1]
        with pytest.raises(RuntimeError, match=r"does not fit within parent mesh \(MeshShape\(\[1, 2\]\)\)"):
            mesh.create_submesh(ttnn.MeshShape(1, 2), ttnn.MeshCoordinate(0, 1))
        with pytest.raises(RuntimeError, match="All dimensions must be positive"):
            mesh.create_submesh(ttnn.MeshShape(0, 1))
        single = ttnn.open_mesh_device(ttnn.MeshShape(1, 1))
        with pytest.raises(RuntimeError, match="is not divisible by submesh shape"):
            single.create_submeshes(ttnn.MeshShape(1, 2))
        ttnn.close_mesh_device(single)
    finally:
        ttnn.close_mesh_device(mesh)


def test_sub_devices_and_ids_are_validated() -> None:
    device = ttnn.open_device(device_id=0)
    try:
        halves = [ttnn.SubDevice([_cores(0, 0, 3, 7)]), ttnn.SubDevice([_cores(4, 0, 7, 7)])]
        manager = device.create_sub_device_manager(halves, 3200)
        device.load_sub_device_manager(manager)
        ttnn.synchronize_device(device, sub_device_ids=[ttnn.SubDeviceId(1)])
        with pytest.raises(RuntimeError, match="SubDevice index 2 out of bounds 2"):
            ttnn.record_event(device, 0, [ttnn.SubDeviceId(2)])
        with pytest.raises(RuntimeError, match="sub-devices must not share cores"):
            device.create_sub_device_manager([ttnn.SubDevice([_cores(0, 0, 4, 7)]), halves[1]], 0)
        with pytest.raises(RuntimeError, match="outside the 8x8 worker grid"):
            device.create_sub_device_manager([ttnn.SubDevice([_cores(0, 0, 8, 0)])], 0)
        device.clear_loaded_sub_device_manager()
        with pytest.raises(RuntimeError, match="SubDevice index 1 out of bounds 1"):
            ttnn.synchronize_device(device, sub_device_ids=[ttnn.SubDeviceId(1)])
        device.remove_sub_device_manager(manager)
    finally:
        ttnn.close_device(device)


def test_global_semaphore_and_profiler_read() -> None:
    device = ttnn.open_device(device_id=0)
    semaphore = ttnn.create_global_semaphore(device, _cores(0, 0, 1, 1), 0)
    assert ttnn.get_global_semaphore_address(semaphore) > 0
    ttnn.reset_global_semaphore_value(semaphore, 3)
    assert semaphore.value == 3
    with pytest.raises(RuntimeError, match="outside the 8x8 worker grid"):
        ttnn.create_global_semaphore(device, _cores(0, 0, 0, 9), 0)
    with pytest.raises(RuntimeError, match="initial_value must be a non-negative int"):
        ttnn.create_global_semaphore(device, _cores(0, 0, 0, 0), -1)
    ttnn.ReadDeviceProfiler(device)
    ttnn.close_device(device)
    with pytest.raises(RuntimeError, match="is closed"):
        ttnn.ReadDeviceProfiler(device)
