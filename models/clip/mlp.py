"""CLIPMLP on TTNN: fc1 -> activation -> fc2, with the activation of the encoder's config. On a
tensor-parallel mesh fc1 is column-parallel, fc2 row-parallel, followed by an all-reduce."""

from __future__ import annotations

from typing import Any

from transformers.models.clip.modeling_clip import CLIPMLP

from ttport.backend import ttnn
from ttport.patterns.tensor_parallel import TensorParallel

# transformers' quick_gelu: x * sigmoid(1.702 x) (activations.QuickGELUActivation)
QUICK_GELU_ALPHA = 1.702


class TtCLIPMLP:
    def __init__(
        self,
        reference: CLIPMLP,
        device: Any,
        *,
        hidden_act: str,
        compute_kernel_config: Any,
        tp: TensorParallel,
        prefix: str = "",
    ):
        if hidden_act not in ("gelu", "quick_gelu"):
            raise ValueError(f"CLIP MLP activation {hidden_act!r} is not ported (gelu, quick_gelu)")
        self.hidden_act = hidden_act
        self.compute_kernel_config = compute_kernel_config
        self.tp = tp
        fc1, fc2 = reference.fc1, reference.fc2
        self.fc1_weight = tp.column_weight(f"{prefix}fc1.weight", fc1.weight.detach().float())
        self.fc1_bias = tp.column_bias(f"{prefix}fc1.bias", fc1.bias.detach().float())
        self.fc2_weight = tp.row_weight(f"{prefix}fc2.weight", fc2.weight.detach().float())
        self.fc2_bias = tp.row_bias(f"{prefix}fc2.bias", fc2.bias.detach().float())

    def activation(self, x: Any) -> Any:
        if self.hidden_act == "gelu":  # exact (erf) GELU, as torch.nn.functional.gelu
            return ttnn.gelu(x, fast_and_approximate_mode=False)
        gate = ttnn.sigmoid(ttnn.multiply(x, QUICK_GELU_ALPHA))
        return ttnn.multiply(x, gate)

    def forward(self, x: Any) -> Any:
        h = ttnn.linear(
            x, self.fc1_weight, bias=self.fc1_bias, compute_kernel_config=self.compute_kernel_config
        )
        h = self.activation(h)
        partial = ttnn.linear(
            h, self.fc2_weight, bias=self.fc2_bias, compute_kernel_config=self.compute_kernel_config
        )
        return self.tp.all_reduce(partial)

    __call__ = forward
