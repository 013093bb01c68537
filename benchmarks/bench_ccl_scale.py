"""How far the simulator's collectives scale: host seconds and peak RSS of ttnn.all_gather / reduce_scatter /
all_reduce on 8 chips (T3K 1x8, 2x4) and 32 chips (Galaxy 4x8), per-chip tensors from tiny to mid size.

Every (board, mesh, size) runs in its own subprocess so its peak RSS is its own. Per op: the median host
seconds over `--runs` runs (after one warm-up), the ratio to a ttnn.add of the same mesh tensor in the same
process (the cheapest op touching the same data), and the projected device time (core/sim/projection/ccl.py).

    flock /tmp/ttport-full.lock python benchmarks/bench_ccl_scale.py --sizes tiny mid --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SIZES = {"tiny": (32, 256), "small": (256, 1024), "mid": (1024, 4096), "large": (2048, 8192)}
MESHES = [("t3k", (1, 8), 1), ("t3k", (2, 4), 1), ("galaxy", (4, 8), 1), ("galaxy", (4, 8), 0)]


def _one(board: str, shape: tuple[int, int], axis: int, size: str, runs: int) -> dict[str, Any]:
    """Runs inside the subprocess."""
    os.environ["TTPORT_BOARD"] = board
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import median_seconds
    from ttport import sim
    from ttport.runner import peak_rss_bytes
    from ttport.sim import projection, ttnn

    ttnn.set_fabric_config(
        ttnn.FabricConfig.FABRIC_1D_RING if shape == (1, 8) else ttnn.FabricConfig.FABRIC_1D
    )
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
    n = shape[0] * shape[1]
    h, w = SIZES[size]
    x = torch.randn(n, 1, h, w)
    t = ttnn.from_torch(
        x,
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh, 0),
    )
    ops = {
        "add (baseline)": lambda: ttnn.add(t, t),
        "all_gather": lambda: ttnn.all_gather(t, 3, cluster_axis=axis),
        "reduce_scatter": lambda: ttnn.reduce_scatter(t, 3, cluster_axis=axis),
        "all_reduce": lambda: ttnn.all_reduce(t, cluster_axis=axis),
    }
    figures: dict[str, Any] = {}
    for name, op in ops.items():
        op().deallocate()  # warm-up
        median, times, _ = median_seconds(lambda op=op: op().deallocate(), runs)
        sim.reset_stats(mesh)
        op().deallocate()
        records = sim.stats(mesh).op_records
        projection.project_records(records, mesh.board)
        figures[name] = {
            "host_seconds": median,
            "times": times,
            "projected_us": max(r.projected_ns for r in records) / 1e3,
            "link_bytes_per_chip": max(c.stats.ccl_bytes_sent for c in mesh.get_devices()),
        }
    base = figures["add (baseline)"]["host_seconds"]
    for f in figures.values():
        f["ratio_to_add"] = f["host_seconds"] / base
    ttnn.close_mesh_device(mesh)
    return {
        "board": board,
        "mesh": list(shape),
        "cluster_axis": axis,
        "size": size,
        "per_chip_shape": [1, 1, h, w],
        "per_chip_mib": h * w * 2 / 2**20,
        "ops": figures,
        "peak_rss_mib": peak_rss_bytes() / 2**20,
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "mid"], choices=sorted(SIZES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=4, metavar=("BOARD", "MESH", "AXIS", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        board, mesh, axis, size = args.one
        rows, cols = (int(v) for v in mesh.split("x"))
        print(json.dumps(_one(board, (rows, cols), int(axis), size, args.runs)))
        return []
    results = []
    for size in args.sizes:
        for board, shape, axis in MESHES:
            cmd = [
                sys.executable,
                __file__,
                "--runs",
                str(args.runs),
                "--one",
                board,
                f"{shape[0]}x{shape[1]}",
            ]
            out = subprocess.run([*cmd, str(axis), size], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            print(
                f"{board} {shape[0]}x{shape[1]} axis {axis} {size} ({r['per_chip_mib']:.2f} MiB/chip): "
                f"peak RSS {r['peak_rss_mib']:.0f} MiB; "
                + "; ".join(
                    f"{k} {v['host_seconds']:.3f} s (x{v['ratio_to_add']:.1f} add, proj {v['projected_us']:.1f} us)"
                    for k, v in r["ops"].items()
                ),
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
