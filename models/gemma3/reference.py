"""The transformers reference: Gemma3's vision tower and multi-modal projector, without the text model.

`Gemma3Model.__init__` also builds the language model (gemma-3-4b: ~3.9 B parameters, ~16 GB in fp32),
which no component runs. `Gemma3VisionReference` holds the same two transformers modules under the same
names (`vision_tower`: SiglipVisionModel, `multi_modal_projector`: Gemma3MultiModalProjector), so its
state-dict keys are `Gemma3Model`'s and `get_image_features` is `Gemma3Model.get_image_features`'s code
path (tower -> last_hidden_state -> projector). The full reference is ~0.43 B parameters (~1.7 GB fp32).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import SiglipVisionModel
from transformers.models.gemma3.modeling_gemma3 import Gemma3MultiModalProjector

from ttport.errors import UserError
from ttport.models.siglip.reference import randomize_

from .checkpoint import IMAGE_PATH_MODULES, check_config, load_config, read_image_path
from .presets import Gemma3VisionPreset


class Gemma3VisionReference(torch.nn.Module):
    """`Gemma3Model` minus `language_model` (see the module docstring)."""

    def __init__(self, preset: Gemma3VisionPreset):
        super().__init__()
        self.config = preset.config()
        self.vision_tower = SiglipVisionModel(self.config.vision_config)
        self.multi_modal_projector = Gemma3MultiModalProjector(self.config)

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`Gemma3Model.get_image_features(pixel_values).pooler_output`: [B, mm_tokens, text hidden]."""
        last_hidden_state = self.vision_tower(pixel_values=pixel_values).last_hidden_state
        return self.multi_modal_projector(last_hidden_state)

    forward = get_image_features


def build_reference(preset: Gemma3VisionPreset, weights: Path | None, seed: int) -> Gemma3VisionReference:
    """fp32 eval-mode reference: the image path of the checkpoint in `weights` (checkpoint.py), or seeded
    random weights for every parameter. (transformers would zero-initialise `mm_input_projection_weight`
    -- all-zero features, PCC undefined -- and Gemma's RMSNorm weight, and leave SigLIP's biases at zero;
    see models/siglip/reference.py.)"""
    torch.manual_seed(seed)
    model = Gemma3VisionReference(preset)
    if weights is None:
        for i, name in enumerate(IMAGE_PATH_MODULES):
            randomize_(getattr(model, name), seed + i)
    else:
        check_config(load_config(Path(weights)), preset)
        try:
            model.load_state_dict(read_image_path(Path(weights)), strict=True)
        except RuntimeError as exc:
            raise UserError(f"checkpoint {weights}: image-path weights do not fit the model: {exc}") from exc
    return model.eval()
