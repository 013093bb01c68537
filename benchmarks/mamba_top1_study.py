"""Can a Mamba port that stores its weights in bfloat16 reach the decode top-1 goal (>= 0.95 of 32 teacher-forced
greedy steps agreeing with the fp32 reference) on the seeded random weights, or do the weights forbid it?

    flock /tmp/ttport-full.lock python benchmarks/mamba_top1_study.py --preset full [--seed 0]
        [--parts m,b,v,d,c] [--noise-seeds 1,2,3] [--noise-scales 1] [--json out.json]

Everything runs on transformers' MambaForCausalLM (no port, no simulator), built, prompted and decoded by the
port's own code (reference.build_reference, inputs.make_inputs, reference.greedy_decode), so the steps are
exactly the ones `ttport run mamba` compares. One model is held at a time (11 GB at full size); between the
variants only logits are kept and the weights are regenerated in place from the seed.

    a  the fp32 reference: prefill of the prompt, 32 greedy decode steps. Per step: the greedy token, the
       top-1 / top-2 logit margin, absolutely and relative to the step logits' std.
    m  the same model with its 2-D weight matrices rounded to bfloat16 (the embedding = LM head, in_proj,
       x_proj, dt_proj, out_proj: 99.9 % of the parameters, what must be bfloat16 for the model to fit a
       12 GB card), the vectors (norms, D, Δt bias, A_log, conv) kept fp32, computed in float32, fed a's
       tokens (teacher forcing).
    b  the same model with every weight rounded to bfloat16 (round to nearest even), computed in float32,
       teacher-forced: the error any bfloat16-weight port starts from, before its own
       arithmetic. Top-1 agreement with a.
    c  transformers' own model cast to bfloat16 (`model.to(torch.bfloat16)`: bfloat16 weights and
       activations, the residual in float32 as the config says), teacher-forced.
    v  one group of the per-channel parameters rounded to bfloat16 at a time (A_log, D, the norms' weights,
       the Δt bias, the conv's weight and bias), the rest fp32: which of the 0.1 % matter.
    d  the fp32 weights plus their bfloat16 rounding error with a random sign per weight (noise seed s),
       times each --noise-scales factor: perturbations exactly as large, weight by weight, as bfloat16's
       (scale 1), or smaller (a scale 0.5 is what one more mantissa bit would give), to show the spread.

For each variant against a: top-1 agreement over the steps (and over the prompt's prefill positions), the
shift of a's top-1/top-2 margin per step, the RMS of the logits' change, and the agreement a Gaussian model
predicts from those two (each step's margin against a shift of sqrt(2) x the logit change's RMS) and the
chance it gives of reaching the preset's floor (0.95: at most 1 flip in 32). When prediction and count agree,
the flips are the margins' doing, not a particular rounding's.

Measured on `full`, seed 0 (`--parts m,b,d,c --noise-seeds 1,2,3`, then `--parts m,v,d --noise-seeds 4,5,6,7
--noise-scales 1,0.5,0.25,0.125`; peak RSS 13.6 GiB): the reference's margins are those of 50280 random
logits (std 5.1, so the two largest are ~std / sqrt(2 ln V) = 1.10 apart; median margin 1.06), six of the 32
under 0.16 (0.029 at step 10). bfloat16 weights move the logits by 0.24 RMS (a margin by 0.34), so those
steps are coin tosses: all weights rounded 30/32, only the matrices rounded 28/32, bfloat16-sized noise
26-30/32 for 7 of 7 seeds (predicted 0.905, P(>= 31/32) 0.13), the whole model in bfloat16 25/32 (the port:
26/32); rounding nothing but D (0.01 % of the weights) flips 3 steps. At 1/2, 1/4, 1/8 of bfloat16's error
the noise reaches 31/32 for 1, 2 and 4 of 4 seeds: a 0.95 that holds needs ~1/8 of the logit error
bfloat16 weights alone cause (3 more mantissa bits), i.e. fp32-class weights (11 GB) and arithmetic.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ttport.models.mamba.inputs import make_inputs
from ttport.models.mamba.presets import PRESETS
from ttport.models.mamba.reference import build_reference, greedy_decode, randomize_
from ttport.runner import peak_rss_bytes
from ttport.safe_write import write_bytes

#: elements per chunk when perturbing a weight in place (bounds the temporaries of the 128 M-element embedding)
_CHUNK = 1 << 22


@dataclass
class Decoded:
    """One variant's logits: prefill [L, V] and the decode steps [S, V] (fp32), and the tokens fed [S]."""

    prefill: torch.Tensor
    steps: torch.Tensor
    tokens: torch.Tensor


