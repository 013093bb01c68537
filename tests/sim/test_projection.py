"""Projected device time (core/sim/projection): the blocking ttnn would pick, the cost terms, the records'
projection, per-component summaries, and the calibration against tt-metal's GEMM_FLOPS measurements."""

from __future__ import annotations

import importlib.util
import math
import statistics
from pathlib import Path

import pytest
import torch

from ttport import sim
from ttport.sim import projection, ttnn
from ttport.sim.boards import BOARDS
from ttport.sim.projection import MatmulProblem, default_blocking, project_matmul
from ttport.sim.projection.calibration import CALIBRATION
from ttport.sim.records import signpost

N150, P150 = BOARDS["n150"], BOARDS["p150"]
ROOT = Path(__file__).resolve().parents[2]


def _tile(t: torch.Tensor, device, dtype=ttnn.bfloat16, mc=None):
    return ttnn.from_torch(t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)


def test_default_blocking_follows_ttnn_selection() -> None:
    # square, all DRAM interleaved: 2D multicast over the whole 8x8 grid, per_core = ceil(tiles / grid side)
    square = default_blocking(MatmulProblem(m=1024, k=1024, n=1024), N150)
    assert (square.kind, square.cores, square.per_core_m, square.per_core_n) == ("2d", 64, 4, 4)
    assert square.in0_block_w == 4  # Kt / grid_x = 32 / 8
    # one tile row of output (decode-like): 1D, N split over the cores, A multicast
    wide = default_blocking(MatmulProblem(m=32, k=2048, n=4096), N150)
    assert (wide.kind, wide.per_core_m, wide.per_core_n, wide.cores) == ("1d_in0", 1, 2, 64)
    # much taller than wide: 1D, M split over the cores
    tall = default_blocking(MatmulProblem(m=8192, k=256, n=256), N150)
    assert (tall.kind, tall.per_core_n, tall.cores) == ("1d_in1", 8, 64)
    # a block too big for L1 is shrunk (get_multi_dim_per_core_factor): 4096^3 bf16 on 8x8 is 16x16 tiles per core
    big = default_blocking(MatmulProblem(m=4096, k=4096, n=4096), N150)
    assert (big.per_core_m, big.per_core_n) == (16, 16)
    assert big.out_block_h * big.out_block_w < 256 and 16 % big.out_block_h == 0 and 16 % big.out_block_w == 0


def test_default_blocking_single_block_row_runs_the_1d_config() -> None:
    # M = 512 on Wormhole: one row of 16x16-tile blocks (get_per_core_factor), two columns -> ttnn runs the wide
    # 1D config: every core the whole M (16 tiles) and one N tile, A read by a single core and multicast
    one_row = default_blocking(MatmulProblem(m=512, k=1024, n=1024), N150)
    assert (one_row.kind, one_row.per_core_m, one_row.per_core_n, one_row.cores) == ("1d_in0", 16, 1, 32)
    assert (one_row.senders_a, one_row.senders_b) == (1, 32)
    # one column of blocks: the tall 1D config, B multicast by one core
    one_col = default_blocking(MatmulProblem(m=1024, k=1024, n=512), N150)
    assert (one_col.kind, one_col.per_core_n, one_col.senders_b) == ("1d_in1", 16, 1)
    # the single reader of A is the bottleneck: half the work of 1024^3 (which runs 2D) projects slower
    assert (
        project_matmul(MatmulProblem(m=512, k=1024, n=1024), N150).device_ns
        > project_matmul(MatmulProblem(m=1024, k=1024, n=1024), N150).device_ns
    )
    # one block in all and an operand in L1: neither multicast config applies, the plain multi-core program
    tiny = default_blocking(MatmulProblem(m=256, k=256, n=256, out_buffer="L1"), N150)
    assert (tiny.kind, tiny.cores, tiny.per_core_n) == ("no_reuse", 64, 1)
    # a batch of A over an unbatched B: each core loops over the batches
    batched = default_blocking(MatmulProblem(m=1024, k=1024, n=1024, batch=3), N150)
    assert (batched.kind, batched.loops) == ("2d", 3)


