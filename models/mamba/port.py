"""The `mamba` port: MambaForCausalLM on TTNN, compared with transformers' model component by component.

One reference prefill of the prompt, recorded by hooks (reference.record), gives the embedding, every
block's input and output, each mixer's projected input and the final norm's input; the conv and SSM of the
probe layers are recomputed from those with transformers' own functions. Each port piece runs on the
reference's own input (so per-piece figures do not compound upstream errors) from a fresh recurrent state,
over the whole prompt as the model's prefill runs it. End to end: the prefill logits, and
greedy decoding of `decode_steps` tokens with the recurrent state on device. The decode is teacher-forced:
the port is fed the reference's greedy tokens, so every step's logits are comparable; its own greedy
choices are the argmax of its logits, and "decode top-1" is the share of steps where they agree with the
reference's (when it is 1.0, the port's free-running generation is the reference's token for token).
"""

from __future__ import annotations

import gc
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.compare import Comparison, compare_outputs
from ttport.port import Component, Output, Port, RunContext

from .inputs import make_inputs
from .model import MambaTTNN
from .presets import PRESETS, THRESHOLDS
from .reference import build_reference, conv_reference, greedy_decode, record, ssm_reference

_TRACE = "mamba reference"
_PORT_DECODE = "mamba port decode logits"


def reference_trace(ctx: RunContext) -> dict[str, Any]:
    """Every reference output, computed once per run (before the reference is dropped)."""
    if _TRACE in ctx.store:
        return ctx.store[_TRACE]
    model, config = ctx.reference, ctx.config
    with torch.no_grad():
        with record(model) as trace:
            prefill = model(ctx.inputs["input_ids"], use_cache=True)
        trace["logits"] = prefill.logits.float()
        trace["final norm"] = model.backbone.norm_f(trace["final norm input"]).float()
        e = config.intermediate_size
        for i in config.probe_layers:
            mixer = model.backbone.layers[i].mixer
            trace[f"conv {i}"] = conv_reference(mixer, trace[f"in_proj {i}"][..., :e]).float()
            trace[f"ssm {i}"] = ssm_reference(mixer, trace[f"conv {i}"]).float()
        trace["decode"], trace["decode tokens"] = greedy_decode(model, prefill, config.decode_steps)
    ctx.store[_TRACE] = trace
    return trace


def _reference(key: str, ctx: RunContext) -> Output:
    return reference_trace(ctx)[key]


def _upload(x: torch.Tensor, device: Any, dtype: Any = None) -> Any:
    """A reference activation [1, L, W] as a [1, 1, L, W] TILE device tensor."""
    return ttnn.from_torch(
        x.unsqueeze(1), dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )


def _download(t: Any) -> torch.Tensor:
    """[1, 1, L, W] device tensor -> [1, L, W] fp32 torch."""
    out = ttnn.to_torch(t).float()
    ttnn.deallocate(t)
    return out.squeeze(1)


def _port_embedding(ctx: RunContext) -> torch.Tensor:
    return _download(ctx.model.embed(ctx.inputs["input_ids"]))


def _port_conv(i: int, ctx: RunContext) -> torch.Tensor:
    """Layer i's conv (and SiLU) on the reference's in_proj output, from a zero conv state."""
    conv = ctx.model.layers[i].mixer.conv
    x = _upload(reference_trace(ctx)[f"in_proj {i}"][..., : ctx.config.intermediate_size], ctx.device)
    state = conv.initial_state(ctx.device)
    out, new_state = conv(x, state)
    for t in (x, state, new_state):
        ttnn.deallocate(t)
    return _download(out)


def _port_ssm(i: int, ctx: RunContext) -> torch.Tensor:
    """Layer i's selective scan (with the D skip) on the reference's conv output, from a zero state."""
    ssm = ctx.model.layers[i].mixer.ssm
    x = _upload(reference_trace(ctx)[f"conv {i}"], ctx.device)
    h = ssm.initial_state(ctx.device)
    out, new_h = ssm(x, h, decode=False)
    for t in (x, h, new_h):
        ttnn.deallocate(t)
    return _download(out)


def _port_block(i: int, ctx: RunContext) -> torch.Tensor:
    """Block i on the reference block's input (float32 residual stream), from a zero state."""
    block = ctx.model.layers[i]
    x = _upload(reference_trace(ctx)[f"block {i} input"], ctx.device, ttnn.float32)
    state = block.initial_state(ctx.device)
    out = block(x, state, decode=False)
    state.deallocate()
    ttnn.deallocate(x)
    return _download(out)


def _port_final_norm(ctx: RunContext) -> torch.Tensor:
    x = _upload(reference_trace(ctx)["final norm input"], ctx.device, ttnn.float32)
    out = ctx.model.norm_f(x)
    ttnn.deallocate(x)
    return _download(out)


