"""How the CLIP port places tensors on a mesh: data parallel over the prompt batch.

Token ids, masks and layer inputs are split over the chips along the batch (ShardTensorToMesh, dim 0),
every weight is replicated (ReplicateTensorToMesh), outputs are gathered back along the batch
(ConcatMeshToTensor, dim 0). Each chip runs the whole encoder on its prompts, so the gathered result is
bit-identical to a single-chip run. On one chip no mapper is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.compare import to_torch
from ttport.device import num_chips


@dataclass
class BatchParallel:
    device: Any

    @property
    def chips(self) -> int:
        return num_chips(self.device)

    @property
    def replicate(self) -> Any:
        """mesh_mapper for weights."""
        return ttnn.ReplicateTensorToMesh(self.device) if self.chips > 1 else None

    @property
    def shard_batch(self) -> Any:
        """mesh_mapper for per-prompt tensors (dim 0 is the batch)."""
        return ttnn.ShardTensorToMesh(self.device, dim=0) if self.chips > 1 else None

    def check_batch(self, batch: int) -> None:
        if batch % self.chips:
            raise ValueError(f"batch {batch} cannot be split evenly over {self.chips} chips")

    def to_torch(self, tensor: Any) -> torch.Tensor:
        """Gather a batch-sharded device tensor into one torch tensor (float32 for float outputs)."""
        out = to_torch(tensor, mesh_dim=0 if self.chips > 1 else None)
        return out.float() if out.is_floating_point() else out
