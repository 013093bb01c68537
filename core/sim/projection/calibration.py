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
    overlap_power: float  # compute and data terms combine as (c^p + d^p)^(1/p): p large = perfect overlap
    kernel_fixed_ns: float  # launch and setup of one op's kernels
    trace_gap_ns: float  # op-to-op gap when the op is replayed from a trace
    host_dispatch_ns: float  # host time to enqueue one op without trace (ttnn's default configs)
    host_dispatch_program_config_ns: float  # the same for an op given a program config and sharded operands


# Values written by `bench_gemm_projection.py --fit` (see its output for the fit and held-out errors).
CALIBRATION: dict[str, Calibration] = {
    "wormhole_b0": Calibration(
        unpack_cycles_per_kib=4.018,
        subblock_call_cycles=9.551,
        block_sync_cycles=70.73,
        dram_efficiency=0.3573,
        overlap_power=2.445,
        kernel_fixed_ns=2135,
        trace_gap_ns=4963,
        host_dispatch_ns=5.11e04,
        host_dispatch_program_config_ns=1.413e05,
    ),
    "blackhole": Calibration(
        unpack_cycles_per_kib=0.7683,
        subblock_call_cycles=7.723,
        block_sync_cycles=295.4,
        dram_efficiency=0.6707,
        overlap_power=2.286,
        kernel_fixed_ns=4141,
        trace_gap_ns=3044,
        host_dispatch_ns=1.672e04,
        host_dispatch_program_config_ns=8.04e04,
    ),
}
