"""Speed and memory of the clip port (both encoders) on the simulator against the transformers reference.

One "run" = both encoders end to end on the preset's prompt batch, with output_hidden_states=True: the
reference in fp32 eager torch; the port from torch ids to torch outputs (host preprocessing, device
forward, gathering every hidden state, the pooled output and text_embeds from the 1x2 mesh). Reported:
median seconds of each over `--runs` runs and their ratio, peak RSS, device ops and host<->device
transfers of one port run.

The full preset holds ~3 GB of reference weights plus the simulated device copies; serialise it:
    flock /tmp/ttport-full.lock /work/venv/bin/python benchmarks/bench_clip.py --preset full
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import median_seconds  # noqa: E402
from ttport import sim  # noqa: E402
from ttport.backend import ttnn  # noqa: E402
from ttport.device import board_for, open_mesh_device  # noqa: E402
from ttport.models.clip.port import ClipModel, ClipPort  # noqa: E402
from ttport.models.clip.presets import ENCODERS  # noqa: E402
from ttport.models.clip.reference import ClipEncoderPair, make_inputs  # noqa: E402
from ttport.runner import peak_rss_bytes  # noqa: E402


def _reference_run(reference: ClipEncoderPair, inputs: dict) -> None:
    with torch.no_grad():
        for name in ENCODERS:
            reference.encoder(name)(**inputs[name], output_hidden_states=True)


def _time_reference(reference: ClipEncoderPair, inputs: dict, runs: int) -> tuple[float, list[float]]:
    _reference_run(reference, inputs)  # warm-up (allocator, lazy init), as for the port
    median, times, _ = median_seconds(lambda: _reference_run(reference, inputs), runs)
    return median, times


def _port_run(model: ClipModel, inputs: dict) -> None:
    for name in ENCODERS:
        encoder = model[name]
        out = encoder(encoder.preprocess(inputs[name]["input_ids"], inputs[name]["attention_mask"]))
        tensors = [*out.hidden_states, out.last_hidden_state, out.pooled]
        tensors += [out.text_embeds] if out.text_embeds is not None else []
        for t in tensors:
            model.parallel.to_torch(t)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="full", choices=sorted(ClipPort.presets))
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side (median; >= 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs must be at least 3 (the median of fewer runs is noise)")
    torch.manual_seed(args.seed)
    preset = ClipPort.presets[args.preset]

    reference = ClipEncoderPair(preset, args.seed)
    inputs = make_inputs(preset, args.seed)
    reference_median, reference_times = _time_reference(reference, inputs, args.runs)

    # the port's 1x2 mesh needs a two-chip board (n300) unless --board / TTPORT_BOARD chose one
    with board_for(ClipPort.mesh_shape), open_mesh_device(ClipPort.mesh_shape) as mesh:
        build_start = time.perf_counter()
        model = ClipModel(
            reference, mesh, seq_len=preset.seq_len, weights_dtype=getattr(ttnn, preset.weights_dtype)
        )
        build_seconds = time.perf_counter() - build_start
        del reference  # the port no longer needs it; peak RSS is reached while building
        _port_run(model, inputs)  # warm-up
        for chip in mesh.get_devices():
            chip.stats.reset()
        _port_run(model, inputs)
        stats = sim.stats(mesh)
        port_median, port_times, _ = median_seconds(lambda: _port_run(model, inputs), args.runs)

    figures = {
        "model": "clip",
        "preset": args.preset,
        "batch": preset.batch,
        "seq_len": preset.seq_len,
        "mesh": list(ClipPort.mesh_shape),
        "runs": args.runs,
        "reference_seconds_median": reference_median,
        "port_seconds_median": port_median,
        "ratio_port_over_reference": port_median / reference_median,
        "reference_seconds": reference_times,
        "port_seconds": port_times,
        "build_seconds": build_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "device_ops_per_run": stats.device_ops,
        "host_to_device_per_run": stats.host_to_device,
        "host_to_device_bytes_per_run": stats.host_to_device_bytes,
        "device_to_host_per_run": stats.device_to_host,
        "device_to_host_bytes_per_run": stats.device_to_host_bytes,
        "ops_by_name_per_run": dict(sorted(stats.ops_by_name.items())),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return figures


if __name__ == "__main__":
    main()
