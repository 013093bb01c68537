"""The policy's side of the `pi0` port: random reference weights for the Gemma stacks, the reference trace of
one transformers `sample_actions` call, the streaming build of the TTNN policy, and the compared components
("prefix embeddings", "kv cache layer N", "velocity (step 1)", "actions").

One reference `sample_actions` (same noise as the port) is recorded by hooks: the prefix embeddings
(PaliGemma's `inputs_embeds`), its key/value cache (cropped back to the prefix by the reference after every
step, so it holds exactly the prefix's K/V at the end), the first step's velocity, and the actions.
The port computes the prefix and its cache once per run for the prefix/kv/velocity components (kept on
device in ctx.store); "actions" runs the whole `sample_actions` from host inputs to host actions.
"""

from __future__ import annotations

import gc
from functools import partial
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip.reference import randomize_
from ttport.port import Component, RunContext

from .policy import DevicePolicyInputs, PI0PolicyTTNN, release_cache
from .policy_inputs import make_policy_inputs

#: reference modules of the policy (the image path is randomised by reference.build_reference)
POLICY_MODULES = ("model.vlm.language_model", "model.dit", "embed_action_time", "action_out_proj")
_TRACE = "pi0 policy reference"
_DEVICE = "pi0 policy device state"


@torch.no_grad()
def randomize_policy_(model: torch.nn.Module, seed: int, rows: int = 16384) -> None:
    """Trained-scale random weights for the Gemma LM, the expert and the action heads (see
    models/siglip/reference.py: transformers' init would make every layer a near no-op).

    Every leaf module is drawn on its own, so a Gemma RMSNorm weight is a small offset around 0 (scale
    1 + w, as in a trained Gemma) rather than randomize_'s layer-norm recipe around 1. The token embedding
    gets the same N(0, 1/hidden) draw in row blocks: Gemma 2B's 257152 x 2048 table at once would add two
    2 GB temporaries to the 14 GB reference. The expert's token embedding is never used and keeps
    transformers' init."""
    leaves = [
        leaf
        for name in POLICY_MODULES
        for leaf_name, leaf in model.get_submodule(name).named_modules()
        if not leaf_name.endswith("embed_tokens") and any(True for _ in leaf.parameters(recurse=False))
    ]
    for i, leaf in enumerate(leaves):
        randomize_(leaf, seed + 100 + i)
    table = model.model.vlm.language_model.embed_tokens.weight
    generator = torch.Generator().manual_seed(seed + 99)
    scale = table.shape[1] ** -0.5
    for start in range(0, table.shape[0], rows):
        block = table[start : start + rows]
        block.copy_(torch.randn(block.shape, generator=generator).mul_(scale))


