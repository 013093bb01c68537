"""The SigLIP encoder stack (transformers' SiglipEncoder: `layers`), plus the key mask of a padded
sequence, built once per batch size and shared by every layer."""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.patterns import masks

from .block import SiglipEncoderLayer
from .common import SequencePlan


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

    def forward(self, hidden_states: Any) -> Any:
        """[B, 1, S, D] -> [B, 1, S, D] through every layer; the input stays allocated."""
        mask = self.attention_mask(hidden_states.shape[0])
        for i, layer in enumerate(self.layers):
            output = layer(hidden_states, mask)
            if i > 0:
                ttnn.deallocate(hidden_states)
            hidden_states = output
        return hidden_states

    __call__ = forward
