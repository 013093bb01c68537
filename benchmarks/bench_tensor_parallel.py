"""Tensor-parallel ports on simulated meshes: per-chip memory and collective traffic of one inference, preset
by preset (the same architecture on 1, 2, 4 or 8 chips), and the output against the first preset's.

    python benchmarks/bench_tensor_parallel.py pi0 --presets tiny-tp1,tiny-tp2,tiny-tp8
    python benchmarks/bench_tensor_parallel.py pi0 --presets mid,mid-tp2,mid-tp8
    python benchmarks/bench_tensor_parallel.py clip --presets tiny,tiny-tp2,tiny-tp4

One inference: PI0's `sample_actions` (output: the actions); both CLIP encoders on the prompt batch (output:
enc2's last_hidden_state). Per preset: the weights one chip holds (all of them, and the split matmul weights
alone: Gemma's q/k/v, o, gate, up, down; CLIP's q/k/v, out_proj, fc1, fc2), the peak DRAM of the busiest chip
during one inference (weights included), the bytes the chips sent each other over ethernet in that inference
(ttport.sim.stats: ccl_bytes_sent, summed over the chips) and how many collective ops each chip ran, the wall
time of one inference on the simulator (median of --runs), the PCC of the output against the reference and
against the first preset's port. The peak RSS printed last is the process's (one preset per process reads
it per preset).
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
from ttport.models.clip.port import ClipModel, ClipPort  # noqa: E402
from ttport.models.clip.reference import ClipEncoderPair, make_inputs  # noqa: E402
from ttport.models.pi0.port import PI0Port, build_policy  # noqa: E402
from ttport.port import RunContext  # noqa: E402
from ttport.runner import peak_rss_bytes  # noqa: E402

SAMPLE_ARGS = ("state", "input_ids", "pixel_values", "noise", "pixel_attention_mask")
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter")
MIB = 2**20


def per_chip_bytes(tensors: list[Any]) -> int:
    """Bytes one chip holds of `tensors` (bfloat16 or bfloat8_b, tile-padded)."""
    total = 0
    for tensor in tensors:
        device = tensor.device()
        on_mesh = hasattr(device, "get_num_devices") and device.get_num_devices() > 1
        chip = ttnn.get_device_tensors(tensor)[0] if on_mesh else tensor
        rows, cols = chip.padded_shape[-2], chip.padded_shape[-1]
        total += int(rows * cols * (1088 / 1024 if chip.dtype == ttnn.bfloat8_b else 2))
    return total


class Pi0:
    port = PI0Port()

    def setup(self, preset: str, infer: bool) -> tuple[RunContext, torch.Tensor | None]:
        ctx = RunContext(port=self.port, preset=preset, seed=0)
        torch.manual_seed(0)
        ctx.reference = self.port.build_reference(preset, None, 0)
        ctx.inputs = self.port.make_inputs(preset, 0, ctx.reference)
        if not infer:
            return ctx, None
        with torch.no_grad():
            expected = ctx.reference.sample_actions(**self.args(ctx))
        return ctx, expected

    @staticmethod
    def args(ctx: RunContext) -> dict[str, Any]:
        return {name: ctx.inputs[name] for name in SAMPLE_ARGS}

    def build(self, ctx: RunContext) -> Any:
        return build_policy(ctx)

    def infer(self, ctx: RunContext) -> torch.Tensor:
        return ctx.model.sample_actions(**self.args(ctx))

    @staticmethod
    def split_weights(model: Any) -> list[Any]:
        return [
            w
            for layer in [*model.language_model.layers, *model.dit.layers]
            for w in (
                layer.self_attn.qkv_weight,
                layer.self_attn.o_weight,
                layer.mlp.gate_weight,
                layer.mlp.up_weight,
                layer.mlp.down_weight,
            )
        ]


class Clip:
    port = ClipPort()

    def setup(self, preset: str, infer: bool) -> tuple[RunContext, torch.Tensor | None]:
        ctx = RunContext(port=self.port, preset=preset, seed=0)
        ctx.reference = ClipEncoderPair(ctx.config, 0)
        ctx.inputs = make_inputs(ctx.config, 0)
        if not infer:
            return ctx, None
        with torch.no_grad():
            inputs = ctx.inputs["enc2"]
            expected = ctx.reference.encoder("enc2")(**inputs).last_hidden_state
        return ctx, expected

    def build(self, ctx: RunContext) -> Any:
        config = ctx.config
        return ClipModel(
            ctx.reference,
            ctx.device,
            seq_len=config.seq_len,
            tensor_parallel=config.tensor_parallel,
            weights_dtype=getattr(ttnn, config.weights_dtype),
        )

    def infer(self, ctx: RunContext) -> torch.Tensor:
        outputs = {}
        for name in ("enc1", "enc2"):
            encoder, inputs = ctx.model[name], ctx.inputs[name]
            outputs[name] = encoder(encoder.preprocess(inputs["input_ids"], inputs["attention_mask"]))
        hidden = ctx.model.parallel.to_torch(outputs["enc2"].last_hidden_state)
        return hidden.reshape(hidden.shape[0], hidden.shape[2], hidden.shape[3])

    @staticmethod
    def split_weights(model: Any) -> list[Any]:
        return [
            w
            for name in ("enc1", "enc2")
            for layer in model[name].layers
            for w in (
                layer.self_attn.qkv_weight,
                layer.self_attn.out_weight,
                layer.mlp.fc1_weight,
                layer.mlp.fc2_weight,
            )
        ]


PORTS = {"pi0": Pi0, "clip": Clip}


def measure(runner: Any, preset: str, runs: int, infer: bool = True) -> dict[str, Any]:
    ctx, expected = runner.setup(preset, infer)
    mesh = runner.port.mesh_shape_for(preset)
    with board_for(mesh), open_for(mesh) as device:
        chips = device.get_devices() if hasattr(device, "get_devices") else [device]
        before = max(chip.stats.dram_bytes for chip in chips)
        ctx.device = device
        start = time.perf_counter()
        ctx.model = runner.build(ctx)
        ctx.reference = None
        gc.collect()
        build = time.perf_counter() - start
        weights = max(chip.stats.dram_bytes for chip in chips) - before
        split = per_chip_bytes(runner.split_weights(ctx.model))
        if not infer:
            return {"preset": preset, "chips": len(chips), "weights": weights, "split_weights": split}
        sim.reset_stats(device)
        output = runner.infer(ctx)
        stats = sim.stats(device)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            runner.infer(ctx)
            times.append(time.perf_counter() - start)
        return {
            "preset": preset,
            "chips": len(chips),
            "weights": weights,
            "split_weights": split,
            "peak_dram": stats.peak_dram_bytes,
            "ccl_bytes": stats.ccl_bytes_sent,
            "collectives": {name: stats.ops_by_name.get(name, 0) // len(chips) for name in COLLECTIVES},
            "seconds": sorted(times)[len(times) // 2],
            "build_seconds": build,
            "pcc_reference": comp_pcc(expected, output)[1],
            "output": output,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("port", choices=sorted(PORTS))
    parser.add_argument("--presets", required=True, help="comma-separated presets of the port")
    parser.add_argument("--runs", type=int, default=3, help="timed inferences per preset (median)")
    parser.add_argument(
        "--weights-only",
        action="store_true",
        help="build each preset and report its weights per chip, no inference",
    )
    args = parser.parse_args(argv)
    runner = PORTS[args.port]()
    presets = args.presets.split(",")
    unknown = [p for p in presets if p not in runner.port.presets]
    if args.port == "pi0":
        unknown += [p for p in presets if p in runner.port.presets and runner.port.presets[p].policy is None]
    if unknown:
        parser.error(f"not a {args.port} preset this benchmark runs: {', '.join(unknown)}")
    if not is_simulator():
        parser.error("the per-chip counters come from the simulator")
    results = [measure(runner, preset, args.runs, infer=not args.weights_only) for preset in presets]
    if args.weights_only:
        print(f"{'preset':10s} {'chips':>5s} {'weights/chip':>13s} {'split/chip':>11s}")
        for r in results:
            print(
                f"{r['preset']:10s} {r['chips']:5d} {r['weights'] / MIB:9.1f} MiB {r['split_weights'] / MIB:7.1f} MiB"
            )
        print(f"peak RSS {peak_rss_bytes() / 2**30:.2f} GiB")
        return 0
    first = results[0]["output"]
    print(
        f"{'preset':10s} {'chips':>5s} {'weights/chip':>13s} {'split/chip':>11s} {'peak DRAM/chip':>15s} "
        f"{'CCL sent':>10s} {'collectives/chip':>26s} {'s/inference':>11s} {'PCC ref':>9s} {'PCC 1st':>9s}"
    )
    for r in results:
        counts = ", ".join(f"{name} {n}" for name, n in r["collectives"].items() if n)
        print(
            f"{r['preset']:10s} {r['chips']:5d} {r['weights'] / MIB:10.1f} MiB {r['split_weights'] / MIB:8.1f} MiB"
            f" {r['peak_dram'] / MIB:12.1f} MiB {r['ccl_bytes'] / MIB:6.2f} MiB {counts or '-':>26s}"
            f" {r['seconds']:11.2f} {r['pcc_reference']:9.6f} {comp_pcc(first, r['output'])[1]:9.6f}"
        )
    print(f"peak RSS {peak_rss_bytes() / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
