"""PaliGemma's multi-modal projector on TTNN (transformers' PaliGemmaMultiModalProjector: one `linear`,
vision hidden -> projection_dim, with bias)."""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip.common import linear_weight, matmul_compute_config, row_vector


class PaliGemmaMultiModalProjectorTTNN:
    def __init__(
        self, state_dict: dict[str, torch.Tensor], prefix: str, device: Any, weights_dtype: Any = None
    ):
        weights_dtype = weights_dtype if weights_dtype is not None else ttnn.bfloat16
        weight, bias = f"{prefix}linear.weight", f"{prefix}linear.bias"
        self.weight = linear_weight(weight, state_dict[weight], device, weights_dtype)
        self.bias = row_vector(bias, state_dict[bias], device)
        self.compute_kernel_config = matmul_compute_config(weights_dtype)

    def forward(self, image_features: Any) -> Any:
        """[..., vision hidden] -> [..., projection_dim] on device."""
        return ttnn.linear(
            image_features, self.weight, bias=self.bias, compute_kernel_config=self.compute_kernel_config
        )

    __call__ = forward
