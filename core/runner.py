"""Run one port end to end (the flow documented in core/port.py) and measure it.

Everything that can be refused is refused before the expensive work: the preset, the seed, the checkpoint
directory, the weight cache directory (TTPORT_CACHE) and the device itself (opened first, so a card that
cannot be opened fails in seconds, not after every reference has run). Every reference output is computed
before the TTNN model is built, so a port may drop the reference model in `build_model` and the full-size
run never holds both copies. The model is built with the weight cache of the run (ttport.weights.use_cache,
entries scoped by the port's name). A component whose port raises is recorded as failed with its error
and the run goes on to the next component, so one broken op does not hide the figures of the rest; errors
in the reference or in building the model are bugs and propagate.
"""

from __future__ import annotations

import functools
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import torch

from ttport import backend
from ttport import device as devices
from ttport import weights as weight_cache
from ttport.compare import compare_outputs
from ttport.errors import UserError
from ttport.port import Component, Output, Port, RunContext
from ttport.progress import Progress, as_progress
from ttport.report import LAYER_TRACE, ComponentResult, RunReport, format_cache
from ttport.sim.records import signpost

#: --seed range: ports derive more seeds by adding small offsets (seed + 1000 ...), and torch.manual_seed
#: takes at most 2**64 - 1; 2**32 - 1 leaves every offset room and is what numpy-style seeds accept.
MAX_SEED = 2**32 - 1


class DeviceOpenError(UserError):
    """The selected backend's device cannot be opened (no card, card busy, driver error)."""


