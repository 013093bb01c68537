"""The gemma3 port's own contract: presets, the text-free reference, inputs, components, input checks."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import Gemma3Model

from ttport import sim
from ttport.backend import is_simulator
from ttport.models.gemma3.inputs import make_inputs
from ttport.models.gemma3.model import Gemma3VisionModelTTNN
from ttport.models.gemma3.port import Gemma3Port
from ttport.models.gemma3.presets import PRESETS
from ttport.models.gemma3.reference import build_reference
from ttport.models.siglip import ImageInputError

TINY = PRESETS["tiny"]


def test_full_preset_is_gemma3_4b_vision() -> None:
    full = PRESETS["full"]
    vision = full.vision_config()
    assert (vision.image_size, vision.patch_size, vision.hidden_size) == (896, 14, 1152)
    assert (vision.num_hidden_layers, vision.intermediate_size, vision.num_attention_heads) == (27, 4304, 16)
    assert full.num_patches == 4096 and not vision.vision_use_head
    config = full.config()
    assert config.mm_tokens_per_image == 256 and config.text_config.hidden_size == 2560


def test_reference_matches_gemma3_model_get_image_features() -> None:
    """The text-free reference computes what Gemma3Model.get_image_features does with the same weights."""
    reference = build_reference(TINY, None, seed=0)
    assert not hasattr(reference, "language_model")
    full_model = Gemma3Model(TINY.config()).eval()
    missing, unexpected = full_model.load_state_dict(reference.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("language_model.") for k in missing)
    pixel_values = make_inputs(TINY, seed=0)["pixel_values"]
    with torch.no_grad():
        expected = full_model.get_image_features(pixel_values).pooler_output
        actual = reference.get_image_features(pixel_values)
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    assert float(actual.std()) > 0.1  # random projector weights: transformers would zero them


def test_inputs_are_deterministic_images_in_range() -> None:
    first, again, other = (make_inputs(TINY, seed)["pixel_values"] for seed in (0, 0, 1))
    assert list(first.shape) == [TINY.batch, 3, TINY.image_size, TINY.image_size]
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert float(first.min()) >= -1.0 and float(first.max()) <= 1.0


def test_components_cover_every_block_in_run_order() -> None:
    names = [c.name for c in Gemma3Port().components("tiny")]
    blocks = [f"block {i}" for i in range(TINY.num_hidden_layers)]
    assert names == ["patch", "embeddings", *blocks, "tower", "projector", "tower + projector"]
    assert len(Gemma3Port().components("full")) == 2 + 27 + 3


@pytest.mark.parametrize(
    ("pixel_values", "message"),
    [
        (torch.zeros(1, 3, 56, 56), "images are 56x56, the vision tower expects 84x84"),
        (torch.zeros(1, 1, 84, 84), "has 1 channels, the vision tower expects 3"),
        (torch.zeros(3, 84, 84), "must have rank 4"),
        (torch.zeros(1, 3, 84, 84, dtype=torch.int64), "must be a floating-point tensor"),
    ],
    ids=["size", "channels", "rank", "dtype"],
)
def test_bad_images_are_refused_before_device_work(
    device: Any, pixel_values: torch.Tensor, message: str
) -> None:
    model = Gemma3VisionModelTTNN(TINY, build_reference(TINY, None, seed=0).state_dict(), device)
    ops_before = sim.stats(device).device_ops if is_simulator() else None
    with pytest.raises(ImageInputError, match=message):
        model.get_image_features(pixel_values)
    if is_simulator():
        assert sim.stats(device).device_ops == ops_before


def test_bfloat8_b_tower_weights_keep_every_floor() -> None:
    """tiny-bfp8: bfloat8_b tower matmul weights at HiFi2 (the tuned configuration) pass every component's
    floor (the same floors as bfloat16: blocks >= 0.999, tower >= 0.99)."""
    from ttport.models.gemma3.port import Gemma3Port
    from ttport.runner import run_port

    port = Gemma3Port()
    report = run_port(port, "tiny-bfp8")
    assert report.passed, [(c.name, c.pcc, c.threshold) for c in report.components]
    assert {c.name for c in report.components} >= {"block 0", "block 1", "tower", "tower + projector"}
    linears = [r for r in report.projection["ops"] if r["name"] == "linear" and r["signpost"] == "block 0"]
    assert linears and all(
        r["inputs"][1][1] == "BFLOAT8_B" and r["math_fidelity"] == "HiFi2" for r in linears
    )
