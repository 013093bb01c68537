"""Speed and device discipline of the Mamba port (prefill and per-token decode) on the selected backend
against the transformers reference.

    flock /tmp/ttport-full.lock python benchmarks/bench_mamba.py [--preset full] [--runs 3] [--steps 8]
        [--layers N]

On a shared, loaded machine set OMP_NUM_THREADS=1 (both sides then run one torch thread): with more threads
than free cores torch's intra-op threads wait on each other at every op, which costs the simulator's many
small ops far more than the reference's few large ones (measured: a 32 x 5120 bfloat16 multiply 71 ms with
2 threads at load 10, 1 ms with 1). The torch thread count is printed with the figures.

Prefill = the preset's prompt (ids in -> logits of every position out, recurrent state filled): for the port
the id upload and the logits download are included; for the reference, MambaForCausalLM(use_cache=True) in
fp32 (transformers' torch path). Decode = one greedy step after that prefill (token in -> logits out, state
advanced), median over --steps steps. Prints the medians and their ratios (goal <= 1.5 for prefill), the
prefill logits' PCC, what one decode step did on the device (ttport.sim.stats: uploads, downloads, device ops
by name) and the peak RSS.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from dataclasses import replace
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
from ttport.models.mamba.inputs import make_inputs  # noqa: E402
from ttport.models.mamba.model import MambaTTNN  # noqa: E402
from ttport.models.mamba.presets import PRESETS  # noqa: E402
from ttport.models.mamba.reference import build_reference  # noqa: E402
from ttport.runner import peak_rss_bytes  # noqa: E402


def _step_times(step: Any, tokens: torch.Tensor) -> list[float]:
    times = []
    for i in range(tokens.shape[1]):
        start = time.perf_counter()
        step(tokens[:, i : i + 1])
        times.append(time.perf_counter() - start)
    return times


def time_reference(preset: Any, input_ids: torch.Tensor, runs: int, steps: int) -> dict[str, Any]:
    """Reference prefill and decode timings, its prefill logits and greedy tokens, and the state dict the
    port is built from (the reference itself is dropped on return)."""
    reference = build_reference(preset, None, seed=0)
    with torch.no_grad():
        _, prefill_times, out = median_seconds(lambda: reference(input_ids, use_cache=True), runs)
        cache = [out.cache_params]
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        tokens = [token]

        def step(t: torch.Tensor) -> None:
            result = reference(t, cache_params=cache[0], use_cache=True)
            cache[0] = result.cache_params
            tokens.append(result.logits[:, -1].argmax(-1, keepdim=True))

        decode_times = []
        for _ in range(steps):
            decode_times += _step_times(step, tokens[-1])
    return {
        "prefill_times": prefill_times,
        "decode_times": decode_times,
        "logits": out.logits.float(),
        "tokens": torch.cat(tokens[:steps], dim=1),
        "state_dict": reference.state_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, PRESETS, "full")
    parser.add_argument("--steps", type=int, default=8, help="decode steps timed (median)")
    parser.add_argument(
        "--layers", type=int, help="keep the preset's first N layers (its widths at a fraction of its memory)"
    )
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset]
    if args.layers is not None:
        if not 1 <= args.layers <= preset.num_hidden_layers:
            parser.error(f"--layers must be 1 to {preset.num_hidden_layers} for {args.preset}")
        preset = replace(preset, num_hidden_layers=args.layers, probe_layers=(0,))
    input_ids = make_inputs(preset, 0)["input_ids"]
    ref = time_reference(preset, input_ids, args.runs, args.steps)
    # transformers' MambaModel is a reference cycle: collected here, its fp32 weights are freed as the port
    # consumes the state dict (full: 11 GB that would otherwise stay next to the port's weights)
    gc.collect()

    with open_device() as device:
        build_start = time.perf_counter()
        model = MambaTTNN(preset, ref.pop("state_dict"), device)
        build_seconds = time.perf_counter() - build_start

        def prefill() -> torch.Tensor:
            return ttnn.to_torch(model.prefill(input_ids)).float()

        _, prefill_times, logits = median_seconds(prefill, args.runs)
        snapshots = []

        def step(token: torch.Tensor) -> None:
            ttnn.to_torch(model.decode(token))
            if is_simulator():
                snapshots.append(sim.stats(device))

        if is_simulator():
            snapshots.append(sim.stats(device))
        decode_times = _step_times(step, ref["tokens"])
        counters: dict[str, Any] = {}
        if is_simulator():
            per_step = [counter_delta(a, b) for a, b in zip(snapshots, snapshots[1:], strict=False)]
            counters = {
                **per_step[-1],
                "max_uploads_per_step": max(s["uploads"] for s in per_step),
                "max_downloads_per_step": max(s["downloads"] for s in per_step),
                "peak_dram_bytes": snapshots[-1].peak_dram_bytes,
            }

    prefill_figures = timing_figures(args.preset, args.runs, ref["prefill_times"], prefill_times)
    decode_figures = timing_figures(args.preset, args.steps, ref["decode_times"], decode_times)
    figures = {
        "layers": preset.num_hidden_layers,
        "prefill": prefill_figures,
        "decode": decode_figures,
        "prompt_tokens": input_ids.shape[1],
        "build_seconds": build_seconds,
        "prefill_logits_pcc": comp_pcc(ref["logits"], logits.squeeze(1))[1],
        "peak_rss_bytes": peak_rss_bytes(),
        **counters,
    }
    figures["torch_threads"] = torch.get_num_threads()
    name = f"mamba [{args.preset}, {preset.num_hidden_layers} layers]"
    threads = figures["torch_threads"]
    print(
        f"{name} prefill of {input_ids.shape[1]} tokens, median of {args.runs} ({threads} torch thread(s)):"
    )
    print_timings(prefill_figures)
    print(f"{name} decode, one token, median of {args.steps} steps:")
    print_timings(decode_figures, goal=None)
    print(f"  prefill logits PCC vs reference: {figures['prefill_logits_pcc']:.6f}")
    print(f"  TTNN model build:                {build_seconds:.1f} s")
    print(f"  peak RSS:                        {figures['peak_rss_bytes'] / 2**30:.2f} GiB")
    if counters:
        print(
            f"  decode steps: at most {counters['max_uploads_per_step']} upload(s) and "
            f"{counters['max_downloads_per_step']} download(s) per step"
        )
        print_forward_counters(counters)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    print(f"  decode step seconds (port): {statistics.median(decode_times):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