def _port_logits(ctx: RunContext) -> torch.Tensor:
    return _download(ctx.model.prefill(ctx.inputs["input_ids"]))


def _port_decode(ctx: RunContext) -> list[torch.Tensor]:
    """Prefill the prompt, then one decode step per reference token: each step's logits [1, V]."""
    model = ctx.model
    ttnn.deallocate(model.prefill(ctx.inputs["input_ids"]))
    tokens = reference_trace(ctx)["decode tokens"]
    steps = [_download(model.decode(tokens[:, i : i + 1]))[:, -1] for i in range(tokens.shape[1])]
    ctx.store[_PORT_DECODE] = steps
    return steps


def top1_agreement(reference: list[torch.Tensor], actual: list[torch.Tensor], threshold: float) -> Comparison:
    """Share of decode steps whose greedy token (argmax of the logits) is the reference's (the score goes in
    the Comparison's `pcc` slot; the component's metric names it), with the logits' errors over the steps."""
    if len(reference) != len(actual) or not reference:
        return Comparison(
            False, None, None, None, f"port decoded {len(actual)} steps, reference {len(reference)}"
        )
    errors = compare_outputs(reference, actual, -1.0)
    agree = [int(r.argmax(-1).item() == a.argmax(-1).item()) for r, a in zip(reference, actual, strict=True)]
    share = sum(agree) / len(agree)
    failure = None
    if share < threshold:
        failure = f"top-1 agreement {share:.4f} < {threshold}; first disagreement at step {agree.index(0)}"
    return Comparison(share >= threshold, share, errors.rel_rms_error, errors.max_abs_error, failure)


class MambaPort(Port):
    name = "mamba"
    description = (
        "Mamba (MambaForCausalLM): selective-scan language model, prefill and recurrent greedy decode"
    )
    presets = PRESETS

    def build_reference(self, preset: str, weights: Path | None, seed: int) -> torch.nn.Module:
        return build_reference(PRESETS[preset], weights, seed)

    def make_inputs(self, preset: str, seed: int, reference: torch.nn.Module) -> dict[str, Any]:
        return make_inputs(PRESETS[preset], seed)

    def build_model(self, ctx: RunContext) -> MambaTTNN:
        # Every reference output is recorded by now (core/runner.py runs them first): drop the reference
        # and let the model consume its state dict tensor by tensor, so the fp32 weights (11 GB at full
        # size) shrink while the bfloat16 device copies grow. transformers' MambaModel is a reference cycle
        # (its load_state_dict pre-hook is its own bound method): only the cycle collector frees its
        # parameters, so it runs here, before the state dict's tensors are the weights' last owners.
        reference_trace(ctx)
        state_dict = ctx.reference.state_dict()
        ctx.reference = None
        gc.collect()
        return MambaTTNN(ctx.config, state_dict, ctx.device)

    def components(self, preset: str) -> list[Component]:
        config = PRESETS[preset]
        components = [
            Component(
                "embedding",
                partial(_reference, "embedding"),
                _port_embedding,
                THRESHOLDS["embedding"],
                "ttnn.embedding of the prompt (float32 output for the residual stream)",
            )
        ]
        for i in config.probe_layers:
            components += [
                Component(
                    f"conv (layer {i})",
                    partial(_reference, f"conv {i}"),
                    partial(_port_conv, i),
                    THRESHOLDS["conv"],
                    "causal depthwise conv1d + SiLU with its state, on the reference's in_proj output",
                ),
                Component(
                    f"ssm (layer {i})",
                    partial(_reference, f"ssm {i}"),
                    partial(_port_ssm, i),
                    THRESHOLDS["ssm"],
                    "selective scan (prefix_scan) with the D skip, on the reference's conv output",
                ),
            ]
        components += [
            Component(
                f"block {i}",
                partial(_reference, f"block {i}"),
                partial(_port_block, i),
                THRESHOLDS["block"],
                "RMSNorm + mixer + residual on the reference block's input",
            )
            for i in range(config.num_hidden_layers)
        ]
        components += [
            Component(
                "final norm",
                partial(_reference, "final norm"),
                _port_final_norm,
                THRESHOLDS["final norm"],
                "norm_f on the reference's last block output",
            ),
            Component(
                "logits (prefill)",
                partial(_reference, "logits"),
                _port_logits,
                THRESHOLDS["logits"],
                "end to end: prompt ids -> logits of every position",
            ),
            Component(
                "decode",
                partial(_reference, "decode"),
                _port_decode,
                THRESHOLDS["decode"],
                f"{config.decode_steps} greedy decode steps (teacher-forced): lowest PCC of the steps' logits",
            ),
            Component(
                "decode top-1",
                partial(_reference, "decode"),
                lambda ctx: ctx.store[_PORT_DECODE],
                config.top1_floor,
                "share of decode steps whose argmax is the reference's greedy token",
                metric="top-1 agreement",
                compare=top1_agreement,
            ),
        ]
        return components
