"""The `pi0` port: PI0's image path (SigLIP vision tower + PaliGemma multi-modal projector) on TTNN,
compared with transformers' PI0ForConditionalGeneration (`model.model.vlm.get_image_features`).

One reference forward, with forward hooks on the patch embedding, the embeddings and every encoder
layer, records what each component compares (ctx.store["pi0 reference"]); each block of the port is then
run on the reference block's own input, so block errors do not compound in the per-block figures.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import torch

from core.backend import ttnn
from core.port import Component, Port, RunContext
from models.siglip.reference import record_tower

from .inputs import make_inputs
from .model import PI0ImagePathTTNN
from .policy_components import build_policy, policy_components, policy_inputs, randomize_policy_
from .presets import PRESETS
from .reference import IMAGE_PATH_MODULES, build_reference

_TRACE = "pi0 reference"
_PORT_FEATURES = "pi0 port features"


def _reference_trace(ctx: RunContext) -> dict[str, torch.Tensor]:
    """Reference outputs for the present cameras, from one `get_image_features` over every camera slot
    (as PI0's embed_prefix runs it), recorded by hooks; computed once per run."""
    if _TRACE not in ctx.store:
        vlm = ctx.reference.model.vlm
        pixel_values, mask = ctx.inputs["pixel_values"], ctx.inputs["pixel_attention_mask"]
        with torch.no_grad(), record_tower(vlm.vision_tower) as trace:
            output = vlm.get_image_features(pixel_values.flatten(0, 1))
            trace["tower"] = output.last_hidden_state.float()
            trace["features"] = output.pooler_output.float()
        present = mask.flatten()
        ctx.store[_TRACE] = {name: tensor[present] for name, tensor in trace.items()}
    return ctx.store[_TRACE]


def _download(tensor: Any) -> torch.Tensor:
    host = ttnn.to_torch(tensor).float()
    ttnn.deallocate(tensor)
    return host


def _tokens(ctx: RunContext, hidden_states: Any) -> torch.Tensor:
    """[images, 1, padded tokens, D] on device -> host [images, tokens, D]."""
    return _download(hidden_states)[:, 0, : ctx.model.vision_tower.num_patches]


def _images(ctx: RunContext) -> torch.Tensor:
    return ctx.model.images(ctx.inputs["pixel_values"], ctx.inputs["pixel_attention_mask"])


def _port_patch(ctx: RunContext) -> torch.Tensor:
    return _tokens(ctx, ctx.model.vision_tower.embeddings.patch_embedding(_images(ctx)))


def _port_position(ctx: RunContext) -> torch.Tensor:
    return _tokens(ctx, ctx.model.vision_tower.embeddings(_images(ctx)))


def _port_block(i: int, ctx: RunContext) -> torch.Tensor:
    tower = ctx.model.vision_tower
    block_input = _reference_trace(ctx)[f"block {i} input"]
    hidden_states = tower.upload_hidden_states(block_input)
    output = tower.encoder.layers[i](hidden_states, tower.encoder.attention_mask(block_input.shape[0]))
    ttnn.deallocate(hidden_states)
    return _tokens(ctx, output)


def _port_tower(ctx: RunContext) -> torch.Tensor:
    """The whole image path runs once; the tower's output is compared here, the projected features are
    kept for the "tower + projector" component."""
    hidden_states, features = ctx.model.encode(ctx.inputs["pixel_values"], ctx.inputs["pixel_attention_mask"])
    ctx.store[_PORT_FEATURES] = _download(features)
    return _download(hidden_states)


def _port_features(ctx: RunContext) -> torch.Tensor:
    if _PORT_FEATURES in ctx.store:
        return ctx.store.pop(_PORT_FEATURES)
    return _download(
        ctx.model.get_image_features(ctx.inputs["pixel_values"], ctx.inputs["pixel_attention_mask"])
    )


def _reference(name: str, ctx: RunContext) -> torch.Tensor:
    return _reference_trace(ctx)[name]


class PI0Port(Port):
    name = "pi0"
    description = "PI0 image path: SigLIP vision tower + PaliGemma multi-modal projector"
    presets = PRESETS

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
            _reference_trace(ctx)
            return build_policy(ctx)
        vlm = ctx.reference.model.vlm
        state_dict = {k: v for k, v in vlm.state_dict().items() if k.startswith(IMAGE_PATH_MODULES)}
        # Every reference output is recorded by now (core/runner.py runs them first; the trace is cached):
        # free the fp32 reference before the device copy of its weights exists (~1.7 GB at full size).
        _reference_trace(ctx)
        ctx.reference = None
        return PI0ImagePathTTNN(PRESETS[ctx.preset], vlm.config, state_dict, ctx.device)

    def components(self, preset: str) -> list[Component]:
        config = PRESETS[preset]
        floors = config.thresholds
        components = [
            Component(
                "patch embedding",
                partial(_reference, "patch"),
                _port_patch,
                floors["patch"],
                "conv patch embedding as host unfold + ttnn.linear",
            ),
            Component(
                "position embedding",
                partial(_reference, "embeddings"),
                _port_position,
                floors["position"],
                "patch embedding + ttnn.embedding position lookup + ttnn.add",
            ),
        ]
        components += [
            Component(
                f"block {i}",
                partial(_reference, f"block {i}"),
                partial(_port_block, i),
                floors["block"],
                "encoder layer run on the reference layer's input",
            )
            for i in range(config.num_layers)
        ]
        components += [
            Component(
                "tower",
                partial(_reference, "tower"),
                _port_tower,
                floors["tower"],
                "vision tower from PI0 pixel_values + camera mask (runs the projector too)",
            ),
            Component(
                "tower + projector",
                partial(_reference, "features"),
                _port_features,
                floors["projector"],
                "get_image_features: tower + PaliGemma multi-modal projector",
            ),
        ]
        if config.policy is not None:
            components += policy_components(config)
        return components
