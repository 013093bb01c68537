"""The transformers reference: PI0ForConditionalGeneration built from a preset (see presets.py: its text
model and action expert are one small layer each, the image path is the preset's), with either seeded
random weights or the image-path weights of a local checkpoint directory.

A checkpoint directory is what `PI0ForConditionalGeneration.save_pretrained` writes (config.json +
model.safetensors, or shards with model.safetensors.index.json). Only the vision tower and projector
tensors are read (lazily, with safetensors), so a real 3.5 B-parameter PI0 checkpoint never has to fit in
memory. transformers saves them under the LeRobot names `paligemma_with_expert.paligemma.model.*`
(conversion_mapping.py renames them to `model.vlm.*` on load); both spellings are accepted.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PI0Config, PI0ForConditionalGeneration

from models.siglip import checkpoint
from models.siglip.reference import randomize_

from .presets import PI0Preset

#: where the image path lives in a saved PI0 state dict (as saved, as loaded), before "vision_tower." etc.
CHECKPOINT_PREFIXES = ("paligemma_with_expert.paligemma.model.", "model.vlm.")
IMAGE_PATH_MODULES = ("vision_tower", "multi_modal_projector")


def build_reference(preset: PI0Preset, weights: Path | None, seed: int) -> PI0ForConditionalGeneration:
    """fp32 eval-mode PI0: random image path (seeded) or the checkpoint's image path."""
    torch.manual_seed(seed)
    model = PI0ForConditionalGeneration(preset.pi0_config())
    vlm = model.model.vlm
    if weights is None:
        for i, name in enumerate(IMAGE_PATH_MODULES):
            randomize_(getattr(vlm, name), seed + i)
    else:
        config = checkpoint.load_config(weights, "pi0", PI0Config)
        expected = preset.pi0_config().vlm_config
        checkpoint.check_fields(
            config.vlm_config.vision_config,
            expected.vision_config,
            checkpoint.SIGLIP_ARCHITECTURE_FIELDS,
            "vision_config.",
        )
        checkpoint.check_fields(config.vlm_config, expected, ("projection_dim",))
        state = checkpoint.read_tensors(weights, image_path_key, [f"{name}." for name in IMAGE_PATH_MODULES])
        checkpoint.load_modules({name: getattr(vlm, name) for name in IMAGE_PATH_MODULES}, state, weights)
    return model.eval()


def image_path_key(key: str) -> str | None:
    """A checkpoint key -> "vision_tower.*" / "multi_modal_projector.*", or None for the rest of PI0."""
    for prefix in CHECKPOINT_PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :].startswith(IMAGE_PATH_MODULES):
            return key[len(prefix) :]
    return None
