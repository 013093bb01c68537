"""Tenstorrent number formats on torch tensors: bfloat16, bfloat8_b/bfloat4_b block floats, integers.

Values are carried as float32 (or int64 for integer dtypes) torch tensors whose values are exactly
representable in the target format. `quantize` is the single entry point every op uses to round its
output. HOST mode reproduces the host conversions of real ttnn 0.81.1 bit for bit (checked case by case by
the parity suite, parity/, against the real wheel); PACKER mode models the device packer, which rounds ties
away from zero (TTNN_FACTS §2).
"""

from __future__ import annotations

import torch

from ..types import DataType

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


def _float_bits(x: torch.Tensor) -> torch.Tensor:
    """The IEEE bits of float32 values as non-negative int64."""
    return x.to(torch.float32).contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF


def _bits_to_float(bits: torch.Tensor) -> torch.Tensor:
    bits = torch.where(bits >= 2**31, bits - 2**32, bits)
    return bits.to(torch.int32).view(torch.float32)


def round_bfloat16(x: torch.Tensor, mode: str = HOST) -> torch.Tensor:
    """float32 -> bfloat16 -> float32. HOST: nearest-even, every NaN -> 0x7FC0 (sign and payload dropped,
    bfloat16.hpp); PACKER: ties away from zero. Infinities stay; overflow carries into infinity."""
    x = x.to(torch.float32)
    bits = _float_bits(x)
    if mode == HOST:
        rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    else:
        rounded = bits + 0x8000
    rounded = (rounded >> 16) << 16
    rounded = torch.where(torch.isinf(x), bits, rounded)
    rounded = torch.where(torch.isnan(x), torch.full_like(bits, 0x7FC00000), rounded)
    return _bits_to_float(rounded)


def _block_float(x: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
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
    """
    x = x.to(torch.float32)
    if x.numel() == 0:
        return x.clone()
    shape = x.shape
    last = shape[-1] if x.dim() else 1
    flat = x.reshape(-1, last)
    pad = (-last) % 16
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad))
    bits = _float_bits(flat.reshape(flat.shape[0], -1, 16))
    sign = bits >> 31
    exp = (bits >> 23) & 0xFF
    shared = exp.amax(dim=-1, keepdim=True)
    sig = (bits & 0x7FFFFF) | 0x800000
    sig = sig >> (shared - exp).clamp(max=31)
    drop = 24 - mantissa_bits
    kept = sig >> drop
    rem = sig & ((1 << drop) - 1)
    tie = 1 << (drop - 1)
    kept = kept + ((rem > tie) | ((rem == tie) & ((kept & 1) == 1))).to(torch.int64)
    kept = kept.clamp(max=(1 << mantissa_bits) - 1)
    kept = torch.where(exp == 0, torch.zeros_like(kept), kept)
    # Decode (convert_bfp_to_u32): normalise so the leading 1 becomes the hidden bit.
    lead = torch.floor(torch.log2(kept.clamp(min=1).to(torch.float64))).to(torch.int64)
    shift = (mantissa_bits - 1) - lead
    frac = (kept << (shift + 1)) & ((1 << mantissa_bits) - 1)
    out = (sign << 31) | ((shared - shift) << 23) | (frac << (23 - mantissa_bits))
    out = torch.where(kept == 0, torch.zeros_like(out), out)
    value = _bits_to_float(out).reshape(flat.shape)[:, :last]
    return value.reshape(shape)


def round_block_float(x: torch.Tensor, dtype: DataType, mode: str = HOST) -> torch.Tensor:
    """bfloat8_b (7-bit magnitude) or bfloat4_b (3-bit). On device the packer goes through bf16 first."""
    if mode == PACKER:
        x = round_bfloat16(x, PACKER)
    return _block_float(x, 7 if dtype == DataType.BFLOAT8_B else 3)


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


def quantize(x: torch.Tensor, dtype: DataType, mode: str = HOST) -> torch.Tensor:
    """Round `x` to what `dtype` can hold; float dtypes return float32, integer dtypes int64.

    Float inputs wider than float32 are rounded to float32 first, as ttnn does (a float64 tensor is double
    rounded on its way to bfloat16). Integer dtypes: HOST / HOST_ROW_MAJOR follow the host's C++ casts;
    PACKER (device op outputs, already converted by the op) saturates to the dtype's range."""
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
        return round_block_float(x, dtype, mode)
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


def element_size(dtype: DataType) -> float:
    """Bytes per element in ROW_MAJOR / tile storage (block floats include their exponent share)."""
    return {
        DataType.BFLOAT16: 2,
        DataType.FLOAT32: 4,
        DataType.UINT32: 4,
        DataType.INT32: 4,
        DataType.UINT16: 2,
        DataType.UINT8: 1,
        DataType.BFLOAT8_B: 1088 / 1024,
        DataType.BFLOAT4_B: 576 / 1024,
    }[dtype]


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
        high = _float_bits(values) >> 16
        return torch.where(high >= 2**15, high - 2**16, high).to(torch.int16).view(torch.bfloat16)
    return values.to(target)
