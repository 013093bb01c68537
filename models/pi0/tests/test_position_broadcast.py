"""The seed's position-embedding bug: adding the [N, D] position table straight to [B, N', D] activations
whose token count N' differs from N (a tile-/chunk-padded sequence, or the batch folded into the rows)
is refused by the device ("Invalid subtile broadcast type", binary_ng_device_operation.cpp); the pattern
the port uses (ttnn.embedding over pre-created uint32 ids of the padded length + explicit ttnn.add)
gives the reference's values."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from ttport.backend import ttnn
from ttport.compare import assert_quality
from ttport.models.siglip.common import plan_sequence
from ttport.models.siglip.embeddings import SiglipVisionEmbeddings

# (batch, table rows N, activation rows N', hidden)
SEED_BUG_SHAPES = [
    pytest.param(2, 16, 32, 96, id="tiny-16-tokens-tile-padded-to-32"),
    pytest.param(2, 36, 64, 96, id="6x6-patches-chunk-padded-to-64"),
    pytest.param(1, 256, 512, 1152, id="pi0-224px-batch-2-folded-into-rows"),
]


def _to_device(x: torch.Tensor, device: Any) -> Any:
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize(("batch", "rows", "padded_rows", "hidden"), SEED_BUG_SHAPES)
def test_naive_table_add_raises_invalid_subtile_broadcast(
    device: Any, batch: int, rows: int, padded_rows: int, hidden: int
) -> None:
    activations = _to_device(torch.randn(batch, padded_rows, hidden), device)
    table = _to_device(torch.randn(rows, hidden), device)
    with pytest.raises(RuntimeError, match="Invalid subtile broadcast type"):
        ttnn.add(activations, table)


class _Config:
    patch_size = 14


@pytest.mark.parametrize(("batch", "rows", "padded_rows", "hidden"), SEED_BUG_SHAPES[:2])
def test_embedding_lookup_then_add_matches_reference(
    device: Any, batch: int, rows: int, padded_rows: int, hidden: int
) -> None:
    torch.manual_seed(0)
    side = int(rows**0.5)
    state = {
        "patch_embedding.weight": torch.randn(hidden, 3, 14, 14) * (3 * 14 * 14) ** -0.5,
        "patch_embedding.bias": torch.randn(hidden) * 0.05,
        "position_embedding.weight": torch.randn(rows, hidden) * 0.5,
    }
    pixels = torch.rand(batch, 3, side * 14, side * 14) * 2 - 1
    conv = torch.nn.functional.conv2d(
        pixels, state["patch_embedding.weight"], state["patch_embedding.bias"], stride=14
    )
    expected = conv.flatten(2).transpose(1, 2) + state["position_embedding.weight"]

    plan = plan_sequence(rows)
    assert plan.padded_len == padded_rows
    embeddings = SiglipVisionEmbeddings(_Config(), state, "", device, plan)
    actual = ttnn.to_torch(embeddings(pixels)).float()
    assert actual.shape == (batch, 1, padded_rows, hidden)
    assert_quality(expected, actual[:, 0, :rows], 0.999, name="embeddings")
