"""Matmul numerics of the Tensix matrix engine: operand bit phases (math fidelity) and Dst accumulation.

What is modelled (TTNN_FACTS §4; tt-isa-documentation WormholeB0/TensixTile/TensixCoprocessor/SrcASrcB.md,
MVMUL.md, Dst.md):

- Operands reach the source registers as at most TF32: float32 operands lose their low 13 mantissa bits
  (truncation). bfloat16 / bfloat8_b / bfloat4_b values are already representable (block floats are
  normalised on unpack), so they pass unchanged.
- MVMUL computes Dst += SrcB @ SrcA: the left operand of ttnn.matmul (in0, activations) is unpacked to
  srcB and the right one (in1, weights) to srcA.
- The multiplier consumes at most 5 significand bits of srcA (hidden + 4 mantissa bits) and 7 of srcB
  (hidden + 6) per pass. Each fidelity phase multiplies one part of srcA by one part of srcB: phase 0
  A_hi*B_hi, phase 1 A_lo*B_hi, phase 2 A_hi*B_lo, phase 3 A_lo*B_lo (A = srcA, B = srcB), where hi/lo
  split the significand by truncation. LoFi/HiFi2/HiFi3/HiFi4 run phases 0..0/0..1/0..2/0..3. Because the
  phases are exact partial products, their sums collapse to at most two matmuls (written left @ right):
      LoFi = B_hi @ A_hi, HiFi2 = B_hi @ A, HiFi3 = B_hi @ A + B_lo @ A_hi, HiFi4 = B @ A.
- srcA's low part goes through the same 5-bit port, so srcA keeps at most 4 + 5 = 9 mantissa bits even at
  HiFi4: the last TF32 mantissa bit is never consumed (SrcASrcB.md, "Fidelity phases").
- Dst accumulation: with fp32_dest_acc_en the partial sums are float32 (one torch float32 matmul; its
  summation order differs from the device's, which is below float32 rounding noise for these purposes).
  Without it Dst holds bfloat16: the running sum is rounded to bfloat16 (nearest-even) after each 32-wide
  K tile, i.e. acc = round_bf16(acc + left[:, k:k+32] @ right[k:k+32, :]).

What is approximated: inside one 32-wide K tile the sum (and the sum of the fidelity phases) is float32;
the device rounds a 16-bit Dst more often (per 16-deep MVMUL and per phase) and the exact rounding mode of
Dst writes is not documented; the Wormhole fp32-Dst erratum (rare power-of-two errors, matmul_nanobind.cpp
docstring) is not modelled, nor is packer L1 accumulation of partials across K blocks (ttnn enables it by
default for non-float32 outputs; with a bfloat16 Dst its rounding is of the same kind as the per-tile one
modelled here). Output rounding to the output dtype is the packer's, done by device_op.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..types import DataType, MathFidelity, WormholeComputeKernelConfig
from . import fpu, mode

K_TILE = 32

_FLOAT32_MANTISSA = 23
_TF32_MANTISSA = 10
_SRCA_HI = 4  # srcA pass: hidden bit + 4 mantissa bits
_SRCA_LO = 5  # the second srcA pass feeds the same 5-bit port
_SRCB_HI = 6  # srcB pass: hidden bit + 6 mantissa bits

_LOW_PRECISION = (DataType.BFLOAT8_B, DataType.BFLOAT4_B)
# Mantissa bits a value of each dtype can carry once in a source register (block floats: 7- / 3-bit
# magnitudes, normalised); masking to at least this many bits is a no-op and is skipped.
_SOURCE_MANTISSA = {
    DataType.FLOAT32: _TF32_MANTISSA,
    DataType.BFLOAT16: 7,
    DataType.BFLOAT8_B: 6,
    DataType.BFLOAT4_B: 2,
}


def truncate_mantissa(x: torch.Tensor, keep_bits: int) -> torch.Tensor:
    """Keep the top `keep_bits` mantissa bits of float32 values (truncation toward zero) by int32 masking."""
    if keep_bits >= _FLOAT32_MANTISSA:
        return x
    mask = -(1 << (_FLOAT32_MANTISSA - keep_bits))  # ...1110000 as a two's-complement int32
    return (x.contiguous().view(torch.int32) & mask).view(torch.float32)


def to_source_register(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """What the unpacker puts in srcA/srcB: float32 operands become TF32, narrower formats are exact."""
    x = x.to(torch.float32)
    return truncate_mantissa(x, _TF32_MANTISSA) if dtype == DataType.FLOAT32 else x


@dataclass(frozen=True)
class MatmulNumerics:
    """The two knobs of matmul numerics, resolved from a compute kernel config or the op's defaults."""

    math_fidelity: MathFidelity
    fp32_dest_acc_en: bool


