"""Default vs exact matmul numerics: error statistics against float64 and speed, on the ports' real shapes.

    python benchmarks/bench_matmul_numerics.py [--rows 32] [--cols 64] [--seeds 3] [--json FILE]

For every K of the ports (SigLIP 1152 / 4304, Gemma 2048 / 16384) and every fidelity x Dst width, prints
1 - PCC and the relative RMS error of the simulator's default mode and of its exact mode (MVMUL by MVMUL,
core/sim/numerics/fpu.py) against the float64 product of the same (already rounded) operands, and the ratio
default / exact of each (goal: within 0.8 - 1.2). Operands: LayerNorm-like activations N(0, 1) and weights
N(0, 0.02), bfloat16 (`--dtype bfloat8_b` for block-float weights). Exact mode is slow, so the statistics
use a `rows` x `cols` sample of the output (each element is an independent K-long dot product, so the
sample's statistics are those of the full matrix); speed is timed on the full ports' M x N.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ttport.sim.numerics import fidelity, formats, mode  # noqa: E402
from ttport.sim.types import DataType, MathFidelity  # noqa: E402

# (name, M, K, N) of the ports' matmuls (full presets).
SHAPES = (
    ("siglip qkv/fc1", 256, 1152, 1152),
    ("siglip fc2", 256, 4304, 1152),
    ("gemma q/gate", 256, 2048, 2048),
    ("gemma down", 64, 16384, 2048),
)
CONFIGS = [(f, d) for f, d in itertools.product(MathFidelity, (False, True))]


def errors(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """(1 - PCC, relative RMS error) of `out` against the float64 reference."""
    o, r = out.double().flatten(), ref.flatten()
    pcc = torch.corrcoef(torch.stack([o, r]))[0, 1].item()
    return 1.0 - pcc, (torch.linalg.norm(o - r) / torch.linalg.norm(r)).item()


def operands(m: int, k: int, n: int, w_dtype: DataType, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    a = formats.quantize(torch.randn(m, k, generator=gen), DataType.BFLOAT16)
    b = formats.quantize(torch.randn(k, n, generator=gen) * 0.02, w_dtype)
    return a, b


def run(rows: int, cols: int, seeds: int, w_dtype: DataType, time_speed: bool) -> list[dict]:
    results = []
    for (name, m, k, n), (fid, dst32) in itertools.product(SHAPES, CONFIGS):
        numerics = fidelity.MatmulNumerics(fid, dst32)
        stats: dict[str, list[tuple[float, float]]] = {"default": [], "exact": []}
        for seed in range(seeds):
            a, b = operands(rows, k, cols, w_dtype, seed)
            ref = a.double() @ b.double()
            for which in stats:
                with mode.numerics_mode(which):
                    stats[which].append(
                        errors(fidelity.matmul(a, b, DataType.BFLOAT16, w_dtype, numerics), ref)
                    )
        row = {"shape": name, "k": k, "fidelity": fid.name, "fp32_dest_acc_en": dst32}
        for which, values in stats.items():
            row[f"{which}_1-pcc"] = sum(v[0] for v in values) / len(values)
            row[f"{which}_rel_rms"] = sum(v[1] for v in values) / len(values)
        row["ratio_1-pcc"] = row["default_1-pcc"] / row["exact_1-pcc"]
        row["ratio_rel_rms"] = row["default_rel_rms"] / row["exact_rel_rms"]
        if time_speed:
            a, b = operands(m, k, n, w_dtype, 0)
            start = time.perf_counter()
            fidelity.matmul(a, b, DataType.BFLOAT16, w_dtype, numerics)
            row["default_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            torch.matmul(a, b)
            row["torch_seconds"] = time.perf_counter() - start
        results.append(row)
        speed = (
            f"  default {row['default_seconds'] * 1e3:7.1f} ms (torch fp32 {row['torch_seconds'] * 1e3:6.1f} ms)"
            if time_speed
            else ""
        )
        print(
            f"{name:15s} K={k:5d} {fid.name:5s} dst32={int(dst32)}  1-PCC default {row['default_1-pcc']:.2e} "
            f"exact {row['exact_1-pcc']:.2e} ({row['ratio_1-pcc']:.2f})  relRMS default "
            f"{row['default_rel_rms']:.2e} exact {row['exact_rel_rms']:.2e} ({row['ratio_rel_rms']:.2f}){speed}",
            flush=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--cols", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--dtype", default="bfloat16", choices=["bfloat16", "bfloat8_b"], help="weights dtype"
    )
    parser.add_argument("--no-speed", action="store_true", help="skip timing the full shapes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = run(args.rows, args.cols, args.seeds, DataType[args.dtype.upper()], not args.no_speed)
    worst = max(
        max(r["ratio_1-pcc"], 1 / r["ratio_1-pcc"], r["ratio_rel_rms"], 1 / r["ratio_rel_rms"])
        for r in results
    )
    print(f"worst default/exact ratio (or its inverse): {worst:.2f} (goal <= 1.2)")
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
