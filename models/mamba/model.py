"""MambaForCausalLM on TTNN (tt-metal's demo: models/demos/wormhole/mamba/tt/mamba_model.py): embedding,
the residual blocks, the final RMSNorm and the LM head tied to the embedding (two device copies of one
weight: ROW_MAJOR [V, D] for ttnn.embedding, TILE [D, V] for ttnn.linear).

Prefill runs the whole prompt through one layer after the other: each linear reads its weight once for all
the prompt's rows, and only the selective scan goes through it in chunks of 32 rows (ssm.py), its state
carried from chunk to chunk on device; decode runs one token per call against the same state. Per decode
step the host uploads the token id and downloads the logits, nothing else.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip.common import matmul_compute_config
from ttport.weights import linear_weight

from .block import MambaBlockTTNN, MambaRMSNormTTNN
from .mixer import MambaLayerState
from .presets import MambaPreset
from .weights import mixer_weights, to_device


class MambaTTNN:
    """The TTNN model; `state_dict` (MambaForCausalLM keys) is consumed: each tensor is dropped once its
    device copy exists, so host memory falls while the model is built."""

    def __init__(self, preset: MambaPreset, state_dict: MutableMapping[str, torch.Tensor], device: Any):
        self.preset = preset
        self.device = device
        embedding = state_dict.pop("backbone.embeddings.weight").float()
        state_dict.pop("lm_head.weight", None)  # tied to the embedding
        self.embedding = ttnn.as_tensor(
            embedding,
            dtype=ttnn.bfloat16,
            layout=ttnn.ROW_MAJOR_LAYOUT,
            device=device,
            memory_config=ttnn.DRAM_MEMORY_CONFIG,
        )
        self.lm_head = to_device({"weight": linear_weight(embedding)}, device, "lm_head.")["weight"]
        del embedding
        self.layers = []
        for i in range(preset.num_hidden_layers):
            prefix = f"backbone.layers.{i}."
            names = [k for k in state_dict if k.startswith(prefix)]
            layer = {k[len(prefix) :]: state_dict.pop(k) for k in names}
            mixer = {k[len("mixer.") :]: v for k, v in layer.items() if k.startswith("mixer.")}
            host = mixer_weights(preset, mixer)
            host["norm"] = layer["norm.weight"].float().reshape(1, -1)
            self.layers.append(MambaBlockTTNN(preset, to_device(host, device, prefix)))
            del layer, mixer, host
        norm_f = to_device(
            {"weight": state_dict.pop("backbone.norm_f.weight").float().reshape(1, -1)},
            device,
            "backbone.norm_f.",
        )
        self.norm_f = MambaRMSNormTTNN(norm_f["weight"], preset.layer_norm_epsilon)
        self.compute_kernel_config = matmul_compute_config(ttnn.bfloat16)
        self.states: list[MambaLayerState] = []
        self.reset()

    def reset(self) -> None:
        """Zero every layer's conv window and SSM state (a new sequence)."""
        for state in self.states:
            state.deallocate()
        self.states = [layer.initial_state(self.device) for layer in self.layers]

    def embed(self, input_ids: torch.Tensor) -> Any:
        """[1, L] token ids -> [1, 1, L, D] float32 TILE (one upload)."""
        ids = ttnn.from_torch(
            input_ids.to(torch.int32), dtype=ttnn.uint32, layout=ttnn.ROW_MAJOR_LAYOUT, device=self.device
        )
        embedded = ttnn.embedding(ids, self.embedding, layout=ttnn.TILE_LAYOUT, dtype=ttnn.float32)
        ttnn.deallocate(ids)
        out = ttnn.reshape(embedded, (1, 1, input_ids.shape[-1], embedded.shape[-1]))
        return out

    def layers_forward(self, residual: Any, decode: bool) -> Any:
        """[1, 1, L, D] rows through every block, advancing each layer's state."""
        for layer, state in zip(self.layers, self.states, strict=True):
            out = layer(residual, state, decode)
            ttnn.deallocate(residual)
            residual = out
        return residual

    def head(self, residual: Any) -> Any:
        """Final RMSNorm + tied LM head: [1, 1, L, D] -> [1, 1, L, V] float32 logits."""
        normed = self.norm_f(residual)
        logits = ttnn.linear(
            normed, self.lm_head, dtype=ttnn.float32, compute_kernel_config=self.compute_kernel_config
        )
        ttnn.deallocate(normed)
        return logits

    def prefill(self, input_ids: torch.Tensor) -> Any:
        """Logits of every prompt position [1, 1, L, V] (on device), from a fresh state; the state then holds
        the whole prompt."""
        self.reset()
        residual = self.layers_forward(self.embed(input_ids), decode=False)
        logits = self.head(residual)
        ttnn.deallocate(residual)
        return logits

    def decode(self, token: torch.Tensor) -> Any:
        """One token [1, 1] -> its logits [1, 1, 1, V] (on device), the state advanced by one step."""
        residual = self.layers_forward(self.embed(token), decode=True)
        logits = self.head(residual)
        ttnn.deallocate(residual)
        return logits
