"""Porting patterns against torch: preprocessing vs conv2d, PositionEmbedding vs the HF lookup, masks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ttport.backend import ttnn
from ttport.compare import assert_quality, to_torch
from ttport.patterns import masks
from ttport.patterns.embeddings import PositionEmbedding
from ttport.patterns.preprocess import (
    conv_weight_as_linear,
    pad_to_multiple,
    patchify,
    preprocess_patches,
    unfold_patches,
)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_pad_to_multiple() -> None:
    x = torch.ones(2, 50, 70)
    assert pad_to_multiple(x).shape == (2, 50, 96)
    assert pad_to_multiple(x, dim=1).shape == (2, 64, 70)
    assert pad_to_multiple(x, dim=1)[:, 50:].abs().sum() == 0
    assert pad_to_multiple(torch.ones(3, 64)).shape == (3, 64)


def test_patches_times_linear_weight_is_conv2d_on_the_host() -> None:
    """Exact in float32: same products, only the summation order differs."""
    image, weight, bias = _randn(2, 3, 28, 28, seed=1), _randn(16, 3, 14, 14, seed=2), _randn(16, seed=3)
    conv = (
        F.conv2d(image, weight, bias, stride=14).flatten(2).transpose(1, 2)
    )  # [B, N, out], row-major patches
    patches = patchify(image, 14)
    assert patches.shape == (2, 4, 608)  # 3*14*14 = 588 padded to 608
    assert unfold_patches(image, 14).shape == (2, 4, 588)
    torch.testing.assert_close(patches @ conv_weight_as_linear(weight) + bias, conv, rtol=1e-5, atol=1e-4)


def test_non_divisible_image_is_refused() -> None:
    with pytest.raises(ValueError, match="image 30x28 is not a multiple of the patch size 14"):
        unfold_patches(torch.zeros(1, 3, 30, 28), 14)


def test_patch_embedding_on_device_matches_conv2d(device) -> None:
    image, weight, bias = _randn(1, 3, 32, 32, seed=4), _randn(64, 3, 8, 8, seed=5) * 0.1, _randn(64, seed=6)
    reference = F.conv2d(image, weight, bias, stride=8).flatten(2).transpose(1, 2)
    x = preprocess_patches(image, 8, device)
    assert list(x.shape) == [1, 16, 192] and x.layout == ttnn.TILE_LAYOUT and x.dtype == ttnn.bfloat16
    w = ttnn.from_torch(
        conv_weight_as_linear(weight), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )
    b = ttnn.from_torch(bias.reshape(1, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert_quality(reference, ttnn.linear(x, w, bias=b), pcc=0.999, name="patch embedding")


def test_position_embedding_matches_torch(device) -> None:
    table, x = _randn(20, 64, seed=7), _randn(2, 16, 64, seed=8)
    reference = x + torch.nn.Embedding.from_pretrained(table)(torch.arange(16))[None]
    embed = PositionEmbedding(table, device, num_positions=16)
    assert embed.position_ids.dtype == ttnn.uint32 and list(embed.position_ids.shape) == [1, 16]
    tt_x = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = embed(tt_x)
    assert list(out.shape) == [2, 16, 64]
    assert_quality(reference, out, pcc=0.9999, name="position embedding")
    # bf16 inputs, one bf16 add: within bf16 rounding of the exact sum
    torch.testing.assert_close(to_torch(out).float(), reference, rtol=2e-2, atol=2e-2)


def test_position_embedding_refuses_too_many_positions(device) -> None:
    with pytest.raises(ValueError, match="17 positions requested but the table has 16"):
        PositionEmbedding(torch.zeros(16, 32), device, num_positions=17)


def test_causal_mask_matches_sdpa_semantics() -> None:
    q, k, v = _randn(1, 2, 8, 16, seed=9), _randn(1, 2, 8, 16, seed=10), _randn(1, 2, 8, 16, seed=11)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=masks.causal_mask(8))
    torch.testing.assert_close(got, expected)
    mask = masks.causal_mask(2, 5)  # two new queries at positions 3 and 4 of 5
    assert mask.shape == (1, 1, 2, 5)
    assert (mask[0, 0] == 0).tolist() == [[True, True, True, True, False], [True] * 5]


def test_padding_mask_hides_padded_keys() -> None:
    attention = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    mask = masks.padding_mask(attention, seq_len=3)
    assert mask.shape == (2, 1, 3, 4)
    assert (mask[1, 0, 2] == masks.NEG).tolist() == [False, False, True, True]
    q, kv = _randn(2, 1, 3, 8, seed=12), _randn(2, 1, 4, 8, seed=13)
    out = F.scaled_dot_product_attention(q, kv, kv, attn_mask=mask)
    torch.testing.assert_close(out[1], F.scaled_dot_product_attention(q[1:], kv[1:, :, :2], kv[1:, :, :2])[0])


def test_combined_masks_stay_finite_in_bf16(device) -> None:
    combined = masks.combine(masks.causal_mask(4), masks.padding_mask(torch.tensor([[1, 1, 0, 0]])))
    assert combined.min() == masks.NEG
    tt_mask = masks.to_device(combined, device)
    assert tt_mask.dtype == ttnn.bfloat16 and tt_mask.layout == ttnn.TILE_LAYOUT
    assert tt_mask.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    back = to_torch(tt_mask).float()
    assert torch.isfinite(back).all()
    assert torch.equal(back, combined)  # 0 and bf16's lowest value are exact in bf16
