"""ttnn.experimental's DiT normalization ops on the simulator.

Two-stage distributed norms: each device computes per-row statistics of its slice of the hidden dim (pre), the
model all-gathers them along the last dim, each device normalizes its slice with the statistics of every
device (post).
- dit_layernorm_*: the statistics are Welford partials, per row [mean, variance] of the local slice in the first
  column of two tiles (experimental/transformer/dit_layernorm_pre_all_gather/device/kernels/compute/
  layernorm_pre_allgather_welford.cpp); post combines n devices' equal-count partials into the global mean and
  variance (combine_welford_partials in ..._post_all_gather/device/kernels/compute/
  layernorm_post_allgather_welford.cpp). The ops' docstrings say sum(x) / sum(x**2): the kernels compute the
  Welford form, which this follows.
- wan_fused_rmsnorm_*: sum(x**2) of the local slice in the first column of one tile; post divides the gathered
  sum by the full width, then optionally splits heads and applies the llama-style rotary embedding.
Values: float32 from the rounded inputs, one rounding to the output dtype (the kernels' intermediate CB
rounding is not modelled here).
"""

from __future__ import annotations

from typing import Any

import torch

from ... import rules
from ...tensor import Tensor
from ...types import DataType, Layout, MemoryConfig, StorageType, TensorMemoryLayout
from .. import normalization
from ..eltwise import activation_fn, resolve_activation

__all__ = [
    "dit_layernorm_post_allgather",
    "dit_layernorm_pre_allgather",
    "dit_rms_norm_unary_fused",
    "wan_fused_rmsnorm_post_allgather",
    "wan_fused_rmsnorm_pre_allgather",
]

TILE = 32
_LN_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32)


def _require_on_device(t: Tensor) -> None:
    rules.require(t.storage_type() == StorageType.DEVICE, "Operands must be on device.")


