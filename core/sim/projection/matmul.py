"""Device time of a matmul: the blocking ttnn runs it with, then compute, data and fixed terms.

Without a program config ttnn picks one (ttnn/cpp/ttnn/operations/matmul/device/config/
matmul_program_config.cpp, create_simple_matmul_program_config), in this order:
- A unbatched, B batched, all interleaved: the 1D config multicasting B ("tall"), B's batches looped;
- interleaved operands whose output is much wider than tall (ratio > 8, or one side a single tile row when
  everything is in DRAM): the 1D multicast config split along N ("wide", A multicast) or M ("tall");
- otherwise it sizes square blocks that fit L1 (get_per_core_factor: 16, 8, 4, 2 tiles a side) and counts them:
  one row of blocks runs the wide 1D config, one column the tall one (so M = 512 on Wormhole runs 1D: a single
  core reads all of A and multicasts it, the cost the GEMM_FLOPS table shows for those rows);
- all in DRAM: the 2D multicast config over the whole grid (per_core_M = ceil(Mt / grid_y), per_core_N =
  ceil(Nt / grid_x), in0_block_w = Kt / grid_x when it divides, else 1), shrunk until its circular buffers fit
  in L1 (get_multi_dim_per_core_factor); with an operand in L1: the 2D config with the square blocks when they
  fit the grid, else the plain multi-core program (MatmulMultiCoreProgramConfig: no reuse, no multicast).

`MatmulProblem` is what the cost needs; it comes from an op record (`problem_from_record`) or is built
directly (benchmarks/bench_gemm_projection.py projects tt-metal's GEMM_FLOPS rows without computing them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..boards import Board
from ..records import OpRecord, Projection
from .calibration import CALIBRATION

TILE = 32
# Matrix-engine cycles per 32x32x32 tile-op per core (tech_reports/GEMM_FLOPS/GEMM_FLOPS.md).
FIDELITY_CYCLES = {"LoFi": 16, "HiFi2": 32, "HiFi3": 48, "HiFi4": 64}
# Bytes of one 32x32 tile (TTNN_FACTS §2): bfp8_b / bfp4_b carry 64 shared-exponent bytes.
TILE_BYTES = {
    "BFLOAT16": 2048,
    "FLOAT32": 4096,
    "BFLOAT8_B": 1088,
    "BFLOAT4_B": 576,
    "UINT32": 4096,
    "INT32": 4096,
}
# Output subblock shapes ttnn tries, largest first (matmul_program_config.cpp SUBBLOCK_HW_CHOICES).
_SUBBLOCKS = (
    (4, 2), (2, 4), (8, 1), (1, 8), (7, 1), (1, 7), (3, 2), (2, 3), (6, 1), (1, 6),
    (5, 1), (1, 5), (2, 2), (4, 1), (1, 4), (3, 1), (1, 3), (2, 1), (1, 2), (1, 1),
)  # fmt: skip


def tile_bytes(dtype: str) -> int:
    return TILE_BYTES.get(dtype, 2048)


@dataclass(frozen=True)
class MatmulProblem:
    """One matmul as the device sees it: padded sizes, dtypes, fidelity, where operands live."""

    m: int  # padded rows of A per batch
    k: int
    n: int
    batch: int = 1  # A's batch (B broadcast unless b_batched)
    b_batched: bool = False
    dtype_a: str = "BFLOAT16"
    dtype_b: str = "BFLOAT16"
    dtype_out: str = "BFLOAT16"
    fidelity: str = "HiFi2"
    fp32_acc: bool = False
    a_buffer: str = "DRAM"  # "DRAM" / "L1"
    b_buffer: str = "DRAM"
    out_buffer: str = "DRAM"
    a_sharded: bool = False
    out_sharded: bool = False
    program_config: Any = None  # a ttnn matmul program config object, or None for ttnn's default
    grid: tuple[int, int] | None = None  # core_grid= of the call (x, y); None: the device's grid


@dataclass(frozen=True)
class Blocking:
    """The resolved program config: grid, per-core output block, K block, L1 out block, subblock."""

    kind: str  # "2d", "1d_in0" (wide), "1d_in1" (tall), "reuse"
    cores: int
    per_core_m: int  # tiles
    per_core_n: int
    in0_block_w: int
    out_block_h: int
    out_block_w: int
    subblock_h: int
    subblock_w: int
    senders_a: int  # cores that read A from memory and multicast it, one after another per K block (1D: one)
    senders_b: int
    loops: int = 1  # batches each core runs in turn (1 when the batch is fused into per_core_m)


def _subblock(block_h: int, block_w: int, fp32_acc: bool) -> tuple[int, int]:
    """bmm_op_utils::get_matmul_subblock_params without the sharding constraints."""
    for h, w in _SUBBLOCKS:
        if fp32_acc and h * w > 4:
            continue
        if block_h % h == 0 and block_w % w == 0:
            return h, w
    return 1, 1


def _cb_bytes(p: MatmulProblem, block_h: int, block_w: int, in0_block_w: int) -> int:
    """Circular buffers of one core (matmul_utilities get_estimated_size_of_cbs, approximately): double-buffered
    in0 and in1 blocks, the output block, and an fp32 intermediate block with fp32 accumulation."""
    size = 2 * block_h * in0_block_w * tile_bytes(p.dtype_a) + 2 * in0_block_w * block_w * tile_bytes(
        p.dtype_b
    )
    size += block_h * block_w * tile_bytes(p.dtype_out)
    if p.fp32_acc:
        size += block_h * block_w * 4096
    return size


def _divisors_desc(v: int) -> list[int]:
    return [d for d in range(v, 0, -1) if v % d == 0]


def _fit_l1(
    p: MatmulProblem, board: Board, pcm: int, pcn: int, kw: int, adjust_k: bool
) -> tuple[int, int, int]:
    """(out_block_h, out_block_w, in0_block_w) that fit L1: the full per-core block if it does, else the largest
    divisor pair closest to square (get_multi_dim_per_core_factor)."""
    space = board.l1_bank_size
    if _cb_bytes(p, pcm, pcn, kw) < space:
        return pcm, pcn, kw
    ks = [d for d in _divisors_desc(kw)] if adjust_k else [kw]
    pairs = sorted(
        ((h, w) for h in _divisors_desc(pcm) for w in _divisors_desc(pcn)),
        key=lambda hw: (-(hw[0] * hw[1]), max(hw) / min(hw)),
    )
    for k in ks:
        for h, w in pairs:
            if _cb_bytes(p, h, w, k) < space:
                return h, w, k
    return 1, 1, 1


def _per_core_factor(p: MatmulProblem, board: Board, in0_block_w: int) -> int:
    """get_per_core_factor: the largest square block (16, 8, 4, 2 tiles a side) whose buffers fit L1."""
    for factor in (16, 8, 4, 2):
        if _cb_bytes(p, factor, factor, in0_block_w) < board.l1_bank_size:
            return factor
    return 1


def _no_reuse(p: MatmulProblem, board: Board) -> Blocking:
    """MatmulMultiCoreProgramConfig: output tiles dealt out to the cores one by one, each computed from its row of
    A and column of B read tile by tile (no block reuse, no multicast)."""
    gx, gy = p.grid or board.grid
    out_tiles = max(p.batch, 1) * (p.m // TILE) * (p.n // TILE)
    cores = min(gx * gy, out_tiles)
    per_core = math.ceil(out_tiles / cores)
    return Blocking("no_reuse", cores, 1, per_core, 1, 1, 1, 1, 1, cores, cores)


def _mcast_1d(p: MatmulProblem, board: Board, mcast_in0: bool, grid: tuple[int, int]) -> Blocking:
    """get_mcast_1d_config without a shard spec: `mcast_in0` splits N over the cores and multicasts A ("wide"),
    otherwise M is split and B multicast ("tall"); batches are looped, not fused."""
    ncores = grid[0] * grid[1]
    mt, kt, nt = p.m // TILE, p.k // TILE, p.n // TILE
    in0_w = 2 if kt % 2 == 0 else 1
    if mcast_in0:
        pcm, pcn = mt, math.ceil(math.ceil(p.n / ncores) / TILE)
        cores = math.ceil(nt / pcn)
    else:
        pcm, pcn = math.ceil(math.ceil(p.m / ncores) / TILE), nt
        cores = math.ceil(mt / pcm)
    bh, bw, kw = _fit_l1(p, board, pcm, pcn, in0_w, False)
    sh, sw = _subblock(bh, bw, p.fp32_acc)
    loops = max(p.batch, 1)
    senders = (1, cores) if mcast_in0 else (cores, 1)
    return Blocking("1d_in0" if mcast_in0 else "1d_in1", cores, pcm, pcn, kw, bh, bw, sh, sw, *senders, loops)


def default_blocking(p: MatmulProblem, board: Board) -> Blocking:
    """The program config ttnn generates when the call gives none (create_simple_matmul_program_config, or
    create_matmul_program_config with a core_grid; see the module docstring)."""
    grid = p.grid or board.grid
    gx, gy = grid
    mt, kt, nt = p.m // TILE, p.k // TILE, p.n // TILE
    all_interleaved = not (p.a_sharded or p.out_sharded)
    all_dram = p.a_buffer == p.b_buffer == p.out_buffer == "DRAM"
    if all_interleaved and p.batch == 1 and p.b_batched:
        return _mcast_1d(p, board, False, grid)  # A stays in L1 while B's batches loop
    ratio = max(p.m, p.n) // max(1, min(p.m, p.n))
    narrow = ratio > 8 or (all_dram and (p.m <= TILE or p.n <= TILE))
    if all_interleaved and narrow:
        return _mcast_1d(p, board, p.n > p.m, grid)
    # ttnn first sizes square blocks that fit L1 and counts them: a single row of blocks runs the wide 1D config
    # (M = 512 on Wormhole is one 16-tile block row: A multicast to a core per 1-2 N tiles), a single column
    # the tall one; only then the 2D config over the whole grid
    factor = _per_core_factor(p, board, 2)
    blocks_y, blocks_x = math.ceil(mt / factor), math.ceil(nt / factor)
    fits_grid = (blocks_y, blocks_x) != (1, 1) and blocks_y <= gy and blocks_x <= gx
    if all_interleaved and fits_grid and blocks_y == 1:
        return _mcast_1d(p, board, True, grid)
    if all_interleaved and fits_grid and blocks_x == 1:
        return _mcast_1d(p, board, False, grid)
    loops = max(p.batch, 1)
    if not (all_dram and all_interleaved) and (not fits_grid or kt % 2):
        return _no_reuse(p, board)  # neither 1D nor 2D applies: the plain multi-core program
    if all_dram and all_interleaved:
        pcm, pcn = math.ceil(mt / gy), math.ceil(nt / gx)
        kw = kt // gx if kt % gx == 0 else 1
        bh, bw, kw = _fit_l1(p, board, pcm, pcn, kw, True)
        sh, sw = _subblock(bh, bw, p.fp32_acc)
    else:
        # operands in L1: square blocks of `factor` tiles, in0_block_w 2 (1 when K is odd), subblock 1x2
        pcm = pcn = factor
        kw = 2 if kt % 2 == 0 else 1
        bh, bw = pcm, pcn
        sh, sw = (4, 2) if pcn == 2 else (1, 2)
        if pcn % sw or pcm % sh:
            sh, sw = _subblock(bh, bw, p.fp32_acc)
    rows, cols = math.ceil(mt / pcm), math.ceil(nt / pcn)
    return Blocking("2d", rows * cols, pcm, pcn, kw, bh, bw, sh, sw, rows, cols, loops)


def config_blocking(p: MatmulProblem, board: Board) -> Blocking:
    """The blocking of a caller's program config (fields as in matmul_nanobind.cpp)."""
    pc = p.program_config
    mt, nt = p.m // TILE, p.n // TILE
    name = type(pc).__name__
    if name == "MatmulMultiCoreProgramConfig":
        return _no_reuse(p, board)
    pcm, pcn, kw = int(pc.per_core_M), int(pc.per_core_N), int(pc.in0_block_w)
    bh = int(getattr(pc, "out_block_h", None) or pcm)
    bw = int(getattr(pc, "out_block_w", None) or pcn)
    sh, sw = int(getattr(pc, "out_subblock_h", 1)), int(getattr(pc, "out_subblock_w", 1))
    fused = bool(getattr(pc, "fuse_batch", False)) and not p.b_batched
    rows = mt * (p.batch if fused else 1)
    loops = 1 if fused else max(p.batch, 1)
    if "DRAMSharded" in name:
        cores = math.ceil(nt / pcn)
        return Blocking("1d_in0", cores, pcm, pcn, kw, bh, bw, 1, 1, cores, board.dram_banks)
    if "1D" in name:
        if getattr(pc, "mcast_in0", True):
            cores = math.ceil(nt / pcn)
            return Blocking("1d_in0", cores, pcm, pcn, kw, bh, bw, sh, sw, 1, cores, loops)
        cores = math.ceil(rows / pcm)
        return Blocking("1d_in1", cores, pcm, pcn, kw, bh, bw, sh, sw, cores, 1, loops)
    # the 2D multicast config with fuse_batch folds A's batch into M like the 1D one (B = 1, Mt over every batch:
    # matmul_multicore_reuse_mcast_2d_program_factory.cpp); the reuse config has no fuse_batch and loops
    rows_blocks, col_blocks = math.ceil(rows / pcm), math.ceil(nt / pcn)
    kind = "2d" if "MultiCast" in name else "reuse"
    cores = rows_blocks * col_blocks
    return Blocking(kind, cores, pcm, pcn, kw, bh, bw, sh, sw, rows_blocks, col_blocks, loops)


