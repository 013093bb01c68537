"""Speed and device discipline of Gemma3's image path (vision tower + multi-modal projector) on the selected
backend against the transformers reference.

    flock /tmp/ttport-full.lock /work/venv/bin/python benchmarks/bench_gemma3_vision.py [--preset full] [--runs 3]

One run = `get_image_features` for one image (batch 1): for the port, torch pixel_values in -> torch
features out, so the host unfold, the patch upload and the feature download are included; for the
reference, transformers' SiglipVisionModel + Gemma3MultiModalProjector in fp32 (torch SDPA attention).
Prints the medians, their ratio (goal <= 1.5), the peak RSS, the features' PCC and what the last forward
did on the device (ttport.sim.stats): uploads, downloads, device ops by name.
"""

from __future__ import annotations

import json
import sys
import time
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
from ttport.models.gemma3.inputs import make_inputs  # noqa: E402
from ttport.models.gemma3.model import Gemma3VisionModelTTNN  # noqa: E402
from ttport.models.gemma3.presets import PRESETS  # noqa: E402
from ttport.models.gemma3.reference import build_reference  # noqa: E402
from ttport.runner import peak_rss_bytes  # noqa: E402


def time_reference(
    preset: Any, pixel_values: torch.Tensor, runs: int
) -> tuple[float, list[float], Any, dict]:
    """Median seconds of the reference, its runs and output, and the state dict the port is built from (the
    reference itself is dropped on return)."""
    reference = build_reference(preset, None, seed=0)
    # No warm-up run on either side (a full-size simulated forward takes minutes).
    with torch.no_grad():
        median, times, expected = median_seconds(lambda: reference.get_image_features(pixel_values), runs)
    return median, times, expected, reference.state_dict()


def main(argv: list[str] | None = None) -> int:
    args = argument_parser(__doc__, PRESETS, "full").parse_args(argv)
    preset = PRESETS[args.preset]
    torch.manual_seed(0)
    pixel_values = make_inputs(preset, 0)["pixel_values"][:1]

    _, ref_times, expected, state_dict = time_reference(preset, pixel_values, args.runs)

    with open_device() as device:
        build_start = time.perf_counter()
        model = Gemma3VisionModelTTNN(preset, state_dict, device)
        build_seconds = time.perf_counter() - build_start
        del state_dict

        def forward() -> torch.Tensor:
            return ttnn.to_torch(model.get_image_features(pixel_values)).float()

        # Simulator counters of the last forward (the key mask of a padded sequence, not `full`'s, is
        # uploaded by the first forward only).
        snapshots = [sim.stats(device)] if is_simulator() else []
        _, port_times, actual = median_seconds(
            forward, args.runs, (lambda: snapshots.append(sim.stats(device))) if snapshots else None
        )
        counters: dict[str, Any] = {}
        if snapshots:
            counters = {
                **counter_delta(snapshots[-2], snapshots[-1]),
                "peak_dram_bytes": snapshots[-1].peak_dram_bytes,
            }

    figures = {
        **timing_figures(args.preset, args.runs, ref_times, port_times),
        "build_seconds": build_seconds,
        "features_pcc": comp_pcc(expected, actual)[1],
        "peak_rss_bytes": peak_rss_bytes(),
        **counters,
    }
    print(f"gemma3 image path [{args.preset}] (tower + projector), batch 1, median of {args.runs}:")
    print_timings(figures)
    print(f"  features PCC vs reference:      {figures['features_pcc']:.6f}")
    print(f"  TTNN model build:               {build_seconds:.1f} s")
    print(f"  peak RSS:                       {figures['peak_rss_bytes'] / 2**30:.2f} GiB")
    if counters:
        print_forward_counters(counters)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
