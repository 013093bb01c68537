"""Tenstorrent number formats on torch tensors: bfloat16, bfloat8_b/bfloat4_b block floats, integers.

Values are carried as float32 (or int64 for integer dtypes) torch tensors whose values are exactly
representable in the target format. `quantize` is the single entry point every op uses to round its
output. HOST mode reproduces the host conversions of real ttnn 0.81.1 bit for bit (checked case by case by
the parity suite, parity/, against the real wheel); PACKER mode models the device packer, which rounds ties
away from zero (TTNN_FACTS §2).
"""

from __future__ import annotations

import sys

import torch

from ..types import DataType

_LITTLE_ENDIAN = sys.byteorder == "little"

HOST = "host"
# Host conversion of an untiled (ROW_MAJOR) buffer: float -> integer casts run 8 (uint16: 4) values at a time
# with SIMD and the trailing remainder one by one, which differ on out-of-range values (see _float_to_int_host).
HOST_ROW_MAJOR = "host_row_major"
PACKER = "packer"

FLOAT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
BLOCK_FLOAT_DTYPES = (DataType.BFLOAT8_B, DataType.BFLOAT4_B)

# (bits, signed) of each integer dtype.
_INT_FORMATS = {
    DataType.UINT32: (32, False),
    DataType.INT32: (32, True),
    DataType.UINT16: (16, False),
    DataType.UINT8: (8, False),
}
_INT32_MIN = -(2**31)


def is_float(dtype: DataType) -> bool:
    return dtype in FLOAT_DTYPES


def bfloat16_bits(x: torch.Tensor) -> torch.Tensor:
    """float32 values -> torch.bfloat16 holding the high half of their bits (exact for values already
    rounded to a bfloat16-based format, NaN payloads included; torch's own cast turns NaN into 0xFFFF).
    A bfloat16 input is returned as is; .to(torch.float32) is the exact way back."""
    if x.dtype == torch.bfloat16:
        return x
    x = x.to(torch.float32)
    if not _LITTLE_ENDIAN or x.dim() == 0 or x.shape[-1] == 1:  # a size-1 last dim may have any stride
        return (x.view(torch.int32) >> 16).to(torch.int16).view(torch.bfloat16)
    # The high half of each float32 is the second int16 of its pair (little-endian): one strided copy, 4x
    # faster than shifting to int32 and narrowing (torch's int32 -> int16 cast is not vectorised).
    halves = x.contiguous().view(torch.int16).unflatten(-1, (-1, 2))[..., 1]
    return halves.contiguous().view(torch.bfloat16)


_CANONICAL_NAN = torch.tensor(float("nan"), dtype=torch.float32)  # 0x7FC00000


def _round_bf16_bits(bits: torch.Tensor, mode: str, in_place: bool) -> torch.Tensor:
    """Float bits as int32: add the rounding increment and clear the low 16 bits (into `bits` itself when
    `in_place`). Wrapping int32 arithmetic gives the unsigned result for negative values; infinities stay
    (their low bits are 0) and finite overflow carries into infinity. Only NaN patterns can wrap past 2^31:
    the callers overwrite NaNs."""
    if mode == HOST:
        increment = (bits >> 16).bitwise_and_(1).add_(0x7FFF)
        rounded = bits.add_(increment) if in_place else increment.add_(bits)
    else:
        rounded = bits.add_(0x8000) if in_place else bits + 0x8000
    return rounded.bitwise_and_(-65536)


def _nan_mask(x: torch.Tensor) -> torch.Tensor | None:
    """Where x is NaN, or None when it holds no NaN. A sum (one read, no write) is NaN whenever a term is, so
    a finite sum rules NaNs out; only otherwise (NaN, inf or overflow) is the mask built."""
    return None if bool(torch.isfinite(x.sum())) else torch.isnan(x)


def round_bfloat16(x: torch.Tensor, mode: str = HOST) -> torch.Tensor:
    """float32 -> bfloat16 -> float32. HOST: nearest-even, every NaN -> 0x7FC0 (sign and payload dropped,
    bfloat16.hpp); PACKER: ties away from zero. Infinities stay; overflow carries into infinity.
    Computed on the int32 view (no int64 / float64 temporaries)."""
    x = x.to(torch.float32).contiguous()
    nan = _nan_mask(x)
    out = _round_bf16_bits(x.view(torch.int32), mode, in_place=False).view(torch.float32)
    return out if nan is None else torch.where(nan, _CANONICAL_NAN, out, out=out)


