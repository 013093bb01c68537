"""The device-time projection against tt-metal's published matmul measurements.

Every row of benchmarks/data/gemm_flops.csv (tt-metal tech_reports/GEMM_FLOPS/GEMM_FLOPS.md at commit
SOURCE_COMMIT: n150 8x8, p150 13x10 and 11x10 grids; out-of-box and manually tuned; with and without trace) is
run through the simulator's projection with the row's settings: its M, K, N, dtype, math fidelity, grid and
storage; out-of-box rows with ttnn's default program config (core/sim/projection/matmul.py), tuned rows with
the program config tt-metal's tests/ttnn/unit_tests/benchmarks/test_benchmark.py builds
(MatmulMultiCoreReuseMultiCastProgramConfig: per_core_M = M / 32 / grid_y, per_core_N = N / 32 / grid_x,
in0_block_w = K / 32 / grid_x / in0_block_w_div, the largest subblock of <= 8 tiles, packer_l1_acc). The
measured figure, "Inference Time Avg [ns]", is a loop of one op: with trace, kernel + trace op gap; without,
the host's enqueue and the device overlap, so the longer of the two.

Free constants (core/sim/projection/calibration.py) are fitted on the FIT half only: within each table block
(board x grid x out-of-box/tuned x trace x dtype x fidelity, in the table's order) the rows at even positions.
The odd rows are held out. `--fit` refits and prints the constants.

    python benchmarks/bench_gemm_projection.py [--plot gemm_projection.png] [--fit]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ttport.sim.boards import BOARDS, Board  # noqa: E402
from ttport.sim.ops.matmul import MatmulMultiCoreReuseMultiCastProgramConfig  # noqa: E402
from ttport.sim.projection import calibration as cal_module  # noqa: E402
from ttport.sim.projection.matmul import TILE, MatmulProblem, project_matmul  # noqa: E402
from ttport.sim.types import CoreCoord  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "gemm_flops.csv"
SOURCE_COMMIT = "06bd3735f7df2921d8195d732c14eba433e4a32d"  # tenstorrent/tt-metal, GEMM_FLOPS.md as read
GOAL_MEDIAN, GOAL_P90 = 0.20, 0.50

# test_benchmark.py's in0_block_w_div per shape (bfloat16 / bfloat8_b lists); shapes it does not list get the
# smallest power-of-two divisor whose circular buffers fit L1, as the listed ones do.
_DIV = {
    "BFLOAT16": {(2048, 3072, 3072): 2, (3072, 3072, 3072): 4, (3072, 3072, 4096): 2, (3072, 4096, 4096): 2, (4096, 4096, 4096): 4},
    "BFLOAT8_B": {(3072, 3072, 3072): 2, (3072, 3072, 4096): 2, (3072, 4096, 4096): 4, (4096, 4096, 4096): 4},
}  # fmt: skip


def _max_subblock(h: int, w: int) -> tuple[int, int]:
    """test_benchmark.py's find_max_subblock: the largest h x w <= 8 dividing the block; h = 1 unless w fills it."""
    best = (1, 1, 0)
    for sh in range(1, h + 1):
        if h % sh:
            continue
        for sw in range(1, w + 1):
            if w % sw == 0 and sh * sw <= 8 and sh * sw > best[2]:
                best = (sh, sw, sh * sw)
    sh, sw, _ = best
    return (1 if w > sw else sh), sw


