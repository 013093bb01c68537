"""The SFPU (Tensix vector unit) algorithms behind ttnn's unary functions, as bit-level torch operations.

On the device exp, reciprocal, sqrt, gelu ... are not exact: each is a short program of SFPU instructions
(polynomials, Newton steps, look-up tables, exponent bit tricks) from tt-llk / tt-metal's llk_api. This module
re-implements those programs (own code, from the published algorithms and constants) on float32 tensors.
Sources, per function below:
- tt-llk tt_llk_{wormhole_b0,blackhole}/common/inc/sfpu/ckernel_sfpu_*.h (snapshot 36b092e, April 2026);
- tt-metal tt_metal/hw/ckernels/wormhole_b0/metal/llk_api/llk_sfpu/ckernel_sfpu_{exp,gelu,tanh,sigmoid,
  silu,erf_erfc,log}.h (what ttnn's compute kernels include on top of tt-llk);
- instruction semantics: tt-isa-documentation WormholeB0/TensixTile/TensixCoprocessor/ (SFPMAD, SFPLUT,
  SFPLUTFP32, SFPSHFT, SFPSTOCHRND_FloatInt, SFPSTORE) and ttsim src/tensix.cpp (Blackhole SFPARECIP).

Which algorithm runs depends on three switches (`Mode`):
- `approx`: the kernel's APPROXIMATION_MODE template flag. For ttnn's unary ops it is the op's
  fast_and_approximate_mode parameter (exp, gelu, sqrt, rsqrt, erf) or false (the others: unary ops never
  enable math_approx_mode, unary_op_utils.cpp get_op_approx_mode). Inside composite kernels (softmax,
  layer_norm, SDPA) it is the compute config's math_approx_mode, or SDPA's exp_approx_mode.
- `fp32_dest`: fp32_dest_acc_en. With a 16-bit Dst, SFPSTORE flushes denormals and truncates to bfloat16;
  most accurate kernels round to bfloat16 nearest-even themselves first (float_to_fp16b), approximate ones
  do not.
- `arch`: Wormhole B0 or Blackhole. They share every algorithm here except the reciprocal, which on
  Blackhole starts from the SFPARECIP hardware estimate (and so do sigmoid, silu and fp32 tanh through it).

What ttnn selects by default:
- ttnn.exp / gelu / sqrt / rsqrt / erf / log / tanh / sigmoid: fast_and_approximate_mode=False, so the
  accurate kernels (unary ops compile with math_approx_mode off). A parametrized EXP with param0=1 runs
  approx=true with fast_and_approx=true, the Schraudolph path (compute_kernel_api eltwise_unary/exp.h notes).
- Kernels that call the tile APIs without template arguments get their defaults: gelu_tile_init /
  rsqrt_tile_init / erf_tile_init<fast_and_approx = true> and exp_tile_init<approx = false,
  fast_and_approx = true> (compute_kernel_api/eltwise_unary/{gelu,exp,erf_erfc}.h, compute_kernel_api.h).
- matmul / linear fused activations: UnaryWithParam(GELU, p) compiles gelu_tile<p>: p = 1.0 (the tanh
  variant ports ask for) is the look-up-table GELU; others follow the matmul's math_approx_mode.
- softmax: exp_tile<math_approx_mode> with fast_and_approx defaulted, and softmax's default compute config
  has math_approx_mode on: the fast approximate exp (softmax.cpp).
- scaled_dot_product_attention: exp_approx_mode defaults to true (sdpa_program_factory.cpp:
  `program_config ? exp_approx_mode.value_or(true) : true`), the piecewise fixed-point exp.

Modelling choices (where this is not bit-exact with silicon):
- SFPMAD is a partially fused multiply-add with one rounding; here `a * b + c` is two float32 roundings. The
  difference is at most one float32 ulp of an intermediate, far below the bfloat16 outputs, but it can move
  a float32 result by an ulp.
- Denormals are flushed (to +0) where values enter (SFPLOAD -> first SFPMAD) and leave; intermediate
  denormals are not (the algorithms keep their intermediates normal away from their clamps).
- With a 16-bit Dst every input is a bfloat16 value, so results are tabulated once per (function, mode) over
  the 65536 bfloat16 bit patterns and looked up: the same numbers, one gather instead of ~20 passes.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import formats, mode

WORMHOLE_B0 = "wormhole_b0"
BLACKHOLE = "blackhole"

_INF_BITS = 0x7F800000
_SIGN = -(2**31)  # 0x80000000 as int32


@dataclass(frozen=True)
class Mode:
    """The compile-time switches of an SFPU kernel (module docstring)."""

    approx: bool = False
    fp32_dest: bool = False
    arch: str = WORMHOLE_B0


def arch_name(arch: object) -> str:
    """ "wormhole_b0" / "blackhole" from an Arch member (a str enum whose str() is "Arch.BLACKHOLE") or name."""
    return str(getattr(arch, "value", arch))


# -- bit-level primitives ---------------------------------------------------------------------------------


def _f32(v: float) -> float:
    """A C++ `constexpr float` constant: the float32 nearest to the decimal (as the kernel source spells it)."""
    return float(torch.tensor(v, dtype=torch.float32))


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


def _float(bits: torch.Tensor) -> torch.Tensor:
    return bits.contiguous().view(torch.float32)


def _exexp(x: torch.Tensor) -> torch.Tensor:
    """SFPEXEXP without debias: the 8-bit exponent field."""
    return (_bits(x) >> 23) & 0xFF


def _setexp(x: torch.Tensor, exp_field: torch.Tensor) -> torch.Tensor:
    """SFPSETEXP: replace the exponent field by the low 8 bits of `exp_field`."""
    return _float((_bits(x) & ~(0xFF << 23)) | ((exp_field & 0xFF) << 23))


def _setman(x: torch.Tensor, mantissa_from: torch.Tensor) -> torch.Tensor:
    """SFPSETMAN: sign and exponent of `x`, mantissa bits of `mantissa_from` (int32 bits)."""
    return _float((_bits(x) & ~0x7FFFFF) | (mantissa_from & 0x7FFFFF))


def _copysign(x: torch.Tensor, sign_from: torch.Tensor) -> torch.Tensor:
    """SFPSETSGN with the sign of another register."""
    return _float((_bits(x) & 0x7FFFFFFF) | (_bits(sign_from) & _SIGN))


def _signmag_key(x: torch.Tensor) -> torch.Tensor:
    """Float bits as an int32 that orders like SFPSWAP's sign-magnitude compare (+NaN above +inf)."""
    b = _bits(x)
    return b ^ ((b >> 31) & 0x7FFFFFFF)


