"""Projected device time: how long each op the simulator ran would take on the card.

Kept apart from op semantics: it reads only the per-op records (core/sim/records.py) and the board table
(core/sim/boards.py). Matmul follows the blocking ttnn would pick (projection/matmul.py) and is calibrated
against tt-metal's published GEMM_FLOPS measurements (benchmarks/bench_gemm_projection.py); the other ops use
the same compute / data / fixed-cost structure with estimated per-tile costs (projection/ops.py); collectives
are priced from their link traffic and the board's ethernet fabric (projection/ccl.py).

    from ttport.sim import projection
    projection.project_records(sim.stats(device).op_records, device.board)   # fills record.projection
    stats = sim.stats(device)
    summary = projection.summarize(stats.op_records, stats.transfers, device.board)

Execution model for a sequence of ops: each op costs its device kernel time plus an op-to-op gap. With trace,
the gap is the trace replay's (`trace_gap_ns`) and the host is out of the loop. Without trace the host enqueues
every op (`host_ns`) while the device runs ahead, so a stretch of ops takes the longer of the host's and the
device's totals.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..boards import Board
from ..records import OpRecord, Projection
from .calibration import CALIBRATION, Calibration
from .ccl import is_collective, project_ccl
from .matmul import MatmulProblem, blocking, default_blocking, problem_from_record, project_matmul
from .ops import (
    project_cache_write,
    project_embedding,
    project_norm,
    project_other,
    project_sdpa,
    project_softmax,
    project_transfer,
)
from .summary import ComponentTime, ProjectionSummary, summarize

__all__ = [
    "CALIBRATION",
    "Calibration",
    "ComponentTime",
    "MatmulProblem",
    "ProjectionSummary",
    "blocking",
    "default_blocking",
    "project_ccl",
    "project_matmul",
    "project_record",
    "project_records",
    "project_transfer",
    "summarize",
]

_MATMULS = {"matmul", "linear"}
_NORMS = {"layer_norm", "rms_norm"}
_CACHE_WRITES = {"fill_cache", "update_cache", "paged_fill_cache", "paged_update_cache"}


def project_record(record: OpRecord, board: Board) -> Projection:
    """The projection of one op record on one chip of `board` (not stored; see project_records)."""
    if is_collective(record):
        return project_ccl(board, record)
    if record.name in _MATMULS and len(record.inputs) >= 2:
        return project_matmul(problem_from_record(record), board)
    if record.name == "scaled_dot_product_attention":
        return project_sdpa(board, record)
    if record.name in _NORMS:
        return project_norm(board, record)
    if record.name == "softmax":
        return project_softmax(board, record)
    if record.name == "embedding":
        return project_embedding(board, record)
    if record.name in _CACHE_WRITES and len(record.inputs) >= 2:
        return project_cache_write(board, record)
    return project_other(board, record)


def project_records(records: Iterable[OpRecord], board: Board) -> None:
    """Fill `projection` and `projected_ns` of every record not projected yet."""
    for record in records:
        if record.projection is None:
            record.projection = project_record(record, board)
            record.projected_ns = record.projection.device_ns
