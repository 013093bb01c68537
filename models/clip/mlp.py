"""CLIPMLP on TTNN: fc1 -> activation -> fc2, with the activation of the encoder's config."""

from __future__ import annotations

from typing import Any

from transformers.models.clip.modeling_clip import CLIPMLP

from ttport.backend import ttnn
from ttport.weights import convert_state_dict, linear_bias, linear_weight

# transformers' quick_gelu: x * sigmoid(1.702 x) (activations.QuickGELUActivation)
QUICK_GELU_ALPHA = 1.702


def prepare_linear(name: str, tensor: Any) -> Any:
    """torch Linear parameters -> ttnn.linear's [in, out] weight and [1, out] bias."""
    return linear_weight(tensor) if name.endswith("weight") else linear_bias(tensor)


class TtCLIPMLP:
    def __init__(
        self,
        reference: CLIPMLP,
        device: Any,
        *,
        hidden_act: str,
        compute_kernel_config: Any,
        mesh_mapper: Any = None,
        prefix: str = "",
    ):
        if hidden_act not in ("gelu", "quick_gelu"):
            raise ValueError(f"CLIP MLP activation {hidden_act!r} is not ported (gelu, quick_gelu)")
        self.hidden_act = hidden_act
        self.compute_kernel_config = compute_kernel_config
        params = convert_state_dict(
            reference.state_dict(), device, prepare=prepare_linear, mesh_mapper=mesh_mapper, prefix=prefix
        )
        self.fc1_weight, self.fc1_bias = params["fc1.weight"], params["fc1.bias"]
        self.fc2_weight, self.fc2_bias = params["fc2.weight"], params["fc2.bias"]

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
        return ttnn.linear(
            h, self.fc2_weight, bias=self.fc2_bias, compute_kernel_config=self.compute_kernel_config
        )

    __call__ = forward