def round_bfloat16_(x: torch.Tensor, mode: str = PACKER, *, nan_free: bool = False) -> torch.Tensor:
    """round_bfloat16 in place on a contiguous float32 tensor (returned): SDPA rounds several intermediates
    per K chunk and reuses their buffers. `nan_free`: the caller knows x holds no NaN (the NaN test is
    skipped)."""
    nan = None if nan_free else _nan_mask(x)
    _round_bf16_bits(x.view(torch.int32), mode, in_place=True)
    return x if nan is None else torch.where(nan, _CANONICAL_NAN, x, out=x)


def pack_bfloat16(x: torch.Tensor) -> torch.Tensor:
    """The packer's bfloat16 output of float values, as torch.bfloat16 storage: the bits of
    bfloat16_bits(round_bfloat16(x, PACKER)) in two passes over the values instead of five (every device op's
    output goes through it). Non-finite values take the general path: inf with its lowest bit set would be a
    NaN (see _pack_finite_bfloat16), and a NaN must become 0x7FC0 (torch's cast gives 0xFFFF)."""
    x = x.to(torch.float32).contiguous()
    if not bool(torch.isfinite(x.sum())):  # a NaN or inf among the values (or a sum overflowing float32)
        return bfloat16_bits(round_bfloat16(x, PACKER))
    return _pack_finite_bfloat16(x)


def _pack_finite_bfloat16(x: torch.Tensor) -> torch.Tensor:
    """PACKER rounding (ties away from zero) of finite contiguous float32 values to torch.bfloat16. It is
    nearest-even once the lowest float32 bit is set: an exact tie becomes just above half and rounds up in
    magnitude, every other value stays on its side of the half. torch's float32 -> bfloat16 cast rounds to
    nearest-even on the bits, denormals included (checked on every finite float32 pattern;
    tests/sim/test_fast_paths.py pins it on edge and random patterns). Overflow rounds into infinity, as in
    round_bfloat16."""
    return (x.view(torch.int32) | 1).view(torch.float32).to(torch.bfloat16)


def _block_float(x: torch.Tensor, mantissa_bits: int, pad_value: float = 0.0) -> torch.Tensor:
    """Shared-exponent quantisation over groups of 16 consecutive values of the last dim (face rows).

    Bit-level model of blockfloat_common.cpp (get_max_exp, convert_u32_to_bfp, convert_bfp_to_u32) as
    ttnn 0.81.1 runs it on the host:
    - shared exponent E = max 8-bit exponent field of the 16 values (NaN / inf give 255);
    - values with exponent field 0 (zeros, denormals) encode 0;
    - the 24-bit significand is first shifted right by E - own exponent (bits falling off are lost, they
      do not count as sticky bits), then rounded to `mantissa_bits` bits nearest-even and saturated;
    - the sign is dropped when the magnitude is 0, so -0.0 and flushed negatives decode as +0.0;
    - decoding renormalises the magnitude into sign/exponent/fraction bits, so with E = 255 the
      magnitude's fraction bits survive: a quiet NaN stays NaN (sign kept), 0x7F800001 becomes inf.
    A last row shorter than 16 is completed with TILE padding (`pad_value`), which takes part in the shared
    exponent (probed: from_torch(pad_value=8.0) changes the values next to the padding).
    """
    x = x.to(torch.float32)
    if x.numel() == 0:
        return x.clone()
    shape = x.shape
    last = shape[-1] if x.dim() else 1
    flat = x.reshape(-1, last)
    pad = (-last) % 16
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad), value=pad_value)
    # int32 bit arithmetic throughout: every intermediate fits (exponents <= 255, significands < 2^24).
    bits = flat.reshape(flat.shape[0], -1, 16).contiguous().view(torch.int32)
    exp = (bits >> 23).bitwise_and_(0xFF)
    shared = exp.amax(dim=-1, keepdim=True)
    sig = (bits & 0x7FFFFF).bitwise_or_(0x800000)
    sig.bitwise_right_shift_((shared - exp).clamp_(max=31))
    drop = 24 - mantissa_bits
    kept = sig >> drop
    rem = sig.bitwise_and_((1 << drop) - 1)
    tie = 1 << (drop - 1)
    kept.add_((rem > tie).logical_or_((rem == tie).logical_and_((kept & 1) == 1)))
    kept.clamp_(max=(1 << mantissa_bits) - 1).masked_fill_(exp == 0, 0)
    # Decode (convert_bfp_to_u32): normalise so the leading 1 becomes the hidden bit. kept < 2^7 is exact in
    # float32, whose exponent field is then floor(log2(kept)) + 127.
    lead = (kept.clamp(min=1).to(torch.float32).view(torch.int32) >> 23).sub_(127)
    shift = lead.neg_().add_(mantissa_bits - 1)
    frac = (kept << (shift + 1)).bitwise_and_((1 << mantissa_bits) - 1)
    out = (bits & -(2**31)).bitwise_or_((shared - shift) << 23).bitwise_or_(frac << (23 - mantissa_bits))
    out.masked_fill_(kept == 0, 0)
    value = out.view(torch.float32).reshape(flat.shape)[:, :last]
    return value.reshape(shape)


