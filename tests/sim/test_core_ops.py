"""Core ops of the simulated ttnn against torch: conversions, layouts, memory configs, typecast, creation,
serialisation and the as_tensor cache, with the device's rules and wording."""

from __future__ import annotations

import pathlib

import pytest
import torch

from ttport import sim
from ttport.sim import rules, ttnn
from ttport.sim.ops import (
    core,
    data_movement,
    distributed,
    eltwise,
    embedding,
    matmul,
    normalization,
    pool,
    reduction,
)
from ttport.sim.ops import device as device_ops
from ttport.sim.tensor import device_op

# -- from_torch / to_torch ---------------------------------------------------------------------------------


def test_host_bfloat16_rounds_to_nearest_even() -> None:
    # TTNN_FACTS §2 (probed): 1+2^-8 -> 1.0, 1+3*2^-8 -> 1.015625.
    x = torch.tensor([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 3 * 2**-8), 3.0])
    out = ttnn.to_torch(ttnn.from_torch(x, ttnn.bfloat16))
    assert out.dtype == torch.bfloat16
    assert out.float().tolist() == [1.0, 1.015625, -1.015625, 3.0]


@pytest.mark.parametrize(
    ("torch_dtype", "ttnn_dtype", "back"),
    [
        (torch.float32, "float32", torch.float32),
        (torch.bfloat16, "bfloat16", torch.bfloat16),
        (torch.int32, "int32", torch.int32),
    ],
)
def test_dtype_inferred_from_torch(torch_dtype: torch.dtype, ttnn_dtype: str, back: torch.dtype) -> None:
    x = (torch.randn(4, 8) * 10).to(torch_dtype)
    t = ttnn.from_torch(x)
    assert t.dtype == getattr(ttnn, ttnn_dtype) and t.layout == ttnn.ROW_MAJOR_LAYOUT
    out = ttnn.to_torch(t)
    assert out.dtype == back
    assert torch.equal(out, x.to(back))


def test_from_torch_does_not_alias_the_callers_tensor() -> None:
    x = torch.ones(4, 4)
    t = ttnn.from_torch(x, ttnn.float32)
    x.add_(1)
    assert torch.equal(ttnn.to_torch(t), torch.ones(4, 4))


def test_from_torch_none_returns_none() -> None:
    assert ttnn.from_torch(None, ttnn.bfloat16) is None


def test_block_floats_share_an_exponent_per_16_values() -> None:
    # TTNN_FACTS §2 probe: a row whose max is 8.0 -> 1.03125 -> 1.0, 0.3 -> 0.25, 0.1 -> 0.125.
    row = torch.tensor([8.0, 1.03125, 0.3, 0.1, -0.4, 0.0234] + [0.0] * 10).reshape(1, 16)
    out = ttnn.to_torch(ttnn.from_torch(row, ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT))
    assert out.dtype == torch.float32 and out.shape == (1, 16)
    assert out[0, :6].tolist() == [8.0, 1.0, 0.25, 0.125, -0.375, 0.0]


@pytest.mark.parametrize("dtype", ["bfloat8_b", "bfloat4_b"])
def test_block_float_in_row_major_is_refused(device: ttnn.Device, dtype: str) -> None:
    with pytest.raises(rules.TTFatal, match="^Layout must be Layout::TILE for bfloat8_b or bfloat4_b!$"):
        ttnn.from_torch(
            torch.randn(32, 32), getattr(ttnn, dtype), layout=ttnn.ROW_MAJOR_LAYOUT, device=device
        )
    assert sim.stats(device).host_to_device == 0
    # Without a layout, block floats default to TILE (probed on 0.81.1), other dtypes to ROW_MAJOR.
    assert ttnn.from_torch(torch.randn(32, 32), getattr(ttnn, dtype)).layout == ttnn.TILE_LAYOUT


