"""PI0's action expert on TTNN: the action-time embedding (transformers' PI0ActionTimeEmbedding), the Gemma
"dit" stack attending PaliGemma's prefix cache, and `action_out_proj`.

Token layout of the expert's sequence on device: row 0 is the state token, rows 1..chunk the noisy actions,
then zero rows up to a tile multiple (the queries the block mask ignores). The noise tensor uses the same
rows (row 0 and the padding stay zero), so the expert's input is one tensor without a concat.

`action_time_mlp_in` consumes concat([action_embeds, time_embeds]); its weight is split once into the
action half and the time half: W [a; t] = W_a a + W_t t. The time half (plus the bias) depends only on
the timestep, so it is computed for every step before the loop (`time_terms`); a step adds it to
W_a a as a broadcast row.
"""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn
from ttport.models.siglip.common import linear_weight, matmul_compute_config, row_vector
from ttport.patterns.tensor_parallel import TensorParallel

from .gemma import GemmaDecoderLayer, GemmaRMSNorm, GemmaShape, JointKV, build_layers, take


class ActionTimeEmbeddingTTNN:
    """`embed_action_time` (state_proj, action_in_proj, action_time_mlp_in / _out)."""

    def __init__(self, state_dict: dict[str, torch.Tensor], prefix: str, device: Any, hidden_size: int):
        def linear(name: str) -> Any:
            key = f"{prefix}{name}.weight"
            return linear_weight(key, take(state_dict, key), device)

        def bias(name: str) -> Any:
            key = f"{prefix}{name}.bias"
            return row_vector(key, take(state_dict, key), device)

        self.state_proj_weight, self.state_proj_bias = linear("state_proj"), bias("state_proj")
        self.action_in_proj_weight, self.action_in_proj_bias = (
            linear("action_in_proj"),
            bias("action_in_proj"),
        )
        key = f"{prefix}action_time_mlp_in.weight"
        mlp_in = take(state_dict, key)
        self.mlp_in_action_weight = linear_weight(f"{key}[action columns]", mlp_in[:, :hidden_size], device)
        self.mlp_in_time_weight = linear_weight(f"{key}[time columns]", mlp_in[:, hidden_size:], device)
        self.mlp_in_bias = bias("action_time_mlp_in")
        self.mlp_out_weight, self.mlp_out_bias = linear("action_time_mlp_out"), bias("action_time_mlp_out")
        self.compute_kernel_config = matmul_compute_config(ttnn.bfloat16)

    def _linear(self, x: Any, weight: Any, bias: Any = None) -> Any:
        return ttnn.linear(x, weight, bias=bias, compute_kernel_config=self.compute_kernel_config)

    def state_embeds(self, state: Any) -> Any:
        """[B, 1, 1, state dim] -> [B, 1, 1, hidden] (constant over the denoising steps)."""
        return self._linear(state, self.state_proj_weight, self.state_proj_bias)

    def time_terms(self, time_embeds: Any) -> Any:
        """[1, 1, N, hidden] sinusoidal embeddings -> W_t t + b for each of the N rows."""
        return self._linear(time_embeds, self.mlp_in_time_weight, self.mlp_in_bias)

    def forward(self, noise: Any, time_term: Any, state_embeds: Any, state_row: Any) -> Any:
        """noise [B, 1, E, action dim] (rows 1..chunk), time_term [B, 1, 1, hidden], state_embeds
        [B, 1, 1, hidden], state_row [1, 1, E, 1] (1 on row 0) -> the expert's input [B, 1, E, hidden]."""
        action_embeds = self._linear(noise, self.action_in_proj_weight, self.action_in_proj_bias)
        mixed = self._linear(action_embeds, self.mlp_in_action_weight)
        ttnn.deallocate(action_embeds)
        summed = ttnn.add(mixed, time_term)
        ttnn.deallocate(mixed)
        activated = ttnn.silu(summed)
        ttnn.deallocate(summed)
        action_time = self._linear(activated, self.mlp_out_weight, self.mlp_out_bias)
        ttnn.deallocate(activated)
        merged = ttnn.where(state_row, state_embeds, action_time)
        ttnn.deallocate(action_time)
        return merged

    __call__ = forward


class ActionExpertTTNN:
    """`model.dit` (Gemma layers + final norm) followed by `action_out_proj`."""

    def __init__(
        self,
        config: Any,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        out_proj_prefix: str,
        device: Any,
        weights_dtype: Any,
        tp: TensorParallel | None = None,
    ):
        """`config`: the dit GemmaConfig; consumes `{prefix}layers.N.*`, `{prefix}norm.weight` and
        `{out_proj_prefix}weight/bias` (the dit's token embedding is never used: PI0 feeds it embeddings).
        The layers are split over the chips by `tp` (gemma.py); the norm and action_out_proj replicated."""
        self.shape = GemmaShape.from_config(config)
        # A step's activations are a few rows (E = chunk + 1, tile-padded): they stay in L1, so the step's
        # norms, adds and linears read and write no activation through DRAM.
        self.layers: list[GemmaDecoderLayer] = build_layers(
            self.shape,
            int(config.num_hidden_layers),
            state_dict,
            prefix,
            device,
            weights_dtype,
            tp,
            activations=ttnn.L1_MEMORY_CONFIG,
        )
        self.norm = GemmaRMSNorm(state_dict, f"{prefix}norm.", device, self.shape.rms_norm_eps)
        weight, bias = f"{out_proj_prefix}weight", f"{out_proj_prefix}bias"
        self.out_weight = linear_weight(weight, take(state_dict, weight), device)
        self.out_bias = row_vector(bias, take(state_dict, bias), device)
        self.compute_kernel_config = matmul_compute_config(ttnn.bfloat16)
        # The final norm's output is in L1 (as the layers' activations): without a core grid ttnn would add
        # action_out_proj's bias as a separate op (matmul.cpp get_post_process_bias); with one it is fused.
        grid = device.compute_with_storage_grid_size()
        self.core_grid = ttnn.CoreGrid(y=grid.y, x=grid.x)

    def forward(
        self, inputs_embeds: Any, cos: Any, sin: Any, attention_mask: Any, cache: list[JointKV]
    ) -> Any:
        """[B, 1, E, hidden] -> velocity [B, 1, E, action dim]; layer i attends its own rows and the prefix
        through `cache[i]` (the prefix is only read)."""
        hidden_states = inputs_embeds
        for i, layer in enumerate(self.layers):
            output, keys, values = layer(hidden_states, cos, sin, attention_mask, past=cache[i])
            ttnn.deallocate(keys)
            ttnn.deallocate(values)
            if i > 0:
                ttnn.deallocate(hidden_states)
            hidden_states = output
        normed = self.norm(hidden_states)
        ttnn.deallocate(hidden_states)
        velocity = ttnn.linear(
            normed,
            self.out_weight,
            bias=self.out_bias,
            core_grid=self.core_grid,
            compute_kernel_config=self.compute_kernel_config,
        )
        ttnn.deallocate(normed)
        return velocity

    __call__ = forward
