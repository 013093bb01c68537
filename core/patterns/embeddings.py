"""Learned position embeddings: the position ids and the table go to the device once, in `__init__`;
`forward` is one `ttnn.embedding` lookup and one explicit `ttnn.add` (no Python `+`, so the port reads
the same on the simulator's strict mode and on the device)."""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.weights import to_device


class PositionEmbedding:
    """`x + weight[position_ids]` with position ids 0..num_positions-1 (the HF `position_embedding`)."""

    def __init__(
        self,
        weight: torch.Tensor,
        device: Any,
        *,
        num_positions: int | None = None,
        mesh_mapper: Any = None,
        memory_config: Any = None,
        name: str = "position_embedding.weight",
    ):
        """`weight` is the [max_positions, hidden] table; `num_positions` (default: all) are used. `name`:
        the table's full parameter path (its weight-cache entry, ttport.weights.to_device)."""
        num_positions = num_positions if num_positions is not None else weight.shape[0]
        if num_positions > weight.shape[0]:
            raise ValueError(f"{num_positions} positions requested but the table has {weight.shape[0]}")
        memory_config = memory_config if memory_config is not None else ttnn.DRAM_MEMORY_CONFIG
        self.num_positions = num_positions
        # ttnn.embedding wants uint32 indices and a bfloat16 row-major table (embedding_device_operation.cpp).
        self.position_ids = ttnn.from_torch(
            torch.arange(num_positions, dtype=torch.int32).unsqueeze(0),
            dtype=ttnn.uint32,
            layout=ttnn.ROW_MAJOR_LAYOUT,
            device=device,
            memory_config=memory_config,
            mesh_mapper=mesh_mapper,
        )
        self.weight = to_device(
            name,
            weight.detach().float(),
            device,
            dtype=ttnn.bfloat16,
            layout=ttnn.ROW_MAJOR_LAYOUT,
            memory_config=memory_config,
            mesh_mapper=mesh_mapper,
        )

    def forward(self, x: Any) -> Any:
        """x: [B, num_positions, hidden] TILE on device -> x + position embeddings (broadcast over B)."""
        positions = ttnn.embedding(self.position_ids, self.weight, layout=ttnn.TILE_LAYOUT)
        return ttnn.add(x, positions)

    __call__ = forward
