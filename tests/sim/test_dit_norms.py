"""ttnn.experimental's DiT / Wan norms (issue 11: names tt_dit model code calls): the two-stage distributed
layer / rms norms across an all-gather on a mesh, and rms norm fused with its activation. Values against torch
references, refusals by ttnn's wording, one op record per call."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn


def _tile(x, device, dtype=ttnn.bfloat16, mapper=None, layout=ttnn.TILE_LAYOUT):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, mesh_mapper=mapper)


def _pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.corrcoef(torch.stack([a.flatten().float(), b.flatten().float()]))[0, 1].item()


def _recips(device, width):
    grid = device.compute_with_storage_grid_size()
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(grid.x - 1, grid.y - 1))})
    return ttnn.create_layer_norm_reciprocals(device, cores, width)


def test_layer_norm_reciprocals_are_a_height_sharded_float32_table(device) -> None:
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 1))})
    table = ttnn.create_layer_norm_reciprocals(device, cores, 5)
    assert table.dtype == ttnn.float32 and table.layout == ttnn.ROW_MAJOR_LAYOUT
    mc = table.memory_config()
    assert mc.memory_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED and mc.buffer_type == ttnn.BufferType.L1
    assert mc.shard_spec.shape == (1, 5)
    expected = (1.0 / torch.arange(1, 6, dtype=torch.float32)).repeat(4, 1)
    assert torch.equal(ttnn.to_torch(table), expected)


def test_dit_layernorm_across_a_mesh_matches_torch_layer_norm(mesh_device) -> None:
    torch.manual_seed(1)
    width = 128  # 64 per device
    x = torch.randn(1, 1, 64, width) * 3 + 1
    gamma, beta = torch.randn(width), torch.randn(width)
    shard = ttnn.ShardTensorToMesh(mesh_device, dim=-1)
    tx = _tile(x, mesh_device, mapper=shard)
    # the tt_dit layout of gamma / beta: ROW_MAJOR [W_local / 32, 32] per device
    g = _tile(gamma.reshape(2, -1, 32).permute(1, 0, 2).reshape(-1, 64), mesh_device, mapper=shard,
              layout=ttnn.ROW_MAJOR_LAYOUT)  # fmt: skip
    b = _tile(beta.reshape(2, -1, 32).permute(1, 0, 2).reshape(-1, 64), mesh_device, mapper=shard,
              layout=ttnn.ROW_MAJOR_LAYOUT)  # fmt: skip
    stats = ttnn.experimental.dit_layernorm_pre_allgather(tx, _recips(mesh_device, width // 2))
    assert tuple(stats.shape) == (1, 1, 64, 64)
    local = ttnn.to_torch(ttnn.get_device_tensors(stats)[0]).float()
    xb = x.bfloat16().float()[..., :64]
    assert torch.allclose(local[..., 0], xb.mean(-1), rtol=1e-2, atol=1e-2)
    assert torch.allclose(local[..., 32], xb.var(-1, unbiased=False), rtol=1e-2, atol=1e-2)
    gathered = ttnn.all_gather(stats, dim=3)
    out = ttnn.experimental.dit_layernorm_post_allgather(tx, gathered, weight=g, bias=b, epsilon=1e-5)
    got = ttnn.to_torch(out, mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=-1))
    ref = torch.nn.functional.layer_norm(x.bfloat16().float(), (width,), gamma.bfloat16().float(),
                                         beta.bfloat16().float(), eps=1e-5)  # fmt: skip
    assert _pcc(got, ref) > 0.999
    assert (got - ref).abs().max() < 0.1 * ref.abs().max()
    names = [r.name for r in sim.stats(mesh_device).op_records]
    assert names.count("dit_layernorm_pre_allgather") == 2 and names.count("dit_layernorm_post_allgather") == 2


def test_dit_layernorm_refusals_have_ttnn_wording(device) -> None:
    x = _tile(torch.randn(1, 1, 32, 64), device)
    rm = ttnn.from_torch(torch.randn(1, 1, 32, 64), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match="Only tilized inputs supported."):
        ttnn.experimental.dit_layernorm_pre_allgather(rm, _recips(device, 64))
    with pytest.raises(RuntimeError, match=r"Stats inner dimension must be multiple of 64 \(two tiles\), got: 32"):
        ttnn.experimental.dit_layernorm_post_allgather(x, _tile(torch.randn(1, 1, 32, 32), device))
    stats = ttnn.experimental.dit_layernorm_pre_allgather(x, _recips(device, 64))
    gamma = _tile(torch.randn(1, 64), device)
    with pytest.raises(RuntimeError, match="Beta must be provided when gamma is provided."):
        ttnn.experimental.dit_layernorm_post_allgather(x, stats, weight=gamma)


@pytest.mark.parametrize(("activation", "fn"), [("silu", torch.nn.functional.silu), (None, lambda v: v),
                                                 (ttnn.UnaryOpType.GELU, torch.nn.functional.gelu)])  # fmt: skip
def test_dit_rms_norm_unary_fused_is_rms_norm_then_the_activation(device, activation, fn) -> None:
    x, w, b, r = torch.randn(1, 1, 64, 96), torch.randn(1, 96), torch.randn(1, 96), torch.randn(1, 1, 64, 96)
    out = ttnn.experimental.dit_rms_norm_unary_fused(
        _tile(x, device), 1e-5, _tile(w, device), _tile(b, device), _tile(r, device), activation=activation
    )
    unfused = ttnn.rms_norm(_tile(x, device), epsilon=1e-5, weight=_tile(w, device), bias=_tile(b, device),
                            residual_input_tensor=_tile(r, device))  # fmt: skip
    v = (x.bfloat16().float() + r.bfloat16().float())
    ref = fn(v * torch.rsqrt(v.square().mean(-1, keepdim=True) + 1e-5) * w.bfloat16().float() + b.bfloat16().float())
    got = ttnn.to_torch(out).float()
    assert _pcc(got, ref) > 0.999
    if activation is None:
        assert torch.equal(got, ttnn.to_torch(unfused).float())
    assert sim.stats(device).op_records[-2].name == "dit_rms_norm_unary_fused"


def test_wan_rmsnorm_across_a_mesh_with_heads_and_rope(mesh_device) -> None:
    torch.manual_seed(2)
    seq, hidden, heads = 64, 256, 2  # per device 128 = 2 heads of 64
    x = torch.randn(1, 1, seq, hidden)
    weight = torch.randn(1, hidden)
    cos, sin = torch.randn(1, 1, seq, 64), torch.randn(1, 1, seq, 64)
    trans = torch.zeros(1, 1, 32, 32)
    trans[..., torch.arange(0, 32, 2), torch.arange(1, 32, 2)] = 1
    trans[..., torch.arange(1, 32, 2), torch.arange(0, 32, 2)] = -1
    shard = ttnn.ShardTensorToMesh(mesh_device, dim=-1)
    rep = ttnn.ReplicateTensorToMesh(mesh_device)
    tx = _tile(x, mesh_device, mapper=shard)
    stats = ttnn.experimental.wan_fused_rmsnorm_pre_allgather(tx, dtype=ttnn.float32)
    assert tuple(stats.shape) == (1, 1, seq, 32) and stats.dtype == ttnn.float32
    gathered = ttnn.all_gather(stats, dim=3)
    out = ttnn.experimental.wan_fused_rmsnorm_post_allgather(
        tx, gathered, epsilon=1e-5, num_heads_per_device=heads,
        weight=_tile(weight, mesh_device, mapper=shard),
        transformation_mat=_tile(trans, mesh_device, mapper=rep),
        rope_cos=_tile(cos, mesh_device, mapper=rep), rope_sin=_tile(sin, mesh_device, mapper=rep),
    )  # fmt: skip
    assert tuple(out.shape) == (1, heads, seq, 64)
    got = ttnn.to_torch(out, mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=1))
    xb = x.bfloat16().float()
    y = xb * torch.rsqrt(xb.square().mean(-1, keepdim=True) + 1e-5) * weight.bfloat16().float()
    y = y.reshape(1, seq, 2 * heads, 64).transpose(1, 2)
    pairs = y.reshape(*y.shape[:-1], 32, 2)
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).reshape(y.shape)
    ref = y * cos.bfloat16().float() + rotated * sin.bfloat16().float()
    assert _pcc(got, ref) > 0.999


def test_wan_rmsnorm_refuses_what_ttnn_refuses(device) -> None:
    x = _tile(torch.randn(1, 1, 32, 64), device, dtype=ttnn.float32)
    with pytest.raises(RuntimeError, match="Input tensor must be BFLOAT16"):
        ttnn.experimental.wan_fused_rmsnorm_pre_allgather(x)
    x = _tile(torch.randn(1, 2, 32, 64), device)
    stats = ttnn.experimental.wan_fused_rmsnorm_pre_allgather(x)
    with pytest.raises(RuntimeError, match=r"rank 4 with shape \[1, 1, S, H\]"):
        ttnn.experimental.wan_fused_rmsnorm_post_allgather(x, stats)
