"""Mesh devices on an n300 (2 chips): mappers, composers, per-chip execution and accounting."""

from __future__ import annotations

import pathlib

import pytest
import torch

from ttport import sim
from ttport.sim import rules, ttnn


def test_mesh_device_covers_the_board(mesh_device: ttnn.MeshDevice) -> None:
    assert mesh_device.get_num_devices() == 2 and tuple(mesh_device.shape) == (1, 2)
    assert [d.id() for d in mesh_device.get_devices()] == [0, 1] == mesh_device.get_device_ids()
    assert mesh_device.arch() == ttnn.Arch.WORMHOLE_B0


def test_mesh_larger_than_the_board_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTPORT_BOARD", "n150")
    with pytest.raises(
        rules.TTFatal,
        match=r"^Requested mesh shape MeshShape\(\[1, 2\]\) requires 2 devices, but only 1 devices are available",
    ):
        ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 2))
    single = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 1))
    assert single.get_num_devices() == 1
    ttnn.close_mesh_device(single)


def test_shard_and_concat_round_trip(mesh_device: ttnn.MeshDevice) -> None:
    x = torch.randn(1, 1, 64, 128)
    t = ttnn.from_torch(
        x,
        ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh_device,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh_device, dim=3),
    )
    assert t.shape == [1, 1, 64, 64]  # the per-chip shape, as ttnn reports for a sharded mesh tensor
    chips = ttnn.get_device_tensors(t)
    assert [c.device() for c in chips] == mesh_device.get_devices()
    torch.testing.assert_close(ttnn.to_torch(chips[1]).float(), x[..., 64:].to(torch.bfloat16).float())
    back = ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=3))
    assert torch.equal(back, x.to(torch.bfloat16))
    # Each chip received its own half: one transfer of 2 x 2 tiles per chip.
    per_chip = [c.stats for c in mesh_device.get_devices()]
    assert [(s.host_to_device, s.host_to_device_bytes) for s in per_chip] == [(1, 4 * 2048)] * 2


def test_replicate_runs_ops_once_per_chip(mesh_device: ttnn.MeshDevice) -> None:
    x = torch.randn(32, 64)
    t = ttnn.from_torch(
        x,
        ttnn.float32,
        layout=ttnn.TILE_LAYOUT,
        device=mesh_device,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh_device),
    )
    out = ttnn.typecast(t, ttnn.bfloat16)
    assert [c.stats.ops_by_name for c in mesh_device.get_devices()] == [{"typecast": 1}] * 2
    assert sim.stats(mesh_device).device_ops == 2
    halves = ttnn.to_torch(out, mesh_composer=ttnn.concat_mesh_to_tensor_composer(mesh_device, 0))
    assert halves.shape == (64, 64)
    assert torch.equal(halves[:32], halves[32:])
    with pytest.raises(RuntimeError, match="distributed over 2 devices; pass a mesh_composer"):
        ttnn.to_torch(out)


def test_from_torch_without_mapper_replicates_on_a_mesh(mesh_device: ttnn.MeshDevice) -> None:
    t = ttnn.from_torch(torch.ones(2, 2), ttnn.float32, device=mesh_device)
    assert t.num_chips == 2
    assert sim.stats(mesh_device).host_to_device == 2


def test_per_chip_views_share_the_mesh_buffers(mesh_device: ttnn.MeshDevice) -> None:
    t = ttnn.from_torch(
        torch.randn(4, 64),
        ttnn.float32,
        device=mesh_device,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh_device, dim=0),
    )
    first, second = ttnn.get_device_tensors(t)
    before = sim.stats(mesh_device).dram_bytes
    ttnn.deallocate(t)
    assert sim.stats(mesh_device).dram_bytes < before
    assert not first.is_allocated() and not second.is_allocated()
    with pytest.raises(rules.TTFatal, match="Buffer is not allocated"):
        ttnn.to_torch(first)


