"""`ttport run ... --report DIR`: report.html and the PNG figures it shows, readable offline (no script, no
CDN: one static page with inline CSS and images next to it).

What the page shows, all derived from the RunReport and the simulator's per-op records
(core/sim/records.py), so no port needs code for it:
- the component table (PCC, threshold, relative RMS / max abs error, pass/fail, times);
- per-layer accuracy: the components a port declares per block ("block N", "vision layer N",
  "kv cache layer N" ...) grouped into one curve per stack, PCC and relative error against the block index;
- device memory over the run: DRAM and L1 allocated after each op, per chip, peak marked;
- the op mix: ops per name and, on the simulator, projected device time per name (core/sim/projection),
  as a figure and a table;
- run facts: backend, board, preset, seed, versions, numerics mode, TTPORT_* settings, transfers, the
  projected device time of the components and the ops that dominate it.

The op mix and the projected times cover the components' ops: the layer trace (LAYER_TRACE) runs after
the projection was taken and is left out, as in the JSON report; the memory figure shows it (the end of
the run). Every file is written with ttport.safe_write (temporary name, then moved into place), the page
last, so a reader never sees a half-written file nor a page whose images are missing.
"""

from __future__ import annotations

import html
import io
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttport.report import LAYER_TRACE, ComponentResult, RunReport
from ttport.safe_write import DestinationError, write_bytes

PAGE = "report.html"
#: "block 3", "vision layer 3", "kv cache layer 3": the stack's name (may be empty) and the block index
_BLOCK = re.compile(r"^(?:(?P<stack>.*?)\s+)?(?:block|layer)\s+(?P<index>\d+)$")


@dataclass(frozen=True)
class LayerPoint:
    index: int
    pcc: float | None
    rel_rms_error: float | None
    passed: bool


def layer_curves(components: list[ComponentResult]) -> dict[str, list[LayerPoint]]:
    """Per stack ("" named "blocks"), the per-block components in block order."""
    curves: dict[str, list[LayerPoint]] = defaultdict(list)
    for c in components:
        match = _BLOCK.match(c.name)
        if match:
            stack = match["stack"] or "blocks"
            curves[stack].append(LayerPoint(int(match["index"]), c.pcc, c.rel_rms_error, c.passed))
    return {k: sorted(v, key=lambda p: p.index) for k, v in curves.items()}


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _one_minus(pcc: float | None) -> float:
    """1 - PCC for a log axis (floored at 1e-9 so a perfect match stays on the plot); NaN when undefined."""
    return float("nan") if pcc is None else max(1.0 - pcc, 1e-9)


@dataclass(frozen=True)
class OpMixRow:
    name: str
    count: int  # ops of this name, all chips
    projected_ns: float | None  # their projected device kernel time, all chips; None: not projected
    bound: str | None  # "compute" / "memory": the term that holds most of that time


