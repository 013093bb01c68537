"""CLIPTextModel / CLIPTextModelWithProjection on TTNN: embeddings, encoder layers, final LayerNorm,
pooling at the EOS token and, for the projection variant, text_projection.

Host preprocessing (torch, before any device op; `preprocess`): the ids go to the device as uint32, the
additive attention mask (causal + padding, ttport.patterns.masks) is built for the tile-padded length, and
the EOS position of each prompt is turned into a one-hot row, so the device pools with one matmul.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.patterns import masks
from ttport.weights import DtypePolicy, convert_state_dict, linear_weight

from .embeddings import TtCLIPTextEmbeddings, ids_to_device
from .encoder_layer import TtCLIPEncoderLayer, TtLayerNorm
from .mesh import MeshPlacement
from .reference import text_model

TILE = 32


def compute_kernel_config(fidelity: Any = None) -> Any:
    """HiFi4 (unless `fidelity`) with fp32 accumulation, as tt-metal's CLIP text encoder
    (models/tt_dit/encoders/clip)."""
    return ttnn.WormholeComputeKernelConfig(
        math_fidelity=fidelity or ttnn.MathFidelity.HiFi4,
        math_approx_mode=False,
        fp32_dest_acc_en=True,
        packer_l1_acc=False,
    )


def linear_compute_config(weights_dtype: Any) -> Any:
    """The linears' config: bfloat8_b weights carry 7-bit mantissas, which the multiplier's first two phases
    take exactly (HiFi2, TTNN_FACTS §4); bfloat16 weights need all four (HiFi4)."""
    return compute_kernel_config(ttnn.MathFidelity.HiFi2 if weights_dtype == ttnn.bfloat8_b else None)


def eos_positions(input_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """transformers' CLIPTextModel pooling rule: with the legacy eos_token_id == 2 the EOS is the largest
    id (argmax of the ids); otherwise the first occurrence of eos_token_id."""
    ids = input_ids.to(torch.int)
    if eos_token_id == 2:
        return ids.argmax(dim=-1)
    return (ids == eos_token_id).int().argmax(dim=-1)


@dataclass
class TextInputs:
    """Device tensors of one prompt batch, made by `TtCLIPTextModel.preprocess`."""

    input_ids: Any  # uint32 [B, S] ROW_MAJOR
    attention_mask: Any  # bf16 [B, 1, P, P] additive, TILE
    eos_selection: Any  # bf16 [B, 1, 1, S] one-hot of the EOS position, TILE


@dataclass
class TextOutputs:
    """Device tensors, shaped [B, 1, S, H] (hidden states) and [B, H] / [B, projection_dim]."""

    hidden_states: list[Any]
    last_hidden_state: Any
    pooled: Any
    text_embeds: Any | None


class TtCLIPTextModel:
    def __init__(
        self,
        reference: torch.nn.Module,
        device: Any,
        *,
        seq_len: int,
        parallel: MeshPlacement,
        prefix: str = "",
        weights_dtype: Any = None,
    ):
        """`prefix`: the encoder's path in the reference (e.g. "enc1."), so weights are cached under their
        full parameter paths; `weights_dtype`: the linear weights' device dtype (bfloat16 by default)."""
        weights_dtype = weights_dtype or ttnn.bfloat16
        model = text_model(reference)
        model_prefix = f"{prefix}text_model." if model is not reference else prefix
        config = model.config
        self.device = device
        self.parallel = parallel
        self.seq_len = seq_len
        self.padded_len = math.ceil(seq_len / TILE) * TILE
        self.eos_token_id = config.eos_token_id
        self.compute_kernel_config = compute_kernel_config()
        self.linear_config = linear_compute_config(weights_dtype)
        shared = {"compute_kernel_config": self.compute_kernel_config, "mesh_mapper": parallel.replicate}
        self.embeddings = TtCLIPTextEmbeddings(
            model.embeddings,
            device,
            seq_len=seq_len,
            mesh_mapper=parallel.replicate,
            prefix=f"{model_prefix}embeddings.",
        )
        self.layers = [
            TtCLIPEncoderLayer(
                layer,
                device,
                hidden_act=config.hidden_act,
                padded_len=self.padded_len,
                prefix=f"{model_prefix}encoder.layers.{i}.",
                tp=parallel.tp,
                linear_config=self.linear_config,
                weights_dtype=weights_dtype,
                **shared,
            )
            for i, layer in enumerate(model.encoder.layers)
        ]
        self.final_layer_norm = TtLayerNorm(
            model.final_layer_norm, device, prefix=f"{model_prefix}final_layer_norm.", **shared
        )
        projection = getattr(reference, "text_projection", None)
        self.text_projection = None
        if projection is not None:
            self.text_projection = convert_state_dict(
                {"text_projection.weight": projection.weight},
                device,
                policy=DtypePolicy(default=weights_dtype),
                prepare=lambda _, t: linear_weight(t),
                mesh_mapper=parallel.replicate,
                prefix=prefix,
            )["text_projection.weight"]

    def _to_device(self, tensor: torch.Tensor) -> Any:
        return masks.to_device(tensor, self.device, mesh_mapper=self.parallel.shard_batch)

    def prepare_attention_mask(self, attention_mask: torch.Tensor | None, batch: int) -> Any:
        """Causal + padding mask over the tile-padded length: keys past the prompt never attended."""
        keys = torch.zeros(batch, self.padded_len, dtype=torch.long)
        keys[:, : self.seq_len] = 1 if attention_mask is None else attention_mask
        mask = masks.combine(masks.causal_mask(self.padded_len), masks.padding_mask(keys))
        return self._to_device(mask)

    def preprocess(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> TextInputs:
        batch, seq_len = input_ids.shape
        if seq_len != self.seq_len:
            raise ValueError(f"expected {self.seq_len} tokens per prompt, got {seq_len}")
        self.parallel.check_batch(batch)
        selection = torch.nn.functional.one_hot(eos_positions(input_ids, self.eos_token_id), seq_len)
        return TextInputs(
            input_ids=ids_to_device(input_ids, self.device, mesh_mapper=self.parallel.shard_batch),
            attention_mask=self.prepare_attention_mask(attention_mask, batch),
            eos_selection=self._to_device(selection.float().reshape(batch, 1, 1, seq_len)),
        )

    def layer_input(self, hidden_states: torch.Tensor) -> Any:
        """A [B, S, H] torch activation (e.g. a reference layer's input) as this port's layer input."""
        batch, seq_len, hidden = hidden_states.shape
        return ttnn.from_torch(
            hidden_states.reshape(batch, 1, seq_len, hidden),
            dtype=ttnn.bfloat16,
            layout=ttnn.TILE_LAYOUT,
            device=self.device,
            memory_config=ttnn.DRAM_MEMORY_CONFIG,
            mesh_mapper=self.parallel.shard_batch,
        )

    def forward(self, inputs: TextInputs) -> TextOutputs:
        hidden = self.embeddings(inputs.input_ids)
        hidden_states = [hidden]
        for layer in self.layers:
            hidden = layer(hidden, inputs.attention_mask)
            hidden_states.append(hidden)
        last_hidden_state = self.final_layer_norm(hidden)
        # one-hot [1, S] x [S, H] per prompt: exact row selection (HiFi4, fp32 accumulation)
        pooled = ttnn.matmul(
            inputs.eos_selection, last_hidden_state, compute_kernel_config=self.compute_kernel_config
        )
        batch, _, _, hidden_size = pooled.shape
        pooled = ttnn.reshape(pooled, (batch, hidden_size))
        text_embeds = None
        if self.text_projection is not None:
            text_embeds = ttnn.linear(pooled, self.text_projection, compute_kernel_config=self.linear_config)
        return TextOutputs(hidden_states, last_hidden_state, pooled, text_embeds)

    __call__ = forward
