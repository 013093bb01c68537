"""CLIPMLP on TTNN: fc1 -> activation -> fc2, with the activation of the encoder's config."""

from __future__ import annotations

from typing import Any

from transformers.models.clip.modeling_clip import CLIPMLP

from ttport.backend import ttnn
from ttport.weights import DtypePolicy, convert_state_dict, linear_bias, linear_weight

# transformers' quick_gelu: x * sigmoid(1.702 x) (activations.QuickGELUActivation)
QUICK_GELU_ALPHA = 1.702


def prepare_linear(name: str, tensor: Any) -> Any:
    """torch Linear parameters -> ttnn.linear's [in, out] weight and [1, out] bias."""
    return linear_weight(tensor) if name.endswith("weight") else linear_bias(tensor)


def linear_core_grid(device: Any) -> Any:
    """The linears' core grid: the whole grid. With a core grid ttnn builds a multicast program config and fuses
    the bias and the activation into the matmul; without one, an L1 output gets the plain multi-core program
    and a separate bias add (matmul.cpp get_post_process_bias, bound_matmul)."""
    grid = device.compute_with_storage_grid_size()
    return ttnn.CoreGrid(y=grid.y, x=grid.x)


def linear_policy(weights_dtype: Any) -> DtypePolicy:
    """Linear weights in `weights_dtype` (bfloat16 when None), biases in bfloat16."""
    return DtypePolicy({"*weight": weights_dtype or ttnn.bfloat16})


class TtCLIPMLP:
    def __init__(
        self,
        reference: CLIPMLP,
        device: Any,
        *,
        hidden_act: str,
        linear_config: Any,
        weights_dtype: Any = None,
        mesh_mapper: Any = None,
        prefix: str = "",
    ):
        if hidden_act not in ("gelu", "quick_gelu"):
            raise ValueError(f"CLIP MLP activation {hidden_act!r} is not ported (gelu, quick_gelu)")
        self.hidden_act = hidden_act
        self.linear_config = linear_config
        params = convert_state_dict(
            reference.state_dict(),
            device,
            policy=linear_policy(weights_dtype),
            prepare=prepare_linear,
            mesh_mapper=mesh_mapper,
            prefix=prefix,
        )
        self.fc1_weight, self.fc1_bias = params["fc1.weight"], params["fc1.bias"]
        self.fc2_weight, self.fc2_bias = params["fc2.weight"], params["fc2.bias"]
        self.core_grid = linear_core_grid(device)

    def forward(self, x: Any) -> Any:
        l1 = ttnn.L1_MEMORY_CONFIG
        # exact (erf) GELU, as torch.nn.functional.gelu: fused into fc1 as the accurate kernel (param 0), the
        # same kernel as ttnn.gelu(fast_and_approximate_mode=False), with one output rounding
        gelu = ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 0.0) if self.hidden_act == "gelu" else None
        h = ttnn.linear(
            x,
            self.fc1_weight,
            bias=self.fc1_bias,
            activation=gelu,
            core_grid=self.core_grid,
            memory_config=l1,
            compute_kernel_config=self.linear_config,
        )
        if self.hidden_act == "quick_gelu":
            gate = ttnn.sigmoid(ttnn.multiply(h, QUICK_GELU_ALPHA, memory_config=l1), memory_config=l1)
            h = ttnn.multiply(h, gate, memory_config=l1)
        return ttnn.linear(
            h,
            self.fc2_weight,
            bias=self.fc2_bias,
            core_grid=self.core_grid,
            memory_config=l1,
            compute_kernel_config=self.linear_config,
        )

    __call__ = forward
