"""Run one port end to end (the flow documented in core/port.py) and measure it.

Every reference output is computed before the device is opened, so a port may drop the reference model
in `build_model` and the full-size run never holds both copies. A component whose port raises is recorded
as failed with its error and the run goes on to the next component, so one broken op does not hide the
figures of the rest; errors in the reference or in building the model are bugs and propagate.
"""

from __future__ import annotations

import functools
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from core import backend
from core import device as devices
from core.compare import compare_outputs
from core.errors import UserError
from core.port import Component, Output, Port, RunContext
from core.progress import Progress, as_progress
from core.report import ComponentResult, RunReport
from core.sim.records import signpost


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _timed(fn: Callable[[RunContext], Output], ctx: RunContext) -> tuple[Output, float]:
    start = time.perf_counter()
    out = fn(ctx)
    return out, time.perf_counter() - start


def _port_cannot_exit(run: Callable[..., RunReport]) -> Callable[..., RunReport]:
    """A SystemExit from port code (sys.exit in a plugin) becomes an error: it must not end the run
    with the plugin's exit status and no report. KeyboardInterrupt still stops the program."""

    @functools.wraps(run)
    def guarded(*args: Any, **kwargs: Any) -> RunReport:
        try:
            return run(*args, **kwargs)
        except SystemExit as exc:
            raise RuntimeError(f"port code called sys.exit({exc.code!r}) during the run") from exc

    return guarded


@_port_cannot_exit
def run_port(
    port: Port,
    preset: str = "tiny",
    *,
    seed: int = 0,
    weights: Path | None = None,
    progress: Progress | Callable[[str], None] | None = None,
    layer_trace: bool = False,
) -> RunReport:
    """Run every component of `port` on `preset` through the selected backend; returns the report.
    `progress` hears of the phases (reference, weight conversion, components): a core.progress.Progress,
    or a callable that gets one line per step. With `layer_trace`, the port's Port.layer_trace runs after the
    components (report.layers)."""
    prog = as_progress(progress)
    try:
        return _run(port, preset, seed, weights, prog, layer_trace)
    finally:
        prog.close()


def _run(
    port: Port, preset: str, seed: int, weights: Path | None, prog: Progress, layer_trace: bool
) -> RunReport:
    if preset not in port.presets:
        raise UserError(f"unknown preset {preset!r} for {port.name}; presets: {', '.join(port.presets)}")
    if weights is not None and not Path(weights).is_dir():
        raise UserError(f"checkpoint directory not found: {weights}")
    started = time.perf_counter()
    backend_name = backend.backend_name()
    torch.manual_seed(seed)
    ctx = RunContext(port=port, preset=preset, seed=seed, weights=Path(weights) if weights else None)
    prog.note(f"{port.name} [{preset}]: building the reference")
    ctx.reference = port.build_reference(preset, ctx.weights, seed)
    ctx.inputs = port.make_inputs(preset, seed, ctx.reference)
    components = port.components(preset)
    expected: dict[str, tuple[Output, float]] = {}
    prog.phase("reference", len(components))
    for component in components:
        prog.step(f"{port.name}: reference {component.name}")
        with torch.no_grad():
            expected[component.name] = _timed(component.reference, ctx)
    prog.end_phase()

    report = RunReport(model=port.name, preset=preset, backend=backend_name, arch="", seed=seed)
    report.versions = _versions()
    report.settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("TTPORT_")}
    with devices.board_for(port.mesh_shape) as note, devices.open_for(port.mesh_shape) as device:
        if note:
            prog.note(f"{port.name}: {note}")
        info = devices.device_info(device)
        report.arch, report.board = info["arch"], info["board"]
        ctx.device = device
        prog.phase("weight conversion", 1)
        prog.step(
            f"{port.name}: building the TTNN model on {info['board']} ({info['arch']}, {info['chips']} chip(s))"
        )
        build_start = time.perf_counter()
        ctx.model = port.build_model(ctx)
        report.build_seconds = time.perf_counter() - build_start
        prog.end_phase()
        prog.phase("components", len(components))
        for component in components:
            prog.step(f"{port.name}: port {component.name}")
            reference, reference_seconds = expected.pop(component.name)
            result = _run_component(component, ctx, reference, reference_seconds)
            report.components.append(result)
            shown = "n/a" if result.pcc is None else f"{result.pcc:.6f}"
            verdict = "PASS" if result.passed else "FAIL"
            prog.note(f"{port.name}: {component.name}: PCC {shown} (>= {component.threshold}) {verdict}")
        prog.end_phase()
        if layer_trace:
            _layer_trace(port, ctx, report, prog)
        if backend_name == "sim":
            _record_counters(report, device)
    report.peak_rss_bytes = peak_rss_bytes()
    report.total_seconds = time.perf_counter() - started
    return report


