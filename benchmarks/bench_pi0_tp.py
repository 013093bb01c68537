"""Tensor-parallel PI0 on simulated meshes: per-chip memory and collective traffic of one `sample_actions`,
preset by preset (the same architecture on 1, 2 and 8 chips), and the actions against the first preset's.

    python benchmarks/bench_pi0_tp.py --presets tiny-tp1,tiny-tp2,tiny-tp8
    flock /tmp/ttport-full.lock python benchmarks/bench_pi0_tp.py --presets mid,mid-tp2,mid-tp8

Per preset: the weights one chip holds (all of them, and the split Gemma matmul weights alone), the peak DRAM
of the busiest chip during one inference (weights included), the bytes the chips sent each other over
ethernet in that inference (ttport.sim.stats: ccl_bytes_sent, summed over the chips) and how many collective
ops each chip ran, the wall time of sample_actions on the simulator (median of --runs), the PCC of the actions
against the reference and against the first preset's port. The peak RSS printed last is the process's
(run one preset per process to read it per preset).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ttport import sim  # noqa: E402
from ttport.backend import is_simulator, ttnn  # noqa: E402
from ttport.compare import comp_pcc  # noqa: E402
from ttport.device import board_for, open_for  # noqa: E402
from ttport.models.pi0.port import PI0Port, build_policy  # noqa: E402
from ttport.models.pi0.presets import PRESETS  # noqa: E402
from ttport.port import RunContext  # noqa: E402
from ttport.runner import peak_rss_bytes  # noqa: E402

SAMPLE_ARGS = ("state", "input_ids", "pixel_values", "noise", "pixel_attention_mask")
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter")
MIB = 2**20


def split_weight_bytes(model: Any) -> int:
    """Bytes one chip holds of the Gemma layers' matmul weights (bfloat16 or bfloat8_b, tile-padded)."""
    total = 0
    for layer in [*model.language_model.layers, *model.dit.layers]:
        attn, mlp = layer.self_attn, layer.mlp
        for tensor in (attn.qkv_weight, attn.o_weight, mlp.gate_weight, mlp.up_weight, mlp.down_weight):
            chip = ttnn.get_device_tensors(tensor)[0] if model.tp.chips > 1 else tensor
            rows, cols = chip.padded_shape[-2], chip.padded_shape[-1]
            bytes_per_value = 1088 / 1024 if chip.dtype == ttnn.bfloat8_b else 2
            total += int(rows * cols * bytes_per_value)
    return total


def measure(preset: str, runs: int) -> dict[str, Any]:
    port = PI0Port()
    ctx = RunContext(port=port, preset=preset, seed=0)
    torch.manual_seed(0)
    ctx.reference = port.build_reference(preset, None, 0)
    ctx.inputs = port.make_inputs(preset, 0, ctx.reference)
    args = {name: ctx.inputs[name] for name in SAMPLE_ARGS}
    with torch.no_grad():
        expected = ctx.reference.sample_actions(**args)
    mesh = port.mesh_shape_for(preset)
    with board_for(mesh), open_for(mesh) as device:
        chips = device.get_devices() if hasattr(device, "get_devices") else [device]
        before = max(chip.stats.dram_bytes for chip in chips)
        ctx.device = device
        start = time.perf_counter()
        ctx.model = build_policy(ctx)
        gc.collect()
        build = time.perf_counter() - start
        weights = max(chip.stats.dram_bytes for chip in chips) - before
        sim.reset_stats(device)
        actions = ctx.model.sample_actions(**args)
        stats = sim.stats(device)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            ctx.model.sample_actions(**args)
            times.append(time.perf_counter() - start)
        return {
            "preset": preset,
            "chips": len(chips),
            "weights": weights,
            "split_weights": split_weight_bytes(ctx.model),
            "peak_dram": stats.peak_dram_bytes,
            "ccl_bytes": stats.ccl_bytes_sent,
            "collectives": {name: stats.ops_by_name.get(name, 0) // len(chips) for name in COLLECTIVES},
            "seconds": sorted(times)[len(times) // 2],
            "build_seconds": build,
            "pcc_reference": comp_pcc(expected, actions)[1],
            "actions": actions,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="tiny-tp1,tiny-tp2,tiny-tp8", help="comma-separated PI0 presets")
    parser.add_argument("--runs", type=int, default=3, help="timed sample_actions per preset (median)")
    args = parser.parse_args(argv)
    presets = args.presets.split(",")
    unknown = [p for p in presets if p not in PRESETS or PRESETS[p].policy is None]
    if unknown:
        parser.error(f"not a PI0 policy preset: {', '.join(unknown)}")
    if not is_simulator():
        parser.error("the per-chip counters come from the simulator")
    results = [measure(preset, args.runs) for preset in presets]
    first = results[0]["actions"]
    print(
        f"{'preset':10s} {'chips':>5s} {'weights/chip':>13s} {'split/chip':>11s} {'peak DRAM/chip':>15s} "
        f"{'CCL sent':>10s} {'collectives/chip':>26s} {'s/inference':>11s} {'PCC ref':>9s} {'PCC 1st':>9s}"
    )
    for r in results:
        counts = ", ".join(f"{name} {n}" for name, n in r["collectives"].items() if n)
        print(
            f"{r['preset']:10s} {r['chips']:5d} {r['weights'] / MIB:10.1f} MiB {r['split_weights'] / MIB:8.1f} MiB"
            f" {r['peak_dram'] / MIB:12.1f} MiB {r['ccl_bytes'] / MIB:6.2f} MiB {counts or '-':>26s}"
            f" {r['seconds']:11.2f} {r['pcc_reference']:9.6f} {comp_pcc(first, r['actions'])[1]:9.6f}"
        )
    print(f"peak RSS {peak_rss_bytes() / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
