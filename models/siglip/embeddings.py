"""SigLIP vision embeddings: a patch embedding (hybrid: unfold on the host, ttnn.linear on the device) plus
learned position embeddings (ttnn.embedding lookup + explicit ttnn.add)."""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.patterns.embeddings import PositionEmbedding
from ttport.patterns.preprocess import conv_weight_as_linear, pad_to_multiple, patchify, to_device

from .common import SequencePlan, matmul_compute_config, row_vector, to_device_weight


class SiglipPatchEmbedding:
    """`nn.Conv2d(C, D, kernel=stride=p)` as a matmul over host-unfolded patches.

    The conv weight is reshaped once here to a [C*p*p padded to 32, D] linear weight; `forward` unfolds and
    pads the images on the host, uploads them once and runs one ttnn.linear. Rows beyond the real patches
    (when the sequence is padded for SDPA) are zero patches: they only get the bias.
    """

    def __init__(
        self, config: Any, state_dict: dict[str, torch.Tensor], prefix: str, device: Any, plan: SequencePlan
    ):
        self.patch_size = int(config.patch_size)
        self.plan = plan
        self.weight = to_device_weight(
            f"{prefix}weight", conv_weight_as_linear(state_dict[f"{prefix}weight"]), device
        )
        self.bias = row_vector(f"{prefix}bias", state_dict[f"{prefix}bias"], device)
        self.compute_kernel_config = matmul_compute_config(ttnn.bfloat16)
        self.device = device

    def preprocess(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Host half: [B, C, H, W] -> [B, 1, padded tokens, padded C*p*p] float32 patches."""
        patches = pad_to_multiple(patchify(pixel_values, self.patch_size), self.plan.padded_len, dim=-2)
        return patches.unsqueeze(1)

    def forward(self, pixel_values: torch.Tensor) -> Any:
        """[B, C, H, W] torch -> [B, 1, padded tokens, D] bfloat16 TILE on device (the one image upload)."""
        patches = to_device(self.preprocess(pixel_values), self.device)
        embeddings = ttnn.linear(
            patches, self.weight, bias=self.bias, compute_kernel_config=self.compute_kernel_config
        )
        ttnn.deallocate(patches)
        return embeddings

    __call__ = forward


class SiglipVisionEmbeddings:
    """`patch_embedding` then `position_embedding`, named as transformers' SiglipVisionEmbeddings."""

    def __init__(
        self, config: Any, state_dict: dict[str, torch.Tensor], prefix: str, device: Any, plan: SequencePlan
    ):
        self.patch_embedding = SiglipPatchEmbedding(
            config, state_dict, f"{prefix}patch_embedding.", device, plan
        )
        name = f"{prefix}position_embedding.weight"
        # Padded positions read zero rows: the table is extended once, so the ids still count 0..padded-1.
        table = pad_to_multiple(state_dict[name].detach().float(), plan.padded_len, dim=0)
        self.position_embedding = PositionEmbedding(
            table, device, num_positions=plan.padded_len, name=f"{name}[padded to {plan.padded_len}]"
        )

    def forward(self, pixel_values: torch.Tensor) -> Any:
        """[B, C, H, W] torch -> [B, 1, padded tokens, D] on device."""
        patch_embeds = self.patch_embedding(pixel_values)
        embeddings = self.position_embedding(patch_embeds)
        ttnn.deallocate(patch_embeds)
        return embeddings

    __call__ = forward
