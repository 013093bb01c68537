"""The run report: one JSON document per run, written with ttport.safe_write (atomically onto a regular
file, so a reader never sees half a report; directly into a device or FIFO, which is never replaced)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ttport.safe_write import write_bytes

#: the signpost of Port.layer_trace's ops (ttport.runner runs it with --report, after the components and
#: after the counters and the projection were taken, so those describe the components alone)
LAYER_TRACE = "layer trace"


@dataclass
class ComponentResult:
    name: str
    #: the score: PCC unless `metric` says otherwise; None when the port raised or the PCC is undefined
    #: (non-finite, constant, empty)
    pcc: float | None
    threshold: float
    passed: bool
    reference_seconds: float
    port_seconds: float
    error: str | None = None  # why it failed: one line (ttport.compare.compare), or the port's traceback
    #: the second metric, independent of the PCC: ||port - reference|| / ||reference|| and max |port - reference|
    rel_rms_error: float | None = None
    max_abs_error: float | None = None
    #: what `pcc` holds: "pcc", or the name of a component's own score (Component.metric)
    metric: str = "pcc"


@dataclass
class RunReport:
    model: str
    preset: str
    backend: str
    arch: str
    components: list[ComponentResult] = field(default_factory=list)
    # Device counters: simulator only (None on a real card, where ttnn does not expose them).
    device_ops: int | None = None
    host_to_device: int | None = None
    device_to_host: int | None = None
    peak_device_bytes: dict[str, int | None] = field(default_factory=lambda: {"dram": None, "l1": None})
    peak_rss_bytes: int = 0
    board: str = ""
    seed: int = 0
    host_to_device_bytes: int | None = None
    device_to_host_bytes: int | None = None
    build_seconds: float = 0.0
    total_seconds: float = 0.0
    # Projected device time (simulator only, core/sim/projection): per component, total, top ops, per-op records.
    projection: dict[str, Any] | None = None
    projection_seconds: float = 0.0  # what computing the projection added to the run
    perf_csv: str | None = None  # the op-profiler CSV written, if any
    #: ttport.weights.WeightCache.summary() of the run (directory, hits, misses, seconds), None without cache
    weight_cache: dict[str, Any] | None = None
    #: per stack, the figures after every block of the port's end-to-end run (Port.layer_trace; filled with
    #: --report): [{index, pcc, rel_rms_error, max_abs_error}]; layer_trace_error says why it is missing
    layers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    layer_trace_error: str | None = None
    #: what ran: package versions (python, torch, transformers, ttport) and the TTPORT_* settings in force
    versions: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    #: the simulator's per-op records of every chip (core/sim/records.py), for --report; not in the JSON
    op_records: list[Any] = field(default_factory=list, repr=False)
    #: per chip id: the board's facts and the allocator's events (ttport.sim.runtime.Stats.buffer_events)
    chips: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        return bool(self.components) and all(c.passed for c in self.components)

    def component(self, name: str) -> ComponentResult:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(f"{self.model} has no component {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: a float that is not finite becomes None (valid JSON; the reason is in `error`)."""
        data = asdict(replace(self, op_records=[], chips={}))
        del data["op_records"], data["chips"]
        return _finite({**data, "passed": self.passed})


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def write_json(report: RunReport, path: str | os.PathLike[str]) -> Path:
    """Write `report` to `path` (ttport.safe_write rules); returns the path written. A destination that
    cannot be written raises ttport.safe_write.DestinationError (a UserError)."""
    text = json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"
    return write_bytes(path, text.encode())


def _columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _us(ns: float) -> str:
    return f"{ns / 1e3:,.1f}"


def format_projection(projection: dict[str, Any]) -> list[str]:
    """Projected device time per component and in total, then the top ops by projected time."""
    lines = [f"projected device time on {projection['board']} (core/sim/projection; us):"]
    header = ("component", "ops", "kernels", "with trace", "without trace", "transfers")
    rows = [
        (
            name,
            str(c["ops"]),
            _us(c["device_ns"]),
            _us(c["trace_ns"]),
            _us(c["no_trace_ns"]),
            _us(c["transfer_ns"]),
        )
        for name, c in [*projection["components"].items(), ("total", projection["total"])]
    ]
    lines += _columns(header, rows)
    ccl_ns = projection["total"].get("ccl_ns", 0.0)
    if ccl_ns:
        lines.append(f"of the kernel time, collectives between the chips (ethernet): {_us(ccl_ns)} us")
    lines.append("top ops by projected kernel time:")
    header = ("op", "count", "total us", "bound", "util", "cores", "inputs")
    rows = [
        (
            g["name"],
            str(g["count"]),
            _us(g["device_ns"]),
            g["bound"],
            f"{g['utilisation']:.0%}",
            str(g["cores"]),
            g["shapes"],
        )
        for g in projection["top_ops"]
    ]
    return lines + _columns(header, rows)


def format_table(report: RunReport) -> str:
    """The human summary the CLI prints: one row per component, then the totals."""
    header = ("component", "PCC", "threshold", "pass", "rel RMS err", "max abs err", "reference s", "port s")
    rows = [
        (
            c.name,
            _number(c.pcc, ".6f") + ("" if c.metric == "pcc" else f" ({c.metric})"),
            f"{c.threshold:g}",
            "PASS" if c.passed else "FAIL",
            _number(c.rel_rms_error, ".2e"),
            _number(c.max_abs_error, ".2e"),
            f"{c.reference_seconds:.3f}",
            f"{c.port_seconds:.3f}",
        )
        for c in report.components
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for c in report.components:
        if c.error:
            lines.append(f"{c.name}: {c.error.strip().splitlines()[-1]}")
    if report.device_ops is not None:
        peak = report.peak_device_bytes
        lines.append(
            f"device ops {report.device_ops}, host->device {report.host_to_device}, "
            f"device->host {report.device_to_host}, peak DRAM {peak['dram']} B, peak L1 {peak['l1']} B"
        )
    if report.projection is not None:
        lines.extend(format_projection(report.projection))
    if report.weight_cache is not None:
        lines.append(format_cache(report.weight_cache))
    lines.append(f"peak RSS {report.peak_rss_bytes / 2**20:.0f} MiB, total {report.total_seconds:.2f} s")
    verdict = "PASS" if report.passed else "FAIL"
    lines.append(
        f"{verdict}: {report.model} [{report.preset}] on {report.backend} ({report.board}, {report.arch})"
    )
    return "\n".join(lines)


def format_cache(summary: dict[str, Any]) -> str:
    """One line about the weight cache of a run: hits, misses and where the build time went."""
    return (
        f"weight cache {summary['directory']}: {summary['hits']} hits, {summary['misses']} misses "
        f"(load {summary['load_seconds']:.2f} s, convert {summary['convert_seconds']:.2f} s, "
        f"store {summary['store_seconds']:.2f} s)"
    )
