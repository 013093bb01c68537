"""ttnn.Tensor on the simulator: metadata, allocation and its accounting, deallocation, strict mode."""

from __future__ import annotations

import gc
import os
import pathlib
import subprocess
import sys

import pytest
import torch

from ttport import sim
from ttport.sim import rules, ttnn


def test_tile_layout_pads_last_two_dims_but_keeps_logical_shape(device: ttnn.Device) -> None:
    # Probed on ttnn 0.81.1 (TTNN_FACTS §1): [1,1,50,70] TILE -> padded [1,1,64,96].
    t = ttnn.from_torch(torch.randn(1, 1, 50, 70), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert t.shape == [1, 1, 50, 70]
    assert t.padded_shape == (1, 1, 64, 96)
    assert t.shape == torch.Size([1, 1, 50, 70])
    assert t.shape.rank == 4
    assert t.layout == ttnn.TILE_LAYOUT and t.dtype == ttnn.bfloat16
    assert t.storage_type() == ttnn.StorageType.DEVICE and t.device() is device
    assert t.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    rm = ttnn.from_torch(torch.randn(3, 50, 70), ttnn.bfloat16)
    assert rm.padded_shape == [3, 50, 70]
    assert rm.storage_type() == ttnn.StorageType.HOST and rm.device() is None


@pytest.mark.parametrize(
    ("dtype", "tile_bytes"),
    [("bfloat16", 2048), ("float32", 4096), ("bfloat8_b", 1088), ("bfloat4_b", 576)],
)
def test_tile_tensor_reserves_whole_tiles_per_bank(device: ttnn.Device, dtype: str, tile_bytes: int) -> None:
    # 24 tiles over 12 DRAM banks = 2 tiles per bank (pages aligned to 32 B).
    before = sim.stats(device).dram_bytes
    t = ttnn.from_torch(
        torch.randn(1, 1, 64 * 3, 32 * 4), getattr(ttnn, dtype), layout=ttnn.TILE_LAYOUT, device=device
    )
    aligned = -(-tile_bytes // 32) * 32
    assert sim.stats(device).dram_bytes - before == 12 * 2 * aligned
    del t


def test_row_major_tensor_is_paged_by_rows(device: ttnn.Device) -> None:
    # 30 rows of 70 bf16 (140 B, aligned to 160 B) over 12 banks -> 3 rows in the fullest bank.
    t = ttnn.from_torch(torch.randn(30, 70), ttnn.bfloat16, device=device)
    assert sim.stats(device).dram_bytes == 12 * 3 * 160
    l1 = ttnn.from_torch(
        torch.randn(30, 70), ttnn.bfloat16, device=device, memory_config=ttnn.L1_MEMORY_CONFIG
    )
    # 64 L1 banks (8x8 cores), pages aligned to 16 B: 1 row of 144 B per bank.
    assert sim.stats(device).l1_bytes == 64 * 144
    del t, l1


def test_deallocate_frees_and_later_use_raises(device: ttnn.Device) -> None:
    t = ttnn.from_torch(torch.ones(64, 64), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert t.is_allocated() and sim.stats(device).dram_bytes > 0
    ttnn.deallocate(t)
    assert not t.is_allocated()
    assert sim.stats(device).dram_bytes == 0
    with pytest.raises(rules.TTFatal, match="Buffer is not allocated"):
        ttnn.to_torch(t)
    with pytest.raises(RuntimeError, match="Buffer is not allocated"):
        ttnn.clone(t)
    ttnn.deallocate(t)  # freeing twice is harmless, as in ttnn
    assert sim.stats(device).dram_bytes == 0


def test_peak_tracks_the_high_water_mark_across_deallocation_and_gc(device: ttnn.Device) -> None:
    def make() -> ttnn.Tensor:
        return ttnn.from_torch(torch.ones(32, 32 * 12), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)

    one = 12 * 2048  # 12 tiles, one per bank
    a, b = make(), make()
    assert sim.stats(device).dram_bytes == 2 * one
    ttnn.deallocate(a)
    del b  # the Python object dies: its buffer is released like ttnn's Tensor destructor does
    gc.collect()
    s = sim.stats(device)
    assert (s.dram_bytes, s.peak_dram_bytes) == (0, 2 * one)
    c = make()
    assert sim.stats(device).peak_dram_bytes == 2 * one
    sim.reset_stats(device)
    s = sim.stats(device)
    assert (s.peak_dram_bytes, s.host_to_device, s.device_ops) == (one, 0, 0)
    del c


def test_strict_mode_rejects_python_operators_on_device_tensors(device: ttnn.Device) -> None:
    t = ttnn.from_torch(torch.ones(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    sim.set_strict(True)
    for expression in (
        lambda: t + t,
        lambda: t * 2.0,
        lambda: t - t,
        lambda: -t,
        lambda: t @ t,
        lambda: t[0:1],
    ):
        with pytest.raises(RuntimeError, match="strict mode: Python operator"):
            expression()
    assert sim.stats(device).device_ops == 0


def test_python_operators_call_the_ttnn_op_when_not_strict(device: ttnn.Device) -> None:
    x = torch.randn(32, 32)
    t = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    out = t + t
    assert sim.stats(device).ops_by_name == {"add": 1}
    torch.testing.assert_close(ttnn.to_torch(out), x + x)


def test_strict_mode_from_environment() -> None:
    code = "from core import sim; print(sim.is_strict())"
    env = {**os.environ, "TTPORT_SIM_STRICT": "1"}
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


def test_writable_chip_makes_one_private_copy(device: ttnn.Device) -> None:
    host = ttnn.from_torch(torch.zeros(4, 4), ttnn.float32)
    uploaded = ttnn.to_device(host, device)  # shares its values with `host`
    filled = ttnn.zeros([4, 4], ttnn.float32, device=device)  # a broadcast view of one scalar
    for tensor in (uploaded, filled):
        values = tensor.writable_chip(0)
        values[0, 0] = 5.0
        assert tensor.writable_chip(0) is values  # later writes go to the same copy
        assert ttnn.to_torch(tensor)[0, 0] == 5.0
    assert ttnn.to_torch(host).abs().sum() == 0


def test_storage_predicates(device: ttnn.Device) -> None:
    host = ttnn.from_torch(torch.zeros(2, 2), ttnn.float32)
    dev = ttnn.to_device(host, device)
    assert not ttnn.is_tensor_storage_on_device(host) and ttnn.is_tensor_storage_on_device(dev)
    assert ttnn.has_storage_type_of(dev, ttnn.StorageType.DEVICE)
    assert ttnn.get_memory_config(host) is None and ttnn.get_memory_config(dev) == ttnn.DRAM_MEMORY_CONFIG
    assert ttnn.ttnn_dtype_to_torch_dtype(ttnn.bfloat16) == torch.bfloat16


def test_broadcast_shape_is_torchs() -> None:
    from ttport.sim.tensor import broadcast_shape

    cases = [
        [(1, 1, 96, 1280), (1, 1, 96, 1280)],
        [(1, 1), ()],
        [(), ()],
        [(3, 1, 5), (4, 1)],
        [(0, 1), (1, 7)],
        [(2, 0), (1,)],
        [(1,), (1, 1, 1)],
        [(8, 1, 6, 1), (7, 1, 5), (1, 1, 1, 1)],
        [(5,)],
    ]
    for shapes in cases:
        assert broadcast_shape(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    for shapes in ([(3,), (4,)], [(2, 0), (2, 3)], [(2, 3, 4), (5, 4)]):
        with pytest.raises(RuntimeError) as ours:
            broadcast_shape(*shapes)
        with pytest.raises(RuntimeError) as torchs:
            torch.broadcast_shapes(*shapes)
        assert str(ours.value) == str(torchs.value)