def _run_component(
    component: Component, ctx: RunContext, reference: Output, reference_seconds: float
) -> ComponentResult:
    """The port side of one component, compared with its reference (core.compare.compare_outputs: the
    one verdict, PCC plus the checks the PCC cannot make); a port exception becomes a failure."""
    threshold = float(component.threshold)  # a numpy scalar from a plugin must not break the JSON report
    result = ComponentResult(component.name, None, threshold, False, reference_seconds, 0.0)
    try:
        with torch.no_grad(), signpost(component.name):
            actual, result.port_seconds = _timed(component.port, ctx)
        verdict = compare_outputs(reference, actual, threshold)
    except UserError:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException:  # SystemExit from port code too: it must not end the run with exit 0
        result.error = traceback.format_exc()
        return result
    result.pcc, result.passed = verdict.pcc, verdict.passed
    result.rel_rms_error, result.max_abs_error = verdict.rel_rms_error, verdict.max_abs_error
    if not verdict.passed:
        prefix = "" if verdict.index is None else f"output {verdict.index}: "
        result.error = prefix + (verdict.failure or "failed")
    return result


def _layer_trace(port: Port, ctx: RunContext, report: RunReport, prog: Progress) -> None:
    """Port.layer_trace's figures per block into report.layers. A port error here is recorded, not fatal:
    the components already have their verdicts."""
    prog.phase("layer trace", 1)
    prog.step(f"{port.name}: per-layer trace")
    try:
        with torch.no_grad(), signpost("layer trace"):
            traces = port.layer_trace(ctx)
        for stack, pairs in traces.items():
            points = []
            for index, (reference, actual) in enumerate(pairs):
                c = compare_outputs(reference, actual, 0.0)
                points.append(
                    {
                        "index": index,
                        "pcc": c.pcc,
                        "rel_rms_error": c.rel_rms_error,
                        "max_abs_error": c.max_abs_error,
                    }
                )
            report.layers[stack] = points
    except (KeyboardInterrupt, UserError):
        raise
    except Exception:
        report.layer_trace_error = traceback.format_exc().strip().splitlines()[-1]
        prog.note(f"{port.name}: layer trace failed: {report.layer_trace_error}")
    prog.end_phase()


def _record_counters(report: RunReport, device: Any) -> None:
    """Simulator accounting (core.sim.stats): ops, transfers, peak allocation per chip."""
    from core import sim

    stats = sim.stats(device)
    report.device_ops = stats.device_ops
    report.host_to_device = stats.host_to_device
    report.device_to_host = stats.device_to_host
    report.host_to_device_bytes = stats.host_to_device_bytes
    report.device_to_host_bytes = stats.device_to_host_bytes
    report.peak_device_bytes = {"dram": stats.peak_dram_bytes, "l1": stats.peak_l1_bytes}
    report.op_records = list(stats.op_records)
    for chip in sim.runtime.chips(device):
        board = chip.board
        report.chips[chip.id()] = {
            "grid": board.grid,
            "l1_banks": board.l1_banks,
            "l1_bank_size": board.l1_bank_size,
            "dram_banks": board.dram_banks,
            "dram_bank_size": board.dram_bank_size,
            "buffer_events": list(chip.stats.buffer_events),
        }


def _versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("ttport", "torch", "transformers", "ttnn"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions
