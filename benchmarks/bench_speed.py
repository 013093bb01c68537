"""Every simulator-vs-transformers speed ratio of the project in one run, as one table.

    flock /tmp/ttport-full.lock python benchmarks/bench_speed.py [--threads 1] [--runs 3] [--only pi0 ...]

Runs the four speed benchmarks one after another, each in its own Python process (so one's memory is gone
before the next starts) that times the transformers reference and the simulated port side by side (median
of --runs runs each):

    pi0      bench_pi0_tower.py      --preset vision-full   PI0's SigLIP vision tower, batch 1
    gemma3   bench_gemma3_vision.py  (its default preset)   Gemma3's vision tower
    clip     bench_clip.py           --preset full          CLIP, batch-sharded over a 1x2 mesh
    mamba    bench_mamba.py          --preset full-4        Mamba prefill, mamba-2.8b widths, 4 layers

Both sides use --threads torch threads: OMP_NUM_THREADS for torch (the reference) and TTPORT_SIM_THREADS for
the simulator's device ops (core/sim/numerics/threads.py). Prints sim seconds, torch seconds, their ratio
(goal <= 1.5) and the 1-minute load average when each benchmark started (a loaded machine inflates the
simulator's many small ops more than the reference's few large ones: quote the load with the ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# name -> (script, its arguments, how to read (sim s, torch s) from its --json figures)
BENCHMARKS: dict[str, tuple[str, list[str], str]] = {
    "pi0": ("bench_pi0_tower.py", ["--preset", "vision-full"], "common"),
    "gemma3": ("bench_gemma3_vision.py", [], "common"),
    "clip": ("bench_clip.py", ["--preset", "full"], "clip"),
    "mamba": ("bench_mamba.py", ["--preset", "full-4"], "mamba"),
}


def seconds(figures: dict[str, Any], kind: str) -> tuple[float, float]:
    """(simulator median, reference median) from one benchmark's figures."""
    if kind == "clip":
        return figures["port_seconds_median"], figures["reference_seconds_median"]
    if kind == "mamba":
        figures = figures["prefill"]
    return figures["port_median"], figures["reference_median"]


def run_one(name: str, runs: int, threads: int) -> dict[str, Any]:
    script, arguments, kind = BENCHMARKS[name]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TTPORT_SIM_THREADS": str(threads)}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, str(HERE / script), *arguments, "--runs", str(runs), "--json", str(out)]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"name": name, "load": load, "error": " | ".join(tail) or f"exit {done.returncode}"}
        figures = json.loads(out.read_text())
    sim_s, torch_s = seconds(figures, kind)
    return {"name": name, "load": load, "sim": sim_s, "torch": torch_s, "ratio": sim_s / torch_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads of both sides (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side (median)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="a subset, in table order")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.runs < 1:
        parser.error("--threads and --runs must be positive")
    names = [n for n in BENCHMARKS if args.only is None or n in args.only]
    rows = []
    for name in names:
        print(f".. {name}", file=sys.stderr, flush=True)
        rows.append(run_one(name, args.runs, args.threads))
        print(f".. {name}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)  # partial results
    print(
        f"speed, simulator (default numerics) vs transformers, {args.threads} thread(s), median of {args.runs}:"
    )
    print(f"  {'benchmark':10s} {'sim s':>9s} {'torch s':>9s} {'ratio':>7s} {'load@start':>11s}")
    for row in rows:
        if "error" in row:
            print(f"  {row['name']:10s} failed: {row['error']}   (load {row['load']:.2f})")
            continue
        flag = "" if row["ratio"] <= 1.5 else "  > 1.5"
        print(
            f"  {row['name']:10s} {row['sim']:9.3f} {row['torch']:9.3f} {row['ratio']:7.2f} "
            f"{row['load']:11.2f}{flag}"
        )
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "runs": args.runs, "rows": rows}, indent=2))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