@torch.no_grad()
def decode(
    model: torch.nn.Module, input_ids: torch.Tensor, steps: int, forced: torch.Tensor | None
) -> Decoded:
    """The port's decode check on the reference: prefill, then `steps` greedy steps (or `forced` tokens)."""
    prefill = model(input_ids, use_cache=True)
    logits, tokens = greedy_decode(model, prefill, steps, forced)
    return Decoded(prefill.logits[0].float(), torch.cat(logits).float(), tokens[0])


def margins(steps: torch.Tensor) -> dict[str, list]:
    """Per step: top-1 and top-2 token, their logit margin, the logits' std and the margin / std."""
    top = steps.topk(2, dim=-1)
    margin = top.values[:, 0] - top.values[:, 1]
    std = steps.std(dim=-1)
    return {
        "top1": top.indices[:, 0].tolist(),
        "top2": top.indices[:, 1].tolist(),
        "margin": margin.tolist(),
        "std": std.tolist(),
        "relative_margin": (margin / std).tolist(),
    }


def pass_probability(keep: torch.Tensor, floor: float) -> float:
    """P(share of kept steps >= floor) when step s is kept with probability keep[s], independently (the
    Poisson-binomial distribution of the count, by dynamic programming)."""
    count = torch.zeros(keep.numel() + 1, dtype=torch.float64)
    count[0] = 1.0
    for p in keep.double().tolist():
        count[1:] = count[1:] * (1 - p) + count[:-1] * p
        count[0] *= 1 - p
    needed = math.ceil(floor * keep.numel() - 1e-9)
    return count[needed:].sum().item()


def compare(base: Decoded, other: Decoded, floor: float = 0.95) -> dict[str, Any]:
    """`other` against `base` (the fp32 reference): agreement, margin shifts, the predicted agreement and the
    predicted chance of reaching `floor`."""
    top = base.steps.topk(2, dim=-1).indices
    rows = torch.arange(base.steps.shape[0])
    margin = base.steps[rows, top[:, 0]] - base.steps[rows, top[:, 1]]
    other_margin = other.steps[rows, top[:, 0]] - other.steps[rows, top[:, 1]]
    agree = other.steps.argmax(-1) == top[:, 0]
    delta_rms = (other.steps - base.steps).pow(2).mean(-1).sqrt()
    # a flip needs the top-2 pair's difference to move by more than the margin; with logit changes of RMS r,
    # independent across the vocabulary, that difference moves by N(0, 2 r^2)
    keep = 0.5 * (1 + torch.erf(margin / (2 * delta_rms).clamp_min(torch.finfo(torch.float32).tiny)))
    prefill_agree = other.prefill.argmax(-1) == base.prefill.argmax(-1)
    return {
        "top1_agreement": agree.float().mean().item(),
        "agree": agree.int().tolist(),
        "margin_shift": (other_margin - margin).tolist(),
        "logit_delta_rms": delta_rms.tolist(),
        "predicted_agreement": keep.mean().item(),
        "predicted_pass_probability": pass_probability(keep, floor),
        "prefill_top1_agreement": prefill_agree.float().mean().item(),
    }


@torch.no_grad()
def is_matrix(name: str, param: torch.Tensor) -> bool:
    """The weight matrices: the embedding = LM head, in_proj, x_proj, dt_proj, out_proj (99.9 % of
    mamba-2.8b's parameters, what must be bfloat16 for it to fit a 12 GB card); A_log [E, N] is 2-D but
    per channel."""
    return param.dim() == 2 and not name.endswith(".A_log")


def _suffixes(*ends: str) -> Callable[[str, torch.Tensor], bool]:
    return lambda name, _param: name.endswith(ends)


#: part v: the per-channel parameters, group by group (with is_matrix they cover the model)
VECTOR_GROUPS: dict[str, Callable[[str, torch.Tensor], bool]] = {
    "A_log": _suffixes(".A_log"),
    "D": _suffixes(".D"),
    "norms": _suffixes(".norm.weight", ".norm_f.weight"),
    "dt bias": _suffixes(".dt_proj.bias"),
    "conv": _suffixes(".conv1d.weight", ".conv1d.bias"),
}


