"""Gemma3's multi-modal projector on TTNN vs transformers' Gemma3MultiModalProjector: the pooling's token
order, the RMSNorm's unit offset, the projection, and the shapes it refuses."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from transformers.models.gemma3.modeling_gemma3 import Gemma3MultiModalProjector as ReferenceProjector
from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm as ReferenceRMSNorm

from ttport.backend import ttnn
from ttport.compare import assert_quality
from ttport.models.gemma3.presets import PRESETS, Gemma3VisionPreset
from ttport.models.gemma3.projector import Gemma3MultiModalProjector
from ttport.models.gemma3.rms_norm import Gemma3RMSNorm
from ttport.models.siglip.reference import randomize_
from ttport.patterns.preprocess import to_device

TINY = PRESETS["tiny"]
# 8 x 8 patches pooled 4 x 4 -> 2 x 2 tokens: a kernel other than tiny's 2, with hidden sizes off the tile.
WIDE_KERNEL = dataclasses.replace(
    TINY, image_size=112, mm_tokens_per_image=4, hidden_size=80, text_hidden_size=72, num_attention_heads=2
)


def _reference(preset: Gemma3VisionPreset, seed: int = 0) -> ReferenceProjector:
    module = ReferenceProjector(preset.config())
    randomize_(module, seed)
    return module.eval()


def _tokens(preset: Gemma3VisionPreset, batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, preset.num_patches, preset.hidden_size, generator=generator)


@pytest.mark.parametrize(("preset", "batch"), [(TINY, 2), (WIDE_KERNEL, 3)], ids=["tiny-b2", "kernel4-b3"])
def test_projector_matches_transformers(device: Any, preset: Gemma3VisionPreset, batch: int) -> None:
    reference = _reference(preset)
    tokens = _tokens(preset, batch)
    with torch.no_grad():
        expected = reference(tokens)
    projector = Gemma3MultiModalProjector(preset, reference.state_dict(), device, prefix="")
    actual = ttnn.to_torch(projector(to_device(tokens, device)))
    assert list(actual.shape) == [batch, preset.mm_tokens_per_image, preset.text_hidden_size]
    assert_quality(expected, actual, 0.99, name="projector")


def test_pool_averages_the_right_patches(device: Any) -> None:
    """Token t of image b holds 64*b + t in every channel (exact in bfloat16): each pooled token must be
    the mean of its kernel x kernel block of the patch grid, in row-major block order."""
    preset, batch = WIDE_KERNEL, 2
    side, kernel = preset.patches_per_side, 4
    ids = torch.arange(batch * preset.num_patches, dtype=torch.float32).reshape(batch, preset.num_patches, 1)
    tokens = ids.expand(-1, -1, preset.hidden_size).contiguous()
    grid = ids.reshape(batch, 1, side, side)
    expected = torch.nn.functional.avg_pool2d(grid, kernel).flatten(2).transpose(1, 2)
    projector = Gemma3MultiModalProjector(preset, _reference(preset).state_dict(), device, prefix="")
    pooled = ttnn.to_torch(projector.pool(to_device(tokens, device))).float()
    assert list(pooled.shape) == [batch, 4, preset.hidden_size]
    torch.testing.assert_close(pooled, expected.expand(-1, -1, preset.hidden_size), rtol=0, atol=0)


def test_rms_norm_applies_one_plus_weight(device: Any) -> None:
    dim = 96
    reference = ReferenceRMSNorm(dim, eps=1e-6)
    with torch.no_grad():
        reference.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(1))
    x = torch.randn(2, 9, dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = reference(x)
    actual = ttnn.to_torch(Gemma3RMSNorm("norm.weight", reference.weight, 1e-6, device)(to_device(x, device)))
    assert_quality(expected, actual, 0.999, name="rms_norm")


def test_projector_rejects_a_token_count_off_the_grid(device: Any) -> None:
    projector = Gemma3MultiModalProjector(TINY, _reference(TINY).state_dict(), device, prefix="")
    tokens = to_device(torch.randn(1, TINY.num_patches + 1, TINY.hidden_size), device)
    with pytest.raises(ValueError, match=r"takes \[batch, 36, 96\] vision tokens, got \[1, 37, 96\]"):
        projector(tokens)


@pytest.mark.parametrize("mm_tokens", [8, 16], ids=["not-a-square", "side-does-not-divide-6"])
def test_projector_rejects_token_counts_the_grid_cannot_pool_to(device: Any, mm_tokens: int) -> None:
    preset = dataclasses.replace(TINY, mm_tokens_per_image=mm_tokens)
    state = {
        "mm_soft_emb_norm.weight": torch.zeros(TINY.hidden_size),
        "mm_input_projection_weight": torch.zeros(TINY.hidden_size, TINY.text_hidden_size),
    }
    with pytest.raises(ValueError, match=f"mm_tokens_per_image {mm_tokens} must be a square"):
        Gemma3MultiModalProjector(preset, state, device, prefix="")
