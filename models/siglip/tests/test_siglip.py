"""SigLIP on TTNN vs transformers' SiglipVisionModel, at sizes that exercise the awkward paths: a head dim
and an MLP width that are not tile multiples, and a token count that needs sequence padding + key masking."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import SiglipVisionConfig, SiglipVisionModel

from ttport import sim
from ttport.backend import is_simulator, ttnn
from ttport.compare import assert_quality
from ttport.models.siglip import ImageInputError, SigLIPVisionTowerTTNN, plan_sequence
from ttport.models.siglip.reference import randomize_


def _config(image_size: int) -> SiglipVisionConfig:
    return SiglipVisionConfig(
        hidden_size=96,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=2,
        patch_size=14,
        image_size=image_size,
        vision_use_head=False,
    )


def _reference(config: SiglipVisionConfig, seed: int = 0) -> SiglipVisionModel:
    torch.manual_seed(seed)
    model = SiglipVisionModel(config)
    randomize_(model, seed)
    return model.eval()


def _images(config: SiglipVisionConfig, batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    size = config.image_size
    return torch.rand(batch, config.num_channels, size, size, generator=generator) * 2 - 1


@pytest.mark.parametrize(
    ("num_tokens", "chunks", "expected"),
    [
        (256, (None, None), (256, 64, 64)),  # PI0: 224 px / 14
        (4096, (None, None), (4096, 256, 256)),  # Gemma3: 896 px / 14
        (1024, (None, None), (1024, 64, 128)),  # 512..2047 tokens: 128-wide key chunks
        (36, (None, None), (64, 64, 64)),  # 6x6 patches: padded to one 64-token chunk
        (16, (None, None), (32, 32, 32)),
        (36, (32, 32), (64, 32, 32)),
        (96, (None, None), (96, 32, 32)),  # 64 does not divide 96: halve, no padding beyond the tile
    ],
)
def test_plan_sequence(num_tokens: int, chunks: tuple, expected: tuple) -> None:
    plan = plan_sequence(num_tokens, *chunks)
    assert (plan.padded_len, plan.q_chunk_size, plan.k_chunk_size) == expected
    assert plan.is_padded == (plan.padded_len != num_tokens)


def test_plan_sequence_rejects_chunks_off_the_tile() -> None:
    with pytest.raises(ValueError, match="q_chunk_size must be a positive multiple of 32"):
        plan_sequence(64, 48, 32)


@pytest.mark.parametrize(
    ("image_size", "weights_dtype_name", "floor"),
    [
        (112, "bfloat16", 0.999),  # 64 tokens: no padding, like PI0's 256
        (56, "bfloat16", 0.999),  # 16 tokens padded to 32: padded keys must be masked
        (56, "bfloat8_b", 0.99),
    ],
)
def test_tower_matches_transformers(
    device: Any, image_size: int, weights_dtype_name: str, floor: float
) -> None:
    config = _config(image_size)
    reference = _reference(config)
    images = _images(config, batch=2)
    with torch.no_grad():
        expected = reference(images).last_hidden_state
        expected_embeddings = reference.embeddings(images)
    tower = SigLIPVisionTowerTTNN(
        config, reference.state_dict(), device, weights_dtype=getattr(ttnn, weights_dtype_name)
    )
    num_patches = (image_size // 14) ** 2
    embeddings = ttnn.to_torch(tower.embeddings(images)).float()[:, 0, :num_patches]
    assert_quality(expected_embeddings, embeddings, 0.999, name="embeddings")
    actual = ttnn.to_torch(tower(images)).float()
    assert actual.shape == (2, num_patches, config.hidden_size)
    assert_quality(expected, actual, floor, name="tower")


def test_padded_keys_are_masked(device: Any) -> None:
    """Without the key mask the zero-patch rows (bias + position only) would take part in the softmax:
    the masked result must beat the unmasked one by a wide margin."""
    config = _config(56)
    reference = _reference(config)
    images = _images(config, batch=1)
    with torch.no_grad():
        hidden = reference.embeddings(images)
        expected = reference.encoder.layers[0](hidden, None)
    tower = SigLIPVisionTowerTTNN(config, reference.state_dict(), device)
    layer = tower.encoder.layers[0]
    masked = ttnn.to_torch(layer(tower.upload_hidden_states(hidden), tower.encoder.attention_mask(1)))
    unmasked = ttnn.to_torch(layer(tower.upload_hidden_states(hidden), None))
    good = assert_quality(expected, masked.float()[:, 0, :16], 0.999, name="masked")
    bad = torch.corrcoef(torch.stack([expected.flatten(), unmasked.float()[:, 0, :16].flatten()]))[0, 1]
    assert float(bad) < good - 0.01


@pytest.mark.skipif(not is_simulator(), reason="transfer counters are simulator accounting")
def test_forward_uploads_once_and_keeps_layers_on_device(device: Any) -> None:
    config = _config(112)
    reference = _reference(config)
    tower = SigLIPVisionTowerTTNN(config, reference.state_dict(), device)
    before = sim.stats(device)
    output = tower(_images(config, batch=1))
    after = sim.stats(device)
    assert after.host_to_device - before.host_to_device == 1  # the patches
    assert after.device_to_host == before.device_to_host  # no round trip between layers
    ttnn.to_torch(output)
    assert sim.stats(device).device_to_host - before.device_to_host == 1


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.zeros(1, 4, 112, 112), "4 channels, the vision tower expects 3"),
        (torch.zeros(1, 3, 224, 224), "224x224, the vision tower expects 112x112"),
        (torch.zeros(3, 112, 112), "rank 4"),
        (torch.zeros(1, 3, 112, 112, dtype=torch.int64), "floating-point"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_bad_images_fail_before_device_work(device: Any, images: Any, message: str) -> None:
    config = _config(112)
    tower = SigLIPVisionTowerTTNN(config, _reference(config).state_dict(), device)
    before = sim.stats(device).device_ops if is_simulator() else 0
    with pytest.raises(ImageInputError, match=message):
        tower(images)
    if is_simulator():
        assert sim.stats(device).device_ops == before
