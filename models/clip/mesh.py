"""How the CLIP port places tensors on a mesh: data parallel over the prompt batch, or tensor parallel.

Data parallel (the `tiny` / `full` presets on 1x2): token ids, masks and layer inputs are split over the
chips along the batch (ShardTensorToMesh, dim 0), every weight is replicated (ReplicateTensorToMesh), outputs
are gathered back along the batch (ConcatMeshToTensor, dim 0). Each chip runs the whole encoder on its
prompts, so the gathered result is bit-identical to a single-chip run. On one chip no mapper is used.

Tensor parallel (the `-tp` presets), as tt_dit's CLIP encoder (models/tt_dit/encoders/clip/model_clip.py):
every chip sees the whole batch; q/k/v and fc1 are column-parallel with whole heads per chip, out_proj and
fc2 row-parallel followed by an all-reduce (ttport.patterns.tensor_parallel); embeddings, layer norms and
the projection are replicated, and so are the outputs (read from chip 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.compare import to_torch
from ttport.device import num_chips
from ttport.patterns.tensor_parallel import TensorParallel


@dataclass
class MeshPlacement:
    device: Any
    #: split every layer over the chips (True) or the batch (False)
    tensor_parallel: bool = False
    tp: TensorParallel = field(init=False)

    def __post_init__(self) -> None:
        self.tp = TensorParallel(self.device, split=self.tensor_parallel)

    @property
    def chips(self) -> int:
        return num_chips(self.device)

    @property
    def replicate(self) -> Any:
        """mesh_mapper for replicated weights."""
        return ttnn.ReplicateTensorToMesh(self.device) if self.chips > 1 else None

    @property
    def shard_batch(self) -> Any:
        """mesh_mapper for per-prompt tensors (dim 0 is the batch): split in data parallel, else replicated."""
        if self.chips == 1:
            return None
        return self.replicate if self.tensor_parallel else ttnn.ShardTensorToMesh(self.device, dim=0)

    def check_batch(self, batch: int) -> None:
        if not self.tensor_parallel and batch % self.chips:
            raise ValueError(f"batch {batch} cannot be split evenly over {self.chips} chips")

    def to_torch(self, tensor: Any) -> torch.Tensor:
        """A device output as one torch tensor (float32 for float outputs): the batch gathered back in data
        parallel, chip 0's copy of a replicated output in tensor parallel."""
        batch_split = self.chips > 1 and not self.tensor_parallel
        out = to_torch(tensor, mesh_dim=0 if batch_split else None)
        return out.float() if out.is_floating_point() else out
