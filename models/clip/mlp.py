"""CLIPMLP on TTNN: fc1 -> activation -> fc2, with the activation of the encoder's config. On a
tensor-parallel mesh fc1 is column-parallel, fc2 row-parallel, followed by an all-reduce.

Both linears run on the whole core grid with their output in L1: with a core grid ttnn builds a multicast
program config and fuses the bias (and GELU) into the matmul; without one, an L1 output gets the plain
multi-core program and a separate bias add (matmul.cpp get_post_process_bias, bound_matmul)."""

from __future__ import annotations

from typing import Any

from transformers.models.clip.modeling_clip import CLIPMLP

from ttport.backend import ttnn
from ttport.patterns.tensor_parallel import TensorParallel

# transformers' quick_gelu: x * sigmoid(1.702 x) (activations.QuickGELUActivation)
QUICK_GELU_ALPHA = 1.702


def linear_core_grid(device: Any) -> Any:
    """The linears' core grid: the whole compute grid (see the module docstring)."""
    grid = device.compute_with_storage_grid_size()
    return ttnn.CoreGrid(y=grid.y, x=grid.x)


class TtCLIPMLP:
    def __init__(
        self,
        reference: CLIPMLP,
        device: Any,
        *,
        hidden_act: str,
        linear_config: Any,
        tp: TensorParallel,
        weights_dtype: Any = None,
        prefix: str = "",
    ):
        """`linear_config`: the linears' compute kernel config; `weights_dtype`: their weights' dtype."""
        if hidden_act not in ("gelu", "quick_gelu"):
            raise ValueError(f"CLIP MLP activation {hidden_act!r} is not ported (gelu, quick_gelu)")
        self.hidden_act = hidden_act
        self.linear_config = linear_config
        self.tp = tp
        fc1, fc2 = reference.fc1, reference.fc2
        self.fc1_weight = tp.column_weight(f"{prefix}fc1.weight", fc1.weight.detach().float(), weights_dtype)
        self.fc1_bias = tp.column_bias(f"{prefix}fc1.bias", fc1.bias.detach().float())
        self.fc2_weight = tp.row_weight(f"{prefix}fc2.weight", fc2.weight.detach().float(), weights_dtype)
        self.fc2_bias = tp.row_bias(f"{prefix}fc2.bias", fc2.bias.detach().float())
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
        partial = ttnn.linear(
            h,
            self.fc2_weight,
            bias=self.fc2_bias,
            core_grid=self.core_grid,
            memory_config=l1,
            compute_kernel_config=self.linear_config,
        )
        return self.tp.all_reduce(partial)

    __call__ = forward
