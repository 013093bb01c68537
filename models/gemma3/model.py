"""Gemma3's image path on TTNN: `get_image_features` = the shared SigLIP vision tower (models/siglip)
followed by Gemma3's multi-modal projector, named as transformers' Gemma3Model submodules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip import SigLIPVisionTowerTTNN

from .presets import Gemma3VisionPreset
from .projector import Gemma3MultiModalProjector


class Gemma3VisionModelTTNN:
    """`vision_tower` + `multi_modal_projector`, built from a `Gemma3Model`-style state dict
    (keys "vision_tower.*", "multi_modal_projector.*")."""

    def __init__(self, preset: Gemma3VisionPreset, state_dict: Mapping[str, torch.Tensor], device: Any):
        self.vision_tower = SigLIPVisionTowerTTNN(
            preset.vision_config(),
            state_dict,
            device,
            prefix="vision_tower.",
            q_chunk_size=preset.q_chunk_size,
            k_chunk_size=preset.k_chunk_size,
            weights_dtype=getattr(ttnn, preset.weights_dtype),
        )
        self.multi_modal_projector = Gemma3MultiModalProjector(preset, state_dict, device)

    def encode(self, pixel_values: torch.Tensor) -> tuple[Any, Any]:
        """(tower output [B, tokens, vision hidden], image features [B, mm_tokens, text hidden]) on device:
        one host upload (the unfolded patches; the key mask of a padded sequence is uploaded once on the
        first call) and no host round trip in between. Bad images raise ImageInputError first."""
        hidden_states = self.vision_tower(pixel_values)
        return hidden_states, self.multi_modal_projector(hidden_states)

    def get_image_features(self, pixel_values: torch.Tensor) -> Any:
        hidden_states, features = self.encode(pixel_values)
        ttnn.deallocate(hidden_states)
        return features

    __call__ = get_image_features
