"""Presets of the CLIP text-encoder pair of Stable Diffusion XL / 3 style pipelines.

`full` is the real pair: enc1 = CLIP ViT-L/14's text tower (openai/clip-vit-large-patch14: quick_gelu,
hidden 768, 12 layers, 12 heads, no projection) and enc2 = OpenCLIP ViT-bigG/14's text tower
(laion/CLIP-ViT-bigG-14-laion2B-39B-b160k: gelu, hidden 1280, 32 layers, 20 heads, text_projection
1280 -> 1280). `tiny` keeps both architectures (activation, projection, both pooling rules) at CI size.

The two encoders deliberately use the two pooling rules of transformers' CLIPTextTransformer: enc1 keeps
the legacy `eos_token_id == 2` of the OpenAI configs (pool at the argmax of the ids, which is the EOS
token because it is the largest id), enc2 sets the real EOS id (pool at its first occurrence). Their
tokenizers also pad differently: CLIP-L pads with the EOS token, CLIP-G with id 0 ("!").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transformers import CLIPTextConfig

ENCODERS = ("enc1", "enc2")


@dataclass(frozen=True)
class EncoderPreset:
    """One text encoder: its transformers architecture plus the tokenizer facts the inputs need."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    hidden_act: str
    #: text_projection output size, or None for the bare CLIPTextModel (enc1)
    projection_dim: int | None
    vocab_size: int = 49408
    max_position_embeddings: int = 77
    layer_norm_eps: float = 1e-5
    #: config.eos_token_id: 2 selects transformers' legacy argmax pooling rule
    config_eos_token_id: int = 2
    #: id the tokenizer pads with: None = the EOS token (CLIP-L), else this id (CLIP-G pads with 0)
    tokenizer_pad_id: int | None = None

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def bos_id(self) -> int:
        """<|startoftext|>: the second largest id, as in the CLIP vocabulary (49406)."""
        return self.vocab_size - 2

    @property
    def eos_id(self) -> int:
        """<|endoftext|>: the largest id (49407), so the legacy argmax rule finds it."""
        return self.vocab_size - 1

    @property
    def pad_id(self) -> int:
        return self.eos_id if self.tokenizer_pad_id is None else self.tokenizer_pad_id

    def text_config(self) -> CLIPTextConfig:
        legacy = self.config_eos_token_id == 2
        return CLIPTextConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            max_position_embeddings=self.max_position_embeddings,
            hidden_act=self.hidden_act,
            layer_norm_eps=self.layer_norm_eps,
            projection_dim=self.projection_dim or self.hidden_size,
            # the legacy OpenAI configs carry bos/pad/eos = 0/1/2; the fixed ones the real ids
            bos_token_id=0 if legacy else self.bos_id,
            pad_token_id=1 if legacy else self.pad_id,
            eos_token_id=self.config_eos_token_id,
        )


@dataclass(frozen=True)
class ClipPreset:
    """Both encoders plus the prompt batch: `prompt_lengths[i]` tokens (BOS .. EOS) in row i, padded to
    `seq_len`; a length equal to `seq_len` is a row without padding."""

    enc1: EncoderPreset
    enc2: EncoderPreset
    prompt_lengths: tuple[int, ...] = (11, 77)
    seq_len: int = 77
    #: the mesh the port runs on, and whether each layer is split over its chips (tensor parallel) or the
    #: prompt batch is (data parallel; models/clip/mesh.py)
    mesh: tuple[int, int] | None = (1, 2)
    tensor_parallel: bool = False
    #: dtype of the linear weights on device: "bfloat16" (HiFi4, as tt_dit's CLIP) or "bfloat8_b" (HiFi2
    #: matmuls: half the weight bytes of the memory-bound 77-token linears; the `-bfp8` presets)
    weights_dtype: str = "bfloat16"

    @property
    def batch(self) -> int:
        return len(self.prompt_lengths)

    def encoder(self, name: str) -> EncoderPreset:
        if name not in ENCODERS:
            raise KeyError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
        return getattr(self, name)


_TINY_ENC1 = EncoderPreset(
    hidden_size=64,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=2,
    hidden_act="quick_gelu",
    projection_dim=None,
    vocab_size=1000,
)
_TINY_ENC2 = EncoderPreset(
    hidden_size=96,
    intermediate_size=384,
    num_hidden_layers=3,
    num_attention_heads=3,
    hidden_act="gelu",
    projection_dim=64,
    vocab_size=1000,
    config_eos_token_id=999,
    tokenizer_pad_id=0,
)
_FULL_ENC1 = EncoderPreset(
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    hidden_act="quick_gelu",
    projection_dim=None,
)
_FULL_ENC2 = EncoderPreset(
    hidden_size=1280,
    intermediate_size=5120,
    num_hidden_layers=32,
    num_attention_heads=20,
    hidden_act="gelu",
    projection_dim=1280,
    config_eos_token_id=49407,
    tokenizer_pad_id=0,
)
# Tensor parallel needs whole heads per chip: the tiny encoders get 4 heads (hidden 128) and split over 2 and 4
# chips; the real pair (12 and 20 heads) splits over 2 and 4 as it is.
_TINY_TP_ENC1 = EncoderPreset(
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_act="quick_gelu",
    projection_dim=None,
    vocab_size=1000,
)
_TINY_TP_ENC2 = EncoderPreset(
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=3,
    num_attention_heads=4,
    hidden_act="gelu",
    projection_dim=64,
    vocab_size=1000,
    config_eos_token_id=999,
    tokenizer_pad_id=0,
)

PRESETS: dict[str, ClipPreset] = {
    "tiny": ClipPreset(enc1=_TINY_ENC1, enc2=_TINY_ENC2),
    "full": ClipPreset(enc1=_FULL_ENC1, enc2=_FULL_ENC2),
    # the tensor-parallel architecture on one chip: what tiny-tp2 / tiny-tp4 are compared with
    "tiny-tp1": ClipPreset(enc1=_TINY_TP_ENC1, enc2=_TINY_TP_ENC2, mesh=None),
    "tiny-tp2": ClipPreset(enc1=_TINY_TP_ENC1, enc2=_TINY_TP_ENC2, tensor_parallel=True),
    "tiny-tp4": ClipPreset(enc1=_TINY_TP_ENC1, enc2=_TINY_TP_ENC2, mesh=(1, 4), tensor_parallel=True),
    "full-tp2": ClipPreset(enc1=_FULL_ENC1, enc2=_FULL_ENC2, tensor_parallel=True),
    "full-tp4": ClipPreset(enc1=_FULL_ENC1, enc2=_FULL_ENC2, mesh=(1, 4), tensor_parallel=True),
}

# bfloat8_b linear weights (as PI0's and Gemma3's `-bfp8` presets): the projection-guided tuning (README,
# projected time)
PRESETS["tiny-bfp8"] = replace(PRESETS["tiny"], weights_dtype="bfloat8_b")
PRESETS["full-bfp8"] = replace(PRESETS["full"], weights_dtype="bfloat8_b")
