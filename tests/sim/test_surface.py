"""The mirror's surface: "not simulated yet" for real ttnn names only, the submodules real ttnn has
(distributed, device, types, operations.activations), golden functions, and the small API pieces model code
and tt-metal's tests reach for (Tile, Tensor(torch), program cache, pearson)."""

from __future__ import annotations

import re

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.ttnn._surface import NotSimulatedError, real_names


@pytest.mark.parametrize(
    ("module", "name", "path"),
    [
        (ttnn, "moreh_sum", "ttnn.moreh_sum"),
        (ttnn.experimental, "conv3d", "ttnn.experimental.conv3d"),
        (ttnn.device, "get_memory_view", "ttnn.device.get_memory_view"),
        (ttnn.distributed, "visualize_tensor", "ttnn.distributed.visualize_tensor"),
        (ttnn, "graph", "ttnn.graph"),
    ],
)
def test_a_real_name_the_simulator_lacks_fails_with_one_clear_error(module, name, path):
    with pytest.raises(NotSimulatedError, match="^" + re.escape(f"{path} is not simulated yet")) as info:
        getattr(module, name)
    assert isinstance(info.value, AttributeError) and isinstance(info.value, NotImplementedError)
    assert not hasattr(module, name) and getattr(module, name, 7) == 7  # feature probes keep working


def test_an_unknown_name_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match="module 'ttnn' has no attribute 'definitely_not_an_op'") as info:
        ttnn.definitely_not_an_op  # noqa: B018
    assert not isinstance(info.value, NotSimulatedError)


def test_the_stored_surface_is_real_ttnn_0_81_1():
    names = real_names()
    # spot checks of what the wheel holds (parity's coverage check compares the whole file with the wheel)
    assert {"conv2d", "group_norm", "max_pool2d", "moreh_sum"} <= set(names["ttnn"])
    assert "minimal_matmul" in names["ttnn.experimental"] and "cumsum" not in names["ttnn.experimental"]
    assert "DisablePersistentKernelCache" not in names["ttnn.device"]


def test_submodules_resolve_like_real_ttnn():
    from ttport.sim.ttnn.distributed.distributed import ConcatMeshToTensor

    assert ConcatMeshToTensor is ttnn.ConcatMeshToTensor
    assert ttnn.distributed.ShardTensorToMesh is ttnn.ShardTensorToMesh
    assert ttnn.types.bfloat16 is ttnn.bfloat16 and ttnn.types.Tile is ttnn.Tile
    assert ttnn.device.Arch is ttnn.Arch and ttnn.device.open_device is ttnn.open_device
    relu = ttnn.operations.activations.get_golden_function_for_activation("relu")
    assert torch.equal(relu(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))
    assert ttnn.operations.activations.get_golden_function_for_activation(None) is None


def test_golden_functions_are_torch_references():
    x = torch.randn(3, 5)
    assert torch.equal(ttnn.get_golden_function(ttnn.i0)(x, device=None), torch.special.i0(x))
    assert torch.equal(
        ttnn.get_golden_function(ttnn.hardtanh)(x, min_val=-0.5, max_val=0.5), x.clamp(-0.5, 0.5)
    )
    assert torch.equal(
        ttnn.get_golden_function(ttnn.leaky_relu)(x, 0.2), torch.nn.functional.leaky_relu(x, 0.2)
    )
    assert torch.equal(ttnn.get_golden_function(ttnn.add)(x, 2.0), x + 2.0)
    assert torch.equal(ttnn.get_golden_function(ttnn.sum)(x, 1, True), x.sum(1, keepdim=True))
    assert torch.equal(ttnn.get_golden_function(ttnn.permute)(x, (1, 0)), x.T)
    with pytest.raises(RuntimeError, match="does not have a golden function"):
        ttnn.get_golden_function(ttnn.open_device)


def test_tensor_from_torch_constructor_without_layout(device):
    t = ttnn.Tensor(torch.arange(6.0).reshape(2, 3), ttnn.bfloat16)
    assert (
        t.layout == ttnn.ROW_MAJOR_LAYOUT
        and t.dtype == ttnn.bfloat16
        and t.storage_type() == ttnn.StorageType.HOST
    )
    assert torch.equal(ttnn.to_torch(t).float(), torch.arange(6.0).reshape(2, 3))
    on_device = ttnn.Tensor(torch.randn(1, 1, 32, 32), ttnn.bfloat16, device, ttnn.TILE_LAYOUT)
    assert on_device.storage_type() == ttnn.StorageType.DEVICE and on_device.layout == ttnn.TILE_LAYOUT
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        ttnn.Tensor(torch.randn(2), colour=1)


