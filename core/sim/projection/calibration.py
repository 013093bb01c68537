"""Free constants of the device-time projection, per architecture.

Fitted by `python benchmarks/bench_gemm_projection.py --fit` on the *fit half* of tt-metal's published GEMM_FLOPS
rows (benchmarks/data/gemm_flops.csv: within each board x out-of-box/tuned x trace x dtype x fidelity group,
the rows at even positions in the table's order); the odd rows are held out and reported separately. Every
other number the projection uses is a published board figure (core/sim/boards.py) or an op's structure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    unpack_cycles_per_kib: float  # per matmul tile-op, per KiB of the two operand tiles (unpacker / L1 reads)
    subblock_call_cycles: float  # per matmul_block call (one output subblock, one K tile)
    block_sync_cycles: float  # per in0 block (circular-buffer handshakes, multicast barriers)
    dram_efficiency: float  # achieved share of peak DRAM bandwidth
    core_read_link_share: float  # share of a NoC link one core's reader gets from DRAM (1D mcast sender)
    overlap_power: float  # compute and data terms combine as (c^p + d^p)^(1/p): p large = perfect overlap
    kernel_fixed_ns: float  # launch and setup of one op's kernels
    trace_gap_ns: float  # op-to-op gap when the op is replayed from a trace
    host_dispatch_ns: float  # host time to enqueue one op without trace (ttnn's default configs)
    host_dispatch_program_config_ns: float  # the same for an op given a program config and sharded operands


# Values written by `bench_gemm_projection.py --fit` (see its output for the fit and held-out errors).
CALIBRATION: dict[str, Calibration] = {
    "wormhole_b0": Calibration(
        unpack_cycles_per_kib=4.166,
        subblock_call_cycles=7.811,
        block_sync_cycles=213.1,
        dram_efficiency=0.351,
        core_read_link_share=0.3732,
        overlap_power=2.578,
        kernel_fixed_ns=1380,
        trace_gap_ns=4901,
        host_dispatch_ns=5e04,
        host_dispatch_program_config_ns=1.413e05,
    ),
    "blackhole": Calibration(
        unpack_cycles_per_kib=1.131,
        subblock_call_cycles=5.614,
        block_sync_cycles=22.96,
        dram_efficiency=0.6768,
        core_read_link_share=0.3732,
        overlap_power=2.614,
        kernel_fixed_ns=4322,
        trace_gap_ns=4632,
        host_dispatch_ns=1.696e04,
        host_dispatch_program_config_ns=8.056e04,
    ),
}


@dataclass(frozen=True)
class NormCalibration:
    """layer_norm / rms_norm cost terms (projection/ops.py project_norm), in cycles at HiFi2.

    The per-tile and per-row cycles are the stage times tt-metal published for its rms_norm on Blackhole
    (tests/ttnn/unit_tests/operations/rms_norm/perf_experiments/README.md: (1,1,8192,1024) block-sharded on
    8x8, 128 tiles and 32 tile rows per core; square 6.6 us + scale 17.6 us + gamma 3.95 us -> 297 cycles a
    tile, rsqrt 29 us -> 1223 cycles a tile row, the cross-core combine 19.4 us -> 102 cycles a tile row per
    core the row is split over, at 1.35 GHz). Only `fixed_ns` is fitted, by
    `python benchmarks/bench_op_projection.py --fit` on the fit half of benchmarks/data/op_measurements.csv.
    Wormhole runs the same kernels: it takes the same cycle counts and fixed cost (an estimate: no Wormhole
    measurement was found)."""

    tile_cycles: float
    row_cycles: float
    combine_cycles: float
    fixed_ns: float


NORM_CALIBRATION: dict[str, NormCalibration] = {
    "wormhole_b0": NormCalibration(
        tile_cycles=297.0, row_cycles=1223.0, combine_cycles=102.3, fixed_ns=1579.0
    ),
    "blackhole": NormCalibration(tile_cycles=297.0, row_cycles=1223.0, combine_cycles=102.3, fixed_ns=1579.0),
}
