"""MambaBlock on TTNN (tt-metal's demo: models/demos/wormhole/mamba/tt/residual_block.py): RMSNorm, mixer,
residual add. The residual stream stays float32 on device, as the reference keeps it
(MambaConfig.residual_in_fp32); the mixer runs in bfloat16."""

from __future__ import annotations

from typing import Any

from ttport.backend import ttnn
from ttport.models.siglip.common import precise_compute_config

from .mixer import MambaLayerState, MambaMixerTTNN
from .presets import MambaPreset


class MambaRMSNormTTNN:
    """x / rms(x) * weight over the last dim; the output cast to bfloat16 for the matmuls after it."""

    def __init__(self, weight: Any, eps: float):
        self.weight = weight
        self.eps = eps
        self.compute_kernel_config = precise_compute_config()

    def forward(self, x: Any) -> Any:
        normed = ttnn.rms_norm(
            x, epsilon=self.eps, weight=self.weight, compute_kernel_config=self.compute_kernel_config
        )
        if normed.dtype == ttnn.bfloat16:
            return normed
        cast = ttnn.typecast(normed, ttnn.bfloat16)
        ttnn.deallocate(normed)
        return cast

    __call__ = forward


class MambaBlockTTNN:
    def __init__(self, preset: MambaPreset, weights: dict[str, Any]):
        self.norm = MambaRMSNormTTNN(weights["norm"], preset.layer_norm_epsilon)
        self.mixer = MambaMixerTTNN(preset, weights)

    def initial_state(self, device: Any) -> MambaLayerState:
        return self.mixer.initial_state(device)

    def forward(self, residual: Any, state: MambaLayerState, decode: bool) -> Any:
        """residual [1, 1, L, D] float32 TILE -> residual + mixer(norm(residual)), float32."""
        normed = self.norm(residual)
        mixed = self.mixer(normed, state, decode, out_dtype=ttnn.float32)
        ttnn.deallocate(normed)
        out = ttnn.add(residual, mixed)
        ttnn.deallocate(mixed)
        return out

    __call__ = forward