@torch.no_grad()
def round_weights_(
    model: torch.nn.Module,
    select: Callable[[str, torch.Tensor], bool] | None = None,
    dtype: torch.dtype = torch.bfloat16,
) -> float:
    """Round the weights `select` picks (all by default) to `dtype` in place (kept float32). Returns the
    matrices' change ||rounded - w|| / ||w|| (0 if none is rounded; a norm over everything would be the
    vectors', A_log's above all). named_parameters() yields the tied embedding once."""
    err2 = norm2 = 0.0
    for name, param in model.named_parameters():
        if select is not None and not select(name, param):
            continue
        rounded = param.to(dtype).to(param.dtype)
        if is_matrix(name, param):
            err2 += (rounded - param).double().pow(2).sum().item()
            norm2 += param.double().pow(2).sum().item()
        param.copy_(rounded)
    return math.sqrt(err2 / norm2) if norm2 else 0.0


@torch.no_grad()
def perturb_weights_(
    model: torch.nn.Module, seed: int, scale: float, dtype: torch.dtype = torch.bfloat16
) -> float:
    """w += scale * sign * (round_to_dtype(w) - w), one random sign per weight: bfloat16-sized noise, weight
    by weight, that is not bfloat16's rounding. Returns the matrices' ||perturbation|| / ||w|| (as
    round_weights_ does)."""
    generator = torch.Generator().manual_seed(seed)
    err2 = norm2 = 0.0
    for name, param in model.named_parameters():
        flat = param.view(-1)
        for start in range(0, flat.numel(), _CHUNK):
            chunk = flat[start : start + _CHUNK]
            error = chunk.to(dtype).to(chunk.dtype) - chunk
            sign = torch.randint(0, 2, chunk.shape, generator=generator, dtype=torch.int8).to(chunk.dtype)
            step = error.mul_(sign.mul_(2).sub_(1)).mul_(scale)
            if is_matrix(name, param):
                err2 += step.double().pow(2).sum().item()
                norm2 += chunk.double().pow(2).sum().item()
            chunk.add_(step)
    return math.sqrt(err2 / norm2)


def _print_variant(name: str, figures: dict[str, Any]) -> None:
    line = (
        f"{name}: decode top-1 {figures['top1_agreement']:.4f} "
        f"({sum(figures['agree'])}/{len(figures['agree'])}), predicted {figures['predicted_agreement']:.4f} "
        f"(P(>= floor) {figures['predicted_pass_probability']:.3f}), "
        f"prefill top-1 {figures['prefill_top1_agreement']:.4f}"
    )
    if "weight_relative_error" in figures:
        line += f", matrices changed by {figures['weight_relative_error']:.3e} of their norm"
    print(line + f"  [{figures['seconds']:.0f} s]", flush=True)


def _print_table(reference: dict[str, list], variants: dict[str, dict[str, Any]]) -> None:
    names = list(variants)
    print(f"{'step':>4} {'token':>6} {'margin':>8} {'m/std':>7}  " + "  ".join(f"{n:>16}" for n in names))
    for i, token in enumerate(reference["top1"]):
        cells = []
        for n in names:
            v = variants[n]
            cells.append(
                f"{'ok' if v['agree'][i] else 'FLIP':>4} {v['margin_shift'][i]:+6.3f}/{v['logit_delta_rms'][i]:.3f}"
            )
        print(
            f"{i:4d} {token:6d} {reference['margin'][i]:8.4f} {reference['relative_margin'][i]:7.4f}  "
            + "  ".join(f"{c:>16}" for c in cells)
        )
    print("cells: agreement, shift of the reference's top-1/top-2 margin / RMS of the logits' change")


