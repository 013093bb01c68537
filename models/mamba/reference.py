"""The transformers reference (MambaForCausalLM, fp32, eval) and what the components compare it with.

Random weights: transformers' init is kept where it carries structure (A_log = log(1..N), the Δt bias as
the inverse softplus of a log-uniform Δt in [0.001, 0.1]); matrices get std 1/sqrt(fan_in) like a trained
network and the norm, D and conv parameters get noise, so that every part of a layer moves the output
(a wrong norm weight or D would hardly show with transformers' ones). The full model (2.8 B parameters,
11 GB in fp32) is built on the meta device and filled in place, so it is never held twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import torch
from transformers import MambaForCausalLM
from transformers.models.mamba import modeling_mamba

from .checkpoint import check_config, load_config, read_backbone
from .presets import MambaPreset


@torch.no_grad()
def randomize_(model: MambaForCausalLM, seed: int) -> None:
    config = model.config
    generator = torch.Generator().manual_seed(seed)

    def noise(param: torch.Tensor) -> torch.Tensor:
        return param.normal_(generator=generator)

    for name, param in model.named_parameters():
        if name.endswith("A_log"):
            n = param.shape[-1]
            param.copy_(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).expand_as(param))
        elif name.endswith("dt_proj.bias"):
            low, high = math.log(config.time_step_min), math.log(config.time_step_max)
            dt = torch.exp(torch.rand(param.shape, generator=generator) * (high - low) + low)
            param.copy_(dt + torch.log(-torch.expm1(-dt)))
        elif name.endswith("embeddings.weight"):
            noise(param).mul_(0.1)
        elif name.endswith(("norm.weight", "norm_f.weight", ".D")):
            noise(param).mul_(0.1).add_(1.0)
        elif name.endswith("conv1d.bias"):
            noise(param).mul_(0.05)
        elif name.endswith("conv1d.weight"):
            noise(param).mul_(param.shape[-1] ** -0.5)
        else:  # in_proj, x_proj, dt_proj, out_proj: [out, in]
            noise(param).mul_(param.shape[-1] ** -0.5)


def build_reference(preset: MambaPreset, weights: Path | None, seed: int) -> MambaForCausalLM:
    with torch.device("meta"):
        model = MambaForCausalLM(preset.config())
    if weights is None:
        model = model.to_empty(device="cpu")
        randomize_(model, seed)
    else:
        check_config(load_config(Path(weights)), preset)
        expected = {k: v.shape for k, v in model.backbone.state_dict().items()}
        model.backbone.load_state_dict(read_backbone(Path(weights), expected), strict=True, assign=True)
    model.tie_weights()
    return model.eval()


@contextmanager
def record(model: MambaForCausalLM) -> Iterator[dict[str, torch.Tensor]]:
    """What a forward of `model` computes inside the block, as fp32 copies: "embedding", "block {i} input",
    "block {i}", "in_proj {i}" (the mixer's projected input, [B, L, 2E]) and "final norm input"."""
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str, tensor: torch.Tensor) -> None:
        captured[name] = tensor.detach().float().clone()

    def on_block(i: int, _module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        keep(f"block {i} input", args[0] if args else kwargs["hidden_states"])
        keep(f"block {i}", output)

    backbone = model.backbone
    hooks = [
        backbone.embeddings.register_forward_hook(lambda _m, _a, out: keep("embedding", out)),
        backbone.norm_f.register_forward_pre_hook(lambda _m, args: keep("final norm input", args[0])),
    ]
    for i, layer in enumerate(backbone.layers):
        hooks.append(layer.register_forward_hook(partial(on_block, i), with_kwargs=True))
        hooks.append(
            layer.mixer.in_proj.register_forward_hook(lambda _m, _a, out, i=i: keep(f"in_proj {i}", out))
        )
    try:
        yield captured
    finally:
        for hook in hooks:
            hook.remove()


def conv_reference(mixer: Any, x: torch.Tensor) -> torch.Tensor:
    """The mixer's causal conv + activation on x [B, L, E] (transformers' own causal_conv1d_fn, the
    no-cache path of MambaMixer.forward) -> [B, L, E]."""
    out = modeling_mamba.causal_conv1d_fn(
        x.transpose(1, 2), mixer.conv1d.weight.squeeze(1), mixer.conv1d.bias, activation=mixer.activation
    )
    return out.transpose(1, 2)


def ssm_reference(mixer: Any, u: torch.Tensor) -> torch.Tensor:
    """The mixer's selective scan with the D skip (no gate) on the conv output u [B, L, E], the way
    MambaMixer.forward computes it (transformers' mamba_selective_scan) -> [B, L, E]."""
    time_step, b, c = torch.split(
        mixer.x_proj(u), [mixer.time_step_rank, mixer.ssm_state_size, mixer.ssm_state_size], dim=-1
    )
    time_step = mixer.dt_proj.weight @ time_step.transpose(1, 2)
    out = modeling_mamba.mamba_selective_scan(
        u.transpose(1, 2),
        time_step,
        -torch.exp(mixer.A_log.float()),
        b.transpose(1, 2),
        c.transpose(1, 2),
        D=mixer.D.float(),
        z=None,
        delta_bias=mixer.dt_proj.bias.float(),
        delta_softplus=True,
    )
    return out.transpose(1, 2)


def greedy_decode(
    model: MambaForCausalLM, prefill: Any, steps: int, forced: torch.Tensor | None = None
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Greedy generation after a prefill forward's output (logits + recurrent cache), one token per forward
    with transformers' cache: (the logits of each step [1, V], the tokens fed to those steps [1, steps]).
    With `forced` [1, steps] those tokens are fed instead of the argmax (teacher forcing, as the port's
    decode check feeds the reference's tokens: a perturbed model's steps stay comparable one by one)."""
    cache = prefill.cache_params
    token = prefill.logits[:, -1].argmax(-1, keepdim=True)
    fed, steps_logits = [], []
    for i in range(steps):
        if forced is not None:
            token = forced[:, i : i + 1]
        fed.append(token)
        out = model(token, cache_params=cache, use_cache=True)
        cache = out.cache_params
        logits = out.logits[:, -1].float()
        steps_logits.append(logits)
        token = logits.argmax(-1, keepdim=True)
    return steps_logits, torch.cat(fed, dim=1)