def round_block_float(
    x: torch.Tensor, dtype: DataType, mode: str = HOST, pad_value: float = 0.0
) -> torch.Tensor:
    """bfloat8_b (7-bit magnitude) or bfloat4_b (3-bit). On device the packer goes through bf16 first."""
    if mode == PACKER:
        x = round_bfloat16(x, PACKER)
    return _block_float(x, 7 if dtype == DataType.BFLOAT8_B else 3, pad_value)


def _float_to_int_host(x: torch.Tensor, dtype: DataType, lanes: int) -> torch.Tensor:
    """Host float -> integer conversion of ttnn 0.81.1 (probed; the C++ casts of its x86 build), truncating.

    SIMD path: int32 gives INT32_MIN for NaN / out of range (cvttps2dq); uint32 wraps values in
    [-2^31, 2^32) modulo 2^32 and gives 2^31 otherwise; uint16 / uint8 clamp the int32 result (saturating
    packs). Scalar path (the last len % `lanes` values of an untiled buffer; lanes 0 for tiled buffers,
    which are whole tiles): uint32 takes the low 32 bits of the int64 conversion (0 for NaN / |x| >= 2^63), uint16 /
    uint8 the low bits of the int32 one. Both agree on every value in the dtype's range."""
    flat = x.to(torch.float32).reshape(-1)
    t = torch.nan_to_num(flat.to(torch.float64), nan=float("inf")).trunc()
    as_int32 = torch.where((t >= _INT32_MIN) & (t < 2**31), t, torch.full_like(t, _INT32_MIN)).to(torch.int64)
    bits, _ = _INT_FORMATS[dtype]
    if dtype == DataType.INT32:
        return as_int32.reshape(x.shape)
    if dtype == DataType.UINT32:
        ok = (t >= _INT32_MIN) & (t < 2**32)
        simd = torch.where(ok, t, torch.full_like(t, 2**31)).to(torch.int64) % 2**32
        in_int64 = (t >= -(2.0**63)) & (t < 2.0**63)
        scalar = torch.where(in_int64, t, torch.zeros_like(t)).to(torch.int64) % 2**32
    else:
        simd = as_int32.clamp(0, 2**bits - 1)
        scalar = as_int32 % 2**bits
    if lanes:
        tail = flat.numel() % lanes
        if tail:
            simd = torch.cat([simd[: flat.numel() - tail], scalar[flat.numel() - tail :]])
    return simd.reshape(x.shape)