def run_study(
    preset_name: str,
    seed: int,
    parts: list[str],
    noise_seeds: list[int],
    noise_scales: list[float],
    report: Callable[[dict[str, Any]], None] = lambda _: None,
) -> dict[str, Any]:
    """a, then the parts in `parts` ("m", "b", "c", "v", "d") in that order; `report` gets the figures after each
    part (for incremental writing). Returns the figures."""
    preset = PRESETS[preset_name]
    torch.manual_seed(seed)
    input_ids = make_inputs(preset, seed)["input_ids"]
    model = build_reference(preset, None, seed)
    figures: dict[str, Any] = {
        "preset": preset_name,
        "seed": seed,
        "steps": preset.decode_steps,
        "variants": {},
    }

    def timed(name: str, run: Callable[[], Decoded], extra: dict[str, Any] | None = None) -> Decoded:
        start = time.perf_counter()
        out = run()
        if name != "a":
            figures["variants"][name] = compare(base, out, preset.top1_floor) | (extra or {})
            figures["variants"][name]["seconds"] = time.perf_counter() - start
            _print_variant(name, figures["variants"][name])
        figures["peak_rss_gib"] = peak_rss_bytes() / 2**30
        report(figures)
        return out

    start = time.perf_counter()
    base = decode(model, input_ids, preset.decode_steps, None)
    figures["reference"] = margins(base.steps) | {"seconds": time.perf_counter() - start}
    figures["reference"]["prefill_margin"] = margins(base.prefill[-1:])["margin"][0]
    report(figures)
    print(f"a (fp32 reference): {figures['reference']['seconds']:.0f} s", flush=True)
    forced = base.tokens[None]

    def forced_decode() -> Decoded:
        return decode(model, input_ids, preset.decode_steps, forced)

    # what the model's weights are now: "fp32" (the seed's), "m" (matrices rounded), "bf16" (all rounded),
    # "vectors" (a group of them rounded) or "noise"; every part starts from the state it needs, regenerating the seed's weights in place if need be
    state, matrix_error = "fp32", 0.0

    def regenerate() -> None:
        nonlocal state
        if state != "fp32":
            randomize_(model, seed)
            gc.collect()
            state = "fp32"

    for part in parts:
        if part == "m":
            regenerate()
            matrix_error = round_weights_(model, is_matrix)
            state = "m"
            timed("m bf16 matrices", forced_decode, {"weight_relative_error": matrix_error})
        elif part in ("b", "c"):
            if state not in ("m", "bf16"):
                regenerate()
                matrix_error = round_weights_(model, is_matrix)
            round_weights_(model)  # the matrices' change is m's (rounding is idempotent)
            state = "bf16"
            if part == "b":
                timed("b bf16 weights", forced_decode, {"weight_relative_error": matrix_error})
            else:
                model.to(torch.bfloat16)
                timed("c bf16 model", forced_decode)
                model.float()  # exact: the weights are bfloat16 values
        elif part == "v":
            for group, select in VECTOR_GROUPS.items():
                regenerate()
                round_weights_(model, select)
                state = "vectors"
                timed(f"v bf16 {group}", forced_decode)
        elif part == "d":
            for noise_seed in noise_seeds:
                for scale in noise_scales:
                    regenerate()
                    error = perturb_weights_(model, noise_seed, scale)
                    state = "noise"
                    name = f"d noise s{noise_seed} x{scale:g}"
                    timed(name, forced_decode, {"weight_relative_error": error})
    _print_table(figures["reference"], figures["variants"])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0, help="weights and prompt seed (ttport run's --seed)")
    parser.add_argument("--parts", default="m,b", help="parts after a (which always runs first), in order")
    parser.add_argument("--noise-seeds", default="1,2,3", help="d's sign seeds, comma-separated")
    parser.add_argument(
        "--noise-scales", default="1", help="d's factors on the bfloat16 error, comma-separated"
    )
    parser.add_argument("--json", type=Path, help="write the figures here (rewritten after every part)")
    args = parser.parse_args(argv)
    parts = [p for p in dict.fromkeys(args.parts.split(",")) if p != "a"]
    if not set(parts) <= {"m", "b", "c", "v", "d"}:
        parser.error(f"--parts takes a subset of a,m,b,c,v,d, got {args.parts!r}")
    noise_seeds = [int(s) for s in args.noise_seeds.split(",")]
    noise_scales = [float(s) for s in args.noise_scales.split(",")]

    def report(figures: dict[str, Any]) -> None:
        if args.json is not None:
            write_bytes(args.json, json.dumps(figures, indent=1).encode())

    print(f"mamba top-1 study: preset {args.preset}, seed {args.seed}, parts a,{','.join(parts)}", flush=True)
    figures = run_study(args.preset, args.seed, parts, noise_seeds, noise_scales, report)
    print(f"peak RSS {figures['peak_rss_gib']:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
