"""The `pi0` port: PI0 on TTNN compared with transformers' PI0ForConditionalGeneration, component by component.

Image path (SigLIP vision tower + PaliGemma multi-modal projector, `model.model.vlm.get_image_features`):
one reference forward, with forward hooks on the patch embedding, the embeddings and every encoder
layer, records what each component compares (ctx.store["pi0 reference"]); each block of the port is then
run on the reference block's own input, so block errors do not compound in the per-block figures.

Policy: one reference `sample_actions` (same noise as the port) is recorded by hooks: the prefix embeddings
(PaliGemma's `inputs_embeds`), its key/value cache (cropped back to the prefix by the reference after
every step, so it holds exactly the prefix's K/V at the end), the first step's velocity, and the actions.
The port computes the prefix and its cache once per run for the prefix/kv/velocity components (kept on
device in ctx.store); "actions" runs the whole `sample_actions` from host inputs to host actions.
"""

from __future__ import annotations

import gc
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.compare import to_torch
from ttport.models.siglip.components import TowerComponents
from ttport.models.siglip.reference import randomize_, record_tower
from ttport.port import Component, Port, RunContext

from .inputs import make_inputs, make_policy_inputs
from .model import (
    DevicePolicyInputs,
    PI0ImagePathTTNN,
    PI0PolicyTTNN,
    joint_cache,
    release_cache,
    release_joint,
)
from .presets import PRESETS
from .reference import IMAGE_PATH_MODULES, build_reference

_IMAGE_TRACE = "pi0 reference"


def _image_trace(ctx: RunContext) -> dict[str, torch.Tensor]:
    """Reference outputs for the present cameras, from one `get_image_features` over every camera slot
    (as PI0's embed_prefix runs it), recorded by hooks; computed once per run."""
    if _IMAGE_TRACE not in ctx.store:
        vlm = ctx.reference.model.vlm
        pixel_values, mask = ctx.inputs["pixel_values"], ctx.inputs["pixel_attention_mask"]
        with torch.no_grad(), record_tower(vlm.vision_tower) as trace:
            output = vlm.get_image_features(pixel_values.flatten(0, 1))
            trace["tower"] = output.last_hidden_state.float()
            trace["features"] = output.pooler_output.float()
        present = mask.flatten()
        ctx.store[_IMAGE_TRACE] = {name: tensor[present] for name, tensor in trace.items()}
    return ctx.store[_IMAGE_TRACE]


def _image_args(ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
    return ctx.inputs["pixel_values"], ctx.inputs["pixel_attention_mask"]


def _images(ctx: RunContext) -> torch.Tensor:
    return ctx.model.images(*_image_args(ctx))


_TOWER = TowerComponents(_image_trace, _image_args, _images, "pi0 port features")


#: reference modules of the policy (the image path is randomised by reference.build_reference)
POLICY_MODULES = ("model.vlm.language_model", "model.dit", "embed_action_time", "action_out_proj")
_POLICY_TRACE = "pi0 policy reference"
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


def _policy_trace(ctx: RunContext) -> dict[str, Any]:
    """Run transformers' sample_actions once, recording what the policy components compare."""
    if _POLICY_TRACE in ctx.store:
        return ctx.store[_POLICY_TRACE]
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
    ctx.store[_POLICY_TRACE] = trace
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
    return to_torch(state["prefix"]).float()[:, 0, :length]


def _port_kv(layer: int, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
    keys, values = _cache(ctx)[layer]
    length = _device_state(ctx)["inputs"].host.layout.length
    heads = ctx.model.language_model.layers[layer].self_attn.heads
    # KV heads split over the chips are concatenated back; a replicated head is read from chip 0
    mesh_dim = None if heads.factor == 1 or heads.kv_replicated else 1
    return tuple(to_torch(t, mesh_dim=mesh_dim).float()[:, :, :length] for t in (keys, values))


def _port_velocity(ctx: RunContext) -> torch.Tensor:
    """The expert's first denoising step (t = 1) on the device prefix cache."""
    model: PI0PolicyTTNN = ctx.model
    cache = _cache(ctx)
    inputs: DevicePolicyInputs = _device_state(ctx)["inputs"]
    state_embeds = model.embed_action_time.state_embeds(inputs.state)
    time_terms = model.time_terms(inputs)
    joint = joint_cache(cache)
    velocity = model.velocity(inputs.noise, time_terms[0], state_embeds, inputs, joint)
    release_joint(joint)
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
    return _policy_trace(ctx)[name]


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


class PI0Port(Port):
    name = "pi0"
    description = "PI0 policy: SigLIP tower + projector, Gemma prefix KV cache, action expert, flow matching"
    presets = PRESETS
    ci_presets = ("tiny", "tiny-tp2", "tiny-tp8")

    def mesh_shape_for(self, preset: str) -> tuple[int, int] | None:
        return PRESETS[preset].mesh

    def build_reference(self, preset: str, weights: Path | None, seed: int) -> torch.nn.Module:
        model = build_reference(PRESETS[preset], weights, seed)
        if PRESETS[preset].policy is not None and weights is None:
            randomize_policy_(model, seed)
        return model

    def make_inputs(self, preset: str, seed: int, reference: torch.nn.Module) -> dict[str, Any]:
        inputs = make_inputs(PRESETS[preset], seed)
        if PRESETS[preset].policy is not None:
            inputs.update(policy_inputs(PRESETS[preset], seed, reference))
        return inputs

    def build_model(self, ctx: RunContext) -> PI0ImagePathTTNN:
        if ctx.config.policy is not None:  # the whole policy (a PI0ImagePathTTNN too), weights streamed
            _image_trace(ctx)
            return build_policy(ctx)
        vlm = ctx.reference.model.vlm
        state_dict = {k: v for k, v in vlm.state_dict().items() if k.startswith(IMAGE_PATH_MODULES)}
        # Every reference output is recorded by now (core/runner.py runs them first; the trace is cached):
        # free the fp32 reference before the device copy of its weights exists (~1.7 GB at full size).
        _image_trace(ctx)
        ctx.reference = None
        return PI0ImagePathTTNN(PRESETS[ctx.preset], vlm.config, state_dict, ctx.device)

    def layer_trace(self, ctx: RunContext) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
        return {"vision tower": _TOWER.chained_blocks(ctx)}

    def components(self, preset: str) -> list[Component]:
        config = PRESETS[preset]
        floors = config.thresholds
        components = [
            _TOWER.patch(
                "patch embedding", floors["patch"], "conv patch embedding as host unfold + ttnn.linear"
            ),
            _TOWER.embeddings(
                "position embedding",
                floors["position"],
                "patch embedding + ttnn.embedding position lookup + ttnn.add",
            ),
            *_TOWER.blocks(config.num_layers, floors["block"]),
            _TOWER.tower(
                floors["tower"], "vision tower from PI0 pixel_values + camera mask (runs the projector too)"
            ),
            _TOWER.features(
                floors["projector"], "get_image_features: tower + PaliGemma multi-modal projector"
            ),
        ]
        if config.policy is not None:
            components += policy_components(config)
        return components
