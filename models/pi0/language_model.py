"""PaliGemma's Gemma language model on TTNN (transformers' GemmaModel as `model.vlm.language_model`), as
PI0 uses it: run once over the prefix (image + prompt tokens) to fill a key/value cache; its hidden states
and final norm are never used (PI0's action expert reads only the cache).

The token embedding (GemmaTextScaledWordEmbedding: table lookup times sqrt(hidden)) keeps the whole table on
device; the sqrt(hidden) scale is folded into the table once on the host, so a lookup is one
ttnn.embedding. On a mesh the table is split along the hidden dim (each chip 1/N of Gemma 2B's 1 GB table, as
tt_transformers' embedding.py shards it) and the lookups are all-gathered back to the full width.
"""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.patterns.tensor_parallel import TensorParallel

from .gemma import GemmaDecoderLayer, GemmaShape, build_layers, take


def scaled_bfloat16(table: torch.Tensor, scale: float, rows: int = 16384) -> torch.Tensor:
    """bfloat16(table * scale), computed in row blocks: Gemma 2B's table is 257152 x 2048, and a float32
    temporary of it (plus the rounding's temporaries) would cost several GB. torch's float32 -> bfloat16
    cast rounds to nearest-even, like ttnn's host conversion, so the upload does not round again."""
    factor = torch.tensor(scale, dtype=torch.float32)  # GemmaTextScaledWordEmbedding's float32 scale
    out = torch.empty(table.shape, dtype=torch.bfloat16)
    for start in range(0, table.shape[0], rows):
        out[start : start + rows] = (table[start : start + rows] * factor).to(torch.bfloat16)
    return out


class GemmaTokenEmbedding:
    """`embed_tokens`: uint32 ids [B, S] -> [B, S, D] bfloat16 TILE, already scaled by sqrt(D)."""

    def __init__(
        self, state_dict: dict[str, torch.Tensor], prefix: str, tp: TensorParallel, hidden_size: int
    ):
        self.tp = tp
        table = scaled_bfloat16(take(state_dict, f"{prefix}weight"), hidden_size**0.5)
        name = f"{prefix}weight[scaled by sqrt(hidden)]"
        # ttnn.embedding wants a bfloat16 row-major table (embedding_device_operation.cpp).
        self.weight = tp.sharded(name, table, -1, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT)

    def forward(self, input_ids: Any) -> Any:
        return self.tp.all_gather(ttnn.embedding(input_ids, self.weight, layout=ttnn.TILE_LAYOUT), -1)

    __call__ = forward


class PaliGemmaLanguageModelTTNN:
    """`embed_tokens` + `layers` of the VLM's Gemma; `prefill` returns the per-layer key/value cache."""

    def __init__(
        self,
        config: Any,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        weights_dtype: Any,
        tp: TensorParallel | None = None,
    ):
        """`config`: the transformers GemmaConfig; keys `{prefix}embed_tokens.weight`, `{prefix}layers.N.*`
        are consumed from `state_dict` (the final `norm` is unused by PI0 and dropped). `tp`: how the layers
        and the table are split over the chips (default: every chip of `device`)."""
        tp = tp or TensorParallel(device)
        self.shape = GemmaShape.from_config(config)
        self.embed_tokens = GemmaTokenEmbedding(
            state_dict, f"{prefix}embed_tokens.", tp, self.shape.hidden_size
        )
        self.layers: list[GemmaDecoderLayer] = build_layers(
            self.shape, int(config.num_hidden_layers), state_dict, prefix, device, weights_dtype, tp
        )
        state_dict.pop(f"{prefix}norm.weight", None)

    def prefill(self, inputs_embeds: Any, cos: Any, sin: Any, attention_mask: Any) -> list[tuple[Any, Any]]:
        """[B, 1, P, D] prefix embeddings -> [(keys, values) [B, KV, P, head_dim] per layer], on device.
        The input stays allocated; the last hidden states are freed (PI0 never reads them)."""
        cache = []
        hidden_states = inputs_embeds
        for i, layer in enumerate(self.layers):
            output, keys, values = layer(hidden_states, cos, sin, attention_mask)
            if i > 0:
                ttnn.deallocate(hidden_states)
            cache.append((keys, values))
            hidden_states = output
        ttnn.deallocate(hidden_states)
        return cache
