"""CLIPTextEmbeddings on TTNN: token lookup with ttnn.embedding on uint32 ids, plus learned positions."""

from __future__ import annotations

from typing import Any

import torch
from transformers.models.clip.modeling_clip import CLIPTextEmbeddings

from ttport.backend import ttnn
from ttport.patterns.embeddings import PositionEmbedding
from ttport.weights import to_device


class TtCLIPTextEmbeddings:
    """`token_embedding(ids) + position_embedding(0..S-1)`, both tables bf16 ROW_MAJOR on the device."""

    def __init__(
        self,
        reference: CLIPTextEmbeddings,
        device: Any,
        *,
        seq_len: int,
        mesh_mapper: Any = None,
        prefix: str = "",
    ):
        self.token_embedding = to_device(
            f"{prefix}token_embedding.weight",
            reference.token_embedding.weight.detach().float(),
            device,
            dtype=ttnn.bfloat16,
            layout=ttnn.ROW_MAJOR_LAYOUT,
            mesh_mapper=mesh_mapper,
        )
        self.position_embedding = PositionEmbedding(
            reference.position_embedding.weight.detach(),
            device,
            num_positions=seq_len,
            mesh_mapper=mesh_mapper,
            name=f"{prefix}position_embedding.weight",
        )

    def forward(self, input_ids: Any) -> Any:
        """input_ids: uint32 [B, S] ROW_MAJOR on device -> [B, 1, S, H] bf16 TILE."""
        batch, seq_len = input_ids.shape
        tokens = ttnn.embedding(input_ids, self.token_embedding, layout=ttnn.TILE_LAYOUT)
        embeddings = self.position_embedding(tokens)
        return ttnn.reshape(embeddings, (batch, 1, seq_len, embeddings.shape[-1]))

    __call__ = forward


def ids_to_device(input_ids: torch.Tensor, device: Any, *, mesh_mapper: Any = None) -> Any:
    """Token ids as ttnn.embedding wants them: uint32, ROW_MAJOR (embedding_device_operation.cpp)."""
    return ttnn.from_torch(
        input_ids.to(torch.int32),
        dtype=ttnn.uint32,
        layout=ttnn.ROW_MAJOR_LAYOUT,
        device=device,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
        mesh_mapper=mesh_mapper,
    )
