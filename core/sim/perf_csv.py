"""tt-metal's op-profiler CSV (`ops_perf_results_<timestamp>.csv`) written from the simulator's projected op
records, so tt-perf-report (PyPI) and other tools that read the profiler's output read a simulated run too.

Columns are those tt-perf-report reads (its "v2.1" format: `_PAD[LOGICAL]` shape columns, DEVICE ARCH and
AVAILABLE WORKER CORE COUNT). DEVICE KERNEL DURATION is the projected kernel time, OP TO OP LATENCY the projected
gap before the op (the trace replay gap with `trace`, else the host enqueue time not hidden by the device),
HOST START TS a running projected clock. A row with OP TYPE `signpost` opens each component, as
`tracy.signpost(name)` marks a profiled run.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .boards import Board
from .projection import CALIBRATION, blocking, project_records
from .projection.matmul import problem_from_record
from .records import OpRecord, TensorInfo

# Device operation names the profiler reports (tt-perf-report keys its matmul analysis on "Matmul").
_OP_CODES = {
    "matmul": "MatmulDeviceOperation",
    "linear": "MatmulDeviceOperation",
    "scaled_dot_product_attention": "SDPAOperation",
    "softmax": "SoftmaxDeviceOperation",
    "layer_norm": "LayerNormDeviceOperation",
    "rms_norm": "LayerNormDeviceOperation",
    "embedding": "EmbeddingsDeviceOperation",
    "concat": "ConcatDeviceOperation",
    "reshape": "ReshapeDeviceOperation",
    "permute": "PermuteDeviceOperation",
    "transpose": "TransposeDeviceOperation",
    "slice": "SliceDeviceOperation",
    "pad": "PadDeviceOperation",
    "typecast": "TypecastDeviceOperation",
    "tilize": "TilizeDeviceOperation",
    "untilize": "UntilizeDeviceOperation",
    "to_layout": "TilizeWithValPaddingDeviceOperation",
}
_BINARY = {
    "add",
    "subtract",
    "multiply",
    "divide",
    "rsub",
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "maximum",
    "minimum",
}
_DIMS = ("W", "Z", "Y", "X")

COLUMNS = [
    "OP CODE",
    "OP TYPE",
    "GLOBAL CALL COUNT",
    "DEVICE ID",
    "ATTRIBUTES",
    "MATH FIDELITY",
    "CORE COUNT",
    "HOST START TS",
    "DEVICE KERNEL DURATION [ns]",
    "OP TO OP LATENCY [ns]",
    "DEVICE ARCH",
    "AVAILABLE WORKER CORE COUNT",
] + [
    f"{prefix}_{suffix}"
    for prefix in ("INPUT_0", "INPUT_1", "OUTPUT_0")
    for suffix in [f"{d}_PAD[LOGICAL]" for d in _DIMS] + ["LAYOUT", "DATATYPE", "MEMORY"]
]


def op_code(name: str) -> str:
    if name in _OP_CODES:
        return _OP_CODES[name]
    if name in _BINARY:
        return "BinaryNgDeviceOperation"
    return "".join(part.capitalize() for part in name.split("_")) + "DeviceOperation"


def _tensor_columns(prefix: str, t: TensorInfo | None, chip: int) -> dict[str, str]:
    if t is None:
        return {}
    padded = [1] * max(0, 4 - len(t.padded_shape)) + list(t.padded_shape)
    logical = [1] * max(0, 4 - len(t.shape)) + list(t.shape)
    # ranks above 4 fold their leading dims into W, as the profiler's 4D view does
    while len(padded) > 4:
        padded[:2] = [padded[0] * padded[1]]
    while len(logical) > 4:
        logical[:2] = [logical[0] * logical[1]]
    out = {
        f"{prefix}_{d}_PAD[LOGICAL]": f"{p}[{lg}]" for d, p, lg in zip(_DIMS, padded, logical, strict=True)
    }
    out[f"{prefix}_LAYOUT"] = t.layout
    out[f"{prefix}_DATATYPE"] = t.dtype
    out[f"{prefix}_MEMORY"] = f"DEV_{chip}_{t.buffer_type}_{t.memory_layout}"
    return out


def _attributes(r: OpRecord, board: Board) -> str:
    attrs: dict[str, object] = {"ttnn_op": r.name}
    for key, value in r.config.attributes.items():
        if isinstance(value, (bool, int, float, str)):
            attrs[key] = value
    if r.config.program_config:
        attrs["program_config"] = r.config.program_config
    if r.name in ("matmul", "linear") and len(r.inputs) >= 2:
        # the blocking the projection assumed (the caller's program config, or the one ttnn would generate):
        # tt-perf-report's matmul advice reads these
        b = blocking(problem_from_record(r), board)
        attrs.update(in0_block_w=b.in0_block_w, out_subblock_h=b.subblock_h, out_subblock_w=b.subblock_w)
        attrs.update(per_core_M=b.per_core_m, per_core_N=b.per_core_n)
    return "{" + "; ".join(f"'{k}': '{v}'" for k, v in attrs.items()) + "}"


def perf_rows(records: Sequence[OpRecord], board: Board, *, trace: bool = False) -> list[dict[str, object]]:
    """Profiler rows for `records` (projected first if needed), with a signpost row where the component
    changes. On a mesh each chip's ops come with its DEVICE ID, in run order."""
    project_records(records, board)
    cal = CALIBRATION[board.arch]
    cores = board.grid[0] * board.grid[1]
    rows: list[dict[str, object]] = []
    clock: dict[int, float] = {}
    current: str | None = None
    for r in records:
        if r.signpost != current and r.signpost is not None:
            rows.append({"OP CODE": r.signpost, "OP TYPE": "signpost", "GLOBAL CALL COUNT": 0})
        current = r.signpost
        p = r.projection
        assert p is not None
        gap = cal.trace_gap_ns if trace else max(cal.trace_gap_ns, p.host_ns - p.device_ns)
        start = clock.get(r.chip, 0.0) + gap
        clock[r.chip] = start + p.device_ns
        row: dict[str, object] = {
            "OP CODE": op_code(r.name),
            "OP TYPE": "tt_dnn_device",
            "GLOBAL CALL COUNT": r.index + 1,
            "DEVICE ID": r.chip,
            "ATTRIBUTES": _attributes(r, board),
            "MATH FIDELITY": r.config.math_fidelity or "",
            "CORE COUNT": p.cores,
            "HOST START TS": int(start),
            "DEVICE KERNEL DURATION [ns]": int(round(p.device_ns)),
            "OP TO OP LATENCY [ns]": int(round(gap)),
            "DEVICE ARCH": board.arch,
            "AVAILABLE WORKER CORE COUNT": cores,
        }
        tensors = [
            ("INPUT_0", r.inputs[0] if r.inputs else None),
            ("INPUT_1", r.inputs[1] if len(r.inputs) > 1 else None),
        ]
        tensors.append(("OUTPUT_0", r.outputs[0] if r.outputs else None))
        for prefix, t in tensors:
            row.update(_tensor_columns(prefix, t, r.chip))
        rows.append(row)
    return rows


def write_perf_csv(
    records: Sequence[OpRecord], board: Board, directory: str | os.PathLike[str], *, trace: bool = False
) -> Path:
    """Write `ops_perf_results_<timestamp>.csv` into `directory` atomically; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ops_perf_results_{time.strftime('%Y_%m_%d_%H_%M_%S')}.csv"
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(perf_rows(records, board, trace=trace))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