def check_seed(seed: object) -> int:
    """`seed` as an int in [0, MAX_SEED], else a UserError naming the range."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    return seed


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
    cache: weight_cache.WeightCache | None = None,
    perf_csv: Path | None = None,
    layer_trace: bool = False,
) -> RunReport:
    """Run every component of `port` on `preset` through the selected backend; returns the report.
    The weight cache is `cache` when given (None: TTPORT_CACHE, if set). On the simulator the report carries
    the projected device time (core/sim/projection), and with `perf_csv` an op-profiler CSV of the run is
    written into that directory. `progress` hears of the phases (reference, weight conversion, components):
    a ttport.progress.Progress, or a callable that gets one line per step. With `layer_trace`, the port's
    Port.layer_trace runs after the components (report.layers)."""
    prog = as_progress(progress)
    try:
        return _run(port, preset, seed, weights, prog, cache, perf_csv, layer_trace)
    finally:
        prog.close()


def _run(
    port: Port,
    preset: str,
    seed: int,
    weights: Path | None,
    prog: Progress,
    cache: weight_cache.WeightCache | None,
    perf_csv: Path | None,
    layer_trace: bool,
) -> RunReport:
    if preset not in port.presets:
        raise UserError(f"unknown preset {preset!r} for {port.name}; presets: {', '.join(port.presets)}")
    check_seed(seed)
    if weights is not None and not Path(weights).is_dir():
        raise UserError(f"checkpoint directory not found: {weights}")
    cache = cache if cache is not None else weight_cache.cache_from_env()
    started = time.perf_counter()
    backend_name = backend.backend_name()
    report = RunReport(model=port.name, preset=preset, backend=backend_name, arch="", seed=seed)
    report.versions = _versions()
    report.settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("TTPORT_")}
    mesh_shape = port.mesh_shape_for(preset)
    with devices.board_for(mesh_shape) as note, _open_device(mesh_shape) as device:
        if note:
            prog.note(f"{port.name}: {note}")
        info = devices.device_info(device)
        report.arch, report.board = info["arch"], info["board"]
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

        ctx.device = device
        prog.phase("weight conversion", 1)
        prog.step(
            f"{port.name}: building the TTNN model on {info['board']} ({info['arch']}, {info['chips']} chip(s))"
        )
        build_start = time.perf_counter()
        with weight_cache.use_cache(cache, scope=port.name):
            ctx.model = port.build_model(ctx)
        report.build_seconds = time.perf_counter() - build_start
        if cache is not None:
            report.weight_cache = cache.summary()
            prog.note(f"{port.name}: {format_cache(report.weight_cache)}")
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
        # the counters and the projection describe the components: taken before the layer trace, so a run
        # with --report reports the same figures as one without (and `ttport compare` can set them side by side)
        if backend_name == "sim":
            _record_counters(report, device)
            _record_projection(report, device, perf_csv)
        if layer_trace:
            _layer_trace(port, ctx, report, prog)
        if backend_name == "sim":
            _record_ops(report, device)
    report.peak_rss_bytes = peak_rss_bytes()
    report.total_seconds = time.perf_counter() - started
    return report


@contextmanager
def _open_device(mesh_shape: tuple[int, int] | None) -> Iterator[Any]:
    """The device `port` runs on, opened before any reference work; failing to open it is a
    DeviceOpenError (one line), not a traceback after minutes of reference computation."""
    stack = ExitStack()
    try:
        device = stack.enter_context(devices.open_for(mesh_shape))
    except UserError:
        raise
    except Exception as exc:  # ttnn raises RuntimeError (TT_FATAL / TT_THROW) and friends
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DeviceOpenError(f"cannot open the {backend.backend_name()} device: {first}") from exc
    with stack:
        yield device


def _run_component(
    component: Component, ctx: RunContext, reference: Output, reference_seconds: float
) -> ComponentResult:
    """The port side of one component, compared with its reference (ttport.compare.compare_outputs: the
    one verdict, PCC plus the checks the PCC cannot make); a port exception becomes a failure."""
    threshold = float(component.threshold)  # a numpy scalar from a plugin must not break the JSON report
    result = ComponentResult(component.name, None, threshold, False, reference_seconds, 0.0)
    result.metric = component.metric
    try:
        with torch.no_grad(), signpost(component.name):
            actual, result.port_seconds = _timed(component.port, ctx)
        verdict = (component.compare or compare_outputs)(reference, actual, threshold)
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
        with torch.no_grad(), signpost(LAYER_TRACE):
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
    """Simulator accounting (ttport.sim.stats): ops, transfers, peak allocation per chip."""
    from ttport import sim

    stats = sim.stats(device)
    report.device_ops = stats.device_ops
    report.host_to_device = stats.host_to_device
    report.device_to_host = stats.device_to_host
    report.host_to_device_bytes = stats.host_to_device_bytes
    report.device_to_host_bytes = stats.device_to_host_bytes
    report.peak_device_bytes = {"dram": stats.peak_dram_bytes, "l1": stats.peak_l1_bytes}


def _record_ops(report: RunReport, device: Any) -> None:
    """Every per-op record of the run, the layer trace's included (projected too, for the visualizer's
    durations), and each chip's board facts and allocator events: what --report draws and writes."""
    from ttport import sim
    from ttport.sim import projection

    stats = sim.stats(device)
    projection.project_records(stats.op_records, device.board)
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


def _record_projection(report: RunReport, device: Any, perf_csv: Path | None) -> None:
    """Projected device time of every op the run recorded (core/sim/projection), per component and in total;
    the op-profiler CSV when asked. Timed, since projection must stay a small share of a run."""
    from ttport import sim
    from ttport.sim import projection
    from ttport.sim.perf_csv import write_perf_csv

    start = time.perf_counter()
    stats = sim.stats(device)
    projection.project_records(stats.op_records, device.board)
    order = [c.name for c in report.components]
    summary = projection.summarize(stats.op_records, stats.transfers, device.board, order=order)
    report.projection = summary.to_dict(records=stats.op_records)
    if perf_csv is not None:
        report.perf_csv = str(write_perf_csv(stats.op_records, device.board, perf_csv))
    report.projection_seconds = time.perf_counter() - start
