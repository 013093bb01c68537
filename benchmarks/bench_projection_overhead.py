"""What the device-time projection adds to a `ttport run`: the seconds spent projecting every op record,
summarising and (with --perf-csv) writing the profiler CSV, as a share of the whole run.

Goal (issue 13): at most 5%. The runner times its projection step itself (RunReport.projection_seconds); this
script runs a port several times and reports the median share.

    python benchmarks/bench_projection_overhead.py pi0 --preset tiny --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ttport.plugins.registry import load_registry  # noqa: E402
from ttport.runner import run_port  # noqa: E402

GOAL = 0.05


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    port = load_registry().get(args.model)
    shares, projected, totals = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            report = run_port(port, args.preset, perf_csv=Path(tmp))
        shares.append(report.projection_seconds / report.total_seconds)
        projected.append(report.projection_seconds)
        totals.append(report.total_seconds)
    share = statistics.median(shares)
    print(f"{args.model} [{args.preset}], {args.runs} runs, {report.device_ops} device ops per run")
    print(
        f"run seconds (median) {statistics.median(totals):.2f}; projection + CSV seconds {statistics.median(projected):.3f}"
    )
    print(
        f"projection share of the run (median): {share:.2%}  (goal <= {GOAL:.0%}: {'MET' if share <= GOAL else 'NOT MET'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