def test_a_mesh_tensor_and_a_chip_tensor_do_not_mix(mesh_device: ttnn.MeshDevice) -> None:
    t = ttnn.from_torch(torch.ones(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh_device)
    chip0 = ttnn.get_device_tensors(t)[0]
    from ttport.sim.tensor import device_op

    with pytest.raises(rules.TTFatal, match="All input tensors must be on the same device"):
        device_op("probe", [t, chip0], torch.add, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)


def test_two_dimensional_mapper_and_composer(mesh_device: ttnn.MeshDevice) -> None:
    x = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 4)
    mapper = ttnn.ShardTensor2dMesh(mesh_device, mesh_shape=(1, 2), dims=(None, 1))
    t = ttnn.from_torch(x, ttnn.float32, device=mesh_device, mesh_mapper=mapper)
    assert [ttnn.to_torch(c).tolist() for c in ttnn.get_device_tensors(t)] == [
        [[0, 1], [4, 5]],
        [[2, 3], [6, 7]],
    ]
    composer = ttnn.ConcatMesh2dToTensor(mesh_device, mesh_shape=(1, 2), dims=(0, 1))
    assert torch.equal(ttnn.to_torch(t, mesh_composer=composer), x)
    with pytest.raises(rules.TTFatal, match="does not split evenly over 2 devices"):
        ttnn.from_torch(
            torch.ones(3, 3), ttnn.float32, mesh_mapper=ttnn.ShardTensorToMesh(mesh_device, dim=1)
        )


def test_host_mesh_tensor_then_to_device(mesh_device: ttnn.MeshDevice) -> None:
    x = torch.randn(2, 8)
    host = ttnn.from_torch(x, ttnn.float32, mesh_mapper=ttnn.shard_tensor_to_mesh_mapper(mesh_device, 0))
    assert host.storage_type() == ttnn.StorageType.HOST and host.num_chips == 2
    on_mesh = ttnn.to_device(host, mesh_device)
    assert torch.equal(ttnn.to_torch(on_mesh, mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=0)), x)


def test_as_tensor_caches_replicated_weights_unsharded(
    tmp_path: pathlib.Path, mesh_device: ttnn.MeshDevice
) -> None:
    x = torch.randn(32, 32)
    kwargs = dict(
        layout=ttnn.TILE_LAYOUT,
        device=mesh_device,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh_device),
        cache_file_name=tmp_path / "w",
    )
    first = ttnn.as_tensor(x, ttnn.bfloat16, **kwargs)
    assert ttnn.load_tensor(tmp_path / "w_dtype_BFLOAT16_layout_TILE.tensorbin").num_chips == 1
    second = ttnn.as_tensor(x, ttnn.bfloat16, **kwargs)
    assert first.num_chips == second.num_chips == 2
    composer = ttnn.ConcatMeshToTensor(mesh_device, dim=0)
    assert torch.equal(
        ttnn.to_torch(first, mesh_composer=composer), ttnn.to_torch(second, mesh_composer=composer)
    )


def test_in_place_write_on_one_chip_leaves_the_other(mesh_device: ttnn.MeshDevice) -> None:
    cache = ttnn.zeros([2, 2], ttnn.float32, device=mesh_device)  # one broadcast value shared by both chips
    cache.writable_chip(0)[0, 0] = 1.0
    first, second = (ttnn.to_torch(c) for c in ttnn.get_device_tensors(cache))
    assert (first[0, 0].item(), second[0, 0].item()) == (1.0, 0.0)


def test_replicated_from_torch_rounds_once_and_chips_share_the_values(mesh_device: ttnn.MeshDevice) -> None:
    """A replicating mapper gives every chip the same host value: rounded once and shared (half the host
    memory of a replicated weight); a write into one chip's copy still leaves the other's alone."""
    source = torch.randn(4, 64, 64) * 3
    mapper = ttnn.ReplicateTensorToMesh(mesh_device)
    for dtype in (ttnn.bfloat16, ttnn.bfloat8_b, ttnn.float32):
        weight = ttnn.from_torch(
            source, dtype, layout=ttnn.TILE_LAYOUT, device=mesh_device, mesh_mapper=mapper
        )
        assert weight._chips[0] is weight._chips[1]
        single = ttnn.to_torch(ttnn.from_torch(source, dtype, layout=ttnn.TILE_LAYOUT))
        for chip in ttnn.get_device_tensors(weight):
            assert torch.equal(ttnn.to_torch(chip), single)
    cache = ttnn.from_torch(
        torch.zeros(1, 1, 32, 32),
        ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh_device,
        mesh_mapper=mapper,
    )
    cache.writable_chip(1)[0, 0, 3] = 1.0
    first, second = (ttnn.to_torch(c) for c in ttnn.get_device_tensors(cache))
    assert first.abs().sum() == 0 and torch.equal(second[0, 0, 3], torch.ones(32, dtype=torch.bfloat16))
