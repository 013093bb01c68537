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

from typing import Any

import torch

from .. import rules
from ..numerics import sfpu, tile_math
from ..tensor import Tensor, device_op, same_shape
from ..types import DataType, Layout, MathFidelity, MemoryConfig

__all__ = ["layer_norm", "rms_norm", "softmax"]

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
) -> Tensor:
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

    def compute(v: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        it = iter(rest)
        x_dtype = x.dtype
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
        return y

    mc = memory_config or x.memory_config()
    return device_op(
        name,
        [x, *extras],
        compute,
        dtype=x.dtype,
        layout=Layout.TILE,
        memory_config=mc,
        output_shapes=same_shape,
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
) -> Tensor:
    """ttnn.layer_norm over the last dim (biased variance); the residual is added first."""
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
