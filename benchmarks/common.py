"""Timing, simulator counters and the report lines shared by the benchmark scripts (not a benchmark)."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ttport.backend import is_simulator

if is_simulator():
    # The simulator keeps freed host memory in the heap once a device opens (ttport.sim.host_memory). Set it
    # from the start, so the reference's torch timings run under the same allocator as the simulator's,
    # whichever side a benchmark times first.
    from ttport.sim import host_memory

    host_memory.keep_freed_memory()


def argument_parser(doc: str, presets: Iterable[str], default_preset: str) -> argparse.ArgumentParser:
    """--preset, --runs and --json, as every port-vs-reference benchmark takes them."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--preset", default=default_preset, choices=sorted(presets))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here")
    return parser


def median_seconds(
    fn: Callable[[], Any], runs: int, after_each: Callable[[], None] | None = None
) -> tuple[float, list[float], Any]:
    """Median wall seconds of `runs` calls of `fn`, every run's seconds, and the last result. Any warm-up
    is the caller's: without one, the median still discounts a slow first run. `after_each` runs
    outside the timed span."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if after_each is not None:
            after_each()
    return statistics.median(times), times, result


def backend_name() -> str:
    return "sim" if is_simulator() else "device"


def counter_delta(before: Any, after: Any) -> dict[str, Any]:
    """What the device did between two `ttport.sim.stats` snapshots: transfers, device ops, ops by name
    (sorted, only those that ran)."""
    return {
        "uploads": after.host_to_device - before.host_to_device,
        "downloads": after.device_to_host - before.device_to_host,
        "device_ops": after.device_ops - before.device_ops,
        "ops_by_name": {
            k: v - before.ops_by_name.get(k, 0)
            for k, v in sorted(after.ops_by_name.items())
            if v != before.ops_by_name.get(k, 0)
        },
    }


def timing_figures(preset: str, runs: int, reference_times: list[float], port_times: list[float]) -> dict:
    """The figures every port-vs-reference benchmark reports first."""
    reference_median, port_median = statistics.median(reference_times), statistics.median(port_times)
    return {
        "preset": preset,
        "backend": backend_name(),
        "runs": runs,
        "reference_seconds": reference_times,
        "port_seconds": port_times,
        "reference_median": reference_median,
        "port_median": port_median,
        "ratio": port_median / reference_median,
    }


def print_timings(figures: dict, digits: int = 3, goal: float | None = 1.5) -> None:
    """The reference / port / ratio lines of a report from `timing_figures`."""

    def line(label: str, median: float, times: list[float]) -> None:
        print(f"  {label + ':':32s}{median:.{digits}f} s   runs {[round(t, digits) for t in times]}")

    line("reference (transformers, fp32)", figures["reference_median"], figures["reference_seconds"])
    line(f"port ({figures['backend']})", figures["port_median"], figures["port_seconds"])
    suffix = f"  (goal <= {goal})" if goal is not None else ""
    print(f"  {'ratio port / reference:':32s}{figures['ratio']:.2f}{suffix}")


def print_forward_counters(counters: dict) -> None:
    """What one forward did on the device, from `counter_delta` plus "peak_dram_bytes"."""
    print(
        f"  one forward on device: {counters['uploads']} upload(s), {counters['downloads']} download(s), "
        f"{counters['device_ops']} device ops, peak DRAM {counters['peak_dram_bytes'] / 2**20:.0f} MiB"
    )
    print("  ops: " + ", ".join(f"{k} {v}" for k, v in counters["ops_by_name"].items()))
