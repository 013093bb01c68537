"""Speed of the SigLIP attention projections with and without leaving the weight's zero columns out.

    python benchmarks/bench_zero_columns.py [--rows 4096 256] [--runs 5] [--json FILE]

SigLIP so400m's heads are zero-padded from 72 to 96 (models/siglip/attention.py), so its fused q/k/v weight
[1152, 4608] has 1152 zero columns, which the simulator's default numerics leave out of the product
(core/sim/numerics/fidelity.py, _kept_columns). Times `ttnn.linear` as the port calls it (bias, 2-D
multicast program config, HiFi4 / fp32 Dst for bfloat16 weights, HiFi2 for bfloat8_b) on one simulated chip,
median of --runs, with the skip off and on, and checks both give the same bits. Rows: 4096 = Gemma3's
896 px image, 256 = PI0's 224 px camera image. out_proj (K = 1536 with 384 zero rows) is timed for
reference: its zero rows are not skipped (leaving K entries out changes MKL's summation grouping).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import backend_name  # noqa: E402  (also sets the simulator's allocator)
from ttport.backend import ttnn  # noqa: E402
from ttport.device import open_device  # noqa: E402
from ttport.models.siglip.common import matmul_compute_config  # noqa: E402
from ttport.patterns.matmul_config import multicast_2d_config  # noqa: E402
from ttport.sim.numerics import fidelity  # noqa: E402

HEADS, HEAD_DIM, PADDED, HIDDEN = 16, 72, 96, 1152


def padded_heads(rows: int, columns: int) -> torch.Tensor:
    """A random [rows, columns] weight whose every PADDED columns hold HEAD_DIM values, then zeros."""
    w = torch.randn(rows, columns // PADDED, PADDED) * 0.02
    w[..., HEAD_DIM:] = 0
    return w.reshape(rows, columns)


def time_linear(
    x: ttnn.Tensor, weight: ttnn.Tensor, bias: ttnn.Tensor, program_config, config, runs: int
) -> tuple[float, torch.Tensor]:
    """Median seconds of `runs` ttnn.linear calls as the port makes them (after a warm-up that fills the
    per-weight caches), and the output."""

    def linear() -> ttnn.Tensor:
        return ttnn.linear(x, weight, bias=bias, program_config=program_config, compute_kernel_config=config)

    linear()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = linear()
        times.append(time.perf_counter() - start)
    return statistics.median(times), ttnn.to_torch(out).float()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[4096, 256])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    threshold = fidelity._ZERO_COLUMNS_MIN_SHARE
    merged = 3 * HEADS * PADDED  # q, k, v
    qkv_weight = padded_heads(HIDDEN, merged)  # [K, N], N with zero columns
    out_weight = padded_heads(HIDDEN, HEADS * PADDED).T.contiguous()  # [K = 1536 with zero rows, 1152]
    rows_out = []
    with open_device() as device:
        for weights_dtype in (ttnn.bfloat16, ttnn.bfloat8_b):
            config = matmul_compute_config(weights_dtype)

            def put(x: torch.Tensor, dtype=ttnn.bfloat16) -> ttnn.Tensor:
                return ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)

            layers = {
                "qkv": (put(qkv_weight, weights_dtype), put(torch.randn(1, merged) * 0.02)),
                "out_proj": (put(out_weight, weights_dtype), put(torch.randn(1, HIDDEN) * 0.02)),
            }
            for rows in args.rows:
                for name, (weight, bias) in layers.items():
                    k, n = weight.shape[-2], weight.shape[-1]
                    x = put(torch.randn(1, 1, rows, k))
                    program_config = multicast_2d_config(device, rows, k, n, fp32_dest_acc_en=True)

                    figures, outputs = {}, {}
                    for on in (False, True):
                        fidelity._ZERO_COLUMNS_MIN_SHARE = threshold if on else 2.0
                        fidelity._KEPT_COLUMNS.clear()
                        figures[on], outputs[on] = time_linear(
                            x, weight, bias, program_config, config, args.runs
                        )
                    fidelity._ZERO_COLUMNS_MIN_SHARE = threshold
                    same = torch.equal(outputs[False].view(torch.int32), outputs[True].view(torch.int32))
                    row = {"layer": name, "weights": weights_dtype.name, "rows": rows, "k": k, "n": n,
                           "full_seconds": figures[False], "skip_seconds": figures[True],
                           "bit_identical": same}  # fmt: skip
                    rows_out.append(row)
                    print(
                        f"  {name:8s} {weights_dtype.name:10s} {rows:5d} x {k} x {n}: full {figures[False] * 1e3:8.1f} ms"
                        f"  skip {figures[True] * 1e3:8.1f} ms  ({figures[True] / figures[False]:.2f}x)"
                        f"  bit-identical {same}",
                        flush=True,
                    )
    if args.json:
        args.json.write_text(
            json.dumps({"backend": backend_name(), "runs": args.runs, "rows": rows_out}, indent=2)
        )
    return 0 if all(r["bit_identical"] for r in rows_out) else 1


if __name__ == "__main__":
    raise SystemExit(main())
