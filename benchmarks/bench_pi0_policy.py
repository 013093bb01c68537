"""Speed, memory and device discipline of PI0's whole policy (`sample_actions`) on the selected backend vs
the transformers reference.

    flock /tmp/ttport-full.lock /work/venv/bin/python benchmarks/bench_pi0_policy.py [--preset full] [--runs 3]

The fp32 reference and the port's weights are never held in full at once: the reference runs first (its
`sample_actions` timed `--runs` times, the actions kept), then it is dropped and the port is built from its
state dict, weight by weight (models/pi0/port.build_policy). Prints the medians and their ratio,
the PCC of the actions, the peak RSS (after the reference alone and overall), and from ttport.sim.stats what one
`sample_actions` does on the device: uploads and downloads per phase (inputs, prefix, cache, loop,
download), device ops of the prefix, of the cache and of one denoising step.
"""

from __future__ import annotations

import gc
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
    print_timings,
    timing_figures,
)
from ttport import sim  # noqa: E402
from ttport.backend import is_simulator, ttnn  # noqa: E402
from ttport.compare import comp_pcc  # noqa: E402
from ttport.device import open_device  # noqa: E402
from ttport.models.pi0.model import joint_cache, release_cache, release_joint  # noqa: E402
from ttport.models.pi0.port import PI0Port, build_policy  # noqa: E402
from ttport.models.pi0.presets import PRESETS  # noqa: E402
from ttport.port import RunContext  # noqa: E402
from ttport.runner import peak_rss_bytes  # noqa: E402


def sample_args(inputs: dict[str, Any]) -> dict[str, Any]:
    names = ("state", "input_ids", "pixel_values", "noise", "pixel_attention_mask")
    return {name: inputs[name] for name in names}


class Counter:
    """Deltas of the simulator's counters between successive `mark` calls."""

    def __init__(self, device: Any):
        self.device = device
        self.last = sim.stats(device)
        self.phases: dict[str, dict[str, Any]] = {}

    def mark(self, phase: str) -> dict[str, Any]:
        now = sim.stats(self.device)
        delta = counter_delta(self.last, now)
        self.phases[phase] = delta
        self.last = now
        return delta


def device_discipline(model: Any, inputs: dict[str, Any], device: Any) -> dict[str, Any]:
    """One sample_actions, phase by phase (the same calls PI0PolicyTTNN.sample_actions makes), counted;
    then one extra denoising step on its own for the per-step op count."""
    counter = Counter(device)
    args = sample_args(inputs)
    uploaded = model.upload_inputs(
        model.host_inputs(args["input_ids"], args["pixel_attention_mask"], args["state"], args["noise"])
    )
    counter.mark("inputs")
    prefix = model.embed_prefix(args["pixel_values"], args["pixel_attention_mask"], uploaded)
    counter.mark("prefix")
    cache = model.prefix_cache(prefix, uploaded)
    ttnn.deallocate(prefix)
    counter.mark("cache")
    final = model.denoise(uploaded, cache)
    counter.mark("loop")
    model.actions(final, uploaded)
    counter.mark("download")
    ttnn.deallocate(final)
    state_embeds = model.embed_action_time.state_embeds(uploaded.state)
    terms = model.time_terms(uploaded)
    joint = joint_cache(cache)
    ttnn.deallocate(model.velocity(uploaded.noise, terms[0], state_embeds, uploaded, joint))  # joins K/V
    counter.mark("loop preamble")
    # a step as the loop runs it after the first: the joined keys/values rewritten in their own rows
    velocity = model.velocity(uploaded.noise, terms[0], state_embeds, uploaded, joint)
    update = ttnn.multiply(velocity, uploaded.dt_rows)
    noise = ttnn.add(uploaded.noise, update)
    step = counter.mark("one step")
    for tensor in (velocity, update, noise, state_embeds, *terms):
        ttnn.deallocate(tensor)
    release_joint(joint)
    release_cache(cache)
    uploaded.release()
    phases = counter.phases
    total = {
        k: sum(phases[p][k] for p in ("inputs", "prefix", "cache", "loop", "download"))
        for k in step
        if k != "ops_by_name"
    }
    return {"phases": phases, "sample_actions": total, "ops_per_step": step["device_ops"]}


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, PRESETS, "full")
    args = parser.parse_args(argv)
    if PRESETS[args.preset].policy is None:
        parser.error(f"preset {args.preset} has no policy")
    torch.manual_seed(0)
    port = PI0Port()
    ctx = RunContext(port=port, preset=args.preset, seed=0)

    start = time.perf_counter()
    ctx.reference = port.build_reference(args.preset, None, 0)
    ctx.inputs = port.make_inputs(args.preset, 0, ctx.reference)
    reference_build = time.perf_counter() - start
    with torch.no_grad():
        _, ref_times, expected = median_seconds(
            lambda: ctx.reference.sample_actions(**sample_args(ctx.inputs)), args.runs
        )
    rss_reference = peak_rss_bytes()

    counters: dict[str, Any] = {}
    with open_device() as device:
        ctx.device = device
        build_start = time.perf_counter()
        ctx.model = build_policy(ctx)  # drops the reference, streams its weights
        gc.collect()
        build_seconds = time.perf_counter() - build_start
        if is_simulator():
            counters = device_discipline(ctx.model, ctx.inputs, device)
        _, port_times, actual = median_seconds(
            lambda: ctx.model.sample_actions(**sample_args(ctx.inputs)), args.runs
        )

    pcc = comp_pcc(expected, actual)[1]
    figures = {
        **timing_figures(args.preset, args.runs, ref_times, port_times),
        "reference_build_seconds": reference_build,
        "port_build_seconds": build_seconds,
        "actions_pcc": pcc,
        "peak_rss_bytes_reference": rss_reference,
        "peak_rss_bytes": peak_rss_bytes(),
        **counters,
    }
    print(f"pi0 policy sample_actions [{args.preset}], median of {args.runs}:")
    print_timings(figures, digits=2, goal=None)
    print(f"  actions PCC vs reference:       {pcc:.6f}")
    print(f"  build: reference {reference_build:.1f} s, port {build_seconds:.1f} s (streamed)")
    print(
        f"  peak RSS: {rss_reference / 2**30:.2f} GiB after the reference, "
        f"{figures['peak_rss_bytes'] / 2**30:.2f} GiB overall"
    )
    if counters:
        for phase, delta in counters["phases"].items():
            print(
                f"  {phase:14s} uploads {delta['uploads']:3d}  downloads {delta['downloads']:2d}  "
                f"device ops {delta['device_ops']:5d}"
            )
        total = counters["sample_actions"]
        print(
            f"  sample_actions: {total['uploads']} upload(s), {total['downloads']} download(s), "
            f"{total['device_ops']} device ops; {counters['ops_per_step']} device ops per denoising step"
        )
        print(
            "  one step: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counters["phases"]["one step"]["ops_by_name"].items()))
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
