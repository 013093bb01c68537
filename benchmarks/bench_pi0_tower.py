"""Speed and device discipline of the PI0 vision tower on the selected backend vs the transformers reference.

    flock /tmp/ttport-full.lock /work/venv/bin/python benchmarks/bench_pi0_tower.py [--preset vision-full] [--runs 3]

Times one forward of the tower (batch 1: one camera image, host tensor in -> host tensor out, i.e. the
patch upload and the result download included) and of the reference SiglipVisionModel on the same
machine; prints the medians, their ratio (goal <= 1.5), the peak RSS, and what one forward does on the
device (from ttport.sim.stats): uploads, downloads, device ops by name. `--profile` adds a cProfile of one
simulated forward, grouped by ttnn op, to show which simulator op dominates.
"""

from __future__ import annotations

import cProfile
import dataclasses
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    argument_parser,
    counter_delta,
    median_seconds,
    print_forward_counters,
    print_timings,
    timing_figures,
)
from ttport import sim  # noqa: E402
from ttport.backend import is_simulator, ttnn  # noqa: E402
from ttport.compare import comp_pcc  # noqa: E402
from ttport.device import open_device  # noqa: E402
from ttport.models.pi0.inputs import make_inputs  # noqa: E402
from ttport.models.pi0.presets import PRESETS  # noqa: E402
from ttport.models.pi0.reference import IMAGE_PATH_MODULES, build_reference  # noqa: E402
from ttport.models.siglip import SigLIPVisionTowerTTNN  # noqa: E402
from ttport.runner import peak_rss_bytes  # noqa: E402


def op_profile(fn: Callable[[], Any], top: int = 12) -> list[tuple[str, float]]:
    """Cumulative seconds of each public ttnn op function called during `fn` (nested calls included)."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
        if "/core/sim/ops/" in filename and not name.startswith("_"):
            rows.append((f"{Path(filename).stem}.{name}", cumulative))
    return sorted(rows, key=lambda r: -r[1])[:top]


def time_reference(preset: Any, images: torch.Tensor, runs: int) -> tuple[float, list[float], Any, dict, Any]:
    """Median seconds of the transformers tower, its runs and output, and what the port is built from
    (the reference itself is dropped on return)."""
    vlm = build_reference(preset, None, seed=0).model.vlm
    with torch.no_grad():
        vlm.vision_tower(images)  # warm-up (allocator, thread pool)
        median, times, expected = median_seconds(lambda: vlm.vision_tower(images).last_hidden_state, runs)
    state_dict = {k: v for k, v in vlm.state_dict().items() if k.startswith(IMAGE_PATH_MODULES)}
    return median, times, expected, state_dict, vlm.config.vision_config


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, PRESETS, "vision-full")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    # The tower only: without the policy the reference's Gemma LM and expert stay one small layer each.
    preset = dataclasses.replace(PRESETS[args.preset], policy=None)
    torch.manual_seed(0)

    # batch 1: the first camera image of the first sample
    images = make_inputs(preset, 0)["pixel_values"][:1, 0]
    _, ref_times, expected, state_dict, vision_config = time_reference(preset, images, args.runs)

    with open_device() as device:
        build_start = time.perf_counter()
        tower = SigLIPVisionTowerTTNN(
            vision_config,
            state_dict,
            device,
            prefix="vision_tower.",
            weights_dtype=getattr(ttnn, preset.weights_dtype),
        )
        build_seconds = time.perf_counter() - build_start
        del state_dict

        def forward() -> torch.Tensor:
            return ttnn.to_torch(tower(images)).float()

        counters: dict[str, Any] = {}
        if is_simulator():
            before = sim.stats(device)
            forward()
            after = sim.stats(device)
            counters = {**counter_delta(before, after), "peak_dram_bytes": after.peak_dram_bytes}
        _, port_times, actual = median_seconds(forward, args.runs)
        profile = op_profile(forward) if args.profile and is_simulator() else []

    pcc = comp_pcc(expected, actual)[1]
    figures = {
        **timing_figures(args.preset, args.runs, ref_times, port_times),
        "build_seconds": build_seconds,
        "tower_pcc": pcc,
        "peak_rss_bytes": peak_rss_bytes(),
        **counters,
    }
    print(f"pi0 tower [{args.preset}], batch 1, median of {args.runs}:")
    print_timings(figures)
    print(f"  tower PCC vs reference:         {pcc:.6f}")
    print(f"  peak RSS:                       {figures['peak_rss_bytes'] / 2**30:.2f} GiB")
    if counters:
        print_forward_counters(counters)
    for name, seconds in profile:
        print(f"  profile: {name:45s} {seconds:8.3f} s cumulative")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
