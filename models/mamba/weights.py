"""The reference's per-layer weights rearranged the way the TTNN modules use them (host side, done once
while the model is built), then converted with ttport.weights.convert_state_dict (dtype policy, optional
TTPORT_CACHE). The splits follow tt-metal's Mamba demo (models/demos/wormhole/mamba/tt/mamba_block.py,
mamba_ssm.py): in_proj into its x and gate halves, x_proj into the Δt, B and C projections (B and C padded
from the state size to the kernels' latent of 32 with zero columns), A = -exp(A_log) padded with -inf (so
exp(A·Δ) is 0 on the padding) and laid out as the E * 32 wide rows the repeat-and-interleave
kernel multiplies with Δ: 32 identical rows for prefill chunks (the kernel multiplies row by row, and a
row of A's tile padding would be zeros) and one for a decode step (the demo's A_prefill / A_decode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.weights import DtypePolicy, convert_state_dict, linear_bias, linear_weight

from .presets import LATENT, MambaPreset

TILE = 32


def _pad_columns(x: torch.Tensor, width: int, value: float = 0.0) -> torch.Tensor:
    return torch.nn.functional.pad(x, [0, width - x.shape[-1]], value=value)


def mixer_weights(preset: MambaPreset, mixer: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One layer's mixer tensors (keys of MambaMixer.state_dict()) -> the port's host tensors, [in, out]
    for linear weights, rows for per-channel vectors."""
    e, r, n, k = preset.intermediate_size, preset.time_step_rank, preset.state_size, preset.conv_kernel
    in_proj = mixer["in_proj.weight"].float()
    x_proj = mixer["x_proj.weight"].float()
    a = -torch.exp(mixer["A_log"].float())  # [E, N]
    a = _pad_columns(a, LATENT, float("-inf")).reshape(1, 1, 1, e * LATENT)
    conv = mixer["conv1d.weight"].float().reshape(e, k)  # [E, 1, K] depthwise
    prepared = {
        "in_proj_x": linear_weight(in_proj[:e]),
        "in_proj_z": linear_weight(in_proj[e:]),
        "dt_in_proj": linear_weight(x_proj[:r]),
        "b_proj": _pad_columns(linear_weight(x_proj[r : r + n]), LATENT),
        "c_proj": _pad_columns(linear_weight(x_proj[r + n :]), LATENT),
        "dt_proj": linear_weight(mixer["dt_proj.weight"].float()),
        "dt_bias": linear_bias(mixer["dt_proj.bias"].float()),
        "A_prefill": a.expand(1, 1, TILE, -1).contiguous(),
        "A_decode": a.contiguous(),
        "D": mixer["D"].float().reshape(1, 1, 1, e),
        "conv_bias": mixer["conv1d.bias"].float().reshape(1, 1, 1, e),
        "out_proj": linear_weight(mixer["out_proj.weight"].float()),
    }
    for tap in range(k):
        prepared[f"conv_tap{tap}"] = conv[:, tap].reshape(1, 1, 1, e).contiguous()
    prepared["conv_taps"] = conv.T.reshape(1, 1, k, e).contiguous()
    return prepared


def to_device(tensors: Mapping[str, torch.Tensor], device: Any, prefix: str) -> dict[str, Any]:
    """bfloat16 TILE tensors in DRAM (the port's dtype policy: every weight in bfloat16); `prefix` is their
    path in the reference, so TTPORT_CACHE keys them by full parameter path."""
    return convert_state_dict(tensors, device, policy=DtypePolicy(default=ttnn.bfloat16), prefix=prefix)