def default_matmul_numerics(
    a_dtype: DataType,
    b_dtype: DataType,
    output_dtype: DataType,
    *,
    arch: str,
    has_program_config_or_grid: bool,
) -> MatmulNumerics:
    """ttnn's matmul defaults without a compute_kernel_config (TTNN_FACTS §4; matmul_device_operation.cpp):
    HiFi2; LoFi when both inputs are block floats or a program config / core grid is given; both float32:
    HiFi3 on Wormhole, HiFi4 on Blackhole. fp32_dest_acc_en follows a float32 output."""
    if a_dtype == DataType.FLOAT32 and b_dtype == DataType.FLOAT32:
        fidelity = MathFidelity.HiFi4 if arch == "blackhole" else MathFidelity.HiFi3
    elif (a_dtype in _LOW_PRECISION and b_dtype in _LOW_PRECISION) or has_program_config_or_grid:
        fidelity = MathFidelity.LoFi
    else:
        fidelity = MathFidelity.HiFi2
    return MatmulNumerics(fidelity, output_dtype == DataType.FLOAT32)


def numerics_from_config(config: WormholeComputeKernelConfig) -> MatmulNumerics:
    return MatmulNumerics(config.math_fidelity, bool(config.fp32_dest_acc_en))


def _phase_operands(
    left: torch.Tensor,
    right: torch.Tensor,
    left_bits: int,
    right_bits: int,
    fidelity: MathFidelity,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(left part, right part) pairs whose products sum to the phases the fidelity runs; left is srcB,
    right is srcA (module docstring). `*_bits`: mantissa bits the operands can carry."""

    def keep(x: torch.Tensor, have: int, bits: int) -> torch.Tensor:
        return x if bits >= have else truncate_mantissa(x, bits)

    a_full = keep(right, right_bits, _SRCA_HI + _SRCA_LO)
    if fidelity == MathFidelity.HiFi4:
        return [(left, a_full)]
    b_hi = keep(left, left_bits, _SRCB_HI)
    if fidelity == MathFidelity.HiFi2:
        return [(b_hi, a_full)]
    a_hi = keep(right, right_bits, _SRCA_HI)
    if fidelity == MathFidelity.LoFi:
        return [(b_hi, a_hi)]
    return [(b_hi, a_full), (left - b_hi, a_hi)]  # HiFi3


def _as_batched(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Flatten to [M', K] @ [K, N] when B has no batch (rows of all A batches stacked), else to
    [batch, M, K] @ [batch, K, N]; returns the output shape to restore."""
    batch = list(torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if b[..., 0, 0].numel() == 1:
        return a.reshape(-1, k), b.reshape(k, n), batch + [m, n]
    a3 = a.expand(*batch, m, k).reshape(-1, m, k)
    b3 = b.expand(*batch, k, n).reshape(-1, k, n)
    return a3, b3, batch + [m, n]


def matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    a_dtype: DataType,
    b_dtype: DataType,
    numerics: MatmulNumerics,
    *,
    arch: str = "wormhole_b0",
) -> torch.Tensor:
    """a @ b (rank >= 2, torch batch broadcasting) as the matrix engine computes it, before output packing.
    In exact numerics mode every MVMUL is modelled bit for bit (core/sim/numerics/fpu.py)."""
    if mode.is_exact():
        return fpu.matmul_dst(
            a, b, a_dtype, b_dtype, numerics.math_fidelity, numerics.fp32_dest_acc_en, arch=arch
        )
    a2, b2, out_shape = _as_batched(to_source_register(a, a_dtype), to_source_register(b, b_dtype))
    pairs = _phase_operands(
        a2, b2, _SOURCE_MANTISSA.get(a_dtype, 23), _SOURCE_MANTISSA.get(b_dtype, 23), numerics.math_fidelity
    )
    if numerics.fp32_dest_acc_en:
        out = torch.matmul(*pairs[0])
        for pa, pb in pairs[1:]:
            out += torch.matmul(pa, pb)
        return _add_alignment_error(out, a2, b2).reshape(out_shape)
    # bfloat16 Dst: one fused multiply-add per 32-wide K tile, then the statistical stand-in for the tile's
    # per-MVMUL, per-phase roundings (module docstring) and a nearest-even rounding of the running sum.
    add_product = torch.Tensor.addmm_ if b2.dim() == 2 else torch.Tensor.baddbmm_
    k = a2.shape[-1]
    bias, spread = _DST16_MODEL[numerics.math_fidelity == MathFidelity.LoFi]
    acc = torch.zeros(*a2.shape[:-1], b2.shape[-1], dtype=torch.float32)
    for k0 in range(0, k, K_TILE):
        k1 = min(k0 + K_TILE, k)
        for pa, pb in pairs:
            add_product(acc, pa[..., k0:k1], pb[..., k0:k1, :])
        acc = _bf16_dst_round(acc, bias, spread)
    return acc.reshape(out_shape)


# (magnitude bias, uniform spread) per 32-wide K tile, in bfloat16 units in the last place of the running sum:
# fitted to exact mode (benchmarks/bench_matmul_numerics.py) for LoFi (two Dst writes per tile) and for
# HiFi2-4 (four or more; the low-slice phases add little). Exact mode rounds every Dst write half up in
# magnitude, which inflates long sums: +1.8% at K=1152, +6% at K=4304 (HiFi2, N(0,1) x N(0,0.02) operands).
_DST16_MODEL = {True: (0.11, 1.2), False: (0.15, 2.0)}
# Variance of the products' alignment error (each of the 8 products of an MVMUL group is rounded to the
# 12-bit grid of the group's largest, fidelity phase 0) per unit of sum_k a_k^2 b_k^2 * 2^-22: 0.40 measured
# on Gaussian operands, 0.58 with a per-channel scale spread of e^N(0,1); 0.47 sits within 20% of both.
_ALIGNMENT_VARIANCE = 0.47 * 2.0**-22


def _dither(x: torch.Tensor) -> torch.Tensor:
    """A deterministic stand-in for rounding noise: uniform in [-0.5, 0.5), a hash of x's float32 bits (the
    same values give the same noise on one chip or a mesh, run after run)."""
    h = x.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    h ^= h >> 16
    return (h & 0xFFFFFF).to(torch.float32).mul_(2.0**-24).sub_(0.5)


def _bf16_dst_round(acc: torch.Tensor, bias: float, spread: float) -> torch.Tensor:
    """Round a running float32 sum into a bfloat16 Dst the way a 32-wide K tile of MVMULs does on average."""
    bits = acc.view(torch.int32)
    ulp = (bits & 0x7F800000).sub_(7 << 23).clamp_(min=1 << 23).view(torch.float32)
    # A sum bfloat16 holds exactly was (nearly always) never rounded: small-integer data stays exact.
    ulp.masked_fill_((bits & 0xFFFF) == 0, 0.0)
    acc = acc + ulp.mul_(torch.sign(acc).mul_(bias) + _dither(acc).mul_(spread))
    return acc.to(torch.bfloat16).to(torch.float32)


def _add_alignment_error(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """float32 Dst: the error of aligning each MVMUL group's products (module docstring), as deterministic
    noise of the measured variance; sum_k a_k^2 b_k^2 is estimated as (sum_k a_k^2)(sum_k b_k^2) / K."""
    k = a.shape[-1]
    rows = a.square().sum(-1, keepdim=True)
    cols = b.square().sum(-2, keepdim=True)
    # Only the products below their group's largest lose bits: with P non-zero products (estimated from
    # the non-zero counts) spread over ceil(K / 8) groups, a share 1 - groups / P of them (7/8 when dense,
    # which the calibration includes).
    products = (a != 0).sum(-1, keepdim=True).float() * (b != 0).sum(-2, keepdim=True).float() / k
    groups = float(-(-k // 8))
    share = (products - products.clamp(max=groups)).div_(products.clamp(min=1.0)).mul_(8.0 / 7.0)
    # Fewer products than one MVMUL takes (hand-made cases, short mantissas): modelled as exact.
    share.masked_fill_(products < 16, 0.0)
    scale = (rows * cols).mul_(share).mul_(12.0 * _ALIGNMENT_VARIANCE / k).sqrt_()
    # Results of at most 12 significant bits (e.g. small-integer data) come from products that align
    # without loss: they stay exact.
    noise = _dither(out).mul_(scale).masked_fill_((out.view(torch.int32) & 0x7FF) == 0, 0.0)
    return out.add_(noise)
