"""PI0 presets: the image path's architecture (SigLIP vision tower + PaliGemma projector), the policy after
it (`PolicyConfig`: PaliGemma's Gemma LM, the Gemma action expert "dit", the flow-matching loop, the prompt
shape), the precision of the TTNN weights, the PCC floors and the shape of the deterministic inputs.

Policy sizes: full is transformers' PI0Config default (PaliGemma-3B's Gemma 2B, 18 layers; the Gemma-300M
expert, 18 layers; chunk 50, action/state dim 32). The tiny size keeps every structural feature (grouped-query
attention with one KV head, head_dim a multiple of 64 for the rotary op, an action chunk that is not a tile
multiple) at a size CI runs in seconds.

A preset without a `policy` compares the image path only, so its reference PI0 is built with the PaliGemma
text model and the action expert (DiT) shrunk to one small layer: they are never run, and this keeps the
`vision-full` reference at the size of the so400m vision tower (~430 M parameters, ~1.7 GB fp32) instead of
PI0's 3.5 B.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import PI0Config

#: PCC floors of the policy's components with bfloat16 weights (the issue's floors; never lowered)
BF16_FLOORS = {"prefix": 0.99, "kv": 0.99, "velocity": 0.99, "actions": 0.99}
#: with bfloat8_b matmul weights in both Gemma stacks (the issue's floor for that variant)
BFP8_FLOORS = {"prefix": 0.99, "kv": 0.98, "velocity": 0.98, "actions": 0.98}


@dataclass(frozen=True)
class PolicyConfig:
    """The policy part of a PI0 preset."""

    #: transformers GemmaConfig keyword arguments of PaliGemma's text model (hidden_size = projection_dim)
    text: dict[str, Any]
    #: GemmaConfig keyword arguments of the action expert (same layers, heads, KV heads and head_dim as text)
    expert: dict[str, Any]
    chunk_size: int
    max_action_dim: int = 32
    max_state_dim: int = 32
    num_inference_steps: int = 10
    #: prompt tokens after the image tokens
    text_tokens: int = 48
    #: "bfloat16" or "bfloat8_b": matmul weights of the two Gemma stacks on device
    weights_dtype: str = "bfloat16"
    thresholds: dict[str, float] = field(default_factory=lambda: dict(BF16_FLOORS))

    def pi0_kwargs(self) -> dict[str, Any]:
        """PI0Config keyword arguments of the policy (vlm text config, dit config, action chunk)."""
        return {
            "dit_config": dict(self.expert, model_type="gemma"),
            "chunk_size": self.chunk_size,
            "max_action_dim": self.max_action_dim,
            "max_state_dim": self.max_state_dim,
            "num_inference_steps": self.num_inference_steps,
        }

    def text_config(self, projection_dim: int) -> dict[str, Any]:
        return dict(self.text, model_type="gemma", hidden_size=projection_dim)

    def with_dtype(self, weights_dtype: str, thresholds: dict[str, float]) -> PolicyConfig:
        return PolicyConfig(
            self.text,
            self.expert,
            self.chunk_size,
            self.max_action_dim,
            self.max_state_dim,
            self.num_inference_steps,
            self.text_tokens,
            weights_dtype,
            dict(thresholds),
        )


# PI0Config.sub_configs_defaults (transformers 5.23): Gemma 2B text model and the Gemma-300M expert.
FULL_POLICY = PolicyConfig(
    text={
        "num_hidden_layers": 18,
        "intermediate_size": 16384,
        "num_attention_heads": 8,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "vocab_size": 257152,
    },
    expert={
        "hidden_size": 1024,
        "num_hidden_layers": 18,
        "intermediate_size": 4096,
        "num_attention_heads": 8,
        "num_key_value_heads": 1,
        "head_dim": 256,
    },
    chunk_size=50,
    text_tokens=48,
)

TINY_POLICY = PolicyConfig(
    text={
        "num_hidden_layers": 2,
        "intermediate_size": 256,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 64,
        "vocab_size": 512,
    },
    expert={
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "intermediate_size": 160,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 64,
    },
    chunk_size=10,
    text_tokens=8,
)

# Tensor-parallel tiny: TINY_POLICY with 8 query heads (one KV head, as PI0) and MLPs whose width splits into
# whole tiles over 8 chips, so the same architecture runs on 1, 2 and 8 chips.
TINY_TP_POLICY = PolicyConfig(
    text=dict(TINY_POLICY.text, num_attention_heads=8),
    expert=dict(TINY_POLICY.expert, num_attention_heads=8, intermediate_size=256),
    chunk_size=TINY_POLICY.chunk_size,
    text_tokens=TINY_POLICY.text_tokens,
)

# Mid-size: Gemma 2B's heads (8, one KV head) and head_dim (256) at a quarter of its width (hidden 512, MLP
# 4096) and 4 of its 18 layers; the expert at half of its width (hidden 512, MLP 2048), 4 layers. Small enough
# to build on 8 simulated chips in well under 1 GB (README, "Mesh presets").
MID_POLICY = PolicyConfig(
    text=dict(FULL_POLICY.text, num_hidden_layers=4, intermediate_size=4096, vocab_size=16384),
    expert=dict(FULL_POLICY.expert, hidden_size=512, num_hidden_layers=4, intermediate_size=2048),
    chunk_size=FULL_POLICY.chunk_size,
    text_tokens=FULL_POLICY.text_tokens,
)


# The parts of PI0 no component runs: one small Gemma layer each (see the module docstring).
_SMALL_TEXT = {
    "model_type": "gemma",
    "num_hidden_layers": 1,
    "intermediate_size": 64,
    "num_attention_heads": 1,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "vocab_size": 256,
}
_SMALL_EXPERT = {
    "model_type": "gemma",
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "intermediate_size": 64,
    "num_attention_heads": 1,
    "num_key_value_heads": 1,
    "head_dim": 32,
}


@dataclass(frozen=True)
class PI0Preset:
    """Architecture of the image path, TTNN weight precision and input shape of one preset."""

    #: transformers SiglipVisionConfig keyword arguments of `vlm_config.vision_config`
    vision: dict[str, Any]
    #: output width of PaliGemma's multi-modal projector (= the text model's hidden size in PI0)
    projection_dim: int
    #: "bfloat16" or "bfloat8_b": dtype of the encoder's and the projector's matmul weights on device
    weights_dtype: str = "bfloat16"
    batch: int = 1
    #: camera slots per sample, and which of them hold an image (PI0's `pixel_attention_mask`)
    camera_mask: tuple[bool, ...] = (True,)
    #: PCC floors per component kind ("patch", "position", "block", "tower", "projector")
    thresholds: dict[str, float] = field(default_factory=dict)
    #: the policy after the image path (Gemma LM, action expert, flow matching); None: image path only
    policy: PolicyConfig | None = None
    #: the mesh the port runs on, None for one chip; on a 1 x N mesh both Gemma stacks are tensor parallel
    #: over the N chips (models/pi0/gemma.py), the image path is replicated
    mesh: tuple[int, int] | None = None

    @property
    def cameras(self) -> int:
        return len(self.camera_mask)

    @property
    def image_size(self) -> int:
        return int(self.vision["image_size"])

    @property
    def num_layers(self) -> int:
        return int(self.vision["num_hidden_layers"])

    def pi0_config(self) -> PI0Config:
        """The transformers config of the reference PI0: the image path as specified; the policy's Gemma LM,
        expert and action chunk when the preset has a policy, else one small layer each."""
        text = dict(_SMALL_TEXT, hidden_size=self.projection_dim, vocab_size=_SMALL_TEXT["vocab_size"])
        vision = dict(self.vision, model_type="siglip_vision_model", vision_use_head=False)
        policy = {"dit_config": dict(_SMALL_EXPERT)}
        image_token_id = text["vocab_size"] - 1
        if self.policy is not None:
            # the whole PI0: its image token is out of the vocabulary, as PI0's default
            text, policy = self.policy.text_config(self.projection_dim), self.policy.pi0_kwargs()
            image_token_id = text["vocab_size"]
        return PI0Config(
            vlm_config={
                "model_type": "paligemma",
                "text_config": text,
                "vision_config": vision,
                "projection_dim": self.projection_dim,
                "image_token_id": image_token_id,
            },
            **policy,
        )


_BF16_FLOORS = {"patch": 0.999, "position": 0.999, "block": 0.999, "tower": 0.99, "projector": 0.99}
# bfloat8_b encoder/projector weights (patch embedding stays bfloat16): the issue asks >= 0.98 for the tower;
# the per-block floor is the same as the tower's since a block's error no longer is far below it.
_BFP8_FLOORS = {"patch": 0.999, "position": 0.999, "block": 0.99, "tower": 0.98, "projector": 0.98}

# so400m/14 at 224 px, as PI0's default PaliGemma vision config (transformers PI0Config.sub_configs_defaults)
_FULL_VISION = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "patch_size": 14,
    "image_size": 224,
    "num_channels": 3,
    "layer_norm_eps": 1e-6,
    "hidden_act": "gelu_pytorch_tanh",
}
# Small but not tile-friendly where the full model is not: head_dim 48 (full: 72) and intermediate 176
# (full: 4304) are not multiples of 32, the patch vector 3*14*14 = 588 is padded to 608 as at full size.
_TINY_VISION = dict(
    _FULL_VISION,
    hidden_size=96,
    intermediate_size=176,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=112,
)


def _tiny_tp(mesh: tuple[int, int] | None) -> PI0Preset:
    return PI0Preset(
        _TINY_VISION,
        128,
        batch=2,
        camera_mask=(True, True, False),
        thresholds=_BF16_FLOORS,
        policy=TINY_TP_POLICY,
        mesh=mesh,
    )


def _mid(mesh: tuple[int, int] | None) -> PI0Preset:
    return PI0Preset(
        _TINY_VISION,
        512,
        batch=1,
        camera_mask=(True, True, False),
        thresholds=_BF16_FLOORS,
        policy=MID_POLICY,
        mesh=mesh,
    )


PRESETS: dict[str, PI0Preset] = {
    "tiny": PI0Preset(
        _TINY_VISION,
        128,
        batch=2,
        camera_mask=(True, True, False),
        thresholds=_BF16_FLOORS,
        policy=TINY_POLICY,
    ),
    "tiny-bfp8": PI0Preset(
        _TINY_VISION,
        128,
        weights_dtype="bfloat8_b",
        batch=2,
        camera_mask=(True, True, False),
        thresholds=_BFP8_FLOORS,
        policy=TINY_POLICY.with_dtype("bfloat8_b", BFP8_FLOORS),
    ),
    # PaliGemma-3B + the 300M expert: three camera slots at 224 px, two of them holding an image
    "full": PI0Preset(
        _FULL_VISION,
        2048,
        batch=1,
        camera_mask=(True, True, False),
        thresholds=_BF16_FLOORS,
        policy=FULL_POLICY,
    ),
    "full-bfp8": PI0Preset(
        _FULL_VISION,
        2048,
        weights_dtype="bfloat8_b",
        batch=1,
        camera_mask=(True, True, False),
        thresholds=_BFP8_FLOORS,
        policy=FULL_POLICY.with_dtype("bfloat8_b", BFP8_FLOORS),
    ),
    # The image path alone at full size (no policy): the reference's text model and expert stay one small
    # layer each, so the run holds ~1.7 GB of fp32 reference instead of PI0's 3.5 B parameters (~14 GB).
    "vision-full": PI0Preset(
        _FULL_VISION, 2048, batch=1, camera_mask=(True, True, False), thresholds=_BF16_FLOORS
    ),
    # Tensor parallel (README, "Mesh presets"): the same architecture on one chip and split over 2 / 8 chips.
    "tiny-tp1": _tiny_tp(None),
    "tiny-tp2": _tiny_tp((1, 2)),
    "tiny-tp8": _tiny_tp((1, 8)),
    "mid": _mid(None),
    "mid-tp2": _mid((1, 2)),
    "mid-tp8": _mid((1, 8)),
    "full-tp8": PI0Preset(
        _FULL_VISION,
        2048,
        batch=1,
        camera_mask=(True, True, False),
        thresholds=_BF16_FLOORS,
        policy=FULL_POLICY,
        mesh=(1, 8),
    ),
    "vision-full-bfp8": PI0Preset(
        _FULL_VISION,
        2048,
        weights_dtype="bfloat8_b",
        batch=1,
        camera_mask=(True, True, False),
        thresholds=_BFP8_FLOORS,
    ),
}