def test_compute_term_scales_with_fidelity_and_never_beats_the_ideal() -> None:
    times, compute = {}, {}
    for fid in ("LoFi", "HiFi2", "HiFi3", "HiFi4"):
        p = project_matmul(MatmulProblem(m=4096, k=4096, n=4096, fidelity=fid), N150)
        ideal = (
            (4096 // 32) ** 3 * {"LoFi": 16, "HiFi2": 32, "HiFi3": 48, "HiFi4": 64}[fid] / 64 / 1.0
        )  # ns at 1 GHz
        assert p.ideal_ns == pytest.approx(ideal)
        assert p.device_ns > ideal and 0 < p.utilisation < 1
        times[fid], compute[fid] = p.device_ns, p.compute_ns
    assert times["LoFi"] < times["HiFi2"] < times["HiFi3"] < times["HiFi4"]
    assert project_matmul(MatmulProblem(m=4096, k=4096, n=4096, fidelity="HiFi4"), N150).bound == "compute"
    # one fidelity phase more: 16 cycles per tile-op on the busiest core (16 x 16 output tiles x 128 K tiles)
    assert compute["HiFi4"] - compute["HiFi3"] == pytest.approx(16 * 16 * 128 * 16)


def test_memory_bound_matmul_gains_from_smaller_weights() -> None:
    bf16 = project_matmul(MatmulProblem(m=32, k=4096, n=4096, fidelity="HiFi2"), N150)
    bfp8 = project_matmul(MatmulProblem(m=32, k=4096, n=4096, dtype_b="BFLOAT8_B", fidelity="HiFi2"), N150)
    assert bf16.bound == "memory"
    # the weights dominate the bytes: bfp8_b (1088 B a tile) moves about half of bfloat16's 2048 B
    assert 0.45 < (bfp8.data_ns / bf16.data_ns) < 0.6
    assert bfp8.device_ns < bf16.device_ns
    # Blackhole: more cores, faster clock and DRAM
    assert project_matmul(MatmulProblem(m=32, k=4096, n=4096), P150).device_ns < bf16.device_ns


def test_record_projection_matches_the_direct_problem(device) -> None:
    a = _tile(torch.randn(1, 256, 512), device)
    b = _tile(torch.randn(512, 1024), device, dtype=ttnn.bfloat8_b)
    sim.reset_stats(device)
    ttnn.matmul(a, b, memory_config=ttnn.L1_MEMORY_CONFIG)
    records = sim.stats(device).op_records
    projection.project_records(records, device.board)
    (r,) = records
    direct = project_matmul(
        MatmulProblem(m=256, k=512, n=1024, dtype_b="BFLOAT8_B", fidelity="HiFi2", out_buffer="L1"),
        device.board,
    )
    assert r.projection == direct and r.projected_ns == direct.device_ns
    assert (
        r.projection.cores
        == default_blocking(MatmulProblem(m=256, k=512, n=1024, out_buffer="L1"), N150).cores
    )


def test_l1_operands_project_faster_than_dram(device) -> None:
    x = torch.randn(1, 1, 1024, 1024)
    dram = [_tile(x, device), _tile(x, device)]
    l1 = [_tile(x, device, mc=ttnn.L1_MEMORY_CONFIG), _tile(x, device, mc=ttnn.L1_MEMORY_CONFIG)]
    sim.reset_stats(device)
    ttnn.add(*dram)
    ttnn.add(*l1, memory_config=ttnn.L1_MEMORY_CONFIG)
    records = sim.stats(device).op_records
    projection.project_records(records, device.board)
    on_dram, on_l1 = (r.projection for r in records)
    assert on_dram.bound == "memory" and on_l1.device_ns < on_dram.device_ns
    # DRAM term: 3 x 2 MiB over the board's DRAM bandwidth at the calibrated efficiency
    expected = 3 * 1024 * 2048 / (N150.perf.dram_gbps * CALIBRATION["wormhole_b0"].dram_efficiency)
    assert on_dram.data_ns == pytest.approx(expected)


def test_sdpa_norm_softmax_embedding_are_projected(device) -> None:
    q = _tile(torch.randn(1, 4, 256, 64), device)
    k = _tile(torch.randn(1, 4, 256, 64), device)
    v = _tile(torch.randn(1, 4, 256, 64), device)
    x = _tile(torch.randn(1, 1, 256, 512), device)
    ids = ttnn.from_torch(torch.randint(0, 100, (1, 64)), dtype=ttnn.uint32, device=device)
    table = ttnn.from_torch(torch.randn(100, 512), dtype=ttnn.bfloat16, device=device)
    sim.reset_stats(device)
    ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=False)
    ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=True)
    ttnn.layer_norm(x)
    ttnn.softmax(x, dim=-1)
    ttnn.embedding(ids, table)
    records = sim.stats(device).op_records
    projection.project_records(records, device.board)
    full, causal, norm, soft, emb = (r.projection for r in records)
    assert causal.compute_ns == pytest.approx(full.compute_ns / 2)
    assert full.cores == 4 * 256 // 32  # (batch, head, q chunk) work items on their own cores
    assert all(p.device_ns > CALIBRATION["wormhole_b0"].kernel_fixed_ns for p in (norm, soft, emb))
    assert norm.cores == soft.cores == 8  # one core per tile row


