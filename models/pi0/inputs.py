"""PI0's image inputs: pixel_values [B, cameras, C, H, W] with a camera mask [B, cameras] (PI0's
`pixel_attention_mask`, True where the slot holds an image). Checked on the host before any device work;
the images of the present cameras, in (sample, camera) order, are what the vision tower encodes."""

from __future__ import annotations

from typing import Any

import torch

from ttport.models.siglip.common import ImageInputError, validate_images

from .presets import PI0Preset


def validate_inputs(pixel_values: Any, camera_mask: Any, num_channels: int, image_size: int) -> None:
    """Raise ImageInputError naming the problem (type, dtype, rank, channels, size, mask shape)."""
    if not isinstance(pixel_values, torch.Tensor):
        raise ImageInputError(f"pixel_values must be a torch.Tensor, got {type(pixel_values).__name__}")
    if pixel_values.dim() != 5:
        raise ImageInputError(
            "pixel_values must have rank 5 [batch, cameras, channels, height, width], "
            f"got shape {list(pixel_values.shape)}"
        )
    validate_images(pixel_values.flatten(0, 1), num_channels, image_size)
    if not isinstance(camera_mask, torch.Tensor) or camera_mask.dtype != torch.bool:
        raise ImageInputError("the camera mask must be a torch.bool tensor [batch, cameras]")
    if tuple(camera_mask.shape) != tuple(pixel_values.shape[:2]):
        raise ImageInputError(
            f"the camera mask has shape {list(camera_mask.shape)}, pixel_values has "
            f"[batch, cameras] = {list(pixel_values.shape[:2])}"
        )
    if not bool(camera_mask.any()):
        raise ImageInputError("the camera mask selects no image")


def present_images(pixel_values: torch.Tensor, camera_mask: torch.Tensor) -> torch.Tensor:
    """[B, cameras, C, H, W] -> [images present, C, H, W], in (sample, camera) order."""
    return pixel_values[camera_mask]


def make_inputs(preset: PI0Preset, seed: int) -> dict[str, torch.Tensor]:
    """Deterministic images in PI0's normalised range [-1, 1] and the preset's camera mask."""
    generator = torch.Generator().manual_seed(seed)
    size = preset.image_size
    channels = int(preset.vision["num_channels"])
    pixel_values = torch.rand(preset.batch, preset.cameras, channels, size, size, generator=generator) * 2 - 1
    camera_mask = torch.tensor(preset.camera_mask, dtype=torch.bool).expand(preset.batch, -1).clone()
    return {"pixel_values": pixel_values, "pixel_attention_mask": camera_mask}
