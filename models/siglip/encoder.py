"""The SigLIP encoder stack (transformers' SiglipEncoder: `layers`), plus the key mask of a padded
sequence, built once per batch size and shared by every layer.

The layers' activations go to L1 when the widest of them (the MLP's intermediate) takes at most
`L1_ACTIVATION_BYTES` (PI0's two 256-token cameras: 4.4 MB; a Wormhole chip has 64 x 1.3 MB of L1); longer
sequences (Gemma3's 4096 tokens: 35 MB) keep them in DRAM, as tt-metal's prefill code does."""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.patterns import masks

from .block import SiglipEncoderLayer
from .common import SequencePlan

# the largest activation the layers keep in L1: about a tenth of a Wormhole chip's L1, leaving room for the
# residual, the normed input, q/k/v and the matmuls' circular buffers besides
L1_ACTIVATION_BYTES = 8 * 2**20


class SiglipEncoder:
    def __init__(
        self,
        config: Any,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        plan: SequencePlan,
        weights_dtype: Any = None,
    ):
        self.plan = plan
        self.device = device
        self.widest = max(int(config.intermediate_size), 3 * int(config.hidden_size))
        self.layers = [
            SiglipEncoderLayer(config, state_dict, f"{prefix}layers.{i}.", device, plan, weights_dtype)
            for i in range(int(config.num_hidden_layers))
        ]
        self._masks: dict[int, Any] = {}

    def attention_mask(self, batch: int) -> Any:
        """Additive [B, 1, S, S] mask hiding the padded keys (None when the sequence is not padded).
        Uploaded on first use for a batch size, then reused: later forwards add no host transfer."""
        if not self.plan.is_padded:
            return None
        if batch not in self._masks:
            keys = torch.arange(self.plan.padded_len) < self.plan.num_tokens
            mask = masks.padding_mask(keys.expand(batch, -1))
            self._masks[batch] = masks.to_device(mask, self.device)
        return self._masks[batch]

    def activation_memory(self, batch: int) -> Any:
        """L1 when the widest activation of a `batch`-image forward is at most L1_ACTIVATION_BYTES, else None
        (DRAM)."""
        widest = batch * self.plan.padded_len * self.widest * 2  # bfloat16
        return ttnn.L1_MEMORY_CONFIG if widest <= L1_ACTIVATION_BYTES else None

    def forward(self, hidden_states: Any) -> Any:
        """[B, 1, S, D] -> [B, 1, S, D] through every layer; the input stays allocated."""
        batch = hidden_states.shape[0]
        mask = self.attention_mask(batch)
        memory = self.activation_memory(batch)
        for i, layer in enumerate(self.layers):
            output = layer(hidden_states, mask, memory)
            if i > 0:
                ttnn.deallocate(hidden_states)
            hidden_states = output
        return hidden_states

    __call__ = forward