def test_summary_per_component_trace_and_mesh(mesh_device) -> None:
    x = ttnn.from_torch(
        torch.randn(2, 64, 64),
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh_device,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh_device, dim=0),
    )
    sim.reset_stats(mesh_device)
    with signpost("first"):
        y = ttnn.add(x, x)
    with signpost("second"):
        ttnn.matmul(y, y)
        ttnn.to_torch(y, mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=0))
    stats = sim.stats(mesh_device)
    projection.project_records(stats.op_records, mesh_device.board)
    summary = projection.summarize(
        stats.op_records, stats.transfers, mesh_device.board, order=["first", "second"]
    )
    first, second = summary.components
    assert [c.name for c in summary.components] == ["first", "second"] and (first.ops, second.ops) == (1, 1)
    per_chip = [r.projected_ns for r in stats.op_records if r.signpost == "first"]
    assert len(per_chip) == 2 and first.device_ns == pytest.approx(max(per_chip))  # chips run in parallel
    cal = CALIBRATION[mesh_device.board.arch]
    assert second.trace_ns == pytest.approx(second.device_ns + cal.trace_gap_ns)
    assert second.no_trace_ns == pytest.approx(max(second.trace_ns, cal.host_dispatch_ns))  # host-bound
    assert second.transfer_ns > 0 and first.transfer_ns == 0
    assert summary.total.device_ns == pytest.approx(first.device_ns + second.device_ns)
    assert summary.top_ops[0].name == "matmul"


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_gemm_projection", ROOT / "benchmarks" / "bench_gemm_projection.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_calibration_meets_the_gemm_flops_goal_in_every_group_on_both_halves() -> None:
    """tt-metal's published matmul times (benchmarks/data/gemm_flops.csv): median error <= 20% and p90 <= 50%
    in every group (board x grid x out-of-box/tuned x trace), on the rows the constants were fitted on and on the
    held-out rows."""
    bench = _bench()
    rows = bench.load_rows()
    assert len(rows) == 702
    bench.errors(rows)
    groups = {r["group"] for r in rows}
    assert len(groups) == 12
    for group in sorted(groups):
        for half in ("fit", "held-out"):
            errs = sorted(r["error"] for r in rows if r["half"] == half and r["group"] == group)
            assert statistics.median(errs) <= 0.20, (group, half)
            assert errs[math.ceil(0.9 * len(errs)) - 1] <= 0.50, (group, half)


def test_norm_projection_meets_tt_metals_published_rms_norm_times() -> None:
    """tt-metal's published rms_norm kernel durations on p150 (benchmarks/data/op_measurements.csv): every
    row within 30%, medians within 15% on the fit and the held-out half."""
    spec = importlib.util.spec_from_file_location(
        "bench_op_projection", ROOT / "benchmarks" / "bench_op_projection.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.load_rows()
    assert len(rows) == 8
    bench.project(rows)
    assert max(r["error"] for r in rows) <= 0.30
    for half in ("fit", "held-out"):
        assert statistics.median(r["error"] for r in rows if r["half"] == half) <= 0.15, half
    # a block-sharded input runs on its shard grid, each row's statistics combined over the 8 cores it spans
    focus = bench.record_of(rows[0])
    assert projection.project_record(focus, bench.board_of(rows[0])).cores == 64


def test_cache_write_is_recorded_and_projects_the_written_rows_only(device) -> None:
    cache = _tile(torch.zeros(1, 1, 1024, 256), device)
    rows = _tile(torch.randn(1, 1, 64, 256), device)
    sim.reset_stats(device)
    ttnn.fill_cache(cache, rows, 0)
    ttnn.concat([rows, cache], dim=2)
    records = sim.stats(device).op_records
    assert [r.name for r in records] == ["fill_cache", "concat"]
    assert [t.shape for t in records[0].inputs] == [(1, 1, 1024, 256), (1, 1, 64, 256)]
    projection.project_records(records, device.board)
    fill, concat = (r.projection for r in records)
    # 64 rows read and written, against the concat's 1088 rows read and written
    assert fill.data_ns == pytest.approx(concat.data_ns * 64 / 1088)


def test_2d_program_config_with_fuse_batch_folds_the_batch_into_m() -> None:
    """MatmulMultiCoreReuseMultiCastProgramConfig(fuse_batch=True) runs [2, 256] rows as one 512-row matmul
    (matmul_multicore_reuse_mcast_2d_program_factory.cpp: B = 1, Mt over both batches): 64 cores, no loop."""
    config = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(8, 8),
        in0_block_w=4,
        out_subblock_h=1,
        out_subblock_w=1,
        per_core_M=2,
        per_core_N=5,
        transpose_mcast=False,
        fused_activation=None,
        fuse_batch=True,
    )
    batched = MatmulProblem(m=256, k=1536, n=1152, batch=2, program_config=config)
    folded = MatmulProblem(m=512, k=1536, n=1152, batch=1, program_config=config)
    assert projection.matmul.blocking(batched, N150) == projection.matmul.blocking(folded, N150)
    assert projection.matmul.blocking(batched, N150).cores == 64
    assert project_matmul(batched, N150) == project_matmul(folded, N150)
