"""Per-op records (core/sim/records.py): one per op per chip, with what numerics, projection and reports read."""

from __future__ import annotations

import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.records import signpost


def _tile(t: torch.Tensor, device, dtype=ttnn.bfloat16, mc=None):
    return ttnn.from_torch(t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)


def test_matmul_record_has_shapes_dtypes_memory_fidelity(device) -> None:
    a = _tile(torch.randn(1, 40, 64), device)
    b = _tile(torch.randn(64, 96), device, dtype=ttnn.bfloat8_b)
    sim.reset_stats(device)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    with signpost("block 0"):
        ttnn.matmul(a, b, memory_config=ttnn.L1_MEMORY_CONFIG, compute_kernel_config=cfg)
    (record,) = sim.stats(device).op_records
    assert record.name == "matmul" and record.signpost == "block 0" and record.index == 0
    assert [i.shape for i in record.inputs] == [(1, 40, 64), (64, 96)]
    assert [i.padded_shape for i in record.inputs] == [(1, 64, 64), (64, 96)]
    assert [i.dtype for i in record.inputs] == ["BFLOAT16", "BFLOAT8_B"]
    (out,) = record.outputs
    assert (out.shape, out.buffer_type, out.memory_layout, out.layout) == (
        (1, 40, 96),
        "L1",
        "INTERLEAVED",
        "TILE",
    )
    assert out.num_bytes == 2 * 3 * 2048  # 2 x 3 bf16 tiles
    assert (record.config.math_fidelity, record.config.fp32_dest_acc_en) == ("HiFi4", True)
    assert record.l1_bytes >= out.num_bytes


def test_default_fidelity_is_resolved_in_the_record(device) -> None:
    a = _tile(torch.randn(32, 32), device)
    b = _tile(torch.randn(32, 32), device, dtype=ttnn.bfloat8_b)
    sim.reset_stats(device)
    ttnn.matmul(a, b)
    (record,) = sim.stats(device).op_records
    assert record.config.math_fidelity == "HiFi2"  # bf16 x bfp8_b default (fidelity.default_matmul_numerics)
    assert record.config.fp32_dest_acc_en is False
    assert record.signpost is None


def test_one_record_per_chip_on_a_mesh(mesh_device) -> None:
    t = ttnn.from_torch(
        torch.randn(2, 32, 32),
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh_device,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh_device, dim=0),
    )
    sim.reset_stats(mesh_device)
    ttnn.relu(t)
    records = sim.stats(mesh_device).op_records
    assert sorted(r.chip for r in records) == list(range(mesh_device.get_num_devices()))
    assert all(r.inputs[0].shape == (1, 32, 32) for r in records)