def _max_const(x: torch.Tensor, c: float) -> torch.Tensor:
    """vec_min_max / SFPSWAP against a constant: the larger in sign-magnitude order."""
    c_t = torch.full_like(x, c)
    return torch.where(_signmag_key(x) >= _signmag_key(c_t), x, c_t)


def _min_const(x: torch.Tensor, c: float) -> torch.Tensor:
    c_t = torch.full_like(x, c)
    return torch.where(_signmag_key(x) <= _signmag_key(c_t), x, c_t)


def flush_denormals(x: torch.Tensor) -> torch.Tensor:
    """SFPMAD treats denormal inputs as zero and flushes denormal / -0 outputs to +0."""
    return torch.where(x.abs() < 2.0**-126, 0.0, x)  # (masked_fill is several times slower on CPU)


def _round_bf16_rne(x: torch.Tensor) -> torch.Tensor:
    """float_to_fp16b(x, 0) / convert<vFloat16b>(x, Nearest): round to bfloat16 nearest-even (NaN kept)."""
    b = _bits(x)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) & -65536
    return torch.where(torch.isnan(x), x, _float(rounded))


def _store_bf16(x: torch.Tensor) -> torch.Tensor:
    """SFPSTORE into a 16-bit Dst: flush denormals to signed zero, truncate the mantissa toward zero."""
    b = _bits(x)
    b = torch.where((b & _INF_BITS) == 0, b & _SIGN, b)
    return _float(b & -65536)


def _stochrnd_magnitude(x: torch.Tensor, max_magnitude: int) -> torch.Tensor:
    """SFPSTOCHRND float -> integer without stochastic rounding: |x| rounded half up, saturated at
    `max_magnitude` (NaN and |x| >= 2**16 saturate too); returns the magnitude as int32."""
    mag = x.abs().add_(0.5).floor_()
    return mag.nan_to_num_(nan=max_magnitude).clamp_(max=max_magnitude).to(torch.int32)


def _sign_magnitude_round_int16(x: torch.Tensor) -> torch.Tensor:
    """SFP_STOCH_RND FP32 -> INT16 (sign kept, magnitude half up, saturated at 32767) as a two's complement
    int32 (what the kernels rebuild with abs + copysgn)."""
    mag = _stochrnd_magnitude(x, 32767)
    return torch.where(x < 0, -mag, mag)


# -- exp ---------------------------------------------------------------------------------------------------

_ONE_LN2_21F = _f32(1.4426950216293334961)
_EXP21F_C0, _EXP21F_C1, _EXP21F_C2 = _f32(1.0017248), _f32(7.839635491371155e-08), _f32(4.791750143340323e-15)


def _exp_21f(x: torch.Tensor) -> torch.Tensor:
    """exp_21f (Moroz et al. 2022) as _sfpu_exp_21f_bf16_ in tt-metal llk_api/llk_sfpu/ckernel_sfpu_exp.h and
    tt-llk ckernel_sfpu_exp.h: z = clamp(x/ln2 + 127, 0, 255) read as fixed point (8 integer bits become the
    exponent, the fraction is refined by a quadratic in its 23-bit integer value). No bfloat16 rounding."""
    xlog2 = _min_const(_max_const(x * _ONE_LN2_21F + 127.0, 0.0), 255.0)
    b = _bits(xlog2)
    shift = ((b >> 23) & 0xFF) - 127  # exexp (debiased)
    man = (b & 0x7FFFFF) | 0x800000  # exman8: mantissa with the hidden bit
    # SFPSHFT by a register: left for >= 0, logical right otherwise, amount taken mod 32.
    z = torch.where(shift >= 0, man << (shift & 31), man >> ((-shift) & 31))
    exponent = (z >> 23) & 0xFF
    frac = (z & 0x7FFFFF).to(torch.float32)  # exman9 then int32 -> float (exact below 2**24)
    frac = _EXP21F_C0 + frac * (_EXP21F_C1 + frac * _EXP21F_C2)
    y = _setexp(frac, exponent)
    # Exponent field 255 (the clamp ceiling, x >~ 88.72) would be a NaN pattern: the kernel substitutes +inf.
    return torch.where(exponent >= 255, torch.full_like(y, float("inf")), y)


_JUFFA = tuple(_f32(v) for v in (1.37805939e-3, 8.37312452e-3, 4.16695364e-2, 1.66664720e-1, 4.99999851e-1))
_LN2_HI_JUFFA, _LN2_LO_JUFFA = _f32(-6.93145752e-1), _f32(-1.42860677e-6)


def _exp_fp32_accurate(x: torch.Tensor) -> torch.Tensor:
    """_sfpu_exp_fp32_accurate_ (tt-metal llk_api/llk_sfpu/ckernel_sfpu_exp.h, after N. Juffa): k = round(x/ln2)
    to a saturating int16, two-part Cody-Waite reduction, degree-6 polynomial, 2**k by exponent add;
    exponent field < 1 gives 0 (NaN stays NaN), >= 255 gives +inf."""
    j = _f32(1.442695) * x
    k = _sign_magnitude_round_int16(j)
    kf = k.to(torch.float32)
    f = (kf * _LN2_HI_JUFFA).add_(x)
    f = kf.mul_(_LN2_LO_JUFFA).add_(f)
    r = torch.full_like(f, _JUFFA[0])
    for c in _JUFFA[1:]:
        r.mul_(f).add_(c)
    r.mul_(f).add_(1.0).mul_(f).add_(1.0)
    e = _exexp(r).add_(k)
    out = _setexp(r, e)
    out.masked_fill_(e >= 255, float("inf")).masked_fill_(e < 1, 0.0)
    return torch.where(torch.isnan(x), x, out)


