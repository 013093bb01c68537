"""Device time of the ops other than matmul: a compute term (tiles x cycles per tile over the cores used), a
data term (bytes read and written over DRAM or the L1/NoC), combined like matmul's, plus the fixed per-op cost.

Calibrated against measurements: matmul (benchmarks/bench_gemm_projection.py) and the norms
(benchmarks/bench_op_projection.py: tt-metal's published rms_norm stage times and kernel durations on
Blackhole). The other per-tile cycle counts below are estimates from the kernels' structure: one FPU pass over
a tile with its unpack and pack (~64 cycles; the published rms_norm square pass is 70 at HiFi2, its gamma
multiply 42), an SFPU pass of a simple function (~96) or of a transcendental one (~256: exp, gelu, silu... are
polynomial / iterative sequences in tt-llk's ckernel_sfpu_*.h; the published precise rsqrt on fp32 tiles costs
1223 cycles a tile, so precise-mode SFPU ops may be several times dearer than this). Treat those figures as
first-order: they rank ops and spot memory-bound ones; they are not a cycle count.
"""

from __future__ import annotations

import dataclasses
import math

from ..boards import Board
from ..records import OpRecord, Projection, TensorInfo
from .calibration import CALIBRATION, NORM_CALIBRATION
from .matmul import FIDELITY_CYCLES, TILE

FPU_PASS = 64
SFPU_SIMPLE = 96
SFPU_TRANSCENDENTAL = 256

_TRANSCENDENTAL = {
    "exp", "gelu", "silu", "sigmoid", "tanh", "log", "erf", "softplus", "rsqrt", "sqrt", "reciprocal",
    "divide", "pow", "cos", "sin", "log_sigmoid", "mish", "elu", "selu",
}  # fmt: skip
_BINARY_FPU = {
    "add",
    "subtract",
    "multiply",
    "rsub",
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "where",
    "maximum",
    "minimum",
}
_REDUCTIONS = {"sum", "mean", "max", "min", "argmax", "cumsum", "avg_pool2d"}
_LAYOUT = {"tilize", "untilize", "to_layout", "tilize_with_val_padding", "untilize_with_unpadding"}


def _tiles(t: TensorInfo) -> int:
    shape = t.padded_shape if t.layout == "TILE" else t.shape
    volume = math.prod(shape) if shape else 1
    return max(1, math.ceil(volume / (TILE * TILE)))


def _rows_of_tiles(t: TensorInfo) -> int:
    """Tile rows (everything but the last dim, in tiles): how row-wise ops (norms, softmax) split over cores."""
    shape = t.padded_shape if t.padded_shape else (1,)
    rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
    return max(1, math.ceil(rows / TILE))


def _data_ns(board: Board, tensors: list[tuple[TensorInfo, float]], cores: int) -> float:
    """Bytes of each (tensor, times read/written) over DRAM, or over the cores' NoC links for L1 tensors."""
    cal = CALIBRATION[board.arch]
    dram = sum(t.num_bytes * times for t, times in tensors if t.buffer_type == "DRAM")
    l1 = sum(t.num_bytes * times for t, times in tensors if t.buffer_type != "DRAM")
    link = board.perf.noc_bytes_per_cycle * board.perf.clock_ghz
    return dram / (board.perf.dram_gbps * cal.dram_efficiency) + l1 / (max(1, cores) * link)


def _combine(
    board: Board,
    compute_ns: float,
    data_ns: float,
    cores: int,
    ideal_ns: float,
    fixed_ns: float | None = None,
) -> Projection:
    cal = CALIBRATION[board.arch]
    q = cal.overlap_power
    fixed = cal.kernel_fixed_ns if fixed_ns is None else fixed_ns
    device = fixed + (compute_ns**q + data_ns**q) ** (1 / q)
    return Projection(
        device_ns=device,
        compute_ns=compute_ns,
        data_ns=data_ns,
        fixed_ns=fixed,
        cores=cores,
        ideal_ns=ideal_ns,
        host_ns=cal.host_dispatch_ns,
    )


def _streaming(board: Board, record: OpRecord, cycles_per_tile: float, passes: float = 1.0) -> Projection:
    """An op that streams its inputs through the cores once, tile by tile (eltwise, copies, reductions)."""
    grid = board.grid[0] * board.grid[1]
    work = max([_tiles(t) for t in record.outputs] + [_tiles(t) for t in record.inputs[:1]] + [1])
    cores = min(grid, work)
    compute = math.ceil(work / cores) * cycles_per_tile * passes / board.perf.clock_ghz
    moved = [(t, 1.0) for t in record.inputs] + [(t, 1.0) for t in record.outputs]
    data = _data_ns(board, moved, cores)
    peak = sum(t.num_bytes for t, _ in moved) / board.perf.dram_gbps
    ideal = max(work * cycles_per_tile * passes / grid / board.perf.clock_ghz, peak)
    return _combine(board, compute, data, cores, ideal)