def op_mix(records: list[Any]) -> list[OpMixRow]:
    """Per op name over the components' records (the layer trace's left out): count, projected time and
    bound; ordered by projected time when the projection ran (where the time goes), else by count."""
    counts: dict[str, int] = defaultdict(int)
    projected: dict[str, float] = defaultdict(float)
    by_bound: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in records:
        if r.signpost == LAYER_TRACE:
            continue
        counts[r.name] += 1
        if r.projected_ns is not None:
            projected[r.name] += r.projected_ns
            if r.projection is not None:
                by_bound[r.name][r.projection.bound] += r.projected_ns
    rows = [
        OpMixRow(
            name,
            count,
            projected[name] if name in projected else None,
            max(by_bound[name], key=by_bound[name].__getitem__) if name in by_bound else None,
        )
        for name, count in counts.items()
    ]
    return sorted(rows, key=lambda row: (-(row.projected_ns or 0.0), -row.count, row.name))


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _figures(report: RunReport) -> dict[str, tuple[bytes, str]]:
    """file name -> (PNG bytes, caption)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    out: dict[str, tuple[bytes, str]] = {}
    curves = layer_curves(report.components)
    if curves or report.layers:
        from matplotlib.ticker import MaxNLocator

        # 1 - PCC on a log axis: PCCs of 0.9999 and 0.999 differ by a decade instead of a pixel
        fig, (ax_pcc, ax_err) = plt.subplots(1, 2, figsize=(11, 3.8))
        for stack, layer in report.layers.items():  # the port's end-to-end run: errors compound
            xs = [p["index"] for p in layer]
            ax_pcc.plot(
                xs, [_one_minus(p["pcc"]) for p in layer], "s-", linewidth=2, label=f"{stack} end to end"
            )
            rel = [_nan(p["rel_rms_error"]) for p in layer]
            ax_err.plot(xs, rel, "s-", linewidth=2, label=f"{stack} end to end")
        for stack, points in curves.items():
            xs = [p.index for p in points]
            gap = [_one_minus(p.pcc) for p in points]
            style = "o--" if report.layers else "o-"
            ax_pcc.plot(xs, gap, style, label=f"{stack} (block alone)")
            rel = [_nan(p.rel_rms_error) for p in points]
            ax_err.plot(xs, rel, style, label=f"{stack} (block alone)")
            failed = [p for p in points if not p.passed and p.pcc is not None]
            ax_pcc.plot([p.index for p in failed], [_one_minus(p.pcc) for p in failed], "rx", markersize=10)
        thresholds = {float(c.threshold) for c in report.components if _BLOCK.match(c.name)}
        for t in sorted(thresholds):
            ax_pcc.axhline(_one_minus(t), color="grey", linestyle="--", linewidth=0.8)
        ax_pcc.set(title="1 - PCC per block (lower is better)", xlabel="block", ylabel="1 - PCC")
        ax_err.set(title="relative RMS error per block", xlabel="block", ylabel="relative RMS error")
        for ax in (ax_pcc, ax_err):
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        out["accuracy.png"] = (
            _png(fig),
            "Per-layer accuracy. End to end: the port runs the stack on its own outputs (errors compound). "
            "Block alone: each per-block component, run on the reference block's input. "
            "Grey dashed: 1 - threshold; x: failed.",
        )
        plt.close(fig)

    records = report.op_records
    if records:
        by_chip: dict[int, list[Any]] = defaultdict(list)
        for r in records:
            by_chip[r.chip].append(r)
        fig, axes = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True)
        for (kind, attr), ax in zip((("DRAM", "dram_bytes"), ("L1", "l1_bytes")), axes, strict=True):
            marked: set[tuple[int, float]] = set()  # chips of a mesh often peak together: one label
            for chip, rs in sorted(by_chip.items()):
                ys = [getattr(r, attr) / 2**20 for r in rs]
                ax.plot(range(len(ys)), ys, linewidth=1, label=f"chip {chip}")
                peak = max(range(len(ys)), key=ys.__getitem__)
                if ys[peak] == 0:
                    continue
                ax.plot([peak], [ys[peak]], "rv")
                if (peak, ys[peak]) in marked:
                    continue
                marked.add((peak, ys[peak]))
                ax.annotate(
                    f"peak {ys[peak]:.2f} MiB ({rs[peak].name}, {rs[peak].signpost or '-'})",
                    (peak, ys[peak]),
                    textcoords="offset points",
                    xytext=(4, -12),
                    fontsize=8,
                )
            ax.set_ylabel(f"{kind} MiB")
            ax.grid(True, alpha=0.3)
            if len(by_chip) > 1:
                ax.legend(fontsize=8)
        axes[0].set_title("device memory allocated after each op")
        axes[1].set_xlabel("op (per chip, in run order)")
        out["memory.png"] = (_png(fig), "Device memory over the run, per chip; the peak is marked.")
        plt.close(fig)

        mix = op_mix(records)[:30]
        timed = any(row.projected_ns is not None for row in mix)
        fig, axes = plt.subplots(1, 2 if timed else 1, figsize=(11, 0.28 * len(mix) + 1.5), squeeze=False)
        names = [row.name for row in mix][::-1]
        ax = axes[0][0]
        ax.barh(names, [row.count for row in mix][::-1], color="tab:blue")
        ax.set(title="ops per name", xlabel="ops (all chips)")
        if timed:
            ax2 = axes[0][1]
            us = [(row.projected_ns or 0.0) / 1e3 for row in mix][::-1]
            colors = ["tab:red" if row.bound == "compute" else "tab:orange" for row in mix][::-1]
            ax2.barh(names, us, color=colors)
            ax2.set(title="projected device time per name", xlabel="us (all chips)")
            ax2.set_yticks(range(len(names)), [""] * len(names))  # the names are on the left panel
            ax2.legend(
                handles=[
                    Patch(color="tab:red", label="compute-bound"),
                    Patch(color="tab:orange", label="memory-bound"),
                ],
                fontsize=8,
                loc="lower right",
            )
        fig.tight_layout()
        caption = "Op mix of the components" + (
            ", by projected device time (core/sim/projection; the bar colour says which term dominates)"
            if timed
            else ""
        )
        out["ops.png"] = (_png(fig), caption + ".")
        plt.close(fig)
    return out


def _cell(value: Any, spec: str = "") -> str:
    if value is None:
        return "n/a"
    return html.escape(format(value, spec) if spec else str(value))


def _us(ns: float | None) -> str:
    return "n/a" if ns is None else f"{ns / 1e3:,.1f} us"


def _component_table(report: RunReport) -> str:
    projected = (report.projection or {}).get("components", {})
    rows = []
    for c in report.components:
        device_ns = projected.get(c.name, {}).get("device_ns")
        verdict = "PASS" if c.passed else "FAIL"
        error = html.escape(c.error.strip().splitlines()[-1]) if c.error and c.error.strip() else ""
        rows.append(
            f'<tr class="{verdict.lower()}"><td>{html.escape(c.name)}</td><td>{_cell(c.pcc, ".6f")}</td>'
            f"<td>{_cell(c.threshold, 'g')}</td><td>{_cell(c.rel_rms_error, '.2e')}</td>"
            f"<td>{_cell(c.max_abs_error, '.2e')}</td><td>{verdict}</td>"
            f"<td>{c.reference_seconds:.3f}</td><td>{c.port_seconds:.3f}</td>"
            f"<td>{html.escape(_us(device_ns))}</td><td>{error}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "component",
            "PCC",
            "threshold",
            "rel RMS err",
            "max abs err",
            "verdict",
            "ref s",
            "port s",
            "projected device time",
            "",
        )
    )
    return f'<table id="components"><tr>{head}</tr>{"".join(rows)}</table>'


def _facts(report: RunReport) -> list[tuple[str, str]]:
    peak = report.peak_device_bytes or {}
    facts = [
        ("model", report.model),
        ("preset", report.preset),
        ("seed", str(report.seed)),
        ("backend", report.backend),
        ("board", f"{report.board} ({report.arch})"),
        # TTPORT_NUMERICS (core/sim/numerics/sfpu.py): "exact" runs every SFPU kernel bit by bit
        (
            "numerics mode",
            report.settings.get("TTPORT_NUMERICS", "default") if report.backend == "sim" else "device",
        ),
        ("verdict", "PASS" if report.passed else "FAIL"),
        ("device ops", _cell(report.device_ops)),
        (
            "host -> device",
            f"{_cell(report.host_to_device)} transfers, {_cell(report.host_to_device_bytes)} B",
        ),
        (
            "device -> host",
            f"{_cell(report.device_to_host)} transfers, {_cell(report.device_to_host_bytes)} B",
        ),
        ("peak DRAM / L1 (per chip)", f"{_cell(peak.get('dram'))} B / {_cell(peak.get('l1'))} B"),
        ("peak RSS", f"{report.peak_rss_bytes / 2**20:.0f} MiB"),
        ("build / total", f"{report.build_seconds:.2f} s / {report.total_seconds:.2f} s"),
    ]
    if report.projection is not None:
        total = report.projection["total"]
        facts.append(
            (
                f"projected device time on {report.projection['board']} (components)",
                f"{_us(total['device_ns'])} kernels; {_us(total['trace_ns'])} with trace, "
                f"{_us(total['no_trace_ns'])} without; {_us(total['transfer_ns'])} host <-> device transfers",
            )
        )
        mix = [row for row in op_mix(report.op_records) if row.projected_ns]
        whole = sum(row.projected_ns or 0.0 for row in mix)
        if whole > 0:
            facts.append(
                (
                    "projected time by op",
                    ", ".join(f"{row.name} {row.projected_ns / whole:.0%}" for row in mix[:4])
                    + (f", {len(mix) - 4} more" if len(mix) > 4 else ""),
                )
            )
    if report.perf_csv:
        facts.append(("op-profiler CSV", report.perf_csv))
    facts += [(f"version {k}", v) for k, v in report.versions.items()]
    facts += [(k, v) for k, v in report.settings.items()] or [("TTPORT_* settings", "none (defaults)")]
    return facts


def _layer_table(report: RunReport) -> str:
    """The end-to-end per-layer figures as numbers (the curve's data)."""
    rows = "".join(
        f"<tr><td>{html.escape(stack)}</td><td>{p['index']}</td><td>{_cell(p['pcc'], '.6f')}</td>"
        f"<td>{_cell(p['rel_rms_error'], '.2e')}</td><td>{_cell(p['max_abs_error'], '.2e')}</td></tr>"
        for stack, points in report.layers.items()
        for p in points
    )
    if not rows:
        return ""
    head = "<tr><th>stack</th><th>block</th><th>PCC</th><th>rel RMS err</th><th>max abs err</th></tr>"
    return f'<h2>Per layer, end to end</h2><table id="layers">{head}{rows}</table>'


def _op_table(report: RunReport) -> str:
    """The op mix as numbers: every op name, its count, projected time and share."""
    mix = op_mix(report.op_records)
    if not mix:
        return ""
    whole = sum(row.projected_ns or 0.0 for row in mix)
    rows = "".join(
        f"<tr><td>{html.escape(row.name)}</td><td>{row.count}</td><td>{html.escape(_us(row.projected_ns))}</td>"
        f"<td>{_cell(row.projected_ns / whole if whole and row.projected_ns is not None else None, '.1%')}</td>"
        f"<td>{_cell(row.bound)}</td></tr>"
        for row in mix
    )
    head = "<tr><th>op</th><th>count</th><th>projected device time</th><th>share</th><th>bound</th></tr>"
    return f'<h2>Op mix</h2><table id="ops">{head}{rows}</table>'


_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 80em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 90%; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
tr.fail td { background: #fde2e2; } tr.pass td:nth-child(6) { color: #176317; font-weight: bold; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
"""


def render_html(report: RunReport, figures: dict[str, str]) -> str:
    """The page; `figures` maps each PNG file name to its caption."""
    title = f"ttport {report.model} [{report.preset}]: {'PASS' if report.passed else 'FAIL'}"
    facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _facts(report))
    images = "".join(
        f'<figure><img src="{name}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
        "</figcaption></figure>"
        for name, caption in figures.items()
    )
    if not report.op_records:
        images += "<p>No per-op records (memory and op mix are simulator-only figures).</p>"
    if not layer_curves(report.components) and not report.layers:
        images += "<p>This port declares no per-block components: no per-layer accuracy curve.</p>"
    if report.layer_trace_error:
        images += f"<p>The per-layer trace failed: {html.escape(report.layer_trace_error)}</p>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<h2>Components</h2>{_component_table(report)}"
        f"<h2>Figures</h2>{images}{_layer_table(report)}{_op_table(report)}"
        f'<h2>Run facts</h2><table id="facts">{facts}</table>'
        "</body></html>\n"
    )


def write_report(report: RunReport, directory: str | os.PathLike[str]) -> Path:
    """Write the figures, then report.html, into `directory` (ttport.safe_write rules); returns the page's
    path. A directory that cannot be written raises DestinationError (a UserError)."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(f"--report {directory}: {exc.strerror or exc}") from exc
    figures = _figures(report)
    for name, (data, _) in figures.items():
        write_bytes(directory / name, data, what="--report")
    page = directory / PAGE
    write_bytes(page, render_html(report, {n: c for n, (_, c) in figures.items()}).encode(), what="--report")
    return page