def test_from_torch_to_device_counts_one_transfer_of_the_allocated_bytes(device: ttnn.Device) -> None:
    x = torch.randn(1, 1, 50, 70)
    t = ttnn.from_torch(x, ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    s = sim.stats(device)
    assert (s.host_to_device, s.host_to_device_bytes) == (1, 6 * 2048)
    out = ttnn.to_torch(t)
    s = sim.stats(device)
    assert (s.device_to_host, s.device_to_host_bytes, s.device_ops) == (1, 6 * 2048, 0)
    assert out.shape == x.shape
    torch.testing.assert_close(out.float(), x.to(torch.bfloat16).float(), rtol=0, atol=0)


def test_to_torch_rank_and_dtype() -> None:
    t = ttnn.from_torch(torch.arange(6.0).reshape(1, 1, 2, 3), ttnn.float32)
    out = ttnn.to_torch(t, torch.float64, torch_rank=2)
    assert out.shape == (2, 3) and out.dtype == torch.float64
    with pytest.raises(RuntimeError, match="Unable to squeeze to desired rank"):
        ttnn.to_torch(ttnn.from_torch(torch.zeros(2, 3), ttnn.float32), torch_rank=1)


def test_to_device_from_device_round_trip(device: ttnn.Device) -> None:
    x = torch.randn(2, 64, 32)
    host = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT)
    on_device = ttnn.to_device(host, device, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert on_device.memory_config() == ttnn.L1_MEMORY_CONFIG and sim.stats(device).l1_bytes > 0
    assert ttnn.to_device(on_device, device) is on_device
    back = ttnn.from_device(on_device)
    assert back.storage_type() == ttnn.StorageType.HOST and back.layout == ttnn.TILE_LAYOUT
    assert ttnn.from_device(back) is back
    assert torch.equal(ttnn.to_torch(back), x)
    assert (sim.stats(device).host_to_device, sim.stats(device).device_to_host) == (1, 1)
    assert torch.equal(host.cpu().to_torch(), x)


# -- device-op validation ------------------------------------------------------------------------------------


def test_device_op_on_host_tensor_is_refused() -> None:
    host = ttnn.from_torch(torch.randn(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(
        rules.TTFatal, match="Input tensor A must be on device, got storage type: StorageType::HOST"
    ):
        ttnn.clone(host)


def test_inputs_on_different_devices_are_refused(open_board) -> None:
    a = open_board("n300", 0)
    b = open_board("n300", 1)
    ta = ttnn.from_torch(torch.ones(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=a)
    tb = ttnn.from_torch(torch.ones(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=b)
    with pytest.raises(rules.TTFatal, match="All input tensors must be on the same device"):
        device_op("probe", [ta, tb], torch.add, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)


# -- to_layout ------------------------------------------------------------------------------------------------


def test_to_layout_on_device_tilizes_and_untilizes(device: ttnn.Device) -> None:
    x = torch.randn(1, 3, 50, 70)
    rm = ttnn.from_torch(x, ttnn.bfloat16, device=device)
    tile = ttnn.to_layout(rm, ttnn.TILE_LAYOUT)
    assert (
        tile.layout == ttnn.TILE_LAYOUT
        and tile.padded_shape == [1, 3, 64, 96]
        and tile.shape == [1, 3, 50, 70]
    )
    back = ttnn.to_layout(tile, ttnn.ROW_MAJOR_LAYOUT)
    assert back.padded_shape == [1, 3, 50, 70]
    assert torch.equal(ttnn.to_torch(back), x.to(torch.bfloat16))
    assert sim.stats(device).ops_by_name == {"to_layout": 2}


def test_to_layout_to_the_current_layout_returns_the_tensor(device: ttnn.Device) -> None:
    t = ttnn.from_torch(torch.randn(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    # to_layout_op.cpp: dtype / memory_config are ignored when the layout already matches.
    assert ttnn.to_layout(t, ttnn.TILE_LAYOUT, dtype=ttnn.float32) is t
    assert sim.stats(device).device_ops == 0


def test_to_layout_tile_with_dtype_converts_with_packer_rounding(device: ttnn.Device) -> None:
    x = torch.tensor([[1 + 2**-8, -(1 + 2**-8), 1 + 3 * 2**-9]])
    t = ttnn.from_torch(x, ttnn.float32, device=device)
    out = ttnn.to_layout(t, ttnn.TILE_LAYOUT, dtype=ttnn.bfloat16)
    assert out.dtype == ttnn.bfloat16
    # The packer rounds ties away from zero (TTNN_FACTS §2), unlike the host's nearest-even.
    assert ttnn.to_torch(out).float().tolist() == [[1.0078125, -1.0078125, 1.0078125]]


def test_to_layout_row_major_refuses_a_dtype_change_on_device(device: ttnn.Device) -> None:
    t = ttnn.from_torch(torch.randn(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(
        rules.TTFatal,
        match=r"^dtype cannot be different from tensor dtype when converting to ROW_MAJOR_LAYOUT on device",
    ):
        ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT, dtype=ttnn.float32)


def test_to_layout_bfloat8_b_to_row_major(device: ttnn.Device) -> None:
    x = torch.randn(32, 64)
    t = ttnn.from_torch(x, ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(rules.TTFatal, match="Layout must be Layout::TILE for bfloat8_b or bfloat4_b!"):
        ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT)
    # The one allowed exception: untilize converts BFLOAT8_B to BFLOAT16 natively.
    out = ttnn.to_layout(t, ttnn.ROW_MAJOR_LAYOUT, dtype=ttnn.bfloat16)
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(ttnn.to_torch(out).float(), ttnn.to_torch(t))


def test_to_layout_on_host_changes_padding_only() -> None:
    x = torch.randn(3, 40)
    t = ttnn.to_layout(ttnn.from_torch(x, ttnn.float32), ttnn.TILE_LAYOUT)
    assert t.storage_type() == ttnn.StorageType.HOST and t.padded_shape == [32, 64]
    assert torch.equal(ttnn.to_torch(t), x)
    # Probed on 0.81.1: a padded block-float host tensor cannot be untilized; a tile-aligned one stays TILE.
    b8 = ttnn.from_torch(x, ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(rules.TTFatal, match="Tensor layout must be ROW_MAJOR for unpadding"):
        ttnn.to_layout(b8, ttnn.ROW_MAJOR_LAYOUT)
    aligned = ttnn.from_torch(torch.randn(32, 64), ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT)
    assert ttnn.to_layout(aligned, ttnn.ROW_MAJOR_LAYOUT) is aligned


# -- memory configs -----------------------------------------------------------------------------------------


def test_to_memory_config_moves_between_dram_and_l1(device: ttnn.Device) -> None:
    x = torch.randn(64, 64)
    t = ttnn.from_torch(x, ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert ttnn.to_memory_config(t, ttnn.DRAM_MEMORY_CONFIG) is t
    l1 = ttnn.to_memory_config(t, ttnn.L1_MEMORY_CONFIG)
    assert l1.memory_config() == ttnn.L1_MEMORY_CONFIG
    assert sim.stats(device).l1_bytes == 64 * 2048  # 4 tiles over 64 banks: one tile page per bank
    assert torch.equal(ttnn.to_torch(l1), ttnn.to_torch(t))
    f32 = ttnn.to_memory_config(t, ttnn.DRAM_MEMORY_CONFIG, dtype=ttnn.float32)
    assert f32.dtype == ttnn.float32


def test_create_sharded_memory_config_follows_ttnn() -> None:
    grid = ttnn.CoreGrid(y=2, x=4)
    height = ttnn.create_sharded_memory_config((1, 2, 128, 64), grid, ttnn.ShardStrategy.HEIGHT)
    assert height.memory_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED
    assert height.buffer_type == ttnn.BufferType.L1
    assert height.shard_spec.shape == (32, 64)  # 2*128 rows over 8 cores
    assert height.shard_spec.grid.num_cores() == 8
    block = ttnn.create_sharded_memory_config((1, 1, 128, 256), grid, ttnn.ShardStrategy.BLOCK)
    assert block.shard_spec.shape == (64, 64)
    width = ttnn.create_sharded_memory_config((1, 1, 32, 256), grid, ttnn.ShardStrategy.WIDTH)
    assert width.shard_spec.shape == (32, 32)
    explicit = ttnn.create_sharded_memory_config(
        (32, 64),
        ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 0))}),
        ttnn.ShardStrategy.WIDTH,
        use_height_and_width_as_shard_shape=True,
    )
    assert explicit.shard_spec.shape == (32, 64)
    with pytest.raises(RuntimeError, match="^Invalid sharding core_grid$"):
        ttnn.create_sharded_memory_config((1, 1, 100, 64), grid, ttnn.ShardStrategy.HEIGHT)
    with pytest.raises(RuntimeError, match="height and width must be shard shape with CoreRangeSet"):
        ttnn.create_sharded_memory_config((32, 64), explicit.shard_spec.grid, ttnn.ShardStrategy.WIDTH)


def test_sharded_tensors_live_in_l1_and_convert_back(device: ttnn.Device) -> None:
    x = torch.randn(1, 1, 256, 64)
    mc = ttnn.create_sharded_memory_config(x.shape, ttnn.CoreGrid(y=8, x=1), ttnn.ShardStrategy.HEIGHT)
    t = ttnn.from_torch(x, ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)
    assert t.is_sharded() and ttnn.is_sharded(t)
    # One [32, 64] shard (2 tiles) per core, reserved at the same address in all 64 L1 banks.
    assert sim.stats(device).l1_bytes == 64 * 2 * 2048
    inter = ttnn.sharded_to_interleaved(t, ttnn.DRAM_MEMORY_CONFIG)
    assert not inter.is_sharded() and inter.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    with pytest.raises(rules.TTFatal, match="Input tensor must be sharded"):
        ttnn.sharded_to_interleaved(inter)
    again = ttnn.interleaved_to_sharded(inter, mc)
    assert again.memory_config() == mc
    by_grid = ttnn.interleaved_to_sharded(
        inter,
        ttnn.CoreGrid(y=8, x=1),
        [32, 64],
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.ShardOrientation.ROW_MAJOR,
    )
    assert by_grid.memory_config() == mc
    assert torch.equal(ttnn.to_torch(by_grid), x.to(torch.bfloat16))


def test_sharded_memory_config_needs_a_shard_spec(device: ttnn.Device) -> None:
    with pytest.raises(RuntimeError, match="Shard spec must not be None for sharded tensors"):
        ttnn.from_torch(
            torch.randn(32, 32),
            ttnn.bfloat16,
            device=device,
            memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG,
        )


# -- typecast / clone / reallocate ---------------------------------------------------------------------------


def test_typecast_float_to_uint16_rounds_half_up_on_device_and_truncates_on_host(device: ttnn.Device) -> None:
    x = torch.tensor([[0.5, 1.5, 2.5, 2.25, -3.0, 300.0]])
    on_device = ttnn.from_torch(x, ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.typecast(on_device, ttnn.uint16)
    assert out.dtype == ttnn.uint16 and out.layout == ttnn.TILE_LAYOUT
    assert ttnn.to_torch(out).tolist() == [[1, 2, 3, 2, 0, 300]]
    host = ttnn.typecast(ttnn.from_torch(x, ttnn.bfloat16), ttnn.uint16)
    assert ttnn.to_torch(host).tolist() == [[0, 1, 2, 2, 0, 300]]


def test_typecast_to_uint32_truncates_and_clamps(device: ttnn.Device) -> None:
    x = torch.tensor([[0.75, 7.9, -2.5, 3.0e9, 1.0e10]])
    t = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.to_torch(ttnn.typecast(t, ttnn.uint32)).to(torch.int64) & 0xFFFFFFFF
    assert out.tolist() == [[0, 7, 0, 3_000_000_000, 2**32 - 1]]


def test_typecast_to_uint8_wraps_and_back_to_float(device: ttnn.Device) -> None:
    x = torch.tensor([[3.7, 255.0, 257.9]])
    t = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    u8 = ttnn.typecast(t, ttnn.uint8)
    assert ttnn.to_torch(u8).tolist() == [[3, 255, 1]]
    back = ttnn.typecast(
        ttnn.from_torch(torch.tensor([[1, 2, 70000]], dtype=torch.int32), ttnn.uint32, device=device),
        ttnn.bfloat16,
    )
    assert back.dtype == ttnn.bfloat16 and ttnn.to_torch(back).float().tolist() == [[1.0, 2.0, 70144.0]]
    # The three-argument overload typecast(t, input_dtype, output_dtype).
    assert ttnn.typecast(t, ttnn.float32, ttnn.bfloat16).dtype == ttnn.bfloat16


def test_typecast_to_block_float_needs_tile(device: ttnn.Device) -> None:
    t = ttnn.from_torch(torch.randn(32, 32), ttnn.bfloat16, device=device)
    with pytest.raises(rules.TTFatal, match="Layout must be Layout::TILE for bfloat8_b or bfloat4_b!"):
        ttnn.typecast(t, ttnn.bfloat8_b)


def test_output_tensor_receives_the_result(device: ttnn.Device) -> None:
    x = torch.tensor([[1.5, 2.5]])
    t = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.zeros([1, 2], ttnn.uint32, ttnn.TILE_LAYOUT, device)
    assert ttnn.typecast(t, ttnn.uint32, output_tensor=out) is out
    assert ttnn.to_torch(out).tolist() == [[1, 2]]


def test_clone_copies_with_dtype_and_memory_config(device: ttnn.Device) -> None:
    x = torch.randn(32, 64)
    t = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    c = ttnn.clone(t, dtype=ttnn.bfloat16, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert c is not t and c.dtype == ttnn.bfloat16 and c.memory_config() == ttnn.L1_MEMORY_CONFIG
    expected = x.to(torch.bfloat16)  # ties are rare in random data: nearest-even and packer agree here
    torch.testing.assert_close(ttnn.to_torch(c), expected, rtol=2**-8, atol=0)
    assert sim.stats(device).ops_by_name == {"clone": 1}


def test_reallocate_moves_and_frees_the_input(device: ttnn.Device) -> None:
    x = torch.randn(64, 64)
    t = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    before = sim.stats(device).dram_bytes
    r = ttnn.reallocate(t)
    assert not t.is_allocated() and sim.stats(device).dram_bytes == before
    assert sim.stats(device).peak_dram_bytes == before  # freed before reallocating
    assert torch.equal(ttnn.to_torch(r), x)


# -- creation -----------------------------------------------------------------------------------------------


def test_full_zeros_ones_on_device_run_a_fill_op_without_transfer(device: ttnn.Device) -> None:
    z = ttnn.zeros([2, 32, 64], ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    o = ttnn.ones([2, 32, 64], dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    f = ttnn.full([3, 5], 2.7, dtype=ttnn.bfloat16, device=device, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert torch.equal(ttnn.to_torch(z), torch.zeros(2, 32, 64, dtype=torch.bfloat16))
    assert torch.equal(ttnn.to_torch(o), torch.ones(2, 32, 64))
    assert f.memory_config() == ttnn.L1_MEMORY_CONFIG and f.layout == ttnn.ROW_MAJOR_LAYOUT
    assert ttnn.to_torch(f).float().unique().tolist() == [2.703125]  # 2.7 in bfloat16
    s = sim.stats(device)
    assert (s.host_to_device, s.ops_by_name["full"]) == (0, 3)
    host = ttnn.zeros([4, 4])
    assert host.storage_type() == ttnn.StorageType.HOST and host.dtype == ttnn.bfloat16


def test_like_creators_take_defaults_from_the_tensor(device: ttnn.Device) -> None:
    t = ttnn.from_torch(torch.randn(2, 40), ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    for out, value in ((ttnn.zeros_like(t), 0.0), (ttnn.ones_like(t), 1.0), (ttnn.full_like(t, -4.0), -4.0)):
        assert (out.dtype, out.layout, out.device(), out.shape) == (t.dtype, t.layout, device, t.shape)
        assert torch.equal(ttnn.to_torch(out), torch.full((2, 40), value))
    e = ttnn.empty([1, 1, 32, 32], ttnn.bfloat8_b, ttnn.TILE_LAYOUT, device)
    assert e.shape == [1, 1, 32, 32] and e.dtype == ttnn.bfloat8_b
    assert ttnn.empty_like(t, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT).device() is device


def test_arange_is_built_on_host_then_copied(device: ttnn.Device) -> None:
    t = ttnn.arange(2, 20, 3, dtype=ttnn.float32, device=device)
    assert t.shape == [6] and torch.equal(ttnn.to_torch(t), torch.arange(2.0, 20.0, 3.0))
    assert sim.stats(device).host_to_device == 1
    ids = ttnn.arange(5, dtype=ttnn.uint32)
    assert ids.storage_type() == ttnn.StorageType.HOST and ttnn.to_torch(ids).tolist() == [0, 1, 2, 3, 4]


# -- serialisation and the as_tensor cache -------------------------------------------------------------------


def test_dump_and_load_round_trip(tmp_path: pathlib.Path, device: ttnn.Device) -> None:
    x = torch.randn(1, 2, 40, 70)
    t = ttnn.from_torch(
        x, ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device, memory_config=ttnn.L1_MEMORY_CONFIG
    )
    path = tmp_path / "t.tensorbin"
    ttnn.dump_tensor(path, t)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
    host = ttnn.load_tensor(path)
    assert (host.dtype, host.layout, host.shape) == (ttnn.bfloat8_b, ttnn.TILE_LAYOUT, t.shape)
    assert torch.equal(ttnn.to_torch(host), ttnn.to_torch(t))
    loaded = ttnn.load_tensor(str(path), device=device)
    assert loaded.memory_config() == ttnn.L1_MEMORY_CONFIG
    assert torch.equal(ttnn.to_torch(loaded), ttnn.to_torch(t))


def test_dump_and_load_errors(tmp_path: pathlib.Path) -> None:
    t = ttnn.from_torch(torch.ones(2, 2), ttnn.float32)
    with pytest.raises(RuntimeError, match="must have .tensorbin extension"):
        ttnn.dump_tensor(tmp_path / "t.bin", t)
    with pytest.raises(RuntimeError, match="The file does not exist"):
        ttnn.load_tensor(tmp_path / "missing.tensorbin")
    bad = tmp_path / "bad.tensorbin"
    bad.write_bytes(b"not a tensor")
    with pytest.raises(RuntimeError, match="Unable to load the tensor from"):
        ttnn.load_tensor(bad)


def test_as_tensor_writes_the_cache_then_reuses_it(tmp_path: pathlib.Path, device: ttnn.Device) -> None:
    x = torch.randn(64, 32)
    base = tmp_path / "cache" / "weight"
    calls: list[int] = []

    def preprocess(w: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return w.t()

    kwargs = dict(
        layout=ttnn.TILE_LAYOUT, device=device, memory_config=ttnn.DRAM_MEMORY_CONFIG, preprocess=preprocess
    )
    first = ttnn.as_tensor(x, ttnn.bfloat16, cache_file_name=base, **kwargs)
    expected_file = tmp_path / "cache" / "weight_dtype_BFLOAT16_layout_TILE.tensorbin"
    assert expected_file.is_file() and len(calls) == 1
    assert first.shape == [32, 64] and first.storage_type() == ttnn.StorageType.DEVICE
    second = ttnn.as_tensor(torch.zeros(64, 32), ttnn.bfloat16, cache_file_name=base, **kwargs)
    assert len(calls) == 1  # loaded from the file, the (different) torch input is not looked at
    assert torch.equal(ttnn.to_torch(second), ttnn.to_torch(first))
    assert sim.stats(device).host_to_device == 2


def test_as_tensor_rebuilds_a_corrupt_cache(tmp_path: pathlib.Path) -> None:
    x = torch.randn(8, 8)
    base = tmp_path / "w"
    path = tmp_path / "w_dtype_FLOAT32_layout_ROW_MAJOR.tensorbin"
    path.write_bytes(b"\x00garbage")
    with pytest.warns(UserWarning, match="Failed to load cache"):
        t = ttnn.as_tensor(x, ttnn.float32, cache_file_name=base)
    assert torch.equal(ttnn.to_torch(t), x)
    assert torch.equal(ttnn.to_torch(ttnn.load_tensor(path)), x)  # the file was rewritten


def test_as_tensor_needs_a_memory_config_with_a_device(device: ttnn.Device) -> None:
    with pytest.raises(RuntimeError, match="memory_config must be specified when device is specified"):
        ttnn.as_tensor(torch.ones(2, 2), ttnn.float32, device=device)


# -- namespace -----------------------------------------------------------------------------------------------


def test_op_modules_do_not_export_the_same_name_twice() -> None:
    modules = [
        core,
        data_movement,
        device_ops,
        distributed,
        eltwise,
        embedding,
        matmul,
        normalization,
        pool,
        reduction,
    ]
    seen: dict[str, str] = {}
    for module in modules:
        for name in module.__all__:
            assert name not in seen, f"{name} exported by both {seen[name]} and {module.__name__}"
            seen[name] = module.__name__
            assert getattr(ttnn, name) is getattr(module, name)


def test_submodules_and_constants() -> None:
    assert ttnn.TILE_SIZE == 32
    assert ttnn.ROW_MAJOR_LAYOUT == ttnn.Layout.ROW_MAJOR and ttnn.TILE_LAYOUT == ttnn.Layout.TILE
    assert ttnn.L1_MEMORY_CONFIG.buffer_type == ttnn.BufferType.L1
    assert {ttnn.bfloat16, ttnn.float32, ttnn.bfloat8_b, ttnn.bfloat4_b} <= set(ttnn.DataType)
    for sub in ("transformer", "experimental", "kv_cache"):
        assert getattr(ttnn, sub).__name__ == f"ttport.sim.ttnn.{sub}"
