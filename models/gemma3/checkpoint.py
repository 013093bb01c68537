"""Reading Gemma3's image path from a local checkpoint directory (`--weights DIR`).

A directory as `Gemma3ForConditionalGeneration.save_pretrained` writes it, or as the hub ships
google/gemma-3-*-it: config.json + model.safetensors, or shards listed by model.safetensors.index.json.
Only the vision tower and projector tensors are read, lazily with safetensors (models/siglip/checkpoint.py),
so the text model's weights (gemma-3-4b: ~8 GB in bf16) are never loaded. Key spellings accepted
(transformers 5 renames the hub's on load, conversion_mapping.py "llava"): "model.vision_tower.*" (saved by
transformers 5) and "vision_tower.vision_model.*" (hub), likewise "model.multi_modal_projector.*" /
"multi_modal_projector.*".
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import Gemma3Config

from ttport.models.siglip import checkpoint

from .presets import Gemma3VisionPreset

IMAGE_PATH_MODULES = ("vision_tower", "multi_modal_projector")


def load_config(directory: Path) -> Gemma3Config:
    return checkpoint.load_config(directory, "gemma3", Gemma3Config, "Gemma3")


def check_config(config: Gemma3Config, preset: Gemma3VisionPreset) -> None:
    """The checkpoint must have the preset's architecture (the inputs and floors are the preset's)."""
    expected = preset.config()
    checkpoint.check_fields(
        config.vision_config, expected.vision_config, checkpoint.SIGLIP_ARCHITECTURE_FIELDS, "vision_config."
    )
    checkpoint.check_fields(config, expected, ("mm_tokens_per_image",))
    checkpoint.check_fields(config.text_config, expected.text_config, ("hidden_size",), "text_config.")


def image_path_key(key: str) -> str | None:
    """A checkpoint key -> its `Gemma3VisionReference` name, or None for the text model's keys."""
    key = key.removeprefix("model.")
    if not key.startswith(IMAGE_PATH_MODULES):
        return None
    return key.replace("vision_tower.vision_model.", "vision_tower.", 1)


def read_image_path(directory: Path) -> dict[str, torch.Tensor]:
    """The vision tower and projector tensors (fp32), keyed like `Gemma3VisionReference.state_dict()`."""
    return checkpoint.read_tensors(directory, image_path_key, [f"{name}." for name in IMAGE_PATH_MODULES])
