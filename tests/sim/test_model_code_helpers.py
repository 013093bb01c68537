"""More names tt-metal model code calls (issue 11): experimental.fast_reduce_nc, the segformer and separate-KV
head splits, create_sharded_memory_config_, and the DRAM group norm helpers of ttnn.operations.normalization.
Values against torch / golden functions; the pure helpers against figures probed on real ttnn 0.81.1."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn


def _tile(x, device, dtype=ttnn.bfloat16, memory_config=None):
    return ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device, memory_config=memory_config)


@pytest.mark.parametrize("dims", [[0], [1], [0, 1]])
def test_fast_reduce_nc_sums_outer_dims_keeping_them(device, dims) -> None:
    x = torch.randn(3, 4, 32, 64)
    out = ttnn.experimental.fast_reduce_nc(_tile(x, device), dims=dims)
    ref = x.bfloat16().float().sum(dim=dims, keepdim=True)
    got = ttnn.to_torch(out).float()
    assert got.shape == ref.shape and out.layout == ttnn.TILE_LAYOUT
    assert torch.allclose(got, ref, rtol=2e-2, atol=2e-2)
    assert sim.stats(device).op_records[-1].name == "fast_reduce_nc"


def test_fast_reduce_nc_refusals(device) -> None:
    x = _tile(torch.randn(2, 32, 32), device)
    with pytest.raises(RuntimeError, match="dim must be smaller than input tensor rank 3."):
        ttnn.experimental.fast_reduce_nc(x, dims=[3])
    with pytest.raises(RuntimeError, match="bfloat16 or bfloat8_b"):
        ttnn.experimental.fast_reduce_nc(_tile(torch.randn(2, 32, 32), device, ttnn.float32), dims=[0])


def test_nlp_create_qkv_heads_segformer_splits_heads_of_32(device) -> None:
    x = torch.randn(2, 1, 64, 96)
    q, k, v = ttnn.experimental.nlp_create_qkv_heads_segformer(_tile(x, device))
    expected = x.bfloat16().float().reshape(2, 64, 3, 32).transpose(1, 2)
    assert torch.equal(ttnn.to_torch(q).float(), expected)
    assert tuple(k.shape) == tuple(v.shape) == (2, 3, 64, 32)
    assert sim.stats(device).op_records[-1].name == "nlp_create_qkv_heads_segformer"
    with pytest.raises(RuntimeError, match="Output memory config layout must be INTERLEAVED"):
        ttnn.experimental.nlp_create_qkv_heads_segformer(_tile(x, device), memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


def _block_sharded(shape, grid):
    return ttnn.create_sharded_memory_config(shape, grid, ttnn.ShardStrategy.BLOCK, ttnn.ShardOrientation.ROW_MAJOR)


@pytest.mark.parametrize("transpose_k", [True, False])
def test_create_qkv_heads_from_separate_tensors_matches_its_golden(device, transpose_k) -> None:
    grid = ttnn.CoreGrid(x=2, y=2)
    q, kv = torch.randn(2, 1, 32, 64), torch.randn(2, 1, 32, 128)
    tq = _tile(q, device, memory_config=_block_sharded(q.shape, grid))
    tkv = _tile(kv, device, memory_config=_block_sharded(kv.shape, grid))
    outs = ttnn.experimental.create_qkv_heads_from_separate_tensors(
        tq, tkv, num_heads=2, num_kv_heads=2, transpose_k_heads=transpose_k
    )
    golden = ttnn.get_golden_function(ttnn.experimental.create_qkv_heads_from_separate_tensors)
    refs = golden(q.bfloat16().float(), kv.bfloat16().float(), num_heads=2, num_kv_heads=2,
                  transpose_k_heads=transpose_k)  # fmt: skip
    for out, ref in zip(outs, refs, strict=True):
        assert torch.equal(ttnn.to_torch(out).float(), ref)
        assert out.memory_config().memory_layout == ttnn.TensorMemoryLayout.BLOCK_SHARDED
    # K then V of each head side by side: head 1's K is columns 64..95 of the KV input
    assert torch.equal(ttnn.to_torch(outs[2]).float()[:, 1], kv.bfloat16().float()[:, 0, :, 96:])
    names = [r.name for r in sim.stats(device).op_records]
    assert names.count("create_qkv_heads_from_separate_tensors") == 1


def test_create_qkv_heads_from_separate_tensors_needs_block_sharded_inputs(device) -> None:
    q, kv = _tile(torch.randn(2, 1, 32, 64), device), _tile(torch.randn(2, 1, 32, 128), device)
    with pytest.raises(RuntimeError, match="Operands to TM must be sharded"):
        ttnn.experimental.create_qkv_heads_from_separate_tensors(q, kv, num_heads=2)


def test_create_sharded_memory_config_underscore_figures_of_real_ttnn() -> None:
    # probed on ttnn 0.81.1: (shape, grid, strategy, orientation, tile_layout) -> shard shape
    block = ttnn.create_sharded_memory_config_(
        (2, 50, 64), ttnn.CoreGrid(x=2, y=4), ttnn.ShardStrategy.BLOCK, ttnn.ShardOrientation.ROW_MAJOR,
        tile_layout=True,
    )  # fmt: skip
    assert block.memory_layout == ttnn.TensorMemoryLayout.BLOCK_SHARDED and block.shard_spec.shape == (32, 32)
    height = ttnn.create_sharded_memory_config_(
        (1, 100, 64), ttnn.CoreGrid(x=3, y=1), ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.ShardOrientation.COL_MAJOR,
    )  # fmt: skip
    assert height.shard_spec.shape == (34, 64) and height.buffer_type == ttnn.BufferType.L1
    with pytest.raises(RuntimeError, match="Invalid type of shard orientation"):
        ttnn.create_sharded_memory_config_((1, 100, 64), ttnn.CoreGrid(x=3, y=1), ttnn.ShardStrategy.HEIGHT, None)


def test_group_norm_dram_helpers_figures_of_real_ttnn() -> None:
    norm = ttnn.operations.normalization
    spans = [norm.find_max_tile_span(w, g, 32) for w, g in [(320, 10), (128, 32), (96, 24), (640, 20), (64, 48)]]
    assert spans == [2, 1, 2, 2, 2]
    cols = [
        norm.dram_group_norm_virtual_columns(ttnn.CoreGrid(x=x, y=8), c, g)
        for x, c, g in [(8, 320, 32), (8, 128, 32), (8, 256, 8), (4, 512, 32), (8, 96, 3)]
    ]
    assert cols == [2, 4, 8, 4, 3]
    with pytest.raises(AssertionError, match="could not find a valid num_virtual_cols for grid_x=8"):
        norm.dram_group_norm_virtual_columns(ttnn.CoreGrid(x=8, y=8), 48, 3)


def test_nlp_create_qkv_heads_falcon7b_is_multi_query(device) -> None:
    x = torch.randn(1, 1, 32, (3 + 2) * 64)
    q, k, v = ttnn.experimental.nlp_create_qkv_heads_falcon7b(_tile(x, device))
    xb = x.bfloat16().float()
    assert torch.equal(ttnn.to_torch(q).float(), xb[..., :192].reshape(1, 32, 3, 64).transpose(1, 2))
    assert torch.equal(ttnn.to_torch(k).float(), xb[..., 192:256])
    assert torch.equal(ttnn.to_torch(v).float(), xb[..., 256:])


def test_experimental_split_heads_interleaved_and_per_shard_column(device) -> None:
    heads, head = 4, 32
    x = torch.randn(2, 1, 64, 3 * heads * head)
    q, kt, v = ttnn.experimental.split_query_key_value_and_split_heads(
        _tile(x, device), device.compute_with_storage_grid_size(), num_heads=heads
    )
    xb = x.bfloat16().float().reshape(2, 64, 3, heads, head)
    assert torch.equal(ttnn.to_torch(q).float(), xb[:, :, 0].transpose(1, 2))
    assert torch.equal(ttnn.to_torch(kt).float(), xb[:, :, 1].permute(0, 2, 3, 1))
    assert torch.equal(ttnn.to_torch(v).float(), xb[:, :, 2].transpose(1, 2))
    # BLOCK_SHARDED over 2 columns: each column's shard holds its 2 heads' Q | K | V
    mc = ttnn.create_sharded_memory_config(
        (2, 1, 64, 3 * heads * head), ttnn.CoreGrid(x=2, y=2), ttnn.ShardStrategy.BLOCK, ttnn.ShardOrientation.ROW_MAJOR
    )
    q, _, v = ttnn.experimental.split_query_key_value_and_split_heads(
        _tile(x, device, memory_config=mc), device.compute_with_storage_grid_size(), num_heads=heads,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
    )  # fmt: skip
    cols = x.bfloat16().float().reshape(2, 64, 2, 3, 2, head)
    assert torch.equal(ttnn.to_torch(q).float(), cols[:, :, :, 0].reshape(2, 64, heads, head).transpose(1, 2))
    assert torch.equal(ttnn.to_torch(v).float(), cols[:, :, :, 2].reshape(2, 64, heads, head).transpose(1, 2))


def test_interleaved_to_sharded_partial_takes_one_row_slice(device) -> None:
    x = torch.randn(1, 2, 64, 64)
    out = ttnn.interleaved_to_sharded_partial(
        _tile(x, device), ttnn.CoreCoord(2, 1), [32, 64], 2, 1, ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.ShardOrientation.ROW_MAJOR,
    )  # fmt: skip
    assert out.memory_config().memory_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED
    assert torch.equal(ttnn.to_torch(out).float(), x.bfloat16().float().reshape(1, 1, 128, 64)[:, :, 64:])
    with pytest.raises(RuntimeError, match=r"slice_index 2 must be in \[0, 2\)"):
        ttnn.interleaved_to_sharded_partial(
            _tile(x, device), ttnn.CoreCoord(2, 1), [32, 64], 2, 2, ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
            ttnn.ShardOrientation.ROW_MAJOR,
        )  # fmt: skip


def test_scale_causal_mask_hw_dims_softmax_in_place(device) -> None:
    x = torch.randn(2, 4, 32, 64)
    mask = torch.triu(torch.full((1, 1, 32, 64), -1e4), diagonal=1)
    tx = _tile(x, device)
    out = ttnn.scale_causal_mask_hw_dims_softmax_in_place(tx, 0.125, _tile(mask, device))
    assert out is tx
    ref = torch.softmax(x.bfloat16().float() * 0.125 + mask.bfloat16().float(), dim=-1)
    assert torch.allclose(ttnn.to_torch(out).float(), ref, atol=2e-2)


def test_group_norm_sharded_config_follows_the_grid_utils_arithmetic(device) -> None:
    # n150 grid 8x8; C=96, G=32 (group 3), N*H*W=2*64*64 -> Ht=256: 8 NHW cores; channel cores: the largest
    # c <= 8 with (96 / 8) % c == 0, (96 / c) % 3 == 0 and 96 / c >= 32 -> 2
    mc, grid = ttnn.determine_expected_group_norm_sharded_config_and_grid_size(
        device=device, num_channels=96, num_groups=32, input_nhw=2 * 64 * 64, is_height_sharded=False
    )
    assert (grid.x, grid.y) == (8, 2)
    assert mc.memory_layout == ttnn.TensorMemoryLayout.BLOCK_SHARDED
    assert mc.shard_spec.orientation == ttnn.ShardOrientation.COL_MAJOR and mc.shard_spec.shape == (48, 1024)
    mc, grid = ttnn.determine_expected_group_norm_sharded_config_and_grid_size(
        device=device, num_channels=64, num_groups=8, input_nhw=100 * 32, is_height_sharded=True
    )
    assert (grid.x, grid.y) == (8, 7) and mc.shard_spec.shape == (64, 64)  # 50 cores: 50 | 100
    with pytest.raises(RuntimeError, match=r"num_channels \(48\) must be divisible by tile width"):
        ttnn.determine_expected_group_norm_sharded_config_and_grid_size(
            device=device, num_channels=48, num_groups=8, input_nhw=1024, is_height_sharded=True
        )


def test_model_preprocessing_helpers_and_dot_access() -> None:
    from ttport.sim.ttnn.dot_access import make_dot_access_dict
    from ttport.sim.ttnn.model_preprocessing import preprocess_linear_bias, preprocess_linear_weight

    w, b = torch.randn(96, 64), torch.randn(96)
    tw, tb = preprocess_linear_weight(w, dtype=ttnn.bfloat16), preprocess_linear_bias(b, dtype=ttnn.bfloat16)
    assert tuple(tw.shape) == (64, 96) and tw.layout == ttnn.TILE_LAYOUT
    assert torch.equal(ttnn.to_torch(tw), w.T.bfloat16()) and tuple(tb.shape) == (1, 96)
    params = make_dot_access_dict({"encoder": {"layer": [1, 2]}, "w": tw})
    assert params.encoder.layer == [1, 2] and params.w is tw
    with pytest.raises(KeyError):
        params.missing  # noqa: B018 (ttnn's DotAccessDict raises KeyError)


def test_max_worker_l1_unreserved_size_is_the_usable_l1_bank(monkeypatch) -> None:
    assert ttnn.get_max_worker_l1_unreserved_size() == 1329888  # Wormhole n150
    monkeypatch.setenv("TTPORT_BOARD", "p150")
    assert ttnn.get_max_worker_l1_unreserved_size() > 1329888