def dit_layernorm_pre_allgather(
    input_tensor: Tensor,
    recip_tensor: Tensor,
    *,
    dtype: DataType = DataType.BFLOAT16,
    compute_kernel_config: Any = None,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """[..., W] -> [..., 64]: column 0 the row mean, column 32 the row (population) variance of this slice.
    recip_tensor is the Welford table of create_layer_norm_reciprocals (it changes no values here)."""
    x = input_tensor
    _require_on_device(x)
    rules.require(not x.is_sharded(), "DIT layernorm pre-all-gather does not support sharded inputs.")
    rules.require(x.layout == Layout.TILE, "Only tilized inputs supported.")
    rules.require(
        x.memory_config().memory_layout == TensorMemoryLayout.INTERLEAVED,
        "Only interleaved inputs supported.",
    )
    rules.require(x.dtype in _LN_DTYPES, "Input data format not supported.")

    def compute(v: torch.Tensor) -> torch.Tensor:
        return normalization._stat_columns(v.mean(dim=-1), v.var(dim=-1, unbiased=False))

    return normalization._stats_op("dit_layernorm_pre_allgather", [x], compute, dtype, memory_config)


def _check_affine(label: str, t: Tensor, x: Tensor) -> None:
    rules.require(t.storage_type() == StorageType.DEVICE, f"{label} must be on device.")
    rules.require(t.dtype in (DataType.BFLOAT16, DataType.FLOAT32), f"{label} must be BF16 or FLOAT32.")
    rules.require(t.device() is x.device(), f"Input and {label.lower()} tensors must be on same device")
    if t.layout == Layout.TILE:
        rules.require(t.padded_shape[-2] == TILE, f"{label} height must be TILE_HEIGHT (32)")
        rules.require(t.padded_shape[-1] == x.padded_shape[-1], f"{label} hidden dimension must match input.")
    else:
        rules.require(
            t.padded_shape[-1] == TILE and t.volume() // TILE == x.padded_shape[-1] // TILE,
            f"{label} dimensions must align with input.",
        )


def dit_layernorm_post_allgather(
    input_tensor: Tensor,
    stats: Tensor,
    *,
    epsilon: float = 1e-5,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    dtype: DataType | None = None,
) -> Tensor:
    """Layer norm of this device's slice with the gathered [..., 64 n] Welford partials of n devices (checks
    and wording: dit_layernorm_post_all_gather_device_operation.cpp). weight / bias: TILE [1, W] or ROW_MAJOR
    [W / 32, 32]; bias only with weight."""
    x = input_tensor
    rules.require(not x.is_sharded(), "DIT layernorm post-all-gather does not support sharded inputs.")
    rules.require(x.layout == Layout.TILE, f"Input tensor must have TILE layout, got: {x.layout!r}")
    rules.require(
        x.dtype in _LN_DTYPES, f"Input tensor must be BFLOAT16, BFLOAT8_B, or FLOAT32, got: {x.dtype!r}"
    )
    _require_on_device(x)
    rules.require(stats.layout == Layout.TILE, f"Stats tensor must have TILE layout, got: {stats.layout!r}")
    rules.require(stats.dtype in _LN_DTYPES, "Stats tensor must be BF16, BF8_B, or FLOAT32.")
    _require_on_device(stats)
    sp, xp = stats.padded_shape, x.padded_shape
    rules.require(
        sp[-1] % (2 * TILE) == 0, f"Stats inner dimension must be multiple of 64 (two tiles), got: {sp[-1]}"
    )
    for i, what in ((0, "batch sizes"), (1, "dim1"), (2, "dim2")):
        if len(sp) > i and len(xp) > i:
            rules.require(
                sp[i] == xp[i], f"Stats and input {what} must match, got stats: {sp[i]} vs input: {xp[i]}"
            )
    if weight is not None:
        rules.require(bias is not None, "Beta must be provided when gamma is provided.")
        _check_affine("Gamma", weight, x)
        _check_affine("Beta", bias, x)
    else:
        rules.require(bias is None, "Beta must not be provided without gamma.")
    devices = sp[-1] // (2 * TILE)
    width = x.shape[-1]
    affine = [t for t in (weight, bias) if t is not None]
    layouts = [t.layout for t in affine]

    def compute(v: torch.Tensor, s: torch.Tensor, *ab: torch.Tensor) -> torch.Tensor:
        means = torch.stack(normalization._device_columns(s, 2 * TILE, devices), dim=-1)
        variances = torch.stack(normalization._device_columns(s, 2 * TILE, devices, TILE), dim=-1)
        mean = means.mean(dim=-1)
        var = (variances + means.square()).mean(dim=-1) - mean.square()
        y = (v - mean.unsqueeze(-1)) * torch.rsqrt(var.unsqueeze(-1) + epsilon)
        if ab:
            gamma, beta = (
                normalization._affine_values(t, lay, width) for t, lay in zip(ab, layouts, strict=True)
            )
            y = y * gamma + beta
        return y

    return normalization._stats_op(
        "dit_layernorm_post_allgather", [x, stats, *affine], compute, dtype or x.dtype, memory_config
    )


def dit_rms_norm_unary_fused(
    input_tensor: Tensor,
    epsilon: float = 1e-5,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    residual_input_tensor: Tensor | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    program_config: Any = None,
    compute_kernel_config: Any = None,
    activation: Any = None,
) -> Tensor:
    """rms_norm (same kernel, checks and default compute config) with the activation ("silu", "gelu", a
    UnaryOpType or a UnaryWithParam) applied in Dst before packing, as one op."""
    fused = resolve_activation(activation)

    def post(k: Any) -> Any:
        return activation_fn(
            fused, math_approx_mode=k.math_approx_mode, fp32_dest=k.fp32_dest_acc_en, arch=k.arch
        )

    return normalization._norm(
        "dit_rms_norm_unary_fused",
        True,
        input_tensor,
        epsilon,
        weight,
        bias,
        residual_input_tensor,
        memory_config,
        compute_kernel_config,
        activation=post if fused is not None else None,
    )


def _require_wan_input(x: Tensor) -> None:
    _require_on_device(x)
    rules.require(x.dtype == DataType.BFLOAT16, f"Input tensor must be BFLOAT16, got: {x.dtype!r}")
    rules.require(x.layout == Layout.TILE, f"Input tensor must have TILE layout, got: {x.layout!r}")
    rules.require(
        x.memory_config().memory_layout != TensorMemoryLayout.HEIGHT_SHARDED,
        "Input cannot be height-sharded.",
    )


def wan_fused_rmsnorm_pre_allgather(
    input_tensor: Tensor,
    *,
    dtype: DataType = DataType.BFLOAT16,
    compute_kernel_config: Any = None,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """[..., W] -> [..., 32]: column 0 sum(x**2) of this slice (stats dtype BFLOAT16 or FLOAT32)."""
    x = input_tensor
    _require_wan_input(x)
    rules.require(
        dtype in (DataType.BFLOAT16, DataType.FLOAT32),
        f"Stats dtype must be BFLOAT16 or FLOAT32, got: {dtype!r}",
    )

    def compute(v: torch.Tensor) -> torch.Tensor:
        return normalization._stat_columns(v.square().sum(dim=-1))

    return normalization._stats_op("wan_fused_rmsnorm_pre_allgather", [x], compute, dtype, memory_config)


def wan_fused_rmsnorm_post_allgather(
    input_tensor: Tensor,
    stats: Tensor,
    *,
    epsilon: float = 1e-5,
    num_heads_per_device: int = 1,
    weight: Tensor | None = None,
    transformation_mat: Tensor | None = None,
    rope_cos: Tensor | None = None,
    rope_sin: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    dtype: DataType | None = None,
) -> Tensor:
    """RMS norm of this device's [1, 1, S, H] slice with the gathered [..., 32 n] sums of squares, times
    weight [1, H]; the result split into heads [1, num_heads_per_device, S, H / heads] and, with
    transformation_mat / rope_cos / rope_sin, rotated like rotary_embedding_llama (x cos + (x T) sin)."""
    x = input_tensor
    _require_wan_input(x)
    _require_on_device(stats)
    rules.require(stats.layout == Layout.TILE, f"Stats tensor must have TILE layout, got: {stats.layout!r}")
    rules.require(
        stats.dtype in (DataType.BFLOAT16, DataType.FLOAT32),
        f"Stats tensor must be BFLOAT16 or FLOAT32, got: {stats.dtype!r}",
    )
    shape = x.shape
    rules.require(
        len(shape) == 4 and shape[0] == 1 and shape[1] == 1,
        f"Input tensor must be rank 4 with shape [1, 1, S, H], got {list(shape)}",
    )
    rules.require(
        stats.padded_shape[-1] % TILE == 0,
        f"Stats inner dimension must be a multiple of 32, got: {stats.padded_shape[-1]}",
    )
    rope = [transformation_mat, rope_cos, rope_sin]
    has_rope = transformation_mat is not None
    rules.require(
        all(t is not None for t in rope) or all(t is None for t in rope),
        "transformation_mat, rope_cos and rope_sin must be provided together",
    )
    seq, hidden = shape[2], shape[3]
    heads = num_heads_per_device
    rules.require(
        hidden % heads == 0, f"Hidden dim {hidden} must be divisible by num_heads_per_device {heads}"
    )
    head_dim = hidden // heads
    if weight is not None:
        rules.require(weight.dtype == DataType.BFLOAT16, "Weight must be BFLOAT16.")
        rules.require(
            weight.shape[-1] == hidden,
            f"Weight hidden dimension {weight.shape[-1]} must match input {hidden}.",
        )
    if has_rope:
        ts = transformation_mat.shape
        rules.require(
            tuple(ts) == (1, 1, TILE, TILE), f"Transformation matrix must be [1, 1, 32, 32], got {list(ts)}"
        )
        for label, t in (("rope_cos", rope_cos), ("rope_sin", rope_sin)):
            rules.require(
                tuple(t.shape) == (1, 1, seq, head_dim),
                f"{label} must be [1, 1, {seq}, {head_dim}], got {list(t.shape)}",
            )
    devices = stats.padded_shape[-1] // TILE
    inputs = [x, stats] + ([weight] if weight is not None else []) + ([*rope] if has_rope else [])
    has_w = weight is not None

    def compute(v: torch.Tensor, s: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        y = normalization._rms_scaled(
            v, sum(normalization._device_columns(s, TILE, devices)), hidden * devices, epsilon
        )
        it = iter(rest)
        if has_w:
            y = y * normalization._affine_values(next(it), weight.layout, hidden)
        y = y.reshape(1, seq, heads, head_dim).transpose(1, 2)
        if has_rope:
            t, cos, sin = next(it), next(it), next(it)
            rotated = (y.reshape(1, heads, seq, head_dim // TILE, TILE) @ t.reshape(TILE, TILE)).reshape(
                y.shape
            )
            y = y * cos + rotated * sin
        return y.contiguous()

    return normalization._stats_op(
        "wan_fused_rmsnorm_post_allgather", inputs, compute, dtype or x.dtype, memory_config
    )
