"""SigLIP MLP: fc1 -> GELU (tanh approximation, the reference's `gelu_pytorch_tanh`) -> fc2."""

from __future__ import annotations

from typing import Any

import torch

from core.backend import ttnn

from .common import linear_weight, matmul_compute_config, row_vector


class SiglipMLP:
    """Named like transformers' SiglipMLP (`fc1`, `fc2`) so the state-dict keys map one to one."""

    def __init__(
        self,
        config: Any,
        state_dict: dict[str, torch.Tensor],
        prefix: str,
        device: Any,
        weights_dtype: Any = None,
    ):
        if config.hidden_act != "gelu_pytorch_tanh":
            raise ValueError(f"SiglipMLP supports hidden_act 'gelu_pytorch_tanh', got {config.hidden_act!r}")
        weights_dtype = weights_dtype if weights_dtype is not None else ttnn.bfloat16
        names = {n: f"{prefix}{n}" for n in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")}
        self.fc1_weight, self.fc2_weight = (
            linear_weight(names[n], state_dict[names[n]], device, weights_dtype)
            for n in ("fc1.weight", "fc2.weight")
        )
        self.fc1_bias, self.fc2_bias = (
            row_vector(names[n], state_dict[names[n]], device) for n in ("fc1.bias", "fc2.bias")
        )
        self.compute_kernel_config = matmul_compute_config(weights_dtype)
        grid = device.compute_with_storage_grid_size()
        # With a core grid, linear fuses the activation into the matmul (one op, one output rounding);
        # without one, ttnn runs it as a separate unary op after the matmul (matmul.cpp bound_matmul).
        self.core_grid = ttnn.CoreGrid(y=grid.y, x=grid.x)

    def forward(self, hidden_states: Any) -> Any:
        activated = ttnn.linear(
            hidden_states,
            self.fc1_weight,
            bias=self.fc1_bias,
            activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 1.0),  # 1.0: the tanh approximation
            core_grid=self.core_grid,
            compute_kernel_config=self.compute_kernel_config,
        )
        output = ttnn.linear(
            activated, self.fc2_weight, bias=self.fc2_bias, compute_kernel_config=self.compute_kernel_config
        )
        ttnn.deallocate(activated)
        return output

    __call__ = forward