def _row_wise(board: Board, record: OpRecord, cycles_per_tile: float) -> Projection:
    """Norms and softmax: each core owns whole tile rows (the reduction runs along the last dim)."""
    x = record.inputs[0]
    grid = board.grid[0] * board.grid[1]
    rows = _rows_of_tiles(x)
    cores = min(grid, rows)
    per_core_tiles = math.ceil(rows / cores) * max(1, _tiles(x) // rows)
    compute = per_core_tiles * cycles_per_tile / board.perf.clock_ghz
    moved = [(t, 1.0) for t in record.inputs] + [(t, 1.0) for t in record.outputs]
    data = _data_ns(board, moved, cores)
    ideal = max(
        _tiles(x) * cycles_per_tile / grid / board.perf.clock_ghz,
        sum(t.num_bytes for t, _ in moved) / board.perf.dram_gbps,
    )
    return _combine(board, compute, data, cores, ideal)


def project_norm(board: Board, record: OpRecord) -> Projection:
    """layer_norm / rms_norm: each core owns tile rows (interleaved: whole rows; sharded: its shard, the row
    statistics then combined across the cores a row is split over). Per tile the square / scale / gamma
    passes, per tile row the reduction's rsqrt, per row and split core the combine (NormCalibration:
    published Blackhole stage times). layer_norm's extra passes (mean, subtract, beta) are taken as 1.6x
    rms_norm's per-tile work, and fidelities other than HiFi2 scale the per-tile work: both estimates."""
    x = record.inputs[0]
    cal = NORM_CALIBRATION[board.arch]
    grid = board.grid[0] * board.grid[1]
    shape = x.padded_shape if x.padded_shape else (TILE,)
    wt = max(1, math.ceil(shape[-1] / TILE))
    rows = _rows_of_tiles(x)
    if x.memory_layout != "INTERLEAVED" and x.shard_shape:
        rows_pc = max(1, math.ceil(x.shard_shape[0] / TILE))
        wt_pc = max(1, math.ceil(x.shard_shape[1] / TILE))
        split = math.ceil(wt / wt_pc)
        cores = math.ceil(rows / rows_pc) * split
    else:
        cores = min(grid, rows)
        rows_pc, wt_pc, split = math.ceil(rows / cores), wt, 1
    fid = FIDELITY_CYCLES.get(record.config.math_fidelity or "HiFi4", 64) / FIDELITY_CYCLES["HiFi2"]
    passes = 1.0 if record.name == "rms_norm" else 1.6
    cycles = rows_pc * wt_pc * cal.tile_cycles * fid * passes + rows_pc * cal.row_cycles
    if split > 1:
        cycles += rows_pc * split * cal.combine_cycles
    compute = cycles / board.perf.clock_ghz
    moved = [(t, 1.0) for t in record.inputs] + [(t, 1.0) for t in record.outputs]
    data = _data_ns(board, moved, cores)
    ideal = max(
        _tiles(x) * cal.tile_cycles / grid / board.perf.clock_ghz,
        sum(t.num_bytes for t, _ in moved if t.buffer_type == "DRAM") / board.perf.dram_gbps,
    )
    return _combine(board, compute, data, cores, ideal, fixed_ns=cal.fixed_ns)


def project_softmax(board: Board, record: OpRecord) -> Projection:
    """softmax: max, subtract, exp, sum, reciprocal, multiply over each row."""
    return _row_wise(board, record, 4 * FPU_PASS + SFPU_TRANSCENDENTAL)


def project_sdpa(board: Board, record: OpRecord) -> Projection:
    """Chunked flash attention (ttnn/cpp/ttnn/operations/transformer/sdpa): each core takes (batch, head,
    q chunk) work items; per item Q·Kᵀ and P·V over every K chunk, the online softmax in between; K and V are
    read once per q chunk."""
    q, k, v = record.inputs[:3]
    out = record.outputs[0]
    b, nh, sq, d = ([1] * (4 - len(q.padded_shape)) + list(q.padded_shape))[-4:]
    sk = k.padded_shape[-2]
    nkv = ([1] * (4 - len(k.padded_shape)) + list(k.padded_shape))[-3]
    pc = record.config.attributes.get("program_config")
    q_chunk = int(getattr(pc, "q_chunk_size", 0) or 32)
    causal = bool(record.config.attributes.get("is_causal"))
    n_q_chunks = math.ceil(sq / q_chunk)
    items = b * nh * n_q_chunks
    grid = board.grid[0] * board.grid[1]
    cores = min(grid, items)
    fid = FIDELITY_CYCLES.get(record.config.math_fidelity or "HiFi2", 32)
    share = 0.5 if causal else 1.0
    tile_ops = 2 * (sq // TILE) * (sk // TILE) * (d // TILE) * share  # per (batch, head)
    score_tiles = (sq // TILE) * (sk // TILE) * share
    per_item = (tile_ops * fid + score_tiles * (3 * FPU_PASS + SFPU_TRANSCENDENTAL)) / n_q_chunks
    compute = math.ceil(items / cores) * per_item / board.perf.clock_ghz
    kv_reads = n_q_chunks * nh / max(1, nkv) * share
    moved = [(q, 1.0), (out, 1.0), (k, kv_reads), (v, kv_reads)] + [(t, share) for t in record.inputs[3:]]
    data = _data_ns(board, moved, cores)
    ideal = max(
        b * nh * tile_ops * fid / grid / board.perf.clock_ghz,
        (q.num_bytes + k.num_bytes + v.num_bytes + out.num_bytes) / board.perf.dram_gbps,
    )
    return _combine(board, compute, data, cores, ideal)


def project_embedding(board: Board, record: OpRecord) -> Projection:
    """embedding: each output row is one row of the table fetched by index (a read and a write per row)."""
    out = record.outputs[0]
    grid = board.grid[0] * board.grid[1]
    cores = min(grid, _rows_of_tiles(out))
    moved = [(record.inputs[0], 1.0), (out, 2.0)]  # indices, then the gathered rows read and written
    data = _data_ns(board, moved, cores)
    compute = math.ceil(_tiles(out) / cores) * FPU_PASS / board.perf.clock_ghz  # tilize of the rows
    return _combine(board, compute, data, cores, (2 * out.num_bytes) / board.perf.dram_gbps)


def project_other(board: Board, record: OpRecord) -> Projection:
    name = record.name
    if name in _BINARY_FPU:
        return _streaming(board, record, FPU_PASS)
    if name in _TRANSCENDENTAL:
        return _streaming(board, record, SFPU_TRANSCENDENTAL)
    if name in _REDUCTIONS:
        return _streaming(board, record, FPU_PASS)
    if name in _LAYOUT or (
        record.inputs and record.outputs and record.inputs[0].layout != record.outputs[0].layout
    ):
        return _streaming(board, record, FPU_PASS)
    if name in {"typecast", "clone", "copy", "fill", "full", "zeros", "ones"}:
        return _streaming(board, record, FPU_PASS / 2)
    if name in {"abs", "neg", "relu", "square", "clamp", "sign", "floor", "ceil", "round", "logical_not"}:
        return _streaming(board, record, SFPU_SIMPLE)
    # data movement (reshape, permute, transpose, concat, slice, pad, repeat, nlp heads, rotary ...): bytes
    # in and out, a light per-tile cost for the readers/writers
    return _streaming(board, record, FPU_PASS / 4)


def project_cache_write(board: Board, record: OpRecord) -> Projection:
    """fill_cache / update_cache / their paged forms: the written rows (the op's second operand) are read and
    written into the cache in place; the rest of the cache is not touched."""
    rows = record.inputs[1]
    grid = board.grid[0] * board.grid[1]
    work = _tiles(rows)
    cores = min(grid, work)
    compute = math.ceil(work / cores) * FPU_PASS / 4 / board.perf.clock_ghz
    cache = record.inputs[0]
    written = dataclasses.replace(rows, buffer_type=cache.buffer_type)
    data = _data_ns(board, [(rows, 1.0), (written, 1.0)], cores)
    return _combine(board, compute, data, cores, 2 * rows.num_bytes / board.perf.dram_gbps)


def project_transfer(board: Board, num_bytes: int) -> float:
    """Host <-> device over PCIe: a fixed latency (10 us, assumed: command queue round trip) plus the bytes at
    70% of the link's rate (assumed efficiency)."""
    return 10_000.0 + num_bytes / (board.perf.pcie_gbps * 0.7)
