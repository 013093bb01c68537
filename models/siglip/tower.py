"""The SigLIP vision tower on TTNN (transformers' SiglipVisionModel without the pooling head):
embeddings -> encoder -> post_layernorm. Shared by the PI0 and Gemma3 ports.

Build it from a transformers SiglipVisionConfig (or any object with the same fields) and the state dict of
a SiglipVisionModel (keys `embeddings.*`, `encoder.layers.N.*`, `post_layernorm.*`; pass `prefix` when the
keys sit deeper, e.g. "model.vlm.vision_tower."). Hidden states travel as [B, 1, S, D]: the layout
nlp_create_qkv_heads takes, so no reshape is needed inside the stack.
"""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.patterns.preprocess import pad_to_multiple, to_device

from .block import SiglipLayerNorm
from .common import SequencePlan, plan_sequence, validate_images
from .embeddings import SiglipVisionEmbeddings
from .encoder import SiglipEncoder


class SigLIPVisionTowerTTNN:
    """`forward(pixel_values [B, C, H, W] torch) -> [B, num_patches, D]` bfloat16 TILE on device."""

    def __init__(
        self,
        config: Any,
        state_dict: dict[str, torch.Tensor],
        device: Any,
        *,
        prefix: str = "",
        weights_dtype: Any = None,
        q_chunk_size: int | None = None,
        k_chunk_size: int | None = None,
    ):
        """`weights_dtype` (default bfloat16) is the dtype of the encoder's matmul weights (e.g.
        ttnn.bfloat8_b); the patch embedding and the norms stay bfloat16. SDPA chunk sizes default to a
        choice from the sequence length (common.plan_sequence)."""
        if getattr(config, "vision_use_head", False):
            raise ValueError(
                "SigLIPVisionTowerTTNN has no pooling head: use a config with vision_use_head=False"
            )
        self.config = config
        self.device = device
        self.num_channels = int(config.num_channels)
        self.image_size = int(config.image_size)
        self.hidden_size = int(config.hidden_size)
        num_patches = (self.image_size // int(config.patch_size)) ** 2
        self.plan: SequencePlan = plan_sequence(num_patches, q_chunk_size, k_chunk_size)
        self.embeddings = SiglipVisionEmbeddings(
            config, state_dict, f"{prefix}embeddings.", device, self.plan
        )
        self.encoder = SiglipEncoder(
            config, state_dict, f"{prefix}encoder.", device, self.plan, weights_dtype
        )
        self.post_layernorm = SiglipLayerNorm(
            state_dict, f"{prefix}post_layernorm.", device, config.layer_norm_eps
        )

    @property
    def num_patches(self) -> int:
        return self.plan.num_tokens

    def validate(self, pixel_values: Any) -> None:
        """Raise ImageInputError for images this tower cannot take (before any device work)."""
        validate_images(pixel_values, self.num_channels, self.image_size)

    def upload_hidden_states(self, hidden_states: torch.Tensor) -> Any:
        """Host [B, N, D] hidden states (e.g. a reference layer's input) -> [B, 1, S, D] on device."""
        padded = pad_to_multiple(hidden_states.detach().float(), self.plan.padded_len, dim=-2)
        return to_device(padded.unsqueeze(1), self.device)

    def unpad(self, hidden_states: Any) -> Any:
        """[B, 1, S, D] on device -> [B, N, D]: drop the padded tokens, remove the unit dim."""
        batch = hidden_states.shape[0]
        if self.plan.is_padded:
            hidden_states = ttnn.slice(
                hidden_states, [0, 0, 0, 0], [batch, 1, self.plan.num_tokens, self.hidden_size]
            )
        return ttnn.reshape(hidden_states, (batch, self.plan.num_tokens, self.hidden_size))

    def forward(self, pixel_values: torch.Tensor) -> Any:
        self.validate(pixel_values)
        embeddings = self.embeddings(pixel_values)
        hidden_states = self.encoder(embeddings)
        ttnn.deallocate(embeddings)
        # the tower's output goes back to DRAM whatever the layers used (SiglipEncoder.activation_memory)
        normed = self.post_layernorm(hidden_states, ttnn.DRAM_MEMORY_CONFIG)
        ttnn.deallocate(hidden_states)
        return self.unpad(normed)

    __call__ = forward
