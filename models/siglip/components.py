"""The compared components of a SigLIP image-path port ("patch", "embeddings", "block N", "tower",
"tower + projector"), shared by the Gemma3 and PI0 ports (not a plugin).

A port supplies how its reference trace is recorded (ttport.models.siglip.reference.record_tower plus "tower"
and "features") and how its inputs reach the TTNN model; the port side of every component is the same.
Each block runs on the reference block's own input, so per-block figures do not compound upstream errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.compare import to_torch
from ttport.port import Component, RunContext


def download(tensor: Any) -> torch.Tensor:
    """Device tensor -> fp32 host tensor (chip 0's copy when replicated over a mesh); the device copy is
    freed."""
    host = to_torch(tensor).float()
    ttnn.deallocate(tensor)
    return host


def tokens(ctx: RunContext, hidden_states: Any) -> torch.Tensor:
    """[images, 1, padded tokens, D] on device -> host [images, tokens, D]."""
    return download(hidden_states)[:, 0, : ctx.model.vision_tower.num_patches]


@dataclass(frozen=True)
class TowerComponents:
    """Component builders for a port whose `ctx.model` has `vision_tower` (SigLIPVisionTowerTTNN),
    `encode(*image_args)` -> (tower output, features) and `get_image_features(*image_args)`."""

    #: the reference trace of one run: record_tower's entries plus "tower" and "features"
    trace: Callable[[RunContext], dict[str, torch.Tensor]]
    #: the arguments of the port's `encode` / `get_image_features` (pixel values, camera mask ...)
    image_args: Callable[[RunContext], tuple]
    #: the tower's pixel input, one image per row
    images: Callable[[RunContext], Any]
    #: ctx.store key of the features the "tower" component computes for "tower + projector"
    features_key: str

    def reference(self, name: str, ctx: RunContext) -> torch.Tensor:
        return self.trace(ctx)[name]

    def port_patch(self, ctx: RunContext) -> torch.Tensor:
        return tokens(ctx, ctx.model.vision_tower.embeddings.patch_embedding(self.images(ctx)))

    def port_embeddings(self, ctx: RunContext) -> torch.Tensor:
        return tokens(ctx, ctx.model.vision_tower.embeddings(self.images(ctx)))

    def port_block(self, i: int, ctx: RunContext) -> torch.Tensor:
        tower = ctx.model.vision_tower
        block_input = self.trace(ctx)[f"block {i} input"]
        hidden_states = tower.upload_hidden_states(block_input)
        batch = block_input.shape[0]
        encoder = tower.encoder
        # the block as the tower runs it: its activations where the encoder keeps them for this batch
        output = encoder.layers[i](
            hidden_states, encoder.attention_mask(batch), encoder.activation_memory(batch)
        )
        ttnn.deallocate(hidden_states)
        return tokens(ctx, output)

    def chained_blocks(self, ctx: RunContext) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(reference, port) after every encoder block, the port running embeddings then each block on its
        own previous output (Port.layer_trace)."""
        tower = ctx.model.vision_tower
        hidden_states = tower.embeddings(self.images(ctx))
        batch = hidden_states.shape[0]
        mask = tower.encoder.attention_mask(batch)
        memory = tower.encoder.activation_memory(batch)
        trace = self.trace(ctx)
        pairs = []
        for i, layer in enumerate(tower.encoder.layers):
            output = layer(hidden_states, mask, memory)
            ttnn.deallocate(hidden_states)
            hidden_states = output
            host = ttnn.to_torch(hidden_states).float()[:, 0, : tower.num_patches]
            pairs.append((trace[f"block {i}"], host))
        ttnn.deallocate(hidden_states)
        return pairs

    def port_tower(self, ctx: RunContext) -> torch.Tensor:
        """The whole image path runs once: the tower's output is compared here, the features are kept for
        the "tower + projector" component."""
        hidden_states, features = ctx.model.encode(*self.image_args(ctx))
        ctx.store[self.features_key] = download(features)
        return download(hidden_states)

    def port_features(self, ctx: RunContext) -> torch.Tensor:
        if self.features_key in ctx.store:
            return ctx.store.pop(self.features_key)
        return download(ctx.model.get_image_features(*self.image_args(ctx)))

    def patch(self, name: str, threshold: float, description: str) -> Component:
        return Component(name, partial(self.reference, "patch"), self.port_patch, threshold, description)

    def embeddings(self, name: str, threshold: float, description: str) -> Component:
        return Component(
            name, partial(self.reference, "embeddings"), self.port_embeddings, threshold, description
        )

    def blocks(self, count: int, threshold: float) -> list[Component]:
        return [
            Component(
                f"block {i}",
                partial(self.reference, f"block {i}"),
                partial(self.port_block, i),
                threshold,
                "encoder layer run on the reference layer's input",
            )
            for i in range(count)
        ]

    def tower(self, threshold: float, description: str) -> Component:
        return Component("tower", partial(self.reference, "tower"), self.port_tower, threshold, description)

    def features(self, threshold: float, description: str) -> Component:
        return Component(
            "tower + projector",
            partial(self.reference, "features"),
            self.port_features,
            threshold,
            description,
        )