def test_tile_shapes_pad_tile_tensors(device):
    tile = ttnn.Tile((16, 32))
    assert tile.tile_shape == [16, 32] and tile.face_shape == [16, 16] and tile.num_faces == 2
    assert ttnn.Tile([32, 32]).get_tile_size(ttnn.bfloat8_b) == 1088
    t = ttnn.from_torch(
        torch.randn(1, 1, 20, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, tile=tile, device=device
    )
    small = ttnn.from_torch(
        torch.randn(1, 1, 16, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, tile=tile
    )
    # probed on ttnn 0.81.1: [.., 20, 64] with a 16x32 tile pads to [.., 32, 64], [.., 16, 64] stays
    assert t.padded_shape == [1, 1, 32, 64] and small.padded_shape == [1, 1, 16, 64]
    assert t.tile.tile_shape == [16, 32] and ttnn.from_torch(torch.randn(4, 4)).tile.tile_shape == [32, 32]


def test_program_cache_counts_distinct_programs(device):
    x = ttnn.from_torch(
        torch.randn(1, 1, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )
    y = ttnn.from_torch(
        torch.randn(1, 1, 32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )
    assert device.num_program_cache_entries() == 0
    ttnn.exp(x)
    ttnn.exp(x)
    assert device.num_program_cache_entries() == 1  # a cache hit
    ttnn.exp(y)
    ttnn.add(x, x)
    assert device.num_program_cache_entries() == 3
    device.disable_and_clear_program_cache()
    ttnn.exp(x)
    assert device.num_program_cache_entries() == 0
    device.enable_program_cache()
    ttnn.exp(x)
    assert device.num_program_cache_entries() == 1


def test_pearson_correlation_coefficient(device):
    x = torch.randn(64, 64)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    pcc = ttnn.pearson_correlation_coefficient(x, t)
    assert 0.9999 < pcc < 1.0
    assert ttnn.pearson_correlation_coefficient(x, x) == 1.0
    assert ttnn.pearson_correlation_coefficient(x, -x) == pytest.approx(-1.0)
    assert ttnn.pearson_correlation_coefficient(torch.zeros(4), torch.ones(4)) == 0.0
    with pytest.raises(ValueError, match="Expected tensor is not a torch.Tensor"):
        ttnn.pearson_correlation_coefficient([1.0], x)


def test_minimal_matmul_is_linear(device):
    a, w, b = torch.randn(1, 1, 64, 64), torch.randn(1, 1, 64, 96), torch.randn(1, 1, 1, 96)
    dev = [ttnn.from_torch(v, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device) for v in (a, w, b)]
    out = ttnn.experimental.minimal_matmul(
        dev[0], dev[1], bias_tensor=dev[2], fused_activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU),
        config=ttnn.MinimalMatmulConfig(M_block_size=2, K_block_size=2, N_block_size=1),
    )  # fmt: skip
    ref = ttnn.linear(dev[0], dev[1], bias=dev[2], activation="relu")
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(ref))
    expected = torch.relu(a.bfloat16().float() @ w.bfloat16().float() + b.bfloat16().float())
    assert ttnn.pearson_correlation_coefficient(expected, out) > 0.999
    with pytest.raises(NotImplementedError, match="fuse_swiglu"):
        ttnn.experimental.minimal_matmul(dev[0], dev[1], fuse_swiglu=True)


def test_program_configs_take_ttnn_keywords():
    grid = ttnn.CoreCoord(8, 8)
    cfg = ttnn.LayerNormShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=grid, subblock_w=2, block_h=1, block_w=4, inplace=False
    )
    assert cfg.use_welford is False and cfg.block_w == 4
    soft = ttnn.SoftmaxShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=grid, subblock_w=1, block_h=2, block_w=3
    )
    assert soft.block_h == 2
    with pytest.raises(TypeError):
        ttnn.SoftmaxShardedMultiCoreProgramConfig(grid, 1, 2, 3)  # keyword-only, as bound by nanobind


def test_device_helpers(device):
    assert (
        ttnn.ReadDeviceProfiler(device) is None and ttnn.device.ReadDeviceProfiler is ttnn.ReadDeviceProfiler
    )
    assert ttnn.get_l1_alignment() == 16 and ttnn.get_dram_alignment() == 32  # Wormhole
    ttnn.SetDefaultDevice(device)
    assert ttnn.GetDefaultDevice() is device
    ttnn.close_device(device)
    with pytest.raises(RuntimeError, match="ReadDeviceProfiler: .* is closed"):
        ttnn.ReadDeviceProfiler(device)


def test_nd_shard_spec_describes_a_shard():
    grid = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 1))])
    spec = ttnn.NdShardSpec([2, 32, 64], grid)
    assert spec.shard_shape == [2, 32, 64] and spec.orientation == ttnn.ShardOrientation.ROW_MAJOR
    assert spec.shard_distribution_strategy == ttnn.ShardDistributionStrategy.ROUND_ROBIN_1D


def test_missing_tensor_and_device_members_name_themselves(device):
    t = ttnn.from_torch(torch.randn(2, 3))
    with pytest.raises(NotSimulatedError, match=r"^ttnn\.Tensor\.to_numpy is not simulated yet"):
        t.to_numpy()
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'no_such_member'") as info:
        t.no_such_member  # noqa: B018
    assert not isinstance(info.value, NotSimulatedError)
    assert not hasattr(t, "pad_to_tile") and device.num_program_cache_entries() == 0
    with pytest.raises(NotSimulatedError, match=r"^ttnn\.MeshDevice\.sfpu_eps is not simulated yet"):
        device.sfpu_eps()


def test_tensor_item_to_list_and_get_tile(device):
    assert ttnn.from_torch(torch.tensor([3.5])).item() == 3.5
    on_device = ttnn.from_torch(torch.tensor([[7]], dtype=torch.int32), dtype=ttnn.int32, device=device)
    assert on_device.item() == 7
    assert ttnn.from_torch(torch.arange(6.0).reshape(2, 3)).to_list() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert ttnn.from_torch(torch.randn(2, 2), layout=ttnn.TILE_LAYOUT).get_tile().tile_shape == [32, 32]
    with pytest.raises(RuntimeError, match="item\\(\\) needs a tensor with one element"):
        ttnn.from_torch(torch.randn(2)).item()
