"""ttport.patterns.matmul_config: the 2D multicast program config of prefill-shaped linears is accepted by
ttnn.linear (bias and activation fused, values as torch's), and projects faster than ttnn's own choice where
that choice is the 1D config with a single reader of A (M = 512 rows on Wormhole)."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.backend import is_simulator, ttnn
from ttport.compare import comp_pcc
from ttport.patterns.matmul_config import multicast_2d_config, rows_of
from ttport.sim import projection

pytestmark = pytest.mark.skipif(not is_simulator(), reason="op records and projection of the simulator")


def _tile(t: torch.Tensor, device, mc=None):
    return ttnn.from_torch(t, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)


def test_config_shape_follows_the_grid(device) -> None:
    config = multicast_2d_config(device, 512, 4320, 1152, fp32_dest_acc_en=True)
    assert (config.per_core_M, config.per_core_N) == (2, 5)  # 16 / 8 rows, ceil(36 / 8) columns of tiles
    assert config.in0_block_w == 1  # 4320 / 32 = 135 tiles: odd
    assert config.out_subblock_h * config.out_subblock_w <= 4 and config.fuse_batch
    wide = multicast_2d_config(device, 576, 16384, 2048, fp32_dest_acc_en=False)
    assert (wide.per_core_M, wide.per_core_N, wide.in0_block_w) == (3, 8, 8)
    assert (wide.out_subblock_h, wide.out_subblock_w) == (1, 4)  # w < per_core_N: h must be 1


def test_linear_with_the_config_matches_torch_and_projects_faster(device) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 256, 256)
    w = torch.randn(256, 288) / 16
    bias = torch.randn(288)
    compute = ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=False, fp32_dest_acc_en=True
    )
    xt, wt, bt = _tile(x, device), _tile(w, device), _tile(bias.reshape(1, -1), device)
    config = multicast_2d_config(
        device,
        rows_of(xt),
        256,
        288,
        fp32_dest_acc_en=True,
        activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 0.0),
    )
    sim.reset_stats(device)
    tuned = ttnn.linear(xt, wt, bias=bt, program_config=config, compute_kernel_config=compute)
    default = ttnn.linear(xt, wt, bias=bt, compute_kernel_config=compute)
    records = sim.stats(device).op_records
    assert [r.name for r in records] == ["linear", "linear"]  # GELU and the bias fused into the first
    expected = x @ w + bias
    for got, want in ((tuned, torch.nn.functional.gelu(expected)), (default, expected)):
        passed, pcc = comp_pcc(want, ttnn.to_torch(got).float(), 0.9999)
        assert passed, pcc
    projection.project_records(records, device.board)
    assert records[0].projection.cores == 8 * 5  # 16 row tiles over 8 rows; 9 column tiles in blocks of 2
    assert records[0].projected_ns < records[1].projected_ns