def blocking(p: MatmulProblem, board: Board) -> Blocking:
    return config_blocking(p, board) if p.program_config is not None else default_blocking(p, board)


def _reader_rate(board: Board, buffer: str) -> float:
    """Bytes per ns one core's reader kernel pulls: its NoC link for L1, the calibrated single-core rate for
    DRAM (a few outstanding reads at a time, far below the chip's DRAM bandwidth)."""
    link = board.perf.noc_bytes_per_cycle * board.perf.clock_ghz
    return link * CALIBRATION[board.arch].core_read_link_share if buffer == "DRAM" else link


def project_matmul(p: MatmulProblem, board: Board) -> Projection:
    """Device time of one matmul on one chip of `board`."""
    cal = CALIBRATION[board.arch]
    perf = board.perf
    b = blocking(p, board)
    kt = p.k // TILE
    loops = b.loops
    tile_ops = loops * b.per_core_m * b.per_core_n * kt
    kib = (tile_bytes(p.dtype_a) + tile_bytes(p.dtype_b)) / 1024
    out_blocks = math.ceil(b.per_core_m / b.out_block_h) * math.ceil(b.per_core_n / b.out_block_w)
    subblock_calls = loops * (b.per_core_m * b.per_core_n) / (b.subblock_h * b.subblock_w) * kt
    k_blocks = loops * math.ceil(kt / max(1, b.in0_block_w)) * out_blocks
    cycles = tile_ops * (FIDELITY_CYCLES.get(p.fidelity, 32) + cal.unpack_cycles_per_kib * kib)
    cycles += subblock_calls * cal.subblock_call_cycles + k_blocks * cal.block_sync_cycles
    compute_ns = cycles / perf.clock_ghz

    a_bytes = p.batch * p.m * p.k // (TILE * TILE) * tile_bytes(p.dtype_a)
    b_bytes = (p.batch if p.b_batched else 1) * p.k * p.n // (TILE * TILE) * tile_bytes(p.dtype_b)
    o_bytes = p.batch * p.m * p.n // (TILE * TILE) * tile_bytes(p.dtype_out)
    if b.kind == "no_reuse":  # every output tile reads its row of A and column of B
        a_reads, b_reads = p.n // TILE, p.m // TILE
    else:
        a_reads = math.ceil(b.per_core_n / b.out_block_w)  # A streamed again for every output block column
        b_reads = math.ceil(b.per_core_m / b.out_block_h)
    dram = (a_bytes * a_reads if p.a_buffer == "DRAM" else 0) + (
        b_bytes * b_reads if p.b_buffer == "DRAM" else 0
    )
    dram += o_bytes if p.out_buffer == "DRAM" else 0
    dram_ns = dram / (perf.dram_gbps * cal.dram_efficiency)
    # Every sender core pulls its share of an operand through its own reader: from DRAM at the rate one core's
    # reader achieves, from L1 over its NoC link.
    a_ns = a_bytes * a_reads / max(1, b.senders_a) / _reader_rate(board, p.a_buffer)
    b_ns = b_bytes * b_reads / max(1, b.senders_b) / _reader_rate(board, p.b_buffer)
    data_ns = max(dram_ns, a_ns, b_ns)
    q = cal.overlap_power
    device_ns = cal.kernel_fixed_ns + (compute_ns**q + data_ns**q) ** (1 / q)

    total_tile_ops = p.batch * (p.m // TILE) * kt * (p.n // TILE)
    grid_cores = board.grid[0] * board.grid[1]
    ideal_compute = total_tile_ops * FIDELITY_CYCLES.get(p.fidelity, 32) / grid_cores / perf.clock_ghz
    ideal_data = (a_bytes + b_bytes + o_bytes) / perf.dram_gbps if "DRAM" in (p.a_buffer, p.b_buffer) else 0.0
    host = cal.host_dispatch_program_config_ns if p.program_config is not None else cal.host_dispatch_ns
    return Projection(
        device_ns=device_ns,
        compute_ns=compute_ns,
        data_ns=data_ns,
        fixed_ns=cal.kernel_fixed_ns,
        cores=b.cores,
        ideal_ns=max(ideal_compute, ideal_data),
        host_ns=host,
    )


def _batch(shape: tuple[int, ...]) -> int:
    return math.prod(shape[:-2]) if len(shape) > 2 else 1


def problem_from_record(record: OpRecord) -> MatmulProblem:
    """The matmul problem of a `matmul` / `linear` op record (core/sim/ops/matmul.py fills its config)."""
    a, b = record.inputs[0], record.inputs[1]
    out = record.outputs[0]
    attrs = record.config.attributes
    ap, bp = list(a.padded_shape), list(b.padded_shape)
    if attrs.get("transpose_a"):
        ap[-1], ap[-2] = ap[-2], ap[-1]
    if attrs.get("transpose_b"):
        bp[-1], bp[-2] = bp[-2], bp[-1]
    ap = [1] * (2 - len(ap)) + ap
    bp = [1] * (2 - len(bp)) + bp
    grid = None
    if record.config.cores and attrs.get("program_config") is None and attrs.get("core_grid") is not None:
        grid = (int(attrs["core_grid"].x), int(attrs["core_grid"].y))
    return MatmulProblem(
        m=ap[-2],
        k=ap[-1],
        n=bp[-1],
        batch=_batch(tuple(ap)),
        b_batched=_batch(tuple(bp)) > 1,
        dtype_a=a.dtype,
        dtype_b=b.dtype,
        dtype_out=out.dtype,
        fidelity=record.config.math_fidelity or "HiFi2",
        fp32_acc=bool(record.config.fp32_dest_acc_en),
        a_buffer=a.buffer_type,
        b_buffer=b.buffer_type,
        out_buffer=out.buffer_type,
        a_sharded=a.memory_layout != "INTERLEAVED",
        out_sharded=out.memory_layout != "INTERLEAVED",
        program_config=attrs.get("program_config"),
        grid=grid,
    )
