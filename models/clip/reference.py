"""The transformers reference of the encoder pair, its deterministic token inputs, and one recorded
reference run per encoder (every layer's input and output captured with forward hooks)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from .presets import ENCODERS, ClipPreset, EncoderPreset


class ClipEncoderPair(torch.nn.Module):
    """enc1 (CLIPTextModel) and enc2 (CLIPTextModelWithProjection), as a diffusion pipeline holds them."""

    def __init__(self, preset: ClipPreset, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.enc1 = build_encoder(preset.enc1)
        self.enc2 = build_encoder(preset.enc2)

    def encoder(self, name: str) -> CLIPTextModel | CLIPTextModelWithProjection:
        return getattr(self, name)


def build_encoder(preset: EncoderPreset) -> CLIPTextModel | CLIPTextModelWithProjection:
    """fp32, eval mode, eager attention (the plain matmul-softmax-matmul the port is compared with)."""
    cls = CLIPTextModelWithProjection if preset.projection_dim else CLIPTextModel
    model = cls(preset.text_config())
    model.config._attn_implementation = "eager"
    return model.float().eval()


def text_model(encoder: torch.nn.Module) -> CLIPTextModel:
    """The CLIPTextModel inside an encoder (CLIPTextModelWithProjection wraps one as `text_model`)."""
    return getattr(encoder, "text_model", encoder)


def make_token_inputs(preset: EncoderPreset, lengths: tuple[int, ...], seq_len: int, seed: int) -> dict:
    """What the encoder's tokenizer would produce for prompts of `lengths` tokens: BOS, random word ids
    (never BOS/EOS, so both pooling rules find the real EOS), EOS, then the tokenizer's pad id."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.full((len(lengths), seq_len), preset.pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(lengths), seq_len), dtype=torch.long)
    for row, length in enumerate(lengths):
        if not 2 <= length <= seq_len:
            raise ValueError(f"prompt length {length} must be within 2..{seq_len}")
        words = torch.randint(0, preset.bos_id, (length - 2,), generator=generator)
        input_ids[row, :length] = torch.cat(
            [torch.tensor([preset.bos_id]), words, torch.tensor([preset.eos_id])]
        )
        attention_mask[row, :length] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def make_inputs(preset: ClipPreset, seed: int) -> dict[str, dict[str, torch.Tensor]]:
    """{"enc1": {"input_ids", "attention_mask"}, "enc2": {...}}: each encoder with its own tokenizer."""
    return {
        name: make_token_inputs(preset.encoder(name), preset.prompt_lengths, preset.seq_len, seed + i)
        for i, name in enumerate(ENCODERS)
    }


@dataclass
class ReferenceRun:
    """Everything the components compare, from one fp32 forward with output_hidden_states=True."""

    embeddings: torch.Tensor
    layer_inputs: list[torch.Tensor]
    layer_outputs: list[torch.Tensor]
    hidden_states: tuple[torch.Tensor, ...]
    last_hidden_state: torch.Tensor
    pooled: torch.Tensor
    text_embeds: torch.Tensor | None


@torch.no_grad()
def run_reference(encoder: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> ReferenceRun:
    model = text_model(encoder)
    layers = model.encoder.layers
    layer_inputs: list[torch.Tensor] = [torch.empty(0)] * len(layers)
    layer_outputs: list[torch.Tensor] = [torch.empty(0)] * len(layers)
    captured: dict[str, torch.Tensor] = {}

    def keep_input(i: int):
        def hook(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
            layer_inputs[i] = args[0].detach().clone()
            layer_outputs[i] = output.detach().clone()

        return hook

    handles = [layer.register_forward_hook(keep_input(i)) for i, layer in enumerate(layers)]
    handles.append(
        model.embeddings.register_forward_hook(
            lambda module, args, output: captured.__setitem__("embeddings", output.detach().clone())
        )
    )
    projection = getattr(encoder, "text_projection", None)
    if projection is not None:  # CLIPTextModelWithProjection returns text_embeds, not the pooled output
        handles.append(
            projection.register_forward_hook(
                lambda module, args, output: captured.__setitem__("pooled", args[0].detach().clone())
            )
        )
    try:
        out = encoder(**inputs, output_hidden_states=True)
    finally:
        for handle in handles:
            handle.remove()
    text_embeds = getattr(out, "text_embeds", None)
    pooled = out.pooler_output if text_embeds is None else captured["pooled"]
    return ReferenceRun(
        embeddings=captured["embeddings"],
        layer_inputs=layer_inputs,
        layer_outputs=layer_outputs,
        hidden_states=tuple(out.hidden_states),
        last_hidden_state=out.last_hidden_state,
        pooled=pooled,
        text_embeds=text_embeds,
    )
