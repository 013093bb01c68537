"""The SFPU algorithms (core/sim/numerics/sfpu.py) against an independent, scalar transcription of the same
kernels (numpy float32 scalars, one element at a time), on edge values, in every mode; and their error
against float64 within the floors tt-metal's hardware tests allow."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ttport.compare import comp_pcc
from ttport.sim.numerics import mode as numerics_mode
from ttport.sim.numerics import sfpu

F = np.float32
INF = float("inf")
NAN = float("nan")

# -- scalar bit helpers ------------------------------------------------------------------------------------


def b32(v: float) -> int:
    return int(np.array(v, dtype=np.float32).view(np.uint32))


def f32(bits: int) -> float:
    return float(np.array(bits & 0xFFFFFFFF, dtype=np.uint32).view(np.float32))


def exp_field(v: float) -> int:
    return (b32(v) >> 23) & 0xFF


def set_exp(v: float, e: int) -> float:
    return f32((b32(v) & 0x807FFFFF) | ((e & 0xFF) << 23))


def sign_of(v: float, s: float) -> float:
    return f32((b32(v) & 0x7FFFFFFF) | (b32(s) & 0x80000000))


def is_nan(v: float) -> bool:
    return v != v


def flush(v: float) -> float:
    return 0.0 if abs(v) < 2.0**-126 else v


def bf16_trunc(v: float) -> float:
    """SFPSTORE into a 16-bit Dst."""
    b = b32(v)
    if (b >> 23) & 0xFF == 0:
        b &= 0x80000000
    return f32(b & 0xFFFF0000)


def bf16_rne(v: float) -> float:
    if is_nan(v):
        return v
    b = b32(v)
    return f32((b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000)


def smkey(v: float) -> int:
    """Sign-magnitude order of the float bits (SFPSWAP)."""
    b = b32(v)
    return -(b & 0x7FFFFFFF) - 1 if b >> 31 else b


def vmax(a: float, c: float) -> float:
    return a if smkey(a) >= smkey(c) else c


def vmin(a: float, c: float) -> float:
    return a if smkey(a) <= smkey(c) else c


def mad(a: float, b: float, c: float) -> float:
    with np.errstate(all="ignore"):
        return float(F(F(a) * F(b)) + F(c))


def mul(a: float, b: float) -> float:
    with np.errstate(all="ignore"):
        return float(F(a) * F(b))


def add(a: float, b: float) -> float:
    with np.errstate(all="ignore"):
        return float(F(a) + F(b))


def horner(x: float, coeffs: list[float]) -> float:
    acc = float(F(coeffs[-1]))
    for c in reversed(coeffs[:-1]):
        acc = mad(x, acc, c)
    return acc


def round_half_up_mag(v: float, top: int) -> int:
    if is_nan(v):
        return top
    m = math.floor(abs(v) + 0.5) if abs(v) < 2.0**17 else top
    return min(m, top)


def finish(v: float, fp32: bool) -> float:
    return flush(v) if fp32 else bf16_trunc(v)


# -- scalar transcriptions ---------------------------------------------------------------------------------


def exp21f(x: float) -> float:
    z = vmin(vmax(mad(x, 1.4426950216293334961, 127.0), 0.0), 255.0)
    b = b32(z)
    sh = ((b >> 23) & 0xFF) - 127
    man = (b & 0x7FFFFF) | 0x800000
    zi = (man << (sh & 31)) & 0xFFFFFFFF if sh >= 0 else man >> ((-sh) & 31)
    e = (zi >> 23) & 0xFF
    frac = horner(float(zi & 0x7FFFFF), [1.0017248, 7.839635491371155e-08, 4.791750143340323e-15])
    return INF if e >= 255 else set_exp(frac, e)


def exp_juffa(x: float) -> float:
    if is_nan(x):
        return x
    j = mul(1.442695, x)
    k = round_half_up_mag(j, 32767) * (-1 if j < 0 else 1)
    f = mad(k, -6.93145752e-1, x)
    f = mad(k, -1.42860677e-6, f)
    r = 1.37805939e-3
    for c in (8.37312452e-3, 4.16695364e-2, 1.66664720e-1, 4.99999851e-1, 1.0, 1.0):
        r = mad(r, f, c)
    e = exp_field(r) + k
    if e >= 255:
        return INF
    if e < 1:
        return 0.0
    return set_exp(r, e)


def exp_schraudolph(x: float) -> float:
    y = vmax(x, -88.5)
    i = round_half_up_mag(mad(256.0 * 1.4426950408889634, y, 32500.818359375), 65535)
    return f32(i << 15)


def exp_piecewise(x: float, scale: float = 1.0) -> float:
    x = mul(x, scale)
    if x < -42:
        return 0.0
    z = mad(x, 1.442695, 192.0)
    return f32(((b32(z) + 0xBD3F0000) << 7) & 0xFFFFFFFF)


def exp_ref(x: float, approx: bool, fp32: bool) -> float:
    if approx:
        return finish(exp_schraudolph(x), fp32)
    return finish(exp_juffa(x) if fp32 else bf16_rne(exp21f(x)), fp32)


def recip_wh(x: float, iters: int) -> float:
    b = b32(x)
    nx = f32(0xBF800000 | (b & 0x7FFFFF))
    y = mad(0.3232325017452239990234375, nx, 1.4545459747314453125)
    y = mad(y, nx, 2.121212482452392578125)
    scale = flush(mul(f32((~b) & 0x7F800000), 0.5))
    for _ in range(max(1, iters)):
        t = mad(nx, y, 1.0)
        y = mad(y, t, y)
    return sign_of(mul(y, scale), x)


# SFPARECIP's table as listed in ttsim src/tensix.cpp approx_recip (data, for checking the formula).
ARECIP_TABLE = [
    127, 125, 123, 121, 119, 117, 116, 114, 112, 110, 109, 107, 105, 104, 102, 100, 99,
    97, 96, 94, 93, 91, 90, 88, 87, 85, 84, 83, 81, 80, 79, 77, 76, 75, 74, 72, 71, 70,
    69, 68, 66, 65, 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48,
    47, 46, 45, 44, 43, 42, 41, 40, 40, 39, 38, 37, 36, 35, 35, 34, 33, 32, 31, 31, 30,
    29, 28, 28, 27, 26, 25, 25, 24, 23, 23, 22, 21, 21, 20, 19, 19, 18, 17, 17, 16, 15,
    15, 14, 14, 13, 12, 12, 11, 11, 10, 9, 9, 8, 8, 7, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1,
    1, 0,
]  # fmt: skip


def arecip(x: float) -> float:
    b = b32(x)
    mag = b & 0x7FFFFFFF
    if mag < 0x800000:
        out = 0x7F800000
    elif mag < 0x7E800000:
        out = ((253 - (mag >> 23)) << 23) | (ARECIP_TABLE[(mag >> 16) & 0x7F] << 16)
    else:
        out = 0
    return f32(out | (b & 0x80000000))


def recip_bh(x: float, iters: int) -> float:
    y = arecip(x)
    for _ in range(iters):
        t = add(mul(x, y), -2.0)
        if t < 0:
            y = mul(y, -t)
    return y


def recip_iter(x: float, iters: int, arch: str) -> float:
    return recip_bh(x, iters) if arch == "blackhole" else recip_wh(x, iters)


def recip_ref(x: float, approx: bool, fp32: bool, arch: str) -> float:
    if arch == "blackhole":
        y = arecip(x)
        if not approx and not (y == 0 or math.isinf(y) or is_nan(x)):
            if fp32:
                e = add(1.0, -mul(x, y))
                t2 = vmin(mad(mad(e, e, e), e, e), 1.0)
                y = mad(t2, y, y)
            else:
                yb = b32(y) | 0x8000
                z = add(mul(x, f32(yb)), -1.0)
                y = f32(((yb + 0x8000) if z < 0 else yb) & 0xFFFF0000)
        return finish(y, fp32)
    if approx:
        return finish(recip_wh(x, 0), fp32)
    return finish(recip_wh(x, 2) if fp32 else bf16_rne(recip_wh(x, 1)), fp32)


def sqrt_ref(x: float, approx: bool, fp32: bool, recip: bool) -> float:
    b = b32(x)
    special = b == 0x7F800000 or b == 0
    if approx:
        y = f32((0x5F0B3892 - (b >> 1)) & 0xFFFFFFFF)
        c = mul(x, y)
        t = mad(-y, c, 1.89099014875)
        if recip:
            y = f32((0x7F800000 - b) & 0xFFFFFFFF) if special else mul(y, t)
        else:
            y = c if b == 0x7F800000 else mul(c, t)
    else:
        y = f32((0x5F1110A0 - (b >> 1)) & 0xFFFFFFFF)
        xy = mul(x, y)
        c = mul(-y, xy)
        y = mul(y, mad(c, add(2.2533049, c), 2.2825186))
        xy = mul(x, y)
        one_minus = mad(-y, xy, 1.0)
        if recip:
            half_y = f32(b32(y) - (1 << 23))
            y = f32((0x7F800000 - b) & 0xFFFFFFFF) if special else mad(one_minus, half_y, y)
        elif b < 0x7F800000 or b >> 31:
            y = mad(one_minus, mul(0.5, xy), xy)
    if x < 0:
        y = NAN
    return finish(y if fp32 else bf16_rne(y), fp32)


def log_ref(x: float, approx: bool, fp32: bool, arch: str) -> float:
    e = exp_field(x) - 127
    m = set_exp(x, 127)
    if fp32:
        if m >= 1.4142135381698608:
            m, e = mul(m, 0.5), e + 1
        z = mul(add(m, -1.0), recip_iter(add(m, 1.0), 2, arch))
        p = horner(
            mul(z, z),
            [1.0, 0.3333333333333333, 0.2, 0.14285714285714285, 0.1111111111111111, 0.09090909090909091],
        )
        out = mad(float(e), 0.69314718246459961, mul(2.0, mul(z, p)))
    else:
        poly = [
            -2.0069785118103027,
            3.767500400543213,
            -2.800232410430908,
            1.3681391477584839,
            -0.3706687390804291,
        ]
        out = mad(float(e), 0.69314718246459961, horner(m, poly + [0.04224011301994324]))
    if x == 0:
        out = -INF
    if fp32 or not approx:
        if exp_field(x) == 255 or x < 0:
            out = NAN
        if b32(x) == 0x7F800000:
            out = INF
    return finish(out if fp32 else bf16_rne(out), fp32)


def lut16(v: int) -> float:
    e = (v >> 10) & 0x1F
    return f32(((v >> 15) << 31) | ((0 if e == 31 else 112 + e) << 23) | ((v & 0x3FF) << 13))


def lut8(v: int) -> float:
    if v == 0xFF:
        return 0.0
    return f32(((v >> 7) << 31) | ((127 - ((v >> 4) & 7)) << 23) | ((v & 0xF) << 19))


def lut6(x: float, regs: list[int], split: float, retain: bool) -> float:
    l0, l1, l2, l4, l5, l6 = regs
    a = abs(x)
    for bound, (rs, ro, shift) in zip(
        (0.5, 1.0, 1.5, 2.0, split, INF),
        ((l0, l4, 0), (l0, l4, 16), (l1, l5, 0), (l1, l5, 16), (l2, l6, 0), (l2, l6, 16)),
        strict=True,
    ):
        if a < bound or bound == INF:
            d = mad(lut16((rs >> shift) & 0xFFFF), a, lut16((ro >> shift) & 0xFFFF))
            return sign_of(d, x) if retain else d
    raise AssertionError


GELU_REGS = [0x37E7322B, 0x38E138F3, 0x38003852, 0xB12286D8, 0xB437B479, 0x7C00AFA4]
SIGMOID_REGS = [0x32F433D9, 0x300A318A, 0x7C002A35, 0x23C89018, 0x30272BAA, 0x37FF34CC]


def gelu_ref(x: float, approx: bool, fp32: bool, arch: str) -> float:
    if approx:
        return finish(add(mul(x, 0.5), lut6(x, GELU_REGS, 3.0, False)), fp32)
    if fp32:
        if not x > -5.54259443:
            return finish(0.0, True)
        s = vmin(mul(x, 0.7071067811865475), 10.0)
        s2 = mul(s, s)
        num = mul(
            s,
            horner(
                s2,
                [
                    1.1283791065,
                    2.1477432549e-01,
                    6.2133435160e-02,
                    5.6230435148e-03,
                    6.1307044234e-04,
                    1.7678321456e-05,
                    2.7384647439e-08,
                    -2.8632063387e-10,
                ],
            ),
        )
        den = horner(
            s2,
            [
                1.0,
                5.2367275953e-01,
                1.2961706519e-01,
                1.9642570987e-02,
                1.9545555115e-03,
                1.3179056987e-04,
                1.3156344494e-06,
                -3.5153888689e-09,
                -6.7350725691e-12,
            ],
        )
        erf = vmax(vmin(mul(num, recip_iter(den, 2, arch)), 1.0), -1.0)
        out = mul(x, 2.0**-25) if erf == -1.0 else mul(x, mad(0.5, erf, 0.5))
        return finish(out, True)
    if not x > -5.54259443:
        out = 0.0
    elif x >= 2.78125:
        out = x
    else:
        x2 = mul(x, x)
        if x >= -3.125:
            p = horner(
                x2,
                [
                    3.9894227818e-01,
                    -6.6361041488e-02,
                    9.7720050615e-03,
                    -1.0717806322e-03,
                    8.1812159812e-05,
                    -3.8082057209e-06,
                    7.9821413868e-08,
                ],
            )
            out = mul(x, mad(x, p, 0.5))
        else:
            b = b32(mad(x2, -0.72134752044, 127.0))
            sh = ((b >> 23) & 0xFF) - 127
            man = (b & 0x7FFFFF) | 0x800000
            zi = (man << (sh & 31)) & 0xFFFFFFFF if sh >= 0 else man >> ((-sh) & 31)
            frac = horner(float(zi & 0x7FFFFF), [1.0017248, 7.839635491371155e-08, 4.791750143340323e-15])
            h = mul(
                set_exp(frac, (zi >> 23) & 0xFF),
                horner(x, [3.0369991064e-01, 9.5413386822e-02, 1.3809983619e-02, 7.5950479368e-04]),
            )
            out = mul(x, add(add(h, 0.375), -0.375))
    return finish(bf16_rne(out), False)


def erf_ref(x: float, fp32: bool) -> float:
    a = abs(x)
    if is_nan(x):
        r = 0.0
    elif a >= 3.0:
        r = 1.0
    elif a >= 1.0:
        r = horner(a, [-0.19469693, 1.91684792, -1.1603072, 0.31310241, -0.03170029])
    else:
        r = horner(a, [0.0000661338118, 1.12544048, 0.0275416549, -0.476685015, 0.166342190])
    return finish(-r if x < 0 else r, fp32)


def sigmoid_acc(x: float, fp32: bool, arch: str) -> float:
    e = exp_juffa(-x) if fp32 else exp21f(-x)
    return recip_iter(add(1.0, e), 2 if fp32 else 1, arch)


def sigmoid_ref(x: float, approx: bool, fp32: bool, arch: str) -> float:
    if approx:
        return finish(add(lut6(x, SIGMOID_REGS, 4.0, True), 0.5), fp32)
    y = sigmoid_acc(x, fp32, arch)
    return finish(y if fp32 else bf16_rne(y), fp32)


def silu_ref(x: float, fp32: bool, arch: str) -> float:
    y = mul(x, sigmoid_acc(x, fp32, arch))
    return finish(y if fp32 else bf16_rne(y), fp32)


def tanh_ref(x: float, approx: bool, fp32: bool, arch: str) -> float:
    if approx:
        a = abs(x)
        reg = 0x1DFF if a < 1.0 else 0x481A if a < 2.0 else 0xFF00
        return finish(sign_of(mad(lut8(reg >> 8), a, lut8(reg & 0xFF)), x), fp32)
    if fp32:
        if abs(x) < 0.6:
            p = horner(
                mul(x, x),
                [
                    0.999999940395355224609375,
                    -0.33332359790802001953125,
                    0.13310669362545013427734375,
                    -5.21197654306888580322265625e-2,
                    1.5497927553951740264892578125e-2,
                ],
            )
            y = mul(x, p)
        else:
            y = add(mul(2.0, sigmoid_acc(mul(2.0, x), True, arch)), -1.0)
        return finish(y, True)
    p = horner(
        abs(x),
        [
            0.0,
            0.999004364013671875,
            3.0897438526153564453125e-2,
            -0.4890659749507904052734375,
            0.281917631626129150390625,
            -6.6649019718170166015625e-2,
            5.876733921468257904052734375e-3,
        ],
    )
    return finish(bf16_rne(sign_of(vmin(p, 1.0), x)), False)


REFERENCES = {
    "exp": (sfpu.exp, lambda x, a, f, arch: exp_ref(x, a, f)),
    "reciprocal": (sfpu.reciprocal, recip_ref),
    "sqrt": (sfpu.sqrt, lambda x, a, f, arch: sqrt_ref(x, a, f, False)),
    "rsqrt": (sfpu.rsqrt, lambda x, a, f, arch: sqrt_ref(x, a, f, True)),
    "log": (sfpu.log, log_ref),
    "gelu": (sfpu.gelu, gelu_ref),
    "erf": (sfpu.erf, lambda x, a, f, arch: erf_ref(x, f)),
    "tanh": (sfpu.tanh, tanh_ref),
    "sigmoid": (sfpu.sigmoid, sigmoid_ref),
    "silu": (sfpu.silu, lambda x, a, f, arch: silu_ref(x, f, arch)),
}

EDGES = [0.0, -0.0, 1e-40, -1e-40, 2.0**-126, -(2.0**-126), 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0,
         2.78125, -3.125, -5.5, 3.0, -3.0, 4.0, 42.5, -42.5, 88.0, 88.7, 89.5, -88.0, -90.0, 100.0, -100.0,
         1e30, -1e30, 3.0e38, -3.0e38, INF, -INF, NAN]  # fmt: skip


def _inputs(fp32: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    values = torch.cat(
        [torch.tensor(EDGES), torch.randn(60, generator=g) * 4, torch.rand(20, generator=g) * 20]
    )
    if not fp32:
        values = values.bfloat16().float()  # a 16-bit Dst holds bfloat16 values
    return values


def _same(a: float, b: float) -> bool:
    return (is_nan(a) and is_nan(b)) or b32(a) == b32(b)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
@pytest.mark.parametrize("fp32", [False, True])
@pytest.mark.parametrize("approx", [False, True])
def test_vectorised_kernel_matches_scalar_transcription(name, arch, fp32, approx, monkeypatch):
    monkeypatch.setattr(numerics_mode, "_mode", numerics_mode.EXACT)
    kernel, reference = REFERENCES[name]
    x = _inputs(fp32)
    got = sfpu.apply(kernel, x, sfpu.Mode(approx=approx, fp32_dest=fp32, arch=arch))
    bad = []
    for xi, gi in zip(x.tolist(), got.tolist(), strict=True):
        want = reference(flush(xi), approx, fp32, arch)
        if not _same(gi, want):
            bad.append((xi, gi, want))
    assert not bad, f"{len(bad)} mismatches, first: {bad[:3]}"


@pytest.mark.parametrize(
    "name", ["exp", "reciprocal", "sqrt", "rsqrt", "log", "gelu", "tanh", "sigmoid", "silu"]
)
@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_default_numerics_stand_in_for_accurate_fp32_kernels(name, arch, monkeypatch):
    """By default the fp32-Dst accurate kernels are replaced by torch's float32 function: within 2**-20
    relative of the bit-level algorithm (GELU: plus 1e-6 absolute, its deep negative tail x * (0.5 + 0.5 erf)
    with erf near -1, flushed to 0 below -5.54 on the device)."""
    kernel = REFERENCES[name][0]
    x = torch.cat([torch.linspace(-20, 20, 2001), torch.rand(500) * 100 + 1e-3])
    if name in ("sqrt", "rsqrt", "log", "reciprocal"):
        x = x.abs() + 1e-3
    mode = sfpu.Mode(fp32_dest=True, arch=arch)
    fast = sfpu.apply(kernel, x, mode)
    monkeypatch.setattr(numerics_mode, "_mode", numerics_mode.EXACT)
    exact = sfpu.apply(kernel, x, mode)
    assert not torch.equal(fast, exact) or name == "sqrt"  # the stand-in is really used
    atol = 1e-6 if name == "gelu" else 0.0
    assert ((fast == exact) | ((fast - exact).abs() <= exact.abs() * 2**-20 + atol)).all()


def test_sdpa_piecewise_exp_matches_scalar_transcription():
    x = -torch.rand(500) * 60
    got = sfpu.exp_piecewise_approx(x, 0.125)
    for xi, gi in zip(x.tolist(), got.tolist(), strict=True):
        assert _same(gi, exp_piecewise(xi, 0.125))


def test_arecip_table_formula_is_ttsims_table():
    assert sfpu._ARECIP_LUT.tolist() == ARECIP_TABLE


def test_special_values_of_the_accurate_kernels():
    """Edge cases spelled out (16-bit Dst unless noted), as the kernels define them."""
    wh = sfpu.Mode()
    x = torch.tensor([0.0, INF, -INF, NAN, 1e-40])
    assert sfpu.apply(sfpu.exp, x, wh).tolist()[:3] == [1.0, INF, 0.0]
    assert sfpu.apply(sfpu.reciprocal, x, wh).tolist()[:3] == [INF, 0.0, -0.0]
    assert sfpu.apply(sfpu.rsqrt, x, wh).tolist()[:2] == [INF, 0.0]
    log = sfpu.apply(sfpu.log, torch.tensor([0.0, INF, -1.0, NAN, 1.0]), wh).tolist()
    assert log[0] == -INF and log[1] == INF and math.isnan(log[2]) and math.isnan(log[3]) and log[4] == 0.0
    # exp(NaN): the clamp of exp_21f treats +NaN as above 255 -> +inf with a 16-bit Dst; fp32 keeps NaN.
    assert sfpu.apply(sfpu.exp, torch.tensor([NAN]), wh).item() == INF
    assert math.isnan(sfpu.apply(sfpu.exp, torch.tensor([NAN]), sfpu.Mode(fp32_dest=True)).item())


# -- error against float64 ---------------------------------------------------------------------------------

# PCC floors of tt-metal's hardware tests on torch.rand bfloat16 inputs
# (tests/ttnn/unit_tests/operations/eltwise/test_unary.py): exp 0.9998, gelu 0.9996, sigmoid 0.999 (both
# modes), silu and log at run_unary_test's default 0.9999.
FLOORS = [
    ("exp", torch.exp, 0.9998, (False,)),
    ("gelu", torch.nn.functional.gelu, 0.9996, (False,)),
    ("sigmoid", torch.sigmoid, 0.999, (False, True)),
    ("silu", torch.nn.functional.silu, 0.9999, (False,)),
    ("log", torch.log, 0.9999, (False,)),
]


@pytest.mark.parametrize(("name", "ref", "floor", "approx_modes"), FLOORS)
@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
@pytest.mark.parametrize("fp32", [False, True])
def test_error_against_float64_within_tt_metal_floors(
    name, ref, floor, approx_modes, arch, fp32, monkeypatch
):
    monkeypatch.setattr(numerics_mode, "_mode", numerics_mode.EXACT)
    x = torch.rand(64, 128, generator=torch.Generator().manual_seed(0)).bfloat16().float()
    for approx in approx_modes:
        got = sfpu.apply(REFERENCES[name][0], x, sfpu.Mode(approx=approx, fp32_dest=fp32, arch=arch))
        assert comp_pcc(ref(x.double()), got.double(), floor)[0]


@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_accurate_kernels_are_within_a_few_bfloat16_ulps(arch, monkeypatch):
    monkeypatch.setattr(numerics_mode, "_mode", numerics_mode.EXACT)
    """With a 16-bit Dst the accurate kernels land within 2 bfloat16 ulps of the float64 value (relative
    2**-7) on their main range; with fp32 Dst within 2**-20."""
    x = torch.linspace(-6, 6, 4001).bfloat16().float()
    pos = torch.linspace(0.01, 100, 4001).bfloat16().float()
    cases = [
        (sfpu.exp, torch.exp, x),
        (sfpu.reciprocal, torch.reciprocal, pos),
        (sfpu.sqrt, torch.sqrt, pos),
        (sfpu.rsqrt, torch.rsqrt, pos),
        (sfpu.sigmoid, torch.sigmoid, x),
        (sfpu.tanh, torch.tanh, pos),
    ]
    for kernel, ref, xs in cases:
        for fp32, bound in ((False, 2**-7), (True, 2**-20)):
            got = sfpu.apply(kernel, xs, sfpu.Mode(fp32_dest=fp32, arch=arch)).double()
            want = ref(xs.double())
            assert ((got - want).abs() / want.abs()).max() <= bound, kernel.__name__


def test_in_place_fp32_exp_is_torch_exp_on_large_negative_scores() -> None:
    """sfpu.apply_'s fp32-Dst exp sends inputs whose exp is +0 through -inf (the host's exp is slow on them):
    the same bits as exp on every such input, and on the denormal range next to it."""
    edges = [-1e9, -3.4e38, -104.0, -103.98, -103.97, -103.3, -95.0, -87.4, -87.0, -0.0, 0.0, 1.0, 88.7, 89.0]
    x = torch.tensor(edges + [float("-inf"), float("inf"), float("nan")])
    sweep = torch.linspace(-120.0, -80.0, 100_001)
    for values in (x, sweep, torch.cat([sweep, torch.randn(1000)])):
        got = sfpu.apply_(sfpu.exp, values.clone(), sfpu.Mode(fp32_dest=True, approx=False), scale=0.125 * 8)
        expected = values.exp()
        assert torch.equal(got.isnan(), expected.isnan())
        finite = ~expected.isnan()
        assert torch.equal(got[finite].view(torch.int32), expected[finite].view(torch.int32))
