"""softmax, layer_norm and rms_norm on the simulator, computed the way their compute kernels do.

softmax (ttnn/cpp/ttnn/operations/normalization/softmax/device/kernels/compute/softmax.cpp), per row:
  numeric_stable: m = reduce MAX (FPU) -> im CB; d = x - m (FPU sub, bcast cols) in Dst; else d = x in Dst
  e = exp_tile<math_approx_mode>(d) (SFPU; approximate = the fast Schraudolph exp) -> im CB
  s = reduce SUM of e with a scaler tile of 1.0 (FPU, Dst accumulation tile by tile)
  r = recip_tile(s) (SFPU, math_approx_mode) -> im CB;  out = e * r (FPU mul, bcast cols) -> packed.
layer_norm / rms_norm (normalization/layernorm/device/kernels/compute/layernorm.cpp, the two-pass kernel):
  [x = a + residual -> im CB]
  layer_norm: E[x] = reduce SUM of x with a scaler tile of bfloat16(1/W); xmm = x - E[x]; var = reduce SUM of
              xmm * xmm with the same scaler;  rms_norm: xmm = x, var = reduce SUM of x * x
  rstd = recip_tile(sqrt_tile(var + eps)) (SFPU, math_approx_mode) -> im CB
  y = xmm * rstd [-> im CB, * gamma (bcast rows)] [-> im CB, + beta] -> packed.
Intermediate CBs are float32 with fp32_dest_acc_en, else bfloat16; every FPU operand passes the source
registers (float32 -> TF32) and every FPU result Dst (numerics/tile_math.py). Default compute configs when
none is given (TTNN_FACTS §6): softmax HiFi4 / approx / 16-bit Dst, layer_norm HiFi4 / approx / fp32 Dst,
rms_norm HiFi4 / approx / 16-bit Dst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .. import rules
from ..numerics import fidelity, sfpu, tile_math
from ..tensor import Tensor, device_op, same_shape
from ..types import (
    BufferType,
    CoreCoord,
    CoreGrid,
    CoreRange,
    CoreRangeSet,
    DataType,
    Layout,
    MathFidelity,
    MemoryConfig,
    ShardOrientation,
    ShardSpec,
    StorageType,
    TensorMemoryLayout,
    WormholeComputeKernelConfig,
)
from .core import from_torch
from .eltwise import into_output
from .golden import attach_golden_function


@dataclass(kw_only=True)
class SoftmaxDefaultProgramConfig:
    """ttnn.SoftmaxDefaultProgramConfig: interleaved softmax, no parameters."""


@dataclass(kw_only=True)
class SoftmaxShardedMultiCoreProgramConfig:
    """ttnn.SoftmaxShardedMultiCoreProgramConfig (blocking of a sharded softmax; changes no values)."""

    compute_with_storage_grid_size: CoreCoord
    subblock_w: int
    block_h: int
    block_w: int


@dataclass(kw_only=True)
class LayerNormDefaultProgramConfig:
    """ttnn.LayerNormDefaultProgramConfig."""

    legacy_reduction: bool = False
    legacy_rsqrt: bool = False
    use_welford: bool = False


@dataclass(kw_only=True)
class LayerNormShardedMultiCoreProgramConfig:
    """ttnn.LayerNormShardedMultiCoreProgramConfig (blocking of a sharded layer/rms norm; changes no
    values)."""

    compute_with_storage_grid_size: CoreCoord
    subblock_w: int
    block_h: int
    block_w: int
    inplace: bool
    legacy_reduction: bool = False
    legacy_rsqrt: bool = False
    use_welford: bool = False


__all__ = [
    "LayerNormDefaultProgramConfig",
    "LayerNormShardedMultiCoreProgramConfig",
    "SoftmaxDefaultProgramConfig",
    "SoftmaxShardedMultiCoreProgramConfig",
    "create_group_norm_input_mask",
    "create_group_norm_weight_bias_rm",
    "group_norm",
    "layer_norm",
    "rms_norm",
    "scale_mask_softmax",
    "scale_mask_softmax_in_place",
    "softmax",
    "softmax_in_place",
]

_SOFTMAX_DEFAULT = tile_math.KernelConfig(MathFidelity.HiFi4, True, False)
_LAYER_NORM_DEFAULT = tile_math.KernelConfig(MathFidelity.HiFi4, True, True)
_RMS_NORM_DEFAULT = tile_math.KernelConfig(MathFidelity.HiFi4, True, False)


def _softmax_rows(
    x: torch.Tensor, x_dtype: DataType, k: tile_math.KernelConfig, stable: bool
) -> torch.Tensor:
    """softmax.cpp over the last dim of Dst-ready values `x`; returns the Dst contents before packing."""
    im = k.im_dtype
    if stable:
        m = tile_math.pack_im(tile_math.to_dst(x.amax(dim=-1, keepdim=True), k), k)
        d = tile_math.sub(x, m, x_dtype, im, k)
    else:
        d = x
    e = tile_math.pack_im(sfpu.apply(sfpu.exp, d, k.sfpu_mode()), k)
    total = tile_math.reduce_row_sum(e, im, 1.0, k)
    r = tile_math.pack_im(sfpu.apply(sfpu.reciprocal, total, k.sfpu_mode()), k)
    return tile_math.mul(e, r, im, im, k)


def softmax(
    input_tensor: Tensor,
    dim: int = -1,
    *,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    numeric_stable: bool = True,
) -> Tensor:
    """ttnn.softmax along `dim` (module docstring). Without numeric_stable the max is not subtracted first (as
    on device), so large logits overflow exp like they do there."""
    rules.require_same_device("softmax", [input_tensor])
    rules.require_tile("softmax", input_tensor)
    rules.check_reduce_dim(dim, len(input_tensor.shape))
    k = tile_math.from_compute_config(compute_kernel_config, _SOFTMAX_DEFAULT, input_tensor.device().arch())
    x_dtype = input_tensor.dtype

    def compute(x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(dim, -1)
        return _softmax_rows(x, x_dtype, k, numeric_stable).movedim(-1, dim)

    mc = memory_config or input_tensor.memory_config()
    return device_op(
        "softmax",
        [input_tensor],
        compute,
        dtype=input_tensor.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        output_shapes=same_shape,
    )


def _affine_values(v: torch.Tensor, layout: Layout, width: int) -> torch.Tensor:
    """gamma / beta as a [width] vector: the first row of a TILE [.., 32, W] tensor, or the flattened
    [.., W/32, 32] ROW_MAJOR form."""
    if layout == Layout.TILE:
        return v.reshape(-1, v.shape[-1])[0, :width]
    return v.reshape(-1)[:width]


def _norm_rows(
    v: torch.Tensor,
    x_dtype: DataType,
    rms: bool,
    epsilon: float,
    k: tile_math.KernelConfig,
) -> tuple[torch.Tensor, DataType]:
    """layernorm.cpp up to y = xmm * rstd (module docstring); returns Dst contents and their operand dtype."""
    im = k.im_dtype
    scaler = tile_math.bf16_scaler(1.0 / v.shape[-1])
    if rms:
        xmm, xmm_dtype = v, x_dtype
    else:
        mean = tile_math.pack_im(tile_math.reduce_row_sum(v, x_dtype, scaler, k), k)
        xmm, xmm_dtype = tile_math.pack_im(tile_math.sub(v, mean, x_dtype, im, k), k), im
    sq = tile_math.pack_im(tile_math.mul(xmm, xmm, xmm_dtype, xmm_dtype, k), k)
    var = tile_math.pack_im(tile_math.reduce_row_sum(sq, im, scaler, k), k)
    eps = tile_math.pack_im(torch.tensor(epsilon, dtype=torch.float32), k)
    d = tile_math.add(var, eps, im, im, k)
    mode = k.sfpu_mode()
    rstd = tile_math.pack_im(sfpu.apply(sfpu.reciprocal, sfpu.apply(sfpu.sqrt, d, mode), mode), k)
    return tile_math.mul(xmm, rstd, xmm_dtype, im, k), im


_NARROW = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)


def _fused_layer_norm_applies(
    x_dtype: DataType, k: tile_math.KernelConfig, gamma_dtype: DataType | None, beta_dtype: DataType | None
) -> bool:
    """Whether _layer_norm_fp32_dst gives the general path's bits: a 32-bit Dst (float32 intermediates, no Dst
    rounding), HiFi4, and bfloat16-based input and affine operands (what the source registers hold is the value
    itself)."""
    return (
        k.fp32_dest_acc_en
        and k.math_fidelity == MathFidelity.HiFi4
        and x_dtype in _NARROW
        and all(d is None or d in _NARROW for d in (gamma_dtype, beta_dtype))
    )


def _truncate_(x: torch.Tensor, keep_bits: int) -> torch.Tensor:
    """fidelity.truncate_mantissa in place on a fresh contiguous float32 tensor."""
    x.view(torch.int32).bitwise_and_(-(1 << (23 - keep_bits)))
    return x


def _layer_norm_fp32_dst(
    v: torch.Tensor,
    epsilon: float,
    k: tile_math.KernelConfig,
    gamma: torch.Tensor | None,
    beta: torch.Tensor | None,
) -> torch.Tensor:
    """_norm_rows (layer_norm) then the gamma multiply and beta add of _norm's compute, where
    _fused_layer_norm_applies: the same float32 operations on the same operands in the same order, without the
    passes that cannot change a value (tests/sim/test_layer_norm_fused.py checks the bits against the general
    path). With a 32-bit Dst every intermediate CB is float32 (pack_im and to_dst keep values); a float32
    FPU operand passes the source registers as TF32 (10 mantissa bits), and at HiFi4 srcA (an elementwise
    product's first operand) is read to 9: truncating to 10 then 9 bits is truncating to 9, so each tensor is
    truncated once per width it is read at. Every product keeps the general path's operand order (srcB * srcA,
    tile_math._product), as NaN payloads follow the first operand."""
    scale = tile_math.bf16_scaler(1.0 / v.shape[-1])
    scaler = torch.tensor(scale, dtype=torch.float32)
    v = v.to(torch.float32)
    # mean: reduce_row_sum of x * scaler (srcA = x holds all of a bfloat16-based value; a scaler of 1: x)
    mean = (v if scale == 1.0 else torch.mul(scaler, v)).sum(dim=-1, keepdim=True)
    xmm = v - fidelity.truncate_mantissa(mean, 10)
    # sq = mul(xmm, xmm): srcB = TF32(xmm), srcA = 9 bits of it
    srca = fidelity.truncate_mantissa(xmm, 9)
    sq = fidelity.truncate_mantissa(xmm, 10).mul_(srca)  # TF32(xmm) * srcA, in that order
    # var: reduce_row_sum of sq * scaler: srcB = the scaler, srcA = 9 bits of sq
    var = torch.mul(scaler, _truncate_(sq, 9), out=sq).sum(dim=-1, keepdim=True)
    eps = torch.tensor(epsilon, dtype=torch.float32)
    d = fidelity.truncate_mantissa(var, 10) + fidelity.truncate_mantissa(eps, 10)
    mode = k.sfpu_mode()
    rstd = sfpu.apply(sfpu.reciprocal, sfpu.apply(sfpu.sqrt, d, mode), mode)
    # y = mul(xmm, rstd): srcB = TF32(rstd), srcA = 9 bits of xmm (computed above; reused as the output)
    y = torch.mul(fidelity.truncate_mantissa(rstd, 10), srca, out=srca)
    if gamma is not None:  # mul(y, gamma): srcB = gamma (bfloat16-based), srcA = 9 bits of y
        y = torch.mul(gamma.to(torch.float32), _truncate_(y, 9), out=y)
    if beta is not None:  # add(y, beta): TF32(y) + beta
        y = _truncate_(y, 10).add_(beta.to(torch.float32))
    return y


def _norm(
    name: str,
    rms: bool,
    x: Tensor,
    epsilon: float,
    weight: Tensor | None,
    bias: Tensor | None,
    residual_input_tensor: Tensor | None,
    memory_config: MemoryConfig | None,
    compute_kernel_config: Any,
    activation: Any = None,
) -> Tensor:
    """`activation(k)`, if given, returns the Dst -> Dst function a fused kernel applies last (DiT's
    dit_rms_norm_unary_fused), built from the kernel's compute configuration."""
    extras = [t for t in (residual_input_tensor, weight, bias) if t is not None]
    rules.require_same_device(name, [x, *extras])
    residual_padded = residual_input_tensor.padded_shape if residual_input_tensor is not None else None
    rules.check_norm_input(x.layout, x.dtype, x.padded_shape, residual_padded)
    for label, t in (("Gamma", weight), ("Beta", bias)):
        if t is not None:
            rules.check_norm_affine(label, t.layout, t.dtype, t.padded_shape, t.volume(), x.padded_shape)
    rules.check_norm_affine_layouts(
        weight.layout if weight is not None else None, bias.layout if bias is not None else None
    )
    width = x.shape[-1]
    has_res, has_w, has_b = residual_input_tensor is not None, weight is not None, bias is not None
    default = _RMS_NORM_DEFAULT if rms else _LAYER_NORM_DEFAULT
    k = tile_math.from_compute_config(compute_kernel_config, default, x.device().arch())
    post = activation(k) if activation is not None else None

    fused = (
        not rms
        and not has_res
        and post is None
        and _fused_layer_norm_applies(x.dtype, k, weight.dtype if has_w else None, bias.dtype if has_b else None)
    )

    def compute(v: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        it = iter(rest)
        x_dtype = x.dtype
        if fused:
            gamma = _affine_values(next(it), weight.layout, width) if has_w else None
            beta = _affine_values(next(it), bias.layout, width) if has_b else None
            return _layer_norm_fp32_dst(v, epsilon, k, gamma, beta)
        if has_res:
            res = next(it)
            v = tile_math.pack_im(tile_math.add(v, res, x_dtype, residual_input_tensor.dtype, k), k)
            x_dtype = k.im_dtype
        y, y_dtype = _norm_rows(v, x_dtype, rms, epsilon, k)
        if has_w:
            gamma = _affine_values(next(it), weight.layout, width)
            y = tile_math.mul(tile_math.pack_im(y, k), gamma, y_dtype, weight.dtype, k)
        if has_b:
            beta = _affine_values(next(it), bias.layout, width)
            y = tile_math.add(tile_math.pack_im(y, k), beta, y_dtype, bias.dtype, k)
        return post(y) if post is not None else y

    mc = memory_config or x.memory_config()
    return device_op(
        name,
        [x, *extras],
        compute,
        dtype=x.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        output_shapes=same_shape,
        stack_chips=(0, 1) if has_res else (0,),  # row by row; gamma / beta are shared
    )


def layer_norm(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    epsilon: float = 1e-12,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    residual_input_tensor: Tensor | None = None,
    program_config: Any = None,
    compute_kernel_config: Any = None,
    recip_tensor: Tensor | None = None,
) -> Tensor:
    """ttnn.layer_norm over the last dim (biased variance); the residual is added first. recip_tensor is the
    Welford kernel's table of 1/n (create_layer_norm_reciprocals): it changes no values here."""
    return _norm(
        "layer_norm",
        False,
        input_tensor,
        epsilon,
        weight,
        bias,
        residual_input_tensor,
        memory_config,
        compute_kernel_config,
    )


def rms_norm(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    epsilon: float = 1e-12,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    residual_input_tensor: Tensor | None = None,
    program_config: Any = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """ttnn.rms_norm over the last dim: x / sqrt(mean(x^2) + eps) * weight + bias."""
    return _norm(
        "rms_norm",
        True,
        input_tensor,
        epsilon,
        weight,
        bias,
        residual_input_tensor,
        memory_config,
        compute_kernel_config,
    )


# -- softmax variants ------------------------------------------------------------------------------------


def _mask_values(mask: torch.Tensor, mask_layout: Layout, x_shape: torch.Size) -> torch.Tensor:
    """A softmax mask as broadcastable values: TILE [B, 1, 1 or H, W], or the ROW_MAJOR [B, 1, W/32, 32]
    form of a padding mask (softmax_device_operation.cpp accepts both)."""
    if mask_layout == Layout.ROW_MAJOR and mask.shape[-1] == 32 and mask.shape[-2] * 32 == x_shape[-1]:
        return mask.reshape(*mask.shape[:-2], 1, x_shape[-1])
    return mask


def _scale_mask_softmax(
    name: str,
    x: Tensor,
    scale: float | None,
    mask: Tensor | None,
    is_causal_mask: bool,
    numeric_stable: bool,
    memory_config: MemoryConfig | None,
    output: Tensor | None,
) -> Tensor:
    inputs = [x] + ([mask] if mask is not None else [])
    rules.require_same_device(name, inputs)
    rules.require_tile(name, x)
    if mask is not None:
        if is_causal_mask:
            rules.require(
                list(mask.shape[-2:]) == list(x.shape[-2:]),
                f"{name}: a causal mask must match the input's last two dims {list(x.shape[-2:])}, "
                f"got {list(mask.shape)}",
            )
        else:
            values_shape = _mask_values(torch.empty(mask.shape), mask.layout, x.shape).shape
            rules.require(
                values_shape[-1] == x.shape[-1]
                and values_shape[-2] == 1
                and values_shape[0] in (1, x.shape[0]),
                f"{name}: mask must be [batch, 1, 1, {x.shape[-1]}] (TILE) or [batch, 1, {x.shape[-1] // 32}, 32] "
                f"(ROW_MAJOR) for a non-causal mask, got {list(mask.shape)}",
            )
    mask_layout = mask.layout if mask is not None else None

    def compute(v: torch.Tensor, *m: torch.Tensor) -> torch.Tensor:
        if scale is not None:
            v = v * scale
        if m:
            v = v + _mask_values(m[0], mask_layout, v.shape)
        if numeric_stable:
            return torch.softmax(v, dim=-1)
        e = torch.exp(v)
        return e / e.sum(dim=-1, keepdim=True)

    mc = memory_config or x.memory_config()
    result = device_op(name, inputs, compute, dtype=x.dtype, layout=Layout.TILE, memory_config=mc)
    return into_output(result, output)


def scale_mask_softmax(
    input_tensor: Tensor,
    scale: float | None = None,
    mask: Tensor | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    is_causal_mask: bool = False,
    compute_kernel_config: Any = None,
    numeric_stable: bool = True,
) -> Tensor:
    """ttnn.scale_mask_softmax: softmax(input * scale + mask) over the last dim."""
    return _scale_mask_softmax(
        "scale_mask_softmax", input_tensor, scale, mask, is_causal_mask, numeric_stable, memory_config, None
    )


def scale_mask_softmax_in_place(
    input_tensor: Tensor,
    scale: float | None = None,
    mask: Tensor | None = None,
    *,
    program_config: Any = None,
    is_causal_mask: bool = False,
    compute_kernel_config: Any = None,
    numeric_stable: bool = False,
) -> Tensor:
    """ttnn.scale_mask_softmax_in_place: scale_mask_softmax written into input_tensor."""
    return _scale_mask_softmax(
        "scale_mask_softmax_in_place",
        input_tensor,
        scale,
        mask,
        is_causal_mask,
        numeric_stable,
        None,
        input_tensor,
    )


def softmax_in_place(
    input_tensor: Tensor,
    dim: int = -1,
    *,
    program_config: Any = None,
    compute_kernel_config: Any = None,
    numeric_stable: bool = True,
) -> Tensor:
    """ttnn.softmax_in_place: softmax over the last dim written into input_tensor (the in-place kernels
    reduce along the last dim only)."""
    rules.require(
        dim in (-1, len(input_tensor.shape) - 1), "softmax_in_place: only the last dim is supported"
    )
    return _scale_mask_softmax(
        "softmax_in_place", input_tensor, None, None, False, numeric_stable, None, input_tensor
    )


# -- group_norm ------------------------------------------------------------------------------------------


def _ceil32(n: int) -> int:
    return (n + 31) // 32 * 32


def create_group_norm_weight_bias_rm(
    input_tensor: torch.Tensor, num_channels: int, num_cores_x: int
) -> torch.Tensor:
    """gamma / beta for group_norm as ttnn packs them: the channels split into num_cores_x chunks, each
    padded with zeros to a multiple of 32, as a torch [1, 1, rows, 32] tensor."""
    per_chunk = num_channels // num_cores_x
    chunks = input_tensor.reshape(num_cores_x, per_chunk)
    chunks = torch.nn.functional.pad(chunks, (0, _ceil32(per_chunk) - per_chunk))
    return chunks.reshape(1, 1, -1, 32)


def create_group_norm_input_mask(
    num_channel: int,
    num_groups: int,
    num_cores_across_channel: int,
    data_type: DataType = DataType.BFLOAT16,
    tile_height: int = 32,
    tile_width: int = 32,
    rows_in_last_tile: int = 0,
) -> Tensor:
    """The host TILE [1, num_groups, 32, W] mask of which channels of its core's block each group owns
    (probed on 0.81.1: 64 channels / 4 groups -> [1, 4, 32, 32], ones at 16g..16g+15; 96 / 4 ->
    [1, 4, 32, 64])."""
    per_core = num_channel // num_cores_across_channel
    per_group = num_channel // num_groups
    groups_per_core = max(1, num_groups // num_cores_across_channel)
    spans = []
    for g in range(num_groups):
        start = g * per_group - (g // groups_per_core) * per_core
        first_tile = start // tile_width
        spans.append(
            (start - first_tile * tile_width, math.ceil((start + per_group) / tile_width) - first_tile)
        )
    width = max(n for _, n in spans) * tile_width
    mask = torch.zeros(1, num_groups, tile_height, width)
    for g, (offset, _) in enumerate(spans):
        mask[0, g, :, offset : offset + per_group] = 1.0
    return Tensor([mask], data_type, Layout.TILE)


def _unpack_affine(values: torch.Tensor, channels: int, num_chunks: int | None) -> torch.Tensor:
    """Per-channel gamma / beta from create_group_norm_weight_bias_rm's packing."""
    flat = values.reshape(-1)
    if flat.numel() == channels:
        return flat
    candidates = [
        k for k in range(1, channels + 1) if channels % k == 0 and k * _ceil32(channels // k) == flat.numel()
    ]
    rules.require(
        bool(candidates),
        f"group_norm: gamma/beta hold {flat.numel()} values, which no packing of {channels} channels into "
        "32-aligned chunks gives (see ttnn.create_group_norm_weight_bias_rm)",
    )
    k = num_chunks if num_chunks in candidates else candidates[0]
    return flat.reshape(k, -1)[:, : channels // k].reshape(-1)


def group_norm(
    input_tensor: Tensor,
    *,
    num_groups: int,
    epsilon: float = 1e-12,
    input_mask: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    core_grid: Any = None,
    inplace: bool | None = True,
    output_layout: Layout | None = None,
    num_out_blocks: int | None = None,
    compute_kernel_config: Any = None,
    negative_mask: Tensor | None = None,
    use_welford: bool = False,
) -> Tensor:
    """ttnn.group_norm of a channels-last [N, 1, H*W, C] activation: per sample and group of C/num_groups
    channels, (x - mean) / sqrt(var + eps) over H*W x C/num_groups values (biased variance), then
    per-channel weight and bias (packed as create_group_norm_weight_bias_rm does). Rules worded as
    groupnorm.cpp; the mask tensors are the kernel's bookkeeping and do not change the values here."""
    x = input_tensor
    rules.require(
        x.storage_type() == StorageType.DEVICE,
        f"Invalid input tensor storage type: Input tensor must be on device. (storage type={x.storage_type()})",
    )
    if x.layout == Layout.TILE and inplace is not None:
        rules.require(
            not inplace,
            f"In-place operation not supported: Tile layout requires non-inplace tensors. (inplace={str(inplace).lower()})",
        )
    if output_layout is not None and inplace and output_layout != x.layout:
        raise rules.fatal(
            "In-place operation not allowed: Input and output tensor layouts differ. "
            f"(input_layout={x.layout.name}, output_layout={output_layout.name})"
        )
    mc_in = x.memory_config()
    rules.require(
        mc_in.memory_layout != TensorMemoryLayout.WIDTH_SHARDED,
        "Unsupported memory layout: Input tensor cannot be width-sharded.",
    )
    if not x.is_sharded():
        rules.require(
            x.layout == Layout.TILE,
            "group_norm: interleaved (non-sharded) input must be in TILE layout, got ROW_MAJOR. Convert the input "
            "with ttnn.to_layout(input, ttnn.TILE_LAYOUT) before calling group_norm. ROW_MAJOR is supported only "
            "for sharded inputs.",
        )
        rules.require(
            (output_layout or Layout.TILE) == Layout.TILE,
            "group_norm: interleaved (non-sharded) output must be in TILE layout, got ROW_MAJOR output_layout. "
            "Request TILE output and convert it yourself with ttnn.to_layout(output, ttnn.ROW_MAJOR_LAYOUT). "
            "ROW_MAJOR output is supported only for sharded inputs.",
        )
    shape = x.shape
    rules.require(
        len(shape) == 4, f"Invalid tensor shape: Input tensor must have rank 4. (rank={len(shape)})"
    )
    channels = shape[-1]
    rules.require(
        channels % num_groups == 0,
        f"Invalid channel configuration: Number of channels ({channels}) must be divisible by the number of groups "
        f"({num_groups}).",
    )
    padded = x.padded_shape
    nhw = padded[0] * padded[1] * padded[2]
    rules.require(
        nhw % 32 == 0,
        f"Invalid tensor dimensions: The product of NHW dimensions ({nhw}) must be divisible by the tile size (32).",
    )
    out_dtype = dtype or x.dtype
    rules.require(
        out_dtype == x.dtype,
        f"group_norm output dtype must match input dtype (DataType::{x.dtype.name}), got "
        f"dtype=DataType::{out_dtype.name}",
    )
    if input_mask is not None:
        rules.require(
            input_mask.storage_type() == StorageType.DEVICE,
            "Input mask must be on device, got storage type: StorageType::HOST",
        )
        rules.require(
            input_mask.device() is x.device(), "Input and input mask tensors must be on same device"
        )
    extras = [t for t in (weight, bias) if t is not None]
    rules.require_same_device("group_norm", [x, *extras])
    chunks = getattr(core_grid, "x", None)
    has_w, has_b = weight is not None, bias is not None

    def compute(v: torch.Tensor, *affine: torch.Tensor) -> torch.Tensor:
        n = v.shape[0]
        groups = v.reshape(n, -1, num_groups, channels // num_groups)
        mean = groups.mean(dim=(1, 3), keepdim=True)
        var = (groups - mean).square().mean(dim=(1, 3), keepdim=True)
        y = ((groups - mean) * torch.rsqrt(var + epsilon)).reshape(v.shape)
        it = iter(affine)
        if has_w:
            y = y * _unpack_affine(next(it), channels, chunks)
        if has_b:
            y = y + _unpack_affine(next(it), channels, chunks)
        return y

    mc = memory_config or mc_in
    layout = output_layout or x.layout
    return device_op("group_norm", [x, *extras], compute, dtype=out_dtype, layout=layout, memory_config=mc)


def _group_norm_golden(
    input_tensor: torch.Tensor,
    *,
    num_groups: int,
    epsilon: float = 1e-05,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    **_: Any,
) -> torch.Tensor:
    channels = input_tensor.shape[-1]
    nchw = input_tensor.float().permute(0, 3, 1, 2)
    w = _unpack_affine(weight.float(), channels, None) if weight is not None else None
    b = _unpack_affine(bias.float(), channels, None) if bias is not None else None
    return torch.nn.functional.group_norm(nchw, num_groups, w, b, eps=epsilon).permute(0, 2, 3, 1)


def _softmax_golden(input_tensor: torch.Tensor, dim: int = -1, **_: Any) -> torch.Tensor:
    return torch.softmax(input_tensor.float(), dim=dim)


def _scale_mask_softmax_golden(
    input_tensor: torch.Tensor, scale: float | None = None, mask: torch.Tensor | None = None, **_: Any
) -> torch.Tensor:
    x = input_tensor.float() * (scale if scale is not None else 1.0)
    if mask is not None:
        x = x + _mask_values(mask.float(), Layout.ROW_MAJOR if mask.shape[-1] == 32 else Layout.TILE, x.shape)
    return torch.softmax(x, dim=-1)


def _norm_golden(rms: bool):
    def golden(
        input_tensor: torch.Tensor,
        *,
        weight: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        residual_input_tensor: torch.Tensor | None = None,
        epsilon: float = 1e-12,
        **_: Any,
    ) -> torch.Tensor:
        x = input_tensor.float()
        if residual_input_tensor is not None:
            x = x + residual_input_tensor.float()
        width = x.shape[-1]
        if rms:
            y = x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + epsilon)
            # ttnn/ttnn/operations/normalization.py: the rms golden returns the dtype of a 16-bit weight.
            if weight is not None and weight.dtype in (torch.float16, torch.bfloat16):
                y = y.to(weight.dtype)
        else:
            y = torch.nn.functional.layer_norm(x, (width,), eps=epsilon)
        if weight is not None:
            y = y * weight.reshape(-1)[:width].to(y.dtype)
        if bias is not None:
            y = y + bias.reshape(-1)[:width].to(y.dtype)
        return y

    return golden


def _rms_norm_golden(input_tensor: torch.Tensor, weight: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
    """rms_norm's golden takes `weight` positionally too (tt-metal's tests call golden(x, weight))."""
    return _norm_golden(True)(input_tensor, weight=weight, **kwargs)


attach_golden_function(group_norm, _group_norm_golden)
attach_golden_function(softmax, _softmax_golden)
attach_golden_function(softmax_in_place, _softmax_golden)
attach_golden_function(scale_mask_softmax, _scale_mask_softmax_golden)
attach_golden_function(scale_mask_softmax_in_place, _scale_mask_softmax_golden)
attach_golden_function(layer_norm, _norm_golden(False))
attach_golden_function(rms_norm, _rms_norm_golden)


def batch_norm(
    input: Tensor,
    *,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    training: bool = False,
    eps: float = 1e-05,
    momentum: float = 0.1,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    output: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """ttnn.batch_norm of an NCHW [N, C, H, W] TILE tensor with [1, C, 1, 1] parameters: running statistics
    in eval mode, the batch's (biased variance) in training mode, where running_mean / running_var are
    updated in place with `momentum` (unbiased variance), as torch does."""
    extras = [t for t in (running_mean, running_var, weight, bias) if t is not None]
    rules.require_same_device("batch_norm", [input, *extras])
    rules.require(
        len(input.shape) == 4, f"batch_norm: input must be rank 4 [N, C, H, W], got {list(input.shape)}"
    )
    rules.require_tile("batch_norm", input)
    if not training:
        rules.require(
            running_mean is not None and running_var is not None,
            "running_mean and running_var must be defined in evaluation mode",
        )
    channels = input.shape[1]
    for label, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None:
            rules.require(
                t.volume() == channels,
                f"batch_norm: {label} must hold one value per channel ({channels}), got {list(t.shape)}",
            )
    slots = [t is not None for t in (running_mean, running_var, weight, bias)]
    dims = (0, 2, 3)

    def compute(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        it = iter(params)
        rm, rv, w, b = (next(it).reshape(1, -1, 1, 1) if s else None for s in slots)
        if training:
            mean = x.mean(dim=dims, keepdim=True)
            var = (x - mean).square().mean(dim=dims, keepdim=True)
        else:
            mean, var = rm, rv
        y = (x - mean) * torch.rsqrt(var + eps)
        if w is not None:
            y = y * w
        if b is not None:
            y = y + b
        return y

    mc = memory_config or input.memory_config()
    result = device_op(
        "batch_norm", [input, *extras], compute, dtype=input.dtype, layout=Layout.TILE, memory_config=mc
    )
    if training and (running_mean is not None or running_var is not None):
        _update_running_stats(input, running_mean, running_var, momentum)
    return into_output(result, output)


def _update_running_stats(
    x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, momentum: float
) -> None:
    """running = (1 - momentum) * running + momentum * batch statistic (unbiased variance), in place."""
    from ..numerics import formats
    from ..tensor import compute_values

    for i, values in enumerate(x._chips):
        v = compute_values(values).float()
        n = v.numel() // v.shape[1]
        mean = v.mean(dim=(0, 2, 3))
        var = v.var(dim=(0, 2, 3), correction=1 if n > 1 else 0)
        for t, stat in ((running_mean, mean), (running_var, var)):
            if t is None:
                continue
            old = compute_values(t._chips[i]).float()
            new = ((1 - momentum) * old.reshape(-1) + momentum * stat).reshape(old.shape)
            t.writable_chip(i)
            t._chips[i] = formats.quantize(new, t.dtype)
            t._owned.add(i)


attach_golden_function(
    batch_norm,
    lambda input, *, running_mean=None, running_var=None, training=False, eps=1e-05, momentum=0.1, weight=None,
    bias=None, **_: torch.nn.functional.batch_norm(
        input.float(), *(p.reshape(-1).float() if p is not None else None for p in (running_mean, running_var)),
        *(p.reshape(-1).float() if p is not None else None for p in (weight, bias)), training, momentum, eps,
    ),
)  # fmt: skip
__all__ += ["batch_norm"]


# -- distributed layer / rms norm: per-device statistics, then normalization with the gathered ones ----------

_STAT = 32  # one tile column per statistic


def _stat_columns(*columns: torch.Tensor) -> torch.Tensor:
    """Per-row statistics [..., 32 n]: statistic i in column 32 i (one tile each), the other columns 0 (undefined
    on a card)."""
    stats = torch.zeros(*columns[0].shape, _STAT * len(columns))
    for i, column in enumerate(columns):
        stats[..., _STAT * i] = column
    return stats


def _device_columns(s: torch.Tensor, block: int, devices: int, offset: int = 0) -> list[torch.Tensor]:
    """Column `offset` of each device's `block`-wide block of the gathered statistics."""
    return [s[..., d * block + offset] for d in range(devices)]


def _rms_scaled(v: torch.Tensor, sum_sq: torch.Tensor, count: int, epsilon: float) -> torch.Tensor:
    """v / sqrt(mean(x^2) + epsilon), the mean over `count` elements whose squares sum to `sum_sq`."""
    return v * torch.rsqrt(sum_sq.unsqueeze(-1) / count + epsilon)


def _stats_op(name: str, inputs: list[Tensor], compute: Any, dtype: DataType, mc: Any) -> Tensor:
    """A distributed-norm op: TILE output of `dtype`, in the first input's memory config unless `mc` is given."""
    return device_op(
        name, inputs, compute, dtype=dtype, layout=Layout.TILE, memory_config=mc or inputs[0].memory_config()
    )


def _pre_all_gather(
    name: str, include_sum: bool, x: Tensor, residual: Tensor | None, dtype: DataType, mc: Any
) -> Tensor:
    inputs = [x] + ([residual] if residual is not None else [])
    rules.require_same_device(name, inputs)
    rules.require_tile(name, x)

    def compute(v: torch.Tensor, *res: torch.Tensor) -> torch.Tensor:
        if res:
            v = v + res[0]
        return _stat_columns(v.square().sum(dim=-1), *([v.sum(dim=-1)] if include_sum else []))

    return _stats_op(name, inputs, compute, dtype, mc)


def layer_norm_pre_all_gather(
    input_tensor: Tensor,
    *,
    dtype: DataType = DataType.BFLOAT16,
    residual_input_tensor: Tensor | None = None,
    compute_kernel_config: Any = None,
    program_config: Any = None,
    memory_config: MemoryConfig | None = None,
    recip_tensor: Tensor | None = None,
    fast_and_approximate_mode: bool = False,
) -> Tensor:
    """This device's layer-norm statistics of its slice of the hidden dim: [..., 64] with sum(x^2) in column 0
    and sum(x) in column 32 (one tile each; the other columns are 0 here, undefined on a card)."""
    return _pre_all_gather(
        "layer_norm_pre_all_gather", True, input_tensor, residual_input_tensor, dtype, memory_config
    )


def rms_norm_pre_all_gather(
    input_tensor: Tensor,
    *,
    dtype: DataType = DataType.BFLOAT16,
    residual_input_tensor: Tensor | None = None,
    compute_kernel_config: Any = None,
    program_config: Any = None,
    memory_config: MemoryConfig | None = None,
    use_2d_core_grid: bool | None = None,
    fast_and_approximate_mode: bool = False,
) -> Tensor:
    """This device's rms-norm statistic: [..., 32] with sum(x^2) in column 0."""
    return _pre_all_gather(
        "rms_norm_pre_all_gather", False, input_tensor, residual_input_tensor, dtype, memory_config
    )


def _post_all_gather(
    name: str,
    include_sum: bool,
    x: Tensor,
    stats: Tensor,
    epsilon: float,
    weight: Tensor | None,
    bias: Tensor | None,
    dtype: DataType | None,
    mc: Any,
) -> Tensor:
    extras = [t for t in (weight, bias) if t is not None]
    rules.require_same_device(name, [x, stats, *extras])
    rules.require_tile(name, x)
    block = 2 * _STAT if include_sum else _STAT
    rules.require(
        stats.shape[-1] % block == 0,
        f"{name}: stats width ({stats.shape[-1]}) must be a multiple of {block} (one block per device)",
    )
    devices = stats.shape[-1] // block
    width = x.shape[-1]
    has_w, has_b = weight is not None, bias is not None

    def compute(v: torch.Tensor, s: torch.Tensor, *affine: torch.Tensor) -> torch.Tensor:
        total = width * devices
        sum_sq = sum(_device_columns(s, block, devices))
        if include_sum:
            ex2 = sum_sq / total
            ex = sum(_device_columns(s, block, devices, _STAT)) / total
            y = (v - ex.unsqueeze(-1)) * torch.rsqrt((ex2 - ex * ex).unsqueeze(-1) + epsilon)
        else:
            y = _rms_scaled(v, sum_sq, total, epsilon)
        it = iter(affine)
        if has_w:
            y = y * next(it).reshape(-1)[:width]
        if has_b:
            y = y + next(it).reshape(-1)[:width]
        return y

    return _stats_op(name, [x, stats, *extras], compute, dtype or x.dtype, mc)


def layer_norm_post_all_gather(
    input_tensor: Tensor,
    stats: Tensor,
    *,
    epsilon: float = 1e-12,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    program_config: Any = None,
    dtype: DataType | None = None,
) -> Tensor:
    """Layer norm of this device's slice with the statistics of every device (the all-gathered [..., 64 n])."""
    return _post_all_gather(
        "layer_norm_post_all_gather", True, input_tensor, stats, epsilon, weight, bias, dtype, memory_config
    )


def rms_norm_post_all_gather(
    input_tensor: Tensor,
    stats: Tensor,
    *,
    epsilon: float = 1e-12,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    program_config: Any = None,
    dtype: DataType | None = None,
    use_2d_core_grid: bool | None = None,
) -> Tensor:
    """RMS norm of this device's slice with the statistics of every device (the all-gathered [..., 32 n])."""
    return _post_all_gather(
        "rms_norm_post_all_gather", False, input_tensor, stats, epsilon, weight, bias, dtype, memory_config
    )


def _stats_golden(include_sum: bool) -> Any:
    def golden(
        x: torch.Tensor, *, residual_input_tensor: torch.Tensor | None = None, **_: Any
    ) -> torch.Tensor:
        x = x.float() + (residual_input_tensor.float() if residual_input_tensor is not None else 0)
        return _stat_columns(x.square().sum(-1), *([x.sum(-1)] if include_sum else []))

    return golden


attach_golden_function(layer_norm_pre_all_gather, _stats_golden(True))
attach_golden_function(rms_norm_pre_all_gather, _stats_golden(False))
__all__ += [
    "layer_norm_post_all_gather", "layer_norm_pre_all_gather", "rms_norm_post_all_gather", "rms_norm_pre_all_gather",
]  # fmt: skip


def layernorm_default_compute_config(arch: Any) -> WormholeComputeKernelConfig:
    """The compute config layer_norm uses when none is given (0.81.1, both archs): HiFi4, no approximation,
    fp32 accumulation."""
    return WormholeComputeKernelConfig(
        math_fidelity=MathFidelity.HiFi4, math_approx_mode=False, fp32_dest_acc_en=True, packer_l1_acc=False
    )


def rmsnorm_default_compute_config(arch: Any) -> WormholeComputeKernelConfig:
    """The compute config rms_norm uses when none is given (0.81.1, both archs): HiFi4, approximation on,
    bfloat16 accumulation."""
    return WormholeComputeKernelConfig(
        math_fidelity=MathFidelity.HiFi4, math_approx_mode=True, fp32_dest_acc_en=False, packer_l1_acc=False
    )


__all__ += ["layernorm_default_compute_config", "rmsnorm_default_compute_config"]


# -- host-side helpers of the Welford layer norm and the DRAM group norm -----------------------------------


def create_layer_norm_reciprocals(device: Any, core_range_set: Any, width: int) -> Tensor:
    """The Welford kernels' lookup table 1/1 .. 1/width, one copy per core: float32 ROW_MAJOR
    [num_cores, width], HEIGHT_SHARDED in L1 one row per core (ttnn/ttnn/operations/normalization.py)."""
    cores = core_range_set.num_cores()
    table = (1.0 / torch.arange(1, width + 1, dtype=torch.float64)).float().repeat(cores, 1)
    shard = ShardSpec(core_range_set, (1, width), ShardOrientation.ROW_MAJOR)
    memory_config = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1, shard)
    return from_torch(
        table, dtype=DataType.FLOAT32, layout=Layout.ROW_MAJOR, device=device, memory_config=memory_config
    )


__all__ += ["create_layer_norm_reciprocals"]


def compute_num_virtual_cols(grid_x: int, num_groups: int, num_channels: int) -> int:
    """The DRAM group norm's column count: the largest n <= min(grid_x, num_groups) dividing num_groups whose
    channel slice (num_channels // n) is a tile multiple; 0 if none (normalization/groupnorm/
    groupnorm_grid_utils.cpp)."""
    for n in range(min(grid_x, num_groups), 0, -1):
        if (num_channels // n) % 32 == 0 and num_groups % n == 0:
            return n
    return 0


def dram_group_norm_virtual_columns(core_grid: Any, num_channels: int, num_groups: int) -> int:
    """ttnn.operations.normalization.dram_group_norm_virtual_columns (an assertion when none fits, as ttnn)."""
    result = compute_num_virtual_cols(core_grid.x, num_groups, num_channels)
    if result <= 0:
        raise AssertionError(
            f"dram_group_norm_virtual_columns: could not find a valid num_virtual_cols for grid_x={core_grid.x}, "
            f"num_channels={num_channels}, num_groups={num_groups}"
        )
    return result


def find_max_tile_span(W: int, group_size: int, tile_width: int) -> int:  # noqa: N803 (ttnn's keyword)
    """The most tiles of width `tile_width` one group of `group_size` consecutive channels (groups laid end to
    end over W) touches: the width of the group norm input mask."""
    span = 0
    for start in range(0, W, group_size):
        span = max(span, (start + group_size - 1) // tile_width - start // tile_width + 1)
    return span


def scale_causal_mask_hw_dims_softmax_in_place(
    input_tensor: Tensor,
    scale: float | None = None,
    mask: Tensor | None = None,
    *,
    program_config: Any = None,
    compute_kernel_config: Any = None,
    numeric_stable: bool = False,
) -> Tensor:
    """softmax(input * scale + mask) in place, the mask a [1, 1, H, W] causal mask broadcast over batch and
    heads (falcon7b's sliced attention)."""
    return _scale_mask_softmax(
        "scale_causal_mask_hw_dims_softmax_in_place",
        input_tensor,
        scale,
        mask,
        True,
        numeric_stable,
        None,
        input_tensor,
    )


def determine_expected_group_norm_sharded_config_and_grid_size(
    *,
    device: Any,
    num_channels: int,
    num_groups: int,
    input_nhw: int,
    is_height_sharded: bool,
    is_row_major: bool = False,
) -> tuple[MemoryConfig, Any]:
    """The L1 sharded memory config and core grid group_norm expects for an input of N*H*W rows and
    num_channels channels (normalization/groupnorm/groupnorm_grid_utils.cpp: same checks and wording)."""
    rules.require(num_groups > 0, "num_groups needs to be greater than 0")
    rules.require(num_channels > 0, "num_channels needs to be greater than 0")
    rules.require(
        num_channels % num_groups == 0,
        f"group_norm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups}).",
    )
    rules.require(
        num_channels % 32 == 0, f"group_norm: num_channels ({num_channels}) must be divisible by tile width (32)."
    )
    group_size = num_channels // num_groups
    grid = device.compute_with_storage_grid_size()
    dg0, dg1 = (grid.y, grid.x) if is_row_major else (grid.x, grid.y)
    ht = -(-input_nhw // 32)
    start = dg0 * dg1 if is_height_sharded else dg0
    cores_nhw = next((d for d in range(start, 0, -1) if ht % d == 0), 0)
    rules.require(
        cores_nhw > 0,
        f"group_norm: Could not find num_cores_nhw for sharded config (Ht_padded={ht}, start_divisor={start}).",
    )
    cores_channels = 1
    if not is_height_sharded:
        cores_channels = next(
            (
                c
                for c in range(dg1, 0, -1)
                if (num_channels // 8) % c == 0 and (num_channels // c) % group_size == 0 and num_channels // c >= 32
            ),
            0,
        )
        rules.require(
            cores_channels > 0,
            f"group_norm: Could not find num_cores_channels for block-sharded group norm (C={num_channels}, "
            f"G={num_groups}).",
        )
    rows_per_core = -(-input_nhw // (cores_nhw * 32)) * 32
    channels_per_core = num_channels // cores_channels
    rules.require(
        channels_per_core % 8 == 0,
        f"group_norm: gn_in_channels_per_core ({channels_per_core}) must be divisible by 8.",
    )
    if is_height_sharded:
        grid_x, grid_y = min(cores_nhw, dg0), -(-cores_nhw // dg0)
    else:
        grid_x, grid_y = (cores_channels, cores_nhw) if is_row_major else (cores_nhw, cores_channels)
    row_major = is_height_sharded or is_row_major
    orientation = ShardOrientation.ROW_MAJOR if row_major else ShardOrientation.COL_MAJOR
    shard = (rows_per_core, channels_per_core) if row_major else (channels_per_core, rows_per_core)
    cores = CoreRangeSet({CoreRange(CoreCoord(0, 0), CoreCoord(grid_x - 1, grid_y - 1))})
    layout = TensorMemoryLayout.HEIGHT_SHARDED if is_height_sharded else TensorMemoryLayout.BLOCK_SHARDED
    memory_config = MemoryConfig(layout, BufferType.L1, ShardSpec(cores, shard, orientation))
    return memory_config, CoreGrid(x=grid_x, y=grid_y)


attach_golden_function(scale_causal_mask_hw_dims_softmax_in_place, _scale_mask_softmax_golden)
__all__ += ["determine_expected_group_norm_sharded_config_and_grid_size", "scale_causal_mask_hw_dims_softmax_in_place"]
