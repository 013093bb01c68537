"""Gemma3's image input: pixel_values [B, C, image_size, image_size], as Gemma3's image processor emits
them (rescaled and normalised with mean = std = 0.5, i.e. values in [-1, 1])."""

from __future__ import annotations

import torch

from .presets import Gemma3VisionPreset


def make_inputs(preset: Gemma3VisionPreset, seed: int) -> dict[str, torch.Tensor]:
    """Deterministic images for `seed`, uniform in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    size = preset.image_size
    pixel_values = torch.rand(preset.batch, preset.num_channels, size, size, generator=generator) * 2 - 1
    return {"pixel_values": pixel_values}
