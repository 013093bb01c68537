"""PI0's image path on TTNN: `get_image_features` as transformers' PI0 runs it in `embed_prefix`
(PaliGemma's vision tower, then its multi-modal projector), for the cameras the mask marks present."""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip import SigLIPVisionTowerTTNN

from .inputs import present_images, validate_inputs
from .presets import PI0Preset
from .projector import PaliGemmaMultiModalProjectorTTNN


class PI0ImagePathTTNN:
    """`vision_tower` + `multi_modal_projector`, named as in transformers' PaliGemmaModel (`model.vlm`)."""

    def __init__(self, preset: PI0Preset, vlm_config: Any, state_dict: dict[str, torch.Tensor], device: Any):
        """`state_dict`: the PaliGemma model's (keys "vision_tower.*", "multi_modal_projector.*")."""
        weights_dtype = getattr(ttnn, preset.weights_dtype)
        self.vision_tower = SigLIPVisionTowerTTNN(
            vlm_config.vision_config, state_dict, device, prefix="vision_tower.", weights_dtype=weights_dtype
        )
        self.multi_modal_projector = PaliGemmaMultiModalProjectorTTNN(
            state_dict, "multi_modal_projector.", device, weights_dtype
        )

    def images(self, pixel_values: Any, camera_mask: Any) -> torch.Tensor:
        """Validate PI0's inputs (before any device work) and return the present cameras' images."""
        tower = self.vision_tower
        validate_inputs(pixel_values, camera_mask, tower.num_channels, tower.image_size)
        return present_images(pixel_values, camera_mask)

    def encode(self, pixel_values: torch.Tensor, camera_mask: torch.Tensor) -> tuple[Any, Any]:
        """(tower output [images, tokens, vision hidden], projected features [images, tokens, projection_dim])
        on device; one upload (the patches) and no host round trip in between."""
        hidden_states = self.vision_tower(self.images(pixel_values, camera_mask))
        return hidden_states, self.multi_modal_projector(hidden_states)

    def get_image_features(self, pixel_values: torch.Tensor, camera_mask: torch.Tensor) -> Any:
        hidden_states, features = self.encode(pixel_values, camera_mask)
        ttnn.deallocate(hidden_states)
        return features
