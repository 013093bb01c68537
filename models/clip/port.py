"""The `clip` port: the two CLIP text encoders of a diffusion pipeline (enc1 CLIP-L, enc2 CLIP-G).

Components, per encoder `e` in (enc1, enc2):
  "e embeddings"           token + position embeddings                                  PCC >= 0.999
  "e layer N"              encoder layer N run on the reference layer's captured input  PCC >= 0.999
  "e hidden_states"        every hidden state of a full run (output_hidden_states=True) PCC >= 0.99
  "e last_hidden_state"    after the final LayerNorm                                    PCC >= 0.99
  "e pooled"               last_hidden_state at the EOS position                        PCC >= 0.99
  "enc2 text_embeds"       text_projection of the pooled output                         PCC >= 0.99
The model runs data parallel on a 1x2 mesh, or tensor parallel on 1x2 / 1x4 (the `-tp` presets;
models/clip/mesh.py); the same code runs on one chip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.errors import UserError
from ttport.port import Component, Output, Port, RunContext

from .mesh import MeshPlacement
from .presets import ENCODERS, PRESETS
from .reference import ClipEncoderPair, ReferenceRun, make_inputs, run_reference
from .text_model import TextOutputs, TtCLIPTextModel

EMBEDDINGS_PCC = 0.999
LAYER_PCC = 0.999
OUTPUT_PCC = 0.99


class ClipModel:
    """Both TTNN encoders, sharing one device and one placement."""

    def __init__(
        self,
        reference: ClipEncoderPair,
        device: Any,
        *,
        seq_len: int,
        tensor_parallel: bool = False,
        weights_dtype: Any = None,
    ):
        self.parallel = MeshPlacement(device, tensor_parallel)
        self.encoders = {
            name: TtCLIPTextModel(
                reference.encoder(name),
                device,
                seq_len=seq_len,
                parallel=self.parallel,
                prefix=f"{name}.",
                weights_dtype=weights_dtype,
            )
            for name in ENCODERS
        }

    def __getitem__(self, name: str) -> TtCLIPTextModel:
        return self.encoders[name]


def _reference_run(ctx: RunContext, encoder: str) -> ReferenceRun:
    key = f"{encoder} reference"
    if key not in ctx.store:
        ctx.store[key] = run_reference(ctx.reference.encoder(encoder), ctx.inputs[encoder])
    return ctx.store[key]


def _port_inputs(ctx: RunContext, encoder: str) -> Any:
    key = f"{encoder} port inputs"
    if key not in ctx.store:
        inputs = ctx.inputs[encoder]
        ctx.store[key] = ctx.model[encoder].preprocess(inputs["input_ids"], inputs["attention_mask"])
    return ctx.store[key]


def _port_run(ctx: RunContext, encoder: str) -> TextOutputs:
    """One end-to-end forward, shared by the output components."""
    key = f"{encoder} port run"
    if key not in ctx.store:
        ctx.store[key] = ctx.model[encoder](_port_inputs(ctx, encoder))
    return ctx.store[key]


def _hidden(ctx: RunContext, tensor: Any) -> torch.Tensor:
    """A [B, 1, S, H] device activation -> the reference's [B, S, H]."""
    out = ctx.model.parallel.to_torch(tensor)
    return out.reshape(out.shape[0], out.shape[2], out.shape[3])


class ClipPort(Port):
    name = "clip"
    description = "CLIP text encoder pair of diffusion pipelines: enc1 CLIP-L (CLIPTextModel), enc2 CLIP-G (+projection)"
    presets = PRESETS
    mesh_shape = (1, 2)
    ci_presets = ("tiny", "tiny-tp2", "tiny-tp4")

    def mesh_shape_for(self, preset: str) -> tuple[int, int] | None:
        return PRESETS[preset].mesh

    def build_reference(self, preset: str, weights: Path | None, seed: int) -> torch.nn.Module:
        if weights is not None:
            raise UserError(
                "the clip port builds its reference from the preset config; --weights is not supported"
            )
        return ClipEncoderPair(self.presets[preset], seed)

    def make_inputs(self, preset: str, seed: int, reference: torch.nn.Module) -> dict[str, Any]:
        return make_inputs(self.presets[preset], seed)

    def build_model(self, ctx: RunContext) -> ClipModel:
        return ClipModel(
            ctx.reference,
            ctx.device,
            seq_len=ctx.config.seq_len,
            tensor_parallel=ctx.config.tensor_parallel,
            weights_dtype=getattr(ttnn, ctx.config.weights_dtype),
        )

    def components(self, preset: str) -> list[Component]:
        config = self.presets[preset]
        out: list[Component] = []
        for encoder in ENCODERS:
            spec = config.encoder(encoder)
            out.append(self._component(encoder, "embeddings", EMBEDDINGS_PCC, _embeddings_pair(encoder)))
            for i in range(spec.num_hidden_layers):
                out.append(self._component(encoder, f"layer {i}", LAYER_PCC, _layer_pair(encoder, i)))
            out.append(self._component(encoder, "hidden_states", OUTPUT_PCC, _hidden_states_pair(encoder)))
            out.append(self._component(encoder, "last_hidden_state", OUTPUT_PCC, _last_hidden_pair(encoder)))
            out.append(self._component(encoder, "pooled", OUTPUT_PCC, _pooled_pair(encoder)))
            if spec.projection_dim:
                out.append(self._component(encoder, "text_embeds", OUTPUT_PCC, _text_embeds_pair(encoder)))
        return out

    @staticmethod
    def _component(encoder: str, what: str, threshold: float, pair: tuple[Callable, Callable]) -> Component:
        reference, port = pair
        return Component(name=f"{encoder} {what}", reference=reference, port=port, threshold=threshold)


Pair = tuple[Callable[[RunContext], Output], Callable[[RunContext], Output]]


def _embeddings_pair(encoder: str) -> Pair:
    def port(ctx: RunContext) -> Output:
        return _hidden(ctx, ctx.model[encoder].embeddings(_port_inputs(ctx, encoder).input_ids))

    return (lambda ctx: _reference_run(ctx, encoder).embeddings), port


def _layer_pair(encoder: str, i: int) -> Pair:
    def port(ctx: RunContext) -> Output:
        model = ctx.model[encoder]
        layer_input = model.layer_input(_reference_run(ctx, encoder).layer_inputs[i])
        return _hidden(ctx, model.layers[i](layer_input, _port_inputs(ctx, encoder).attention_mask))

    return (lambda ctx: _reference_run(ctx, encoder).layer_outputs[i]), port


def _hidden_states_pair(encoder: str) -> Pair:
    def port(ctx: RunContext) -> Output:
        return tuple(_hidden(ctx, h) for h in _port_run(ctx, encoder).hidden_states)

    return (lambda ctx: _reference_run(ctx, encoder).hidden_states), port


def _last_hidden_pair(encoder: str) -> Pair:
    def port(ctx: RunContext) -> Output:
        return _hidden(ctx, _port_run(ctx, encoder).last_hidden_state)

    return (lambda ctx: _reference_run(ctx, encoder).last_hidden_state), port


def _pooled_pair(encoder: str) -> Pair:
    def port(ctx: RunContext) -> Output:
        return ctx.model.parallel.to_torch(_port_run(ctx, encoder).pooled)

    return (lambda ctx: _reference_run(ctx, encoder).pooled), port


def _text_embeds_pair(encoder: str) -> Pair:
    def port(ctx: RunContext) -> Output:
        return ctx.model.parallel.to_torch(_port_run(ctx, encoder).text_embeds)

    return (lambda ctx: _reference_run(ctx, encoder).text_embeds), port