def _tuned_config(row: dict, board: Board) -> MatmulMultiCoreReuseMultiCastProgramConfig:
    gx, gy = board.grid
    m, k, n = int(row["m"]), int(row["k"]), int(row["n"])
    pcm, pcn, kt = m // TILE // gy, n // TILE // gx, k // TILE // gx
    div = _DIV.get(row["dtype"], {}).get((m, k, n))
    tile = {"BFLOAT16": 2048, "BFLOAT8_B": 1088, "BFLOAT4_B": 576}[row["dtype"]]
    bh, bw = pcm, pcn
    if div is None:
        div = 1
        while (
            kt % (div * 2) == 0 and (2 * bh * (kt // div) * tile * 2 + bh * bw * tile) >= board.l1_bank_size
        ):
            div *= 2
    # Blocks too large for L1 even at in0_block_w 1 are split (out_block_h / out_block_w), as the tuned configs
    # of the largest shapes must be.
    while 4 * max(bh, bw) * tile + bh * bw * tile >= board.l1_bank_size and max(bh, bw) > 1:
        if bh >= bw and bh % 2 == 0:
            bh //= 2
        elif bw % 2 == 0:
            bw //= 2
        else:
            break
    sh, sw = _max_subblock(bh, bw)
    return MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=CoreCoord(gx, gy),
        in0_block_w=max(1, kt // div),
        out_subblock_h=sh,
        out_subblock_w=sw,
        out_block_h=bh,
        out_block_w=bw,
        per_core_M=pcm,
        per_core_N=pcn,
        transpose_mcast=False,
    )


def load_rows() -> list[dict]:
    rows = list(csv.DictReader(DATA.open()))
    position: dict[tuple, int] = defaultdict(int)
    for row in rows:
        block = tuple(
            row[c] for c in ("board", "grid_x", "grid_y", "config", "trace", "dtype", "math_fidelity")
        )
        row["half"] = "fit" if position[block] % 2 == 0 else "held-out"
        position[block] += 1
        row["measured"] = float(row["inference_ns"])
        row["group"] = f"{row['board']} {row['grid_x']}x{row['grid_y']} {row['config']} trace={row['trace']}"
    return rows


def board_of(row: dict) -> Board:
    board = BOARDS[row["board"]]
    return dataclasses.replace(board, grid=(int(row["grid_x"]), int(row["grid_y"])))


def problem_of(row: dict, board: Board) -> MatmulProblem:
    tuned = row["config"] == "tuned"
    return MatmulProblem(
        m=int(row["m"]),
        k=int(row["k"]),
        n=int(row["n"]),
        dtype_a=row["dtype"],
        dtype_b=row["dtype"],
        dtype_out=row["dtype"],
        fidelity=row["math_fidelity"],
        a_buffer=row["in0_storage"],
        b_buffer=row["in1_storage"],
        out_buffer=row["out_storage"],
        a_sharded=row["in0_sharded"] == "True",
        out_sharded=row["out_sharded"] == "True",
        program_config=_tuned_config(row, board) if tuned else None,
    )


def projected_loop_ns(row: dict) -> float:
    """What the benchmark loop measures for this row under the projection."""
    board = board_of(row)
    p = project_matmul(problem_of(row, board), board)
    c = cal_module.CALIBRATION[board.arch]
    kernel = p.device_ns + c.trace_gap_ns
    return kernel if row["trace"] == "True" else max(p.host_ns, kernel)


def errors(rows: list[dict]) -> None:
    for row in rows:
        row["projected"] = projected_loop_ns(row)
        row["error"] = abs(row["projected"] - row["measured"]) / row["measured"]


def _p90(values: list[float]) -> float:
    return float(np.percentile(values, 90)) if values else math.nan


def table(rows: list[dict]) -> tuple[str, bool]:
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        groups[row["group"]][row["half"]].append(row["error"])
        groups["ALL"][row["half"]].append(row["error"])
    header = f"{'group':42} {'half':9} {'rows':>4} {'median':>7} {'p90':>7}  goal"
    lines = [header, "-" * len(header)]
    ok = True
    for name in sorted(groups, key=lambda g: (g == "ALL", g)):
        for half in ("fit", "held-out"):
            errs = groups[name][half]
            med, p90 = statistics.median(errs), _p90(errs)
            met = med <= GOAL_MEDIAN and p90 <= GOAL_P90
            ok = ok and met
            lines.append(
                f"{name:42} {half:9} {len(errs):4d} {med:7.1%} {p90:7.1%}  {'met' if met else 'MISSED'}"
            )
    return "\n".join(lines), ok


# -- fitting (numpy Nelder-Mead on the fit half) -----------------------------------------------------------
_PARAMS = [f.name for f in dataclasses.fields(cal_module.Calibration)]


def _loss(rows: list[dict]) -> float:
    errs = []
    for row in rows:
        projected = projected_loop_ns(row)
        errs.append(abs(math.log(projected / row["measured"])))
    errs.sort()
    # squared log error, with the worst 10% down-weighted (a few published rows are outliers)
    cut = int(len(errs) * 0.9)
    return sum(e * e for e in errs[:cut]) + 0.1 * sum(e * e for e in errs[cut:])


def _nelder_mead(f, x0: np.ndarray, iters: int = 400, step: float = 0.3) -> np.ndarray:
    n = len(x0)
    simplex = [x0] + [x0 + step * np.eye(n)[i] for i in range(n)]
    values = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        centroid = np.mean(simplex[:-1], axis=0)
        worst = simplex[-1]
        xr = centroid + (centroid - worst)
        fr = f(xr)
        if fr < values[0]:
            xe = centroid + 2 * (centroid - worst)
            fe = f(xe)
            simplex[-1], values[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = xr, fr
        else:
            xc = centroid + 0.5 * (worst - centroid)
            fc = f(xc)
            if fc < values[-1]:
                simplex[-1], values[-1] = xc, fc
            else:
                best = simplex[0]
                simplex = [best + 0.5 * (x - best) for x in simplex]
                values = [f(x) for x in simplex]
    return simplex[int(np.argmin(values))]


# Constants no row of an architecture exercises (no Blackhole row runs a 1D default config): taken from Wormhole.
_FROM_WORMHOLE = {"blackhole": ("core_read_link_share",)}


def fit(rows: list[dict]) -> None:
    for arch in ("wormhole_b0", "blackhole"):
        subset = [r for r in rows if r["half"] == "fit" and BOARDS[r["board"]].arch == arch]
        start = cal_module.CALIBRATION[arch]
        pinned = {p: getattr(cal_module.CALIBRATION["wormhole_b0"], p) for p in _FROM_WORMHOLE.get(arch, ())}
        free = [p for p in _PARAMS if p not in pinned]
        x0 = np.log(np.array([getattr(start, p) for p in free], dtype=float))

        def f(
            x: np.ndarray, arch: str = arch, subset: list[dict] = subset, free=free, pinned=pinned
        ) -> float:
            values = {**pinned, **dict(zip(free, np.exp(x), strict=True))}
            values["dram_efficiency"] = min(values["dram_efficiency"], 1.0)
            values["core_read_link_share"] = min(values["core_read_link_share"], 1.0)
            cal_module.CALIBRATION[arch] = cal_module.Calibration(**values)
            return _loss(subset)

        best = _nelder_mead(f, x0)
        f(best)
        fitted = cal_module.CALIBRATION[arch]
        print(f'    "{arch}": Calibration(')
        for p in _PARAMS:
            print(f"        {p}={getattr(fitted, p):.4g},")
        print("    ),")


def scatter(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    for (board, half), marker in {
        ("n150", "fit"): "o",
        ("n150", "held-out"): "x",
        ("p150", "fit"): "s",
        ("p150", "held-out"): "+",
    }.items():
        sel = [r for r in rows if r["board"] == board and r["half"] == half]
        ax.scatter(
            [r["measured"] / 1e3 for r in sel],
            [r["projected"] / 1e3 for r in sel],
            s=12,
            marker=marker,
            label=f"{board} {half}",
        )
    lo, hi = 5, 3e5
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.plot([lo, hi], [lo * 1.2, hi * 1.2], "k:", lw=0.6)
    ax.plot([lo, hi], [lo / 1.2, hi / 1.2], "k:", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (tt-metal GEMM_FLOPS), us")
    ax.set_ylabel("projected (ttport simulator), us")
    ax.set_title(f"matmul: projected vs measured ({len(rows)} rows; dotted: +-20%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plot", type=Path, help="write the log-log scatter here (PNG)")
    parser.add_argument(
        "--fit", action="store_true", help="refit the calibration on the fit half and print it"
    )
    args = parser.parse_args(argv)
    rows = load_rows()
    if args.fit:
        fit(rows)
    errors(rows)
    text, ok = table(rows)
    print(f"source: tenstorrent/tt-metal tech_reports/GEMM_FLOPS/GEMM_FLOPS.md @ {SOURCE_COMMIT}")
    print("error = |projected - measured| / measured; fit half: even rows of each table block\n")
    print(text)
    print(
        f"\ngoal (every group and ALL, both halves): median <= {GOAL_MEDIAN:.0%}, p90 <= {GOAL_P90:.0%}: "
        f"{'MET' if ok else 'NOT MET'}"
    )
    if args.plot:
        scatter(rows, args.plot)
        print(f"scatter written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
