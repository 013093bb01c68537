"""PI0's input layout: pixel_values [B, cameras, 3, H, W] + camera mask, batch 1 and 2, 1-3 cameras; bad
inputs fail with a clear error before any device work."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from ttport import sim
from ttport.backend import is_simulator, ttnn
from ttport.compare import assert_quality
from ttport.errors import UserError
from ttport.models.pi0.inputs import make_inputs
from ttport.models.pi0.port import PI0Port
from ttport.models.pi0.presets import PRESETS
from ttport.models.siglip import ImageInputError
from ttport.port import RunContext

PRESET = PRESETS["tiny"]


@pytest.fixture(scope="module")
def reference() -> torch.nn.Module:
    return PI0Port().build_reference("tiny", None, seed=0)


@pytest.fixture
def model(reference: torch.nn.Module, device: Any) -> Any:
    port = PI0Port()
    ctx = RunContext(port=port, preset="tiny", seed=0, device=device, reference=reference)
    ctx.inputs = make_inputs(PRESET, 0)
    return port.build_model(ctx)


@pytest.mark.parametrize(
    ("batch", "mask"),
    [
        (1, [[True]]),
        (1, [[True, False, True]]),
        (2, [[True, True], [True, False]]),
        (2, [[False, True, True], [True, True, True]]),
    ],
)
def test_cameras_and_batches(reference: torch.nn.Module, model: Any, batch: int, mask: list) -> None:
    camera_mask = torch.tensor(mask)
    size = PRESET.image_size
    pixel_values = torch.rand(
        batch, camera_mask.shape[1], 3, size, size, generator=torch.Generator().manual_seed(1)
    )
    pixel_values = pixel_values * 2 - 1
    with torch.no_grad():
        features = reference.model.vlm.get_image_features(pixel_values.flatten(0, 1)).pooler_output
    expected = features[camera_mask.flatten()]
    actual = ttnn.to_torch(model.get_image_features(pixel_values, camera_mask)).float()
    assert actual.shape == expected.shape
    assert_quality(expected, actual, PRESET.thresholds["projector"], name="features")


def _good() -> tuple[torch.Tensor, torch.Tensor]:
    size = PRESET.image_size
    return torch.zeros(2, 3, 3, size, size), torch.tensor([[True, True, False], [True, False, False]])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, m: (p[:, :, :1], m), "1 channels, the vision tower expects 3"),
        (lambda p, m: (torch.zeros(2, 3, 3, 224, 224), m), "224x224, the vision tower expects 112x112"),
        (lambda p, m: (p.flatten(0, 1), m), "rank 5"),
        (lambda p, m: (p.to(torch.int32), m), "floating-point"),
        (lambda p, m: (p.numpy(), m), "torch.Tensor"),
        (lambda p, m: (p, m[:, :2]), r"camera mask has shape \[2, 2\]"),
        (lambda p, m: (p, m.int()), "torch.bool"),
        (lambda p, m: (p, torch.zeros_like(m)), "selects no image"),
    ],
)
def test_bad_inputs_fail_before_device_work(model: Any, device: Any, change: Any, message: str) -> None:
    pixel_values, mask = change(*_good())
    before = sim.stats(device) if is_simulator() else None
    with pytest.raises(ImageInputError, match=message) as error:
        model.get_image_features(pixel_values, mask)
    assert isinstance(error.value, UserError) and isinstance(error.value, ValueError)
    if before is not None:
        after = sim.stats(device)
        assert (after.device_ops, after.host_to_device) == (before.device_ops, before.host_to_device)