def policy_inputs(preset: Any, seed: int, reference: torch.nn.Module) -> dict[str, torch.Tensor]:
    config = reference.config
    tower = config.vlm_config.vision_config
    tokens_per_image = (int(tower.image_size) // int(tower.patch_size)) ** 2
    return make_policy_inputs(preset, seed, tokens_per_image, int(config.vlm_config.image_token_id))


def _reference_trace(ctx: RunContext) -> dict[str, Any]:
    """Run transformers' sample_actions once, recording what the policy components compare."""
    if _TRACE in ctx.store:
        return ctx.store[_TRACE]
    model = ctx.reference
    vlm = model.model.vlm
    captured: dict[str, Any] = {}

    def on_vlm_input(_module: Any, _args: tuple, kwargs: dict) -> None:
        captured["prefix"] = kwargs["inputs_embeds"].detach().float().clone()

    def on_vlm_output(_module: Any, _args: tuple, _kwargs: dict, output: Any) -> None:
        captured["cache"] = output.past_key_values

    def on_step(_module: Any, _args: tuple, output: Any) -> None:
        captured.setdefault("velocity", output.logits.detach().float().clone())

    hooks = [
        vlm.register_forward_pre_hook(on_vlm_input, with_kwargs=True),
        vlm.register_forward_hook(on_vlm_output, with_kwargs=True),
        model.register_forward_hook(on_step),
    ]
    inputs = ctx.inputs
    try:
        with torch.no_grad():
            actions = model.sample_actions(
                state=inputs["state"],
                input_ids=inputs["input_ids"],
                pixel_values=inputs["pixel_values"],
                noise=inputs["noise"],
                pixel_attention_mask=inputs["pixel_attention_mask"],
            )
    finally:
        for hook in hooks:
            hook.remove()
    cache = captured.pop("cache")
    trace = {name: captured[name] for name in ("prefix", "velocity")}
    trace["actions"] = actions.float()
    for i, layer in enumerate(cache.layers):
        trace[f"kv {i}"] = (layer.keys.float().clone(), layer.values.float().clone())
    ctx.store[_TRACE] = trace
    return trace


def build_policy(ctx: RunContext) -> PI0PolicyTTNN:
    """The TTNN policy from the reference's weights, streamed: the reference module is dropped first and
    every weight leaves the state dict as soon as its device copy exists, so the fp32 reference and the
    port's weights are never held in full at the same time."""
    reference = ctx.reference
    config = reference.config
    state_dict = dict(reference.state_dict())
    ctx.reference = None
    del reference
    gc.collect()
    model = PI0PolicyTTNN(ctx.config, config, state_dict, ctx.device)
    state_dict.clear()
    gc.collect()
    return model


def _device_state(ctx: RunContext) -> dict[str, Any]:
    """Uploaded inputs, prefix embeddings and prefix cache of this run, computed once on device."""
    if _DEVICE not in ctx.store:
        model: PI0PolicyTTNN = ctx.model
        inputs = ctx.inputs
        uploaded = model.upload_inputs(
            model.host_inputs(
                inputs["input_ids"], inputs["pixel_attention_mask"], inputs["state"], inputs["noise"]
            )
        )
        prefix = model.embed_prefix(inputs["pixel_values"], inputs["pixel_attention_mask"], uploaded)
        ctx.store[_DEVICE] = {"inputs": uploaded, "prefix": prefix, "cache": None}
    return ctx.store[_DEVICE]


def _cache(ctx: RunContext) -> list[tuple[Any, Any]]:
    state = _device_state(ctx)
    if state["cache"] is None:
        state["cache"] = ctx.model.prefix_cache(state["prefix"], state["inputs"])
    return state["cache"]


def _release_device_state(ctx: RunContext) -> None:
    state = ctx.store.pop(_DEVICE, None)
    if state is None:
        return
    ttnn.deallocate(state["prefix"])
    if state["cache"] is not None:
        release_cache(state["cache"])
    state["inputs"].release()


def _port_prefix(ctx: RunContext) -> torch.Tensor:
    state = _device_state(ctx)
    length = state["inputs"].host.layout.length
    return ttnn.to_torch(state["prefix"]).float()[:, 0, :length]


def _port_kv(layer: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
    keys, values = _cache(ctx)[layer]
    length = _device_state(ctx)["inputs"].host.layout.length
    return tuple(ttnn.to_torch(t).float()[:, :, :length] for t in (keys, values))


def _port_velocity(ctx: RunContext) -> torch.Tensor:
    """The expert's first denoising step (t = 1) on the device prefix cache."""
    model: PI0PolicyTTNN = ctx.model
    cache = _cache(ctx)
    inputs: DevicePolicyInputs = _device_state(ctx)["inputs"]
    state_embeds = model.embed_action_time.state_embeds(inputs.state)
    time_terms = model.time_terms(inputs)
    velocity = model.velocity(inputs.noise, time_terms[0], state_embeds, inputs, cache)
    for tensor in (state_embeds, *time_terms):
        ttnn.deallocate(tensor)
    result = model.actions(velocity, inputs)
    ttnn.deallocate(velocity)
    _release_device_state(ctx)
    return result


def _port_actions(ctx: RunContext) -> torch.Tensor:
    _release_device_state(ctx)
    inputs = ctx.inputs
    return ctx.model.sample_actions(
        inputs["state"],
        inputs["input_ids"],
        inputs["pixel_values"],
        inputs["noise"],
        inputs["pixel_attention_mask"],
    )


def _reference(name: str, ctx: RunContext) -> Any:
    return _reference_trace(ctx)[name]


def policy_components(preset: Any) -> list[Component]:
    floors = preset.policy.thresholds
    layers = int(preset.policy.text["num_hidden_layers"])
    components = [
        Component(
            "prefix embeddings",
            partial(_reference, "prefix"),
            _port_prefix,
            floors["prefix"],
            "PI0Model.embed_prefix: tower + projector per present camera, scaled Gemma token embedding, merge",
        )
    ]
    components += [
        Component(
            f"kv cache layer {i}",
            partial(_reference, f"kv {i}"),
            partial(_port_kv, i),
            floors["kv"],
            "PaliGemma Gemma layer's keys and values over the prefix (rotated keys)",
        )
        for i in range(layers)
    ]
    components += [
        Component(
            "velocity (step 1)",
            partial(_reference, "velocity"),
            _port_velocity,
            floors["velocity"],
            "action-time embedding + expert over the device prefix cache + action_out_proj at t = 1",
        ),
        Component(
            "actions",
            partial(_reference, "actions"),
            _port_actions,
            floors["actions"],
            "sample_actions end to end: prefix, cache, Euler flow-matching loop on device, one download",
        ),
    ]
    return components
