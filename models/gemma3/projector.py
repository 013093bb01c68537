"""Gemma3MultiModalProjector on TTNN: vision tokens -> patch grid -> average pooling down to
mm_tokens_per_image -> Gemma RMSNorm -> projection to the text model's hidden size.

The tower's tokens are in row-major patch order with channels last: an NHWC image flattened to
[B, H*W, C]. ttnn.avg_pool2d takes exactly that as [1, 1, B*H*W, C] and returns [1, 1, B*h*w, C] in the
same order, so no transpose is needed (the reference transposes to NCHW for torch's AvgPool2d and back,
which lands on the same [B, h*w, C] order). tt-metal's models/demos/gemma3/tt/multi_modal_projector.py
pools with ttnn.avg_pool2d the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip.common import matmul_compute_config, to_device_weight

from .presets import Gemma3VisionPreset
from .rms_norm import Gemma3RMSNorm


class Gemma3MultiModalProjector:
    """Named as transformers' module: `mm_soft_emb_norm` and `mm_input_projection_weight`, a plain
    [vision hidden, text hidden] matrix the reference applies as `x @ W` (so it is uploaded as is, no
    transpose as for an nn.Linear weight)."""

    def __init__(
        self,
        preset: Gemma3VisionPreset,
        state_dict: Mapping[str, torch.Tensor],
        device: Any,
        prefix: str = "multi_modal_projector.",
    ):
        self.patches_per_side = preset.patches_per_side
        self.tokens_per_side = int(preset.mm_tokens_per_image**0.5)
        if (
            self.tokens_per_side**2 != preset.mm_tokens_per_image
            or self.patches_per_side % self.tokens_per_side
        ):
            raise ValueError(
                f"mm_tokens_per_image {preset.mm_tokens_per_image} must be a square whose side divides the "
                f"{self.patches_per_side} patches per side"
            )
        self.kernel_size = self.patches_per_side // self.tokens_per_side
        self.hidden_size = preset.hidden_size
        norm, projection = f"{prefix}mm_soft_emb_norm.weight", f"{prefix}mm_input_projection_weight"
        self.mm_soft_emb_norm = Gemma3RMSNorm(norm, state_dict[norm], preset.layer_norm_eps, device)
        self.mm_input_projection_weight = to_device_weight(projection, state_dict[projection], device)
        self.compute_kernel_config = matmul_compute_config(ttnn.bfloat16)

    def pool(self, vision_outputs: Any) -> Any:
        """[B, H*W, C] tokens (TILE) -> [B, mm_tokens_per_image, C] (TILE): means over kernel x kernel
        patches."""
        batch, seq, channels = vision_outputs.shape
        side = self.patches_per_side
        if seq != side * side or channels != self.hidden_size:
            raise ValueError(
                f"the projector takes [batch, {side * side}, {self.hidden_size}] vision tokens, "
                f"got {list(vision_outputs.shape)}"
            )
        grid = ttnn.reshape(
            ttnn.to_layout(vision_outputs, ttnn.ROW_MAJOR_LAYOUT), (1, 1, batch * seq, channels)
        )
        pooled = ttnn.avg_pool2d(
            grid,
            batch_size=batch,
            input_h=side,
            input_w=side,
            channels=channels,
            kernel_size=(self.kernel_size, self.kernel_size),
            stride=(self.kernel_size, self.kernel_size),
            padding=(0, 0),
            ceil_mode=False,
            memory_config=ttnn.DRAM_MEMORY_CONFIG,
        )
        pooled = ttnn.reshape(pooled, (batch, self.tokens_per_side**2, channels))
        return ttnn.to_layout(pooled, ttnn.TILE_LAYOUT)

    def forward(self, vision_outputs: Any) -> Any:
        """[B, H*W, vision hidden] -> [B, mm_tokens_per_image, text hidden] on device."""
        pooled = self.pool(vision_outputs)
        normed = self.mm_soft_emb_norm(pooled)
        ttnn.deallocate(pooled)
        projected = ttnn.matmul(
            normed, self.mm_input_projection_weight, compute_kernel_config=self.compute_kernel_config
        )
        ttnn.deallocate(normed)
        return projected

    __call__ = forward
