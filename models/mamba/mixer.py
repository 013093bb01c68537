"""MambaMixer on TTNN (tt-metal's demo: models/demos/wormhole/mamba/tt/mamba_block.py): in_proj as two
linears (x and the gate, SiLU fused), the causal conv with its state, the selective scan with its state,
the gated product and out_proj. The layer's recurrent state (conv window, SSM state) lives on device in
`MambaLayerState` and is replaced after every call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ttport.backend import ttnn
from ttport.models.siglip.common import matmul_compute_config

from .conv import MambaConvTTNN
from .presets import MambaPreset
from .ssm import MambaSSMTTNN


@dataclass
class MambaLayerState:
    conv: Any  # [1, 1, K-1, E] bfloat16 ROW_MAJOR: the last K-1 conv inputs
    ssm: Any  # [1, 1, 1, E*32] bfloat16 TILE: h

    def deallocate(self) -> None:
        ttnn.deallocate(self.conv)
        ttnn.deallocate(self.ssm)


class MambaMixerTTNN:
    def __init__(self, preset: MambaPreset, weights: dict[str, Any]):
        self.in_proj_x = weights["in_proj_x"]
        self.in_proj_z = weights["in_proj_z"]
        self.out_proj = weights["out_proj"]
        self.conv = MambaConvTTNN(weights, preset.conv_kernel, preset.intermediate_size)
        self.ssm = MambaSSMTTNN(weights, preset.intermediate_size)
        self.compute_kernel_config = matmul_compute_config(ttnn.bfloat16)

    def initial_state(self, device: Any) -> MambaLayerState:
        return MambaLayerState(self.conv.initial_state(device), self.ssm.initial_state(device))

    def forward(self, x: Any, state: MambaLayerState, decode: bool, out_dtype: Any = None) -> Any:
        """x [1, 1, L, D] bfloat16 TILE -> [1, 1, L, D]; `state` is advanced over the L rows."""
        gate = ttnn.linear(
            x, self.in_proj_z, activation="silu", compute_kernel_config=self.compute_kernel_config
        )
        x_ssm = ttnn.linear(x, self.in_proj_x, compute_kernel_config=self.compute_kernel_config)
        conv_out, conv_state = self.conv(x_ssm, state.conv)
        ttnn.deallocate(x_ssm)
        y, h = self.ssm(conv_out, state.ssm, decode)
        ttnn.deallocate(conv_out)
        state.deallocate()
        state.conv, state.ssm = conv_state, h
        gated = ttnn.multiply(y, gate)
        ttnn.deallocate(y)
        ttnn.deallocate(gate)
        out = ttnn.linear(
            gated, self.out_proj, dtype=out_dtype, compute_kernel_config=self.compute_kernel_config
        )
        ttnn.deallocate(gated)
        return out

    __call__ = forward
