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
from ttport.report import ComponentResult, RunReport, format_cache
from ttport.sim.records import signpost

Progress = Callable[[str], None]

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


def _quiet(_: str) -> None:
    pass


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
    progress: Progress | None = None,
    cache: weight_cache.WeightCache | None = None,
    perf_csv: Path | None = None,
) -> RunReport:
    """Run every component of `port` on `preset` through the selected backend; returns the report.
    The weight cache is `cache` when given (None: TTPORT_CACHE, if set). On the simulator the report carries
    the projected device time (core/sim/projection), and with `perf_csv` an op-profiler CSV of the run is
    written into that directory."""
    say = progress or _quiet
    if preset not in port.presets:
        raise UserError(f"unknown preset {preset!r} for {port.name}; presets: {', '.join(port.presets)}")
    check_seed(seed)
    if weights is not None and not Path(weights).is_dir():
        raise UserError(f"checkpoint directory not found: {weights}")
    cache = cache if cache is not None else weight_cache.cache_from_env()
    started = time.perf_counter()
    backend_name = backend.backend_name()
    report = RunReport(model=port.name, preset=preset, backend=backend_name, arch="", seed=seed)
    mesh_shape = port.mesh_shape_for(preset)
    with devices.board_for(mesh_shape) as note, _open_device(mesh_shape) as device:
        if note:
            say(f"{port.name}: {note}")
        info = devices.device_info(device)
        report.arch, report.board = info["arch"], info["board"]
        torch.manual_seed(seed)
        ctx = RunContext(port=port, preset=preset, seed=seed, weights=Path(weights) if weights else None)
        say(f"{port.name} [{preset}]: building the reference")
        ctx.reference = port.build_reference(preset, ctx.weights, seed)
        ctx.inputs = port.make_inputs(preset, seed, ctx.reference)
        components = port.components(preset)
        expected: dict[str, tuple[Output, float]] = {}
        for component in components:
            say(f"{port.name}: reference {component.name}")
            with torch.no_grad():
                expected[component.name] = _timed(component.reference, ctx)

        ctx.device = device
        say(
            f"{port.name}: building the TTNN model on {info['board']} ({info['arch']}, {info['chips']} chip(s))"
        )
        build_start = time.perf_counter()
        with weight_cache.use_cache(cache, scope=port.name):
            ctx.model = port.build_model(ctx)
        report.build_seconds = time.perf_counter() - build_start
        if cache is not None:
            report.weight_cache = cache.summary()
            say(f"{port.name}: {format_cache(report.weight_cache)}")
        for component in components:
            say(f"{port.name}: port {component.name}")
            reference, reference_seconds = expected.pop(component.name)
            result = _run_component(component, ctx, reference, reference_seconds)
            report.components.append(result)
            shown = "n/a" if result.pcc is None else f"{result.pcc:.6f}"
            verdict = "PASS" if result.passed else "FAIL"
            say(f"{port.name}: {component.name}: PCC {shown} (>= {component.threshold}) {verdict}")
        if backend_name == "sim":
            _record_counters(report, device)
            _record_projection(report, device, perf_csv)
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