def _wrap_int(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Integer -> integer dtype on the host: two's-complement truncation to the target width (probed)."""
    bits, signed = _INT_FORMATS[dtype]
    wrapped = x.to(torch.int64) % 2**bits
    if signed:
        wrapped = torch.where(wrapped >= 2 ** (bits - 1), wrapped - 2**bits, wrapped)
    return wrapped


def quantize(x: torch.Tensor, dtype: DataType, mode: str = HOST, *, pad_value: float = 0.0) -> torch.Tensor:
    """Round `x` to what `dtype` can hold; float dtypes return float32, integer dtypes int64.

    Float inputs wider than float32 are rounded to float32 first, as ttnn does (a float64 tensor is double
    rounded on its way to bfloat16). Integer dtypes: HOST / HOST_ROW_MAJOR follow the host's C++ casts;
    PACKER (device op outputs, already converted by the op) saturates to the dtype's range. `pad_value` is
    the TILE padding, which shares block-float exponents with the last values of each row."""
    if dtype == DataType.FLOAT32:
        return x.to(torch.float32)
    if dtype == DataType.BFLOAT16:
        if mode != PACKER and x.dtype == torch.bfloat16:
            return x.to(torch.float32)  # bfloat16 -> bfloat16 copies the bits (NaN payloads included)
        return round_bfloat16(x, PACKER if mode == PACKER else HOST)
    if dtype in BLOCK_FLOAT_DTYPES:
        if mode != PACKER and x.dtype not in (torch.float32, torch.bfloat16):
            # Probed: from_torch packs float16 / float64 / integer tensors into block floats via bfloat16.
            x = round_bfloat16(x.to(torch.float32))
        return round_block_float(x, dtype, mode, pad_value)
    if mode != PACKER:
        if x.is_floating_point():
            # SIMD width probed per source dtype: 4 for float32 -> uint16, else 8.
            lanes = 4 if (dtype, x.dtype) == (DataType.UINT16, torch.float32) else 8
            return _float_to_int_host(x, dtype, lanes if mode == HOST_ROW_MAJOR else 0)
        return _wrap_int(x, dtype)
    bits, signed = _INT_FORMATS[dtype]
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if x.is_floating_point():
        x = torch.nan_to_num(x.to(torch.float64), nan=0.0).trunc().clamp(lo, hi)
    return x.to(torch.int64).clamp(lo, hi)


_ELEMENT_SIZE = {
    DataType.BFLOAT16: 2,
    DataType.FLOAT32: 4,
    DataType.UINT32: 4,
    DataType.INT32: 4,
    DataType.UINT16: 2,
    DataType.UINT8: 1,
    DataType.BFLOAT8_B: 1088 / 1024,
    DataType.BFLOAT4_B: 576 / 1024,
}


def element_size(dtype: DataType) -> float:
    """Bytes per element in ROW_MAJOR / tile storage (block floats include their exponent share)."""
    return _ELEMENT_SIZE[dtype]


def tile_bytes(dtype: DataType) -> int:
    """Bytes of one 32x32 tile (TTNN_FACTS §2: bf16 2048, fp32 4096, bfp8_b 1088, bfp4_b 576)."""
    return int(element_size(dtype) * 1024)


def torch_dtype_to_ttnn(dtype: torch.dtype) -> DataType:
    """The dtype from_torch infers when none is given (probed on 0.81.1). float64 is absent on purpose:
    real ttnn aborts the process on it ("got INVALID or unhandled DataType")."""
    mapping = {
        torch.bfloat16: DataType.BFLOAT16,
        torch.float32: DataType.FLOAT32,
        torch.float16: DataType.BFLOAT16,
        torch.int32: DataType.INT32,
        torch.int64: DataType.UINT32,
        torch.uint8: DataType.UINT8,
        torch.bool: DataType.UINT8,
        torch.int16: DataType.UINT16,
    }
    if dtype not in mapping:
        # ttnn_dtype_traits.hpp words it with the DLPack type code (0 int, 1 uint, 2 float, 5 complex).
        code = 5 if dtype.is_complex else 2 if dtype.is_floating_point else 1 if not dtype.is_signed else 0
        bits = torch.empty((), dtype=dtype).element_size() * 8
        raise RuntimeError(
            f"get_ttnn_datatype_from_dtype: got unexpected dlpack dtype. code: {code}, bits: {bits}"
        )
    return mapping[dtype]


def ttnn_dtype_to_torch(dtype: DataType) -> torch.dtype:
    """The torch dtype to_torch returns (probed on 0.81.1: block floats come back as float32, uint32 and
    uint16 as torch's unsigned types)."""
    return {
        DataType.BFLOAT16: torch.bfloat16,
        DataType.FLOAT32: torch.float32,
        DataType.BFLOAT8_B: torch.float32,
        DataType.BFLOAT4_B: torch.float32,
        DataType.UINT32: torch.uint32,
        DataType.INT32: torch.int32,
        DataType.UINT16: torch.uint16,
        DataType.UINT8: torch.uint8,
    }[dtype]


def to_torch_values(values: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Stored values (already rounded to `dtype`) as the torch tensor to_torch returns. bfloat16 takes the
    high half of the float32 bits: torch's own float -> bfloat16 cast turns NaN into 0xFFFF, ttnn gives
    0x7FC0."""
    target = ttnn_dtype_to_torch(dtype)
    if target == torch.bfloat16:
        # Never the stored tensor itself: the caller may write into what to_torch returns.
        return values.clone() if values.dtype == torch.bfloat16 else bfloat16_bits(values)
    return values.to(target)
