"""Presets of the Gemma3 vision port: the SigLIP vision tower plus the multi-modal projector.

`full` is the vision side of google/gemma-3-4b-it (the checkpoint Gemma3Config's docstring names): a
SigLIP so400m tower at 896 px, patch 14 (64 x 64 = 4096 tokens), hidden 1152, 27 layers, MLP 4304,
16 heads, no pooling head; the projector pools 4096 tokens to 256 and projects to the text hidden size
2560. transformers' bare defaults are not these (Gemma3Config() falls back to SiglipVisionConfig()'s
224 px / patch 16 / hidden 768, and Gemma3TextConfig().hidden_size is 2304), so the checkpoint's values
are spelled out here.

`tiny` keeps the awkward parts of `full` at CI size: a head dim and an MLP width that are not multiples
of 32 (full: 72 and 4304), and 36 tokens that are not a multiple of 32 either, so the port pads the
sequence and masks the padded keys (full needs no padding); a batch of two images and a 6 x 6 -> 3 x 3
pooling.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transformers import Gemma3Config, Gemma3TextConfig, SiglipVisionConfig


@dataclass(frozen=True)
class Gemma3VisionPreset:
    """Architecture of one preset plus the port's own choices (SDPA chunking)."""

    image_size: int
    patch_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    mm_tokens_per_image: int
    text_hidden_size: int
    layer_norm_eps: float = 1e-6
    num_channels: int = 3
    #: images per forward (the inputs' batch)
    batch: int = 1
    #: SDPA q / k chunk sizes in tokens; None lets ttport.models.siglip.plan_sequence choose (4096 -> 256 / 256)
    q_chunk_size: int | None = None
    k_chunk_size: int | None = None
    #: dtype of the tower's matmul weights on device: "bfloat16" (HiFi4) or "bfloat8_b" (HiFi2 matmuls: half
    #: the math cycles of the compute-bound 4096-token linears; the `-bfp8` presets)
    weights_dtype: str = "bfloat16"

    @property
    def patches_per_side(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.patches_per_side**2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def vision_config(self) -> SiglipVisionConfig:
        config = SiglipVisionConfig(
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_channels=self.num_channels,
            image_size=self.image_size,
            patch_size=self.patch_size,
            layer_norm_eps=self.layer_norm_eps,
            vision_use_head=False,
        )
        # torch's fused SDPA keeps the fp32 reference from materialising 16 x 4096 x 4096 scores.
        config._attn_implementation = "sdpa"
        return config

    def config(self) -> Gemma3Config:
        """The Gemma3Config the projector reads (only text_config.hidden_size matters: the text model is
        never instantiated, see reference.py)."""
        text = Gemma3TextConfig(
            hidden_size=self.text_hidden_size,
            num_hidden_layers=1,
            intermediate_size=64,
            num_attention_heads=1,
            num_key_value_heads=1,
            head_dim=32,
            vocab_size=8,
        )
        return Gemma3Config(
            vision_config=self.vision_config(), text_config=text, mm_tokens_per_image=self.mm_tokens_per_image
        )


#: PCC floors (vs the fp32 reference, bfloat16 weights and activations) per component kind
THRESHOLDS = {"patch": 0.999, "embeddings": 0.999, "block": 0.999, "tower": 0.99, "projector": 0.99}

PRESETS: dict[str, Gemma3VisionPreset] = {
    "tiny": Gemma3VisionPreset(
        image_size=84,
        patch_size=14,
        hidden_size=96,
        intermediate_size=136,
        num_hidden_layers=2,
        num_attention_heads=4,
        mm_tokens_per_image=9,
        text_hidden_size=128,
        batch=2,
        # 36 tokens padded to 64 = two chunks: exercises SDPA's running softmax across key chunks.
        q_chunk_size=32,
        k_chunk_size=32,
    ),
    "full": Gemma3VisionPreset(
        image_size=896,
        patch_size=14,
        hidden_size=1152,
        intermediate_size=4304,
        num_hidden_layers=27,
        num_attention_heads=16,
        mm_tokens_per_image=256,
        text_hidden_size=2560,
    ),
}

# bfloat8_b tower weights (as PI0's `-bfp8` presets): the projection-guided tuning (README, projected time)
PRESETS["tiny-bfp8"] = replace(PRESETS["tiny"], weights_dtype="bfloat8_b")
PRESETS["full-bfp8"] = replace(PRESETS["full"], weights_dtype="bfloat8_b")