_SCHRAUDOLPH_A = _f32(256.0 * 1.4426950408889634)  # 369.329925537109375
_SCHRAUDOLPH_B_MINUS_C = 32500.818359375


def _exp_fast_approx(x: torch.Tensor) -> torch.Tensor:
    """Fast approximate exp (tt-llk ckernel_sfpu_exp.h, FAST_APPROX && APPROXIMATION_MODE && CLAMP_NEGATIVE:
    Schraudolph 1999 through SFPLOADMACRO): y = max(x, -88.5); i = A*y + (B - C) rounded to an unsigned 16-bit
    integer (magnitude, half up, saturating at 65535); result bits = i << 15. Relative error ~ +-3%;
    x >~ 89.4 saturates to a NaN bit pattern, as on the device."""
    y = _max_const(x, -88.5)
    i = _stochrnd_magnitude(_SCHRAUDOLPH_A * y + _SCHRAUDOLPH_B_MINUS_C, 65535)
    return _float(i << 15)


_EXP_APPROX_C23_73 = 192.0  # p_exp::C23_73 = 0x4340 read as bfloat16
_EXP_APPROX_ADJ = (0xBD3F << 16) - 2**32  # p_exp::ADJ_EXP read as bfloat16 bits, as a signed int32


def exp_piecewise_approx(x: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """_calculate_exponential_piecewise_<APPROXIMATION_MODE=true, SCALE_EN, SKIP_POSITIVE_CHECK=true> (tt-llk
    ckernel_sfpu_exp.h), the exp SDPA runs with exp_approx_mode (its default): x *= scale (a bfloat16
    immediate); x < -42 gives 0; otherwise x/ln2 + 192 is read as fixed point and shifted into the exponent
    (_calculate_exponential_approx_): 2**floor(z) * (1 + frac(z)), up to ~6% above exp(x)."""
    if scale is not None:
        x = x * scale
    z = x * _f32(1.442695) + _EXP_APPROX_C23_73
    out = _float(_bits(z).add_(_EXP_APPROX_ADJ).bitwise_left_shift_(7))
    return out.masked_fill_(x < -42.0, 0.0)


def exp(x: torch.Tensor, mode: Mode = Mode(), *, fast: bool = True) -> torch.Tensor:
    """exp_tile<approx, fast_and_approx>: approx and fast -> Schraudolph (_exp_fast_approx); approx without
    fast -> the piecewise fixed-point approximation; otherwise exp_21f rounded to bfloat16 (16-bit Dst) or the
    fp32-accurate algorithm (fp32 Dst). tt-metal llk_api/llk_sfpu/ckernel_sfpu_exp.h."""
    if mode.approx:
        return store(_exp_fast_approx(x) if fast else exp_piecewise_approx(x), mode)
    if mode.fp32_dest:
        return store(_exp_fp32_accurate(x), mode)
    return store(_round_bf16_rne(_exp_21f(x)), mode)


# -- reciprocal --------------------------------------------------------------------------------------------

_RECIP_K0 = _f32(0.3232325017452239990234375)
_RECIP_K1 = _f32(1.4545459747314453125)
_RECIP_K2 = _f32(2.121212482452392578125)


def _recip_wormhole(x: torch.Tensor, iterations: int) -> torch.Tensor:
    """_sfpu_reciprocal_<max_iter> (tt-llk tt_llk_wormhole_b0/common/inc/sfpu/ckernel_sfpu_recip.h): scale the
    mantissa into [1, 2), quadratic minimax estimate, Newton steps (max_iter 0 behaves as 1), scale by
    2**(254 - exponent) built from the inverted exponent bits (so 0 -> inf, inf -> 0), copy the sign."""
    b = _bits(x)
    neg_x = _setman(torch.full_like(x, -1.0), b)
    y = _RECIP_K1 + _RECIP_K0 * neg_x
    y = _RECIP_K2 + y * neg_x
    scale = _float(~b & ~0x7FFFFF) * 0.5  # setman(~bits, 0) then *0.5: exponent 254 - E, or inf / 0
    scale = flush_denormals(scale)
    for _ in range(max(1, iterations)):
        t = 1.0 + neg_x * y
        y = y + y * t
    return _copysign(y * scale, x)


def _arecip_lut() -> torch.Tensor:
    """SFPARECIP's 128-entry 7-bit mantissa table: the nearest integer to 256 / (1 + (i + 0.5) / 128) - 128,
    which is the table in ttsim src/tensix.cpp approx_recip (checked entry by entry in the tests)."""
    i = torch.arange(128, dtype=torch.float64)
    return (torch.floor(256.0 / (1.0 + (i + 0.5) / 128.0) + 0.5) - 128.0).to(torch.int32)


_ARECIP_LUT = _arecip_lut()


def approx_recip_blackhole(x: torch.Tensor) -> torch.Tensor:
    """SFPARECIP (Blackhole): sign kept; zero / denormal -> inf; |x| >= 2**126 (and inf / NaN) -> 0; else
    2**(126 - e) * (1 + lut[top 7 mantissa bits] / 128). ttsim src/tensix.cpp approx_recip."""
    b = _bits(x)
    mag = b & 0x7FFFFFFF
    out = ((253 - (mag >> 23)) << 23) | (_ARECIP_LUT[((mag >> 16) & 0x7F).long()] << 16)
    out = torch.where(mag < 0x800000, torch.full_like(out, _INF_BITS), out)
    out = torch.where(mag >= 0x7E800000, torch.zeros_like(out), out)
    return _float(out | (b & _SIGN))


def _recip_blackhole(x: torch.Tensor, iterations: int) -> torch.Tensor:
    """_sfpu_reciprocal_<max_iter> (tt-llk tt_llk_blackhole/common/inc/sfpu/ckernel_sfpu_recip.h): SFPARECIP
    estimate, then Newton steps written as t = x*y - 2, y = -t*y, skipped where t is not negative (0 * inf)."""
    y = approx_recip_blackhole(x)
    for _ in range(iterations):
        t = x * y - 2.0
        y = torch.where(t < 0, y * -t, y)
    return y


def reciprocal_iter(x: torch.Tensor, iterations: int, arch: str = WORMHOLE_B0) -> torch.Tensor:
    """The reciprocal building block other kernels call (sigmoid, tanh, gelu): `iterations` Newton steps."""
    return _recip_blackhole(x, iterations) if arch == BLACKHOLE else _recip_wormhole(x, iterations)


def _recip_blackhole_tile(x: torch.Tensor, mode: Mode) -> torch.Tensor:
    """recip_tile on Blackhole (_calculate_reciprocal_internal_): approx -> SFPARECIP alone (7 bits); fp32 Dst
    -> one cubic correction y += y*(e + e**2 + e**3), e = 1 - x*y, capped at 1 (replaces NaN); 16-bit Dst ->
    the bfloat16 next to the estimate on the side of 1/x, chosen by the sign of x*(y + half ulp) - 1."""
    y = approx_recip_blackhole(x)
    if mode.approx:
        return y
    special = (y == 0) | torch.isinf(y) | torch.isnan(x)
    if mode.fp32_dest:
        e = 1.0 - x * y
        t2 = (e * e + e) * e + e
        t2 = _min_const(t2, 1.0)
        out = t2 * y + y
    else:
        yb = _bits(y) | 0x8000
        z = x * _float(yb) - 1.0
        out = _float(torch.where(z < 0, yb + 0x8000, yb) & -65536)
    return torch.where(special, y, out)


def reciprocal(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """recip_tile: Wormhole _sfpu_reciprocal_ with 0 (approx), 1 (+ bfloat16 nearest-even, 16-bit Dst) or 2
    (fp32 Dst) Newton steps (_calculate_reciprocal_internal_); Blackhole: _recip_blackhole_tile."""
    if mode.arch == BLACKHOLE:
        return store(_recip_blackhole_tile(x, mode), mode)
    if mode.approx:
        return store(_recip_wormhole(x, 0), mode)
    if mode.fp32_dest:
        return store(_recip_wormhole(x, 2), mode)
    return store(_round_bf16_rne(_recip_wormhole(x, 1)), mode)


# -- sqrt / rsqrt ------------------------------------------------------------------------------------------


def _sqrt_body(x: torch.Tensor, approx: bool, reciprocal_root: bool) -> torch.Tensor:
    """_calculate_sqrt_body_ (tt-llk ckernel_sfpu_sqrt.h, both archs): magic-constant estimate of 1/sqrt(x)
    from the bits, then SQRT_10-bits (approx) or SQRT_23-bits refinement; 0 -> inf and inf -> 0 for rsqrt;
    negative x -> NaN."""
    b = _bits(x)
    if approx:
        y = _float(0x5F0B3892 - ((b >> 1) & 0x7FFFFFFF))
        c = x * y
        t = _f32(1.89099014875) + (-y) * c
        if reciprocal_root:
            special = (_INF_BITS - b == 0) | (b == 0)
            y = torch.where(special, _float(_INF_BITS - b), y * t)
        else:
            y = torch.where(b != _INF_BITS, c * t, c)
    else:
        y = _float(0x5F1110A0 - ((b >> 1) & 0x7FFFFFFF))
        xy = x * y
        c = (-y) * xy
        y = y * (_f32(2.2825186) + c * (_f32(2.2533049) + c))
        xy = x * y
        one_minus_xyy = 1.0 + (-y) * xy
        if reciprocal_root:
            half_y = _float(_bits(y) - (1 << 23))  # addexp(y, -1)
            special = (_INF_BITS - b == 0) | (b == 0)
            y = torch.where(special, _float(_INF_BITS - b), one_minus_xyy * half_y + y)
        else:
            y = torch.where(b < _INF_BITS, one_minus_xyy * (0.5 * xy) + xy, y)
    return torch.where(x < 0, torch.full_like(y, float("nan")), y)


def sqrt(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """sqrt_tile (_calculate_sqrt_internal_, RECIPROCAL=false); bfloat16 nearest-even before a 16-bit Dst."""
    y = _sqrt_body(x, mode.approx, reciprocal_root=False)
    return store(y if mode.fp32_dest else _round_bf16_rne(y), mode)


def rsqrt(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """rsqrt_tile (_calculate_sqrt_internal_, RECIPROCAL=true)."""
    y = _sqrt_body(x, mode.approx, reciprocal_root=True)
    return store(y if mode.fp32_dest else _round_bf16_rne(y), mode)


# -- log ---------------------------------------------------------------------------------------------------


_LOG_POLY = tuple(
    _f32(v)
    for v in (
        -2.0069785118103027,
        3.767500400543213,
        -2.800232410430908,
        1.3681391477584839,
        -0.3706687390804291,
        0.04224011301994324,
    )
)
_LN2 = _f32(0.69314718246459961)
_LOG_SERIES = tuple(
    _f32(v)
    for v in (1.0, 0.3333333333333333, 0.2, 0.14285714285714285, 0.1111111111111111, 0.09090909090909091)
)


def _log_specials(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """+inf -> +inf; exponent field 255 (NaN, -inf) or negative -> NaN; 0 -> -inf."""
    out = torch.where(x == 0, torch.full_like(out, float("-inf")), out)
    nan = (_exexp(x) == 255) | (x < 0)
    out = torch.where(nan, torch.full_like(out, float("nan")), out)
    return torch.where(_bits(x) == _INF_BITS, torch.full_like(out, float("inf")), out)


def _log_fp32(x: torch.Tensor, arch: str) -> torch.Tensor:
    """calculate_log_f32_body: m in [sqrt(2)/2, sqrt(2)], z = (m - 1) / (m + 1) with a 2-step reciprocal,
    ln m = 2 z (1 + z**2/3 + ... + z**10/11), plus exponent * ln 2."""
    m = _setexp(x, torch.full_like(_bits(x), 127))
    e = _exexp(x) - 127
    big = m >= _f32(1.4142135381698608)
    m = torch.where(big, m * 0.5, m)
    e = torch.where(big, e + 1, e)
    z = (m - 1.0) * reciprocal_iter(m + 1.0, 2, arch)
    ln_m = 2.0 * (z * _horner(z * z, _LOG_SERIES))
    return _log_specials(x, e.to(torch.float32) * _LN2 + ln_m)


def log(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """calculate_log (tt-metal llk_api/llk_sfpu/ckernel_sfpu_log.h). 16-bit Dst: the mantissa in [1, 2)
    through a degree-5 minimax polynomial plus exponent * ln 2, 0 -> -inf, and unless fast_and_approximate
    the special cases (+inf, NaN / negative -> NaN), rounded nearest-even. fp32 Dst: _log_fp32 (special cases
    always)."""
    if mode.fp32_dest:
        return store(_log_fp32(x, mode.arch), mode)
    m = _setexp(x, torch.full_like(_bits(x), 127))
    out = (_exexp(x) - 127).to(torch.float32) * _LN2 + _horner(m, _LOG_POLY)
    if mode.approx:
        out = torch.where(x == 0, torch.full_like(out, float("-inf")), out)
    else:
        out = _log_specials(x, out)
    return store(_round_bf16_rne(out), mode)


# -- look-up tables (SFPLUT / SFPLUTFP32) ---------------------------------------------------------------


def _bits_to_float(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def _lut16_to_fp32(v: int) -> float:
    """Lut16ToFp32 (SFPLUTFP32.md): FP16-like, but exponent 0 is a normal 2**-15 and exponent 31 gives 0."""
    sign, exp_bits, man = v >> 15, (v >> 10) & 0x1F, v & 0x3FF
    bits = (sign << 31) | ((0 if exp_bits == 0x1F else 112 + exp_bits) << 23) | (man << 13)
    return _bits_to_float(bits)


def _lut8_to_fp32(v: int) -> float:
    """Lut8ToFp32 (SFPLUT.md): 0xFF is 0, else sign, 3-bit negative exponent, 4-bit mantissa."""
    if v == 0xFF:
        return 0.0
    bits = ((v >> 7) << 31) | ((127 - ((v >> 4) & 7)) << 23) | ((v & 0xF) << 19)
    return _bits_to_float(bits)


def _segment_tables(bounds: tuple[float, ...], slopes: list[float], offsets: list[float]) -> torch.Tensor:
    """[2, 512] slope / offset per value of |x|'s bits >> 22 (exponent and first mantissa bit): every table
    boundary here (0.5, 1, 1.5, 2, 3, 4) falls on such a step, so the segment is a lookup of the top bits."""
    cpu = torch.device("cpu")  # cached: never a meta tensor, even if first built under torch.device("meta")
    keys = torch.arange(512, dtype=torch.int32, device=cpu)
    start = _float(keys << 22)  # smallest |x| with each key (NaN / inf keys land in the last segment)
    seg = torch.bucketize(
        torch.nan_to_num(start, nan=float("inf")), torch.tensor(bounds, device=cpu), right=True
    )
    return torch.stack([torch.tensor(slopes, device=cpu)[seg], torch.tensor(offsets, device=cpu)[seg]])


def _apply_segments(x: torch.Tensor, table: torch.Tensor, retain_sign: bool) -> torch.Tensor:
    """a * |x| + c with (a, c) chosen by |x|'s segment, optionally with x's sign."""
    b = _bits(x)
    ax = _float(b & 0x7FFFFFFF)
    key = ((b >> 22) & 0x1FF).long()
    d = torch.take(table[0], key).mul_(ax).add_(torch.take(table[1], key))
    return _copysign(d, x) if retain_sign else d


@functools.cache
def _lut6_table(regs: tuple[int, ...], last_split: float) -> torch.Tensor:
    l0, l1, l2, l4, l5, l6 = regs
    slopes = [_lut16_to_fp32((r >> s) & 0xFFFF) for r in (l0, l1, l2) for s in (0, 16)]
    offsets = [_lut16_to_fp32((r >> s) & 0xFFFF) for r in (l4, l5, l6) for s in (0, 16)]
    return _segment_tables((0.5, 1.0, 1.5, 2.0, last_split), slopes, offsets)


def _lut_6entry(x: torch.Tensor, regs: tuple[int, ...], retain_sign: bool, last_split: float) -> torch.Tensor:
    """SFPLUTFP32 FP16_6ENTRY_TABLE1 (`last_split` 3) / TABLE2 (4) with LReg0-2 (slopes) and LReg4-6
    (offsets) holding two Lut16 each: a * |x| + c on [0, .5), [.5, 1), [1, 1.5), [1.5, 2), [2, split),
    [split, inf)."""
    return _apply_segments(x, _lut6_table(regs, last_split), retain_sign)


@functools.cache
def _lut3_table(regs: tuple[int, int, int]) -> torch.Tensor:
    slopes = [_lut8_to_fp32((r >> 8) & 0xFF) for r in regs]
    offsets = [_lut8_to_fp32(r & 0xFF) for r in regs]
    return _segment_tables((1.0, 2.0), slopes, offsets)


def _lut_3entry(x: torch.Tensor, regs: tuple[int, int, int]) -> torch.Tensor:
    """SFPLUT with sign retained: Lut8 slope / offset pairs for |x| in [0, 1), [1, 2), [2, inf)."""
    return _apply_segments(x, _lut3_table(regs), retain_sign=True)


# -- gelu --------------------------------------------------------------------------------------------------

# _init_gelu_ (tt-llk) / gelu_init (tt-metal llk_api): the same six registers.
_GELU_LUT = (0x37E7322B, 0x38E138F3, 0x38003852, 0xB12286D8, 0xB437B479, 0x7C00AFA4)

_GELU_CDF = tuple(
    _f32(v)
    for v in (
        3.9894227818e-01,
        -6.6361041488e-02,
        9.7720050615e-03,
        -1.0717806322e-03,
        8.1812159812e-05,
        -3.8082057209e-06,
        7.9821413868e-08,
    )
)
_GELU_HCORR = tuple(_f32(v) for v in (3.0369991064e-01, 9.5413386822e-02, 1.3809983619e-02, 7.5950479368e-04))
_GELU_SAT = _f32(-5.54259443)
# n16/d16 parity rational erf of the fp32 path: odd numerator powers 1..15, even denominator powers 0..16.
_ERF_NUM = tuple(
    _f32(v)
    for v in (
        1.1283791065e00,
        2.1477432549e-01,
        6.2133435160e-02,
        5.6230435148e-03,
        6.1307044234e-04,
        1.7678321456e-05,
        2.7384647439e-08,
        -2.8632063387e-10,
    )
)
_ERF_DEN = tuple(
    _f32(v)
    for v in (
        1.0,
        5.2367275953e-01,
        1.2961706519e-01,
        1.9642570987e-02,
        1.9545555115e-03,
        1.3179056987e-04,
        1.3156344494e-06,
        -3.5153888689e-09,
        -6.7350725691e-12,
    )
)


def _horner(x: torch.Tensor, coeffs: tuple[float, ...]) -> torch.Tensor:
    """PolynomialEvaluator::eval (tt-llk ckernel_sfpu_polyval.h): c0 + x*(c1 + x*(c2 + ...)), ascending."""
    acc = torch.full_like(x, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc.mul_(x).add_(c)  # in place: same two roundings as c + x * acc, no temporaries
    return acc


def _gelu_approx(x: torch.Tensor) -> torch.Tensor:
    """_calculate_gelu_appx_: 0.5*x + a*|x| + c from the 6-entry table (sign not retained: the correction
    x*(Phi(x) - 0.5) is even). For x >= 3 this is x, for x <= -3 it is 0."""
    return x * 0.5 + _lut_6entry(x, _GELU_LUT, retain_sign=False, last_split=3.0)


def _gelu_piecewise_bf16(x: torch.Tensor) -> torch.Tensor:
    """calculate_gelu_piecewise (tt-metal llk_api/llk_sfpu/ckernel_sfpu_gelu.h, 16-bit Dst accurate path):
    x >= 2.78125 -> x; [-3.125, 2.78125) -> x * (0.5 + x * p(x**2)) (degree-13 odd CDF polynomial);
    (-5.5426, -3.125) -> x * H rounded to a multiple of 2**-25, H = exp_21f(-x**2/2) * (cubic correction);
    below -> 0."""
    x2 = x * x
    xlog2 = x2 * _f32(-0.72134752044) + 127.0
    b = _bits(xlog2)
    shift = ((b >> 23) & 0xFF) - 127
    man = (b & 0x7FFFFF) | 0x800000
    z = torch.where(shift >= 0, man << (shift & 31), man >> ((-shift) & 31))
    frac = (z & 0x7FFFFF).to(torch.float32)
    frac = _EXP21F_C0 + frac * (_EXP21F_C1 + frac * _EXP21F_C2)
    h = _setexp(frac, (z >> 23) & 0xFF) * _horner(x, _GELU_HCORR)
    tail = x * ((h + 0.375) - 0.375)
    core = x * (0.5 + x * _horner(x2, _GELU_CDF))
    out = torch.where(x >= -3.125, core, tail)
    out = torch.where(x >= 2.78125, x, out)
    return torch.where(x > _GELU_SAT, out, torch.zeros_like(out))


def _erf_rational(s: torch.Tensor, arch: str) -> torch.Tensor:
    """The fp32 path's erf(s): s * N(s**2) / D(s**2), N odd and D even parity polynomials (Horner in s**2),
    the division as a 2-step reciprocal, clamped to [-1, 1]."""
    s2 = s * s
    num = _horner(s2, _ERF_NUM).mul_(s)
    den = _horner(s2, _ERF_DEN)
    erf = num.mul_(reciprocal_iter(den, 2, arch))
    return erf.clamp_(-1.0, 1.0)  # NaN only from a NaN input, which gelu's final mask zeroes


def _gelu_fp32(x: torch.Tensor, arch: str) -> torch.Tensor:
    """calculate_gelu, fp32 Dst accurate path (tt-metal llk_api/llk_sfpu/ckernel_sfpu_gelu.h):
    x * (0.5 + 0.5 * erf(x / sqrt 2)) with the rational erf, x <= -5.5426 -> 0, erf == -1 -> x * 2**-25."""
    scaled = (x * _f32(0.7071067811865475)).clamp_(max=10.0)  # min(x, 10): same as SFPSWAP for non-NaN
    erf = _erf_rational(scaled, arch)
    stuck = erf == -1.0
    out = erf.mul_(0.5).add_(0.5).mul_(x)
    out = torch.where(stuck, x * 2.0**-25, out)
    return out.masked_fill_(~(x > _GELU_SAT), 0.0)


def gelu(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """gelu_tile<approx>: approx -> the LUT form (no rounding; a 16-bit Dst truncates); accurate -> the
    piecewise CDF (16-bit Dst, rounded nearest-even) or the rational-erf form (fp32 Dst)."""
    if mode.approx:
        return store(_gelu_approx(x), mode)
    if mode.fp32_dest:
        return store(_gelu_fp32(x, mode.arch), mode)
    return store(_round_bf16_rne(_gelu_piecewise_bf16(x)), mode)


# -- erf ---------------------------------------------------------------------------------------------------

_ERF_LO = tuple(_f32(v) for v in (0.0000661338118, 1.12544048, 0.0275416549, -0.476685015, 0.166342190))
_ERF_HI = tuple(_f32(v) for v in (-0.19469693, 1.91684792, -1.1603072, 0.31310241, -0.03170029))


def erf(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """calculate_erf (tt-metal llk_api/llk_sfpu/ckernel_sfpu_erf_erfc.h, same for both modes): on |x| a
    quartic on [0, 1), another on [1, 3), 1 beyond; odd extension. No explicit rounding."""
    ax = x.abs()
    lo = _horner(ax, _ERF_LO)
    hi = _horner(ax, _ERF_HI)
    r = torch.where(ax >= 1.0, hi, lo)
    r = torch.where(ax >= 3.0, torch.ones_like(r), r)
    # Every range test is false for NaN: the kernel's final else branch gives 0.
    r = torch.where(torch.isnan(x), torch.zeros_like(r), r)
    return store(torch.where(x < 0, -r, r), mode)


# -- sigmoid / silu / tanh -------------------------------------------------------------------------------

# _init_sigmoid_ (tt-llk ckernel_sfpu_sigmoid.h): LReg0-2 slopes, LReg4-6 offsets.
_SIGMOID_LUT = (0x32F433D9, 0x300A318A, 0x7C002A35, 0x23C89018, 0x30272BAA, 0x37FF34CC)


def _sigmoid_accurate(x: torch.Tensor, fp32: bool, arch: str) -> torch.Tensor:
    """_sfpu_sigmoid_ (tt-metal llk_api/llk_sfpu/ckernel_sfpu_sigmoid.h): 1 / (1 + exp(-x)) with the
    fp32-accurate exp and 2 Newton steps (fp32 Dst) or exp_21f (unrounded) and 1 step (16-bit Dst)."""
    e = _exp_fp32_accurate(-x) if fp32 else _exp_21f(-x)
    return reciprocal_iter(1.0 + e, 2 if fp32 else 1, arch)


def sigmoid(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """sigmoid_tile: approx -> 0.5 + the 6-entry LUT of sigmoid(x) - 0.5 (tt-llk _calculate_sigmoid_, sign
    retained; table 2: its [2, 4) segment 0.0485|x| + 0.2998 only fits up to 4, where the last entry 0.4998
    continues it, while gelu's table ends its [2, 3) segment at 3 where x takes over); accurate -> _sigmoid_accurate, rounded nearest-even before a 16-bit Dst."""
    if mode.approx:
        return store(_lut_6entry(x, _SIGMOID_LUT, retain_sign=True, last_split=4.0) + 0.5, mode)
    y = _sigmoid_accurate(x, mode.fp32_dest, mode.arch)
    return store(y if mode.fp32_dest else _round_bf16_rne(y), mode)


def silu(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """calculate_silu (tt-metal llk_api/llk_sfpu/ckernel_sfpu_silu.h): x * _sfpu_sigmoid_(x), rounded
    nearest-even before a 16-bit Dst; one algorithm for both approx settings."""
    y = x * _sigmoid_accurate(x, mode.fp32_dest, mode.arch)
    return store(y if mode.fp32_dest else _round_bf16_rne(y), mode)


_TANH_LUT = (0x1DFF, 0x481A, 0xFF00)  # 0.90625*x | 0.09375*x + 0.8125 | 1 (tanh_init)
_TANH_POLY = tuple(
    _f32(v)
    for v in (
        0.0,
        0.999004364013671875,
        3.0897438526153564453125e-2,
        -0.4890659749507904052734375,
        0.281917631626129150390625,
        -6.6649019718170166015625e-2,
        5.876733921468257904052734375e-3,
    )
)
_TANH_SMALL = tuple(
    _f32(v)
    for v in (
        0.999999940395355224609375,
        -0.33332359790802001953125,
        0.13310669362545013427734375,
        -5.21197654306888580322265625e-2,
        1.5497927553951740264892578125e-2,
    )
)


def tanh(x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """calculate_tanh (tt-metal llk_api/llk_sfpu/ckernel_sfpu_tanh.h): approx -> 3-entry SFPLUT (0.90625|x|,
    0.09375|x| + 0.8125, 1; sign retained); 16-bit Dst -> degree-6 polynomial in |x| capped at 1, sign
    copied, nearest-even; fp32 Dst -> x * P(x**2) for |x| < 0.6, else 2*sigmoid(2x) - 1."""
    if mode.approx:
        return store(_lut_3entry(x, _TANH_LUT), mode)
    if mode.fp32_dest:
        small = x * _horner(x * x, _TANH_SMALL)
        large = 2.0 * _sigmoid_accurate(2.0 * x, True, mode.arch) - 1.0
        return store(torch.where(x.abs() < _f32(0.6), small, large), mode)
    y = _min_const(_horner(x.abs(), _TANH_POLY), 1.0)
    return store(_round_bf16_rne(_copysign(y, x)), mode)


# -- store and tabulation --------------------------------------------------------------------------------


def store(y: torch.Tensor, mode: Mode) -> torch.Tensor:
    """What SFPSTORE leaves in Dst: fp32 (denormals flushed) or the bfloat16 truncation."""
    return flush_denormals(y) if mode.fp32_dest else _store_bf16(y)


Fn = Callable[[torch.Tensor, Mode], torch.Tensor]


def exact_numerics() -> bool:
    """Exact numerics (TTPORT_NUMERICS=exact, or numerics.mode.set_mode): run every kernel bit by bit, also
    where the default takes a shortcut. One switch for the FPU and the SFPU (core/sim/numerics/mode.py)."""
    return mode.is_exact()


def _torch_fp32() -> dict[Fn, Callable[[torch.Tensor], torch.Tensor]]:
    """Kernels whose fp32-Dst accurate variant stays within 2**-20 relative of the true value (measured in
    tests/sim/test_sfpu.py): by default their float32 torch counterpart stands in for them, the same values up
    to an ulp or two of float32 - invisible once packed to bfloat16 except at rounding ties - at one pass
    instead of 20 to 50 (SDPA's exp and the MLP's GELU run over millions of values per layer)."""
    return {
        exp: torch.exp,
        reciprocal: torch.reciprocal,
        sqrt: torch.sqrt,
        rsqrt: torch.rsqrt,
        log: torch.log,
        gelu: torch.nn.functional.gelu,
        tanh: torch.tanh,
        sigmoid: torch.sigmoid,
        silu: torch.nn.functional.silu,
    }


@functools.cache
def _bf16_table(fn: Fn, mode: Mode, scale: float | None = None) -> torch.Tensor:
    """fn over every bfloat16 bit pattern (as float32 inputs, denormals flushed like SFPLOAD + SFPMAD),
    optionally multiplied by `scale` on the SFPU first."""
    patterns = torch.arange(65536, dtype=torch.int32, device=torch.device("cpu"))  # cached: never meta
    patterns = flush_denormals((patterns << 16).view(torch.float32))
    return fn(patterns if scale is None else patterns * scale, mode)


@functools.cache
def _packed_bf16_table(fn: Fn, mode: Mode) -> torch.Tensor:
    """_bf16_table's results as the packer stores them in a bfloat16 output (torch.bfloat16 bits)."""
    return formats.bfloat16_bits(formats.round_bfloat16(_bf16_table(fn, mode), formats.PACKER))


#: values per block of a table lookup: the block's int32 indices stay in the cache between their conversion
#: and the lookup (Mamba's exp over 32 x 5120 x 32 values: 5.3 ms -> 3.9 ms on this project's host)
LOOKUP_BLOCK = 1 << 18


def apply_packed_bfloat16(fn: Fn, x: torch.Tensor, mode: Mode = Mode()) -> torch.Tensor:
    """apply() with a 16-bit Dst to bfloat16 storage `x` (torch.bfloat16), packed into a bfloat16 output: the
    same bits as packing apply(fn, x.float()) (Dst holds x's own bits, NaN payloads included, so they index
    the table), in two passes over the values instead of about ten (Mamba's exp runs over 5120 x 32 values per
    prompt row), block by block."""
    table = _packed_bf16_table(fn, mode)
    bits = x.reshape(-1).view(torch.uint16)
    out = torch.empty(bits.shape, dtype=torch.bfloat16)
    index = torch.empty(min(LOOKUP_BLOCK, bits.numel()), dtype=torch.int32)
    for start in range(0, bits.numel(), LOOKUP_BLOCK):
        stop = min(start + LOOKUP_BLOCK, bits.numel())
        torch.index_select(table, 0, index[: stop - start].copy_(bits[start:stop]), out=out[start:stop])
    return out.reshape(x.shape)


def apply(fn: Fn, x: torch.Tensor, mode: Mode = Mode(), *, scale: float | None = None) -> torch.Tensor:
    """Run an SFPU function on Dst contents `x` (float32), after an optional multiply by `scale` on the SFPU
    (exp's SCALE_EN). With a 16-bit Dst the values are bfloat16 (a float32 result written there by the FPU
    is rounded to nearest-even first, e.g. matmul + bias before a fused activation) and the result is
    looked up; with fp32 Dst it is computed (see _torch_fp32 for the default shortcut)."""
    x = x.to(torch.float32)
    if mode.fp32_dest:
        if not mode.approx and not exact_numerics():
            substitute = _torch_fp32().get(fn)
            if substitute is not None:
                # Denormal inputs / outputs (|v| < 2**-126) are not flushed in this shortcut: below 1e-38 they
                # change nothing downstream (only sqrt, rsqrt and log of a denormal input differ from the
                # device's 0 / inf / -inf, an input real data does not produce).
                return substitute(x if scale is None else x * scale)
        x = flush_denormals(x)
        if scale is not None:
            x = x * scale
        return fn(x, mode)
    table = _bf16_table(fn, mode, scale)
    # torch's float32 -> bfloat16 conversion is nearest-even, but replaces NaNs by 0xFFFF: NaNs keep their own
    # high half (a finite sum rules NaNs out without building a mask).
    idx = x.to(torch.bfloat16).view(torch.int16).to(torch.int64).bitwise_and_(0xFFFF)
    if not bool(torch.isfinite(x.sum())):
        nan = torch.isnan(x)
        idx[nan] = ((_bits(x)[nan] >> 16) & 0xFFFF).to(torch.int64)
    return torch.take(table, idx)


def apply_(fn: Fn, x: torch.Tensor, mode: Mode = Mode(), *, scale: float | None = None) -> torch.Tensor:
    """apply() on a float32 tensor the caller gives up: the default fp32-Dst shortcut of exp (torch.exp, see
    _torch_fp32) runs in x's memory, the same values with no new buffer (SDPA's exp over every score);
    everything else is apply()."""
    if fn is exp:
        return exp_(x, mode, scale=scale)[0]
    return apply(fn, x, mode, scale=scale)


def exp_(
    x: torch.Tensor, mode: Mode = Mode(), *, scale: float | None = None
) -> tuple[torch.Tensor, float | None]:
    """apply_(exp, ...), also returning the smallest (scaled) input where the default fp32-Dst shortcut ran
    (NaN if x holds one), else None: SDPA learns from it that P holds no 0 without another pass."""
    if not (x.dtype == torch.float32 and mode.fp32_dest and not mode.approx and not exact_numerics()):
        return apply(exp, x, mode, scale=scale), None
    x = x if scale is None else x.mul_(scale)
    # exp of anything below -103.98 is +0 in float32, as exp(-inf) is; the host's exp takes a slow path
    # for such inputs (masked scores: 2x the time of ordinary ones), so they become -inf first
    lowest = float(x.amin()) if x.numel() else math.inf
    if lowest < _EXP_SLOW_BELOW:
        x.masked_fill_(x < _EXP_ZERO_BELOW, float("-inf"))
    return x.exp_(), lowest


# float32 exp(x) is below the smallest normal for x < -87.34 and rounds to +0 for x <= -103.98
_EXP_SLOW_BELOW = -87.0
_EXP_ZERO_BELOW = -104.0
