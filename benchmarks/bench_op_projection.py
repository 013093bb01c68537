"""The device-time projection of non-matmul ops against tt-metal's published kernel durations.

benchmarks/data/op_measurements.csv holds every published per-op device kernel duration found for an op other
than matmul, with its shape, memory layout, shard spec, dtype and fidelity. Today that is rms_norm on Blackhole
p150 (11x10 grid), measured by tt-metal's own perf experiment (SOURCES below): eight shapes, block- and
width-sharded. Each row is projected from an op record built with the row's settings
(core/sim/projection/ops.py project_norm); error = |projected - measured| / measured.

The norm's cycle counts come from the published stage breakdown (core/sim/projection/calibration.py
NormCalibration); the only free constant, the fixed per-op cost, is fitted on the fit half (even rows, `--fit`)
and the odd rows are held out. Ops without published data stay estimates (see the README).

    python benchmarks/bench_op_projection.py [--fit]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ttport.sim.boards import BOARDS, Board  # noqa: E402
from ttport.sim.projection import calibration as cal_module  # noqa: E402
from ttport.sim.projection import project_record  # noqa: E402
from ttport.sim.records import OpConfig, OpRecord, TensorInfo  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "op_measurements.csv"
SOURCES = {
    "gather_spread_topology": "tenstorrent/tt-metal tests/ttnn/unit_tests/operations/rms_norm/perf_experiments/"
    "gather_spread_topology/test_gather_spread.py @ 83e64b50c78b2788f03c4ada496185a8e9e84c53 (op_current column)",
}
_TILE_BYTES = {"BFLOAT16": 2048, "BFLOAT8_B": 1088, "FLOAT32": 4096}


def load_rows() -> list[dict]:
    rows = list(csv.DictReader(DATA.open()))
    for i, row in enumerate(rows):
        row["half"] = "fit" if i % 2 == 0 else "held-out"
        row["measured"] = float(row["measured_ns"])
    return rows


def board_of(row: dict) -> Board:
    return dataclasses.replace(BOARDS[row["board"]], grid=(int(row["grid_x"]), int(row["grid_y"])))


def _tensor(shape: tuple[int, ...], row: dict, *, sharded: bool) -> TensorInfo:
    tiles = math.prod(shape[:-2]) * math.ceil(shape[-2] / 32) * math.ceil(shape[-1] / 32)
    return TensorInfo(
        shape=shape,
        padded_shape=shape,
        dtype=row["dtype"],
        layout="TILE",
        buffer_type="L1" if sharded else "DRAM",
        memory_layout=row["memory_layout"] if sharded else "INTERLEAVED",
        shard_shape=(int(row["shard_h"]), int(row["shard_w"])) if sharded else None,
        num_bytes=tiles * _TILE_BYTES[row["dtype"]],
    )


def record_of(row: dict) -> OpRecord:
    shape = tuple(int(v) for v in row["shape"].split("x"))
    sharded = row["memory_layout"] != "INTERLEAVED"
    x = _tensor(shape, row, sharded=sharded)
    gamma = _tensor((1, 1, 32, shape[-1]), row, sharded=False)
    config = OpConfig(math_fidelity=row["math_fidelity"], fp32_dest_acc_en=row["fp32_acc"] == "True")
    return OpRecord(0, row["op"], 0, (x, gamma), (x,), config, None, 0, 0)


def project(rows: list[dict]) -> None:
    for row in rows:
        row["projected"] = project_record(record_of(row), board_of(row)).device_ns
        row["error"] = abs(row["projected"] - row["measured"]) / row["measured"]


def fit(rows: list[dict]) -> None:
    """The fixed cost: the median of (measured - projected without it) over the fit half, per architecture."""
    for arch in ("wormhole_b0", "blackhole"):
        subset = [r for r in rows if r["half"] == "fit" and BOARDS[r["board"]].arch == arch]
        if not subset:
            continue
        cal = cal_module.NORM_CALIBRATION[arch]
        cal_module.NORM_CALIBRATION[arch] = dataclasses.replace(cal, fixed_ns=0.0)
        project(subset)
        fixed = statistics.median(r["measured"] - r["projected"] for r in subset)
        cal_module.NORM_CALIBRATION[arch] = dataclasses.replace(cal, fixed_ns=fixed)
        print(f"{arch}: fixed_ns={fixed:.0f} (fit on {len(subset)} rows)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fit", action="store_true", help="refit the fixed cost on the fit half and print it"
    )
    args = parser.parse_args(argv)
    rows = load_rows()
    if args.fit:
        fit(rows)
    project(rows)
    for key in sorted({r["source"] for r in rows}):
        print(f"source: {SOURCES[key]}")
    print(
        f"\n{'op':9} {'board':5} {'shape':15} {'layout':14} {'shard':9} {'half':8} {'measured':>9} {'projected':>9} {'error':>6}"
    )
    for r in rows:
        shard = f"{r['shard_h']}x{r['shard_w']}"
        print(
            f"{r['op']:9} {r['board']:5} {r['shape']:15} {r['memory_layout']:14} {shard:9} {r['half']:8} "
            f"{r['measured'] / 1e3:8.1f}us {r['projected'] / 1e3:8.1f}us {r['error']:6.1%}"
        )
    for half in ("fit", "held-out"):
        errs = [r["error"] for r in rows if r["half"] == half]
        print(f"{half}: {len(errs)} rows, median {statistics.median(errs):.1%}, max {max(errs):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
