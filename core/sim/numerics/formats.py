"""Tenstorrent number formats on torch tensors: bfloat16, bfloat8_b/bfloat4_b block floats, integers.

Values are carried as float32 (or int64 for integer dtypes) torch tensors whose values are exactly
representable in the target format. `quantize` is the single entry point every op uses to round its
output. Host conversions (from_torch) round bfloat16 to nearest-even; the device packer rounds ties away
from zero (TTNN_FACTS §2).
"""

from __future__ import annotations

import torch

from ..types import DataType

HOST = "host"
PACKER = "packer"

FLOAT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
BLOCK_FLOAT_DTYPES = (DataType.BFLOAT8_B, DataType.BFLOAT4_B)

_INT_RANGES = {
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.UINT8: (0, 2**8 - 1),
}


def is_float(dtype: DataType) -> bool:
    return dtype in FLOAT_DTYPES


def round_bfloat16(x: torch.Tensor, mode: str = HOST) -> torch.Tensor:
    """float32 -> bfloat16 -> float32. HOST: nearest-even, NaN -> 0x7FC0. PACKER: ties away from zero."""
    x = x.to(torch.float32).contiguous()
    bits = x.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    if mode == HOST:
        rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    else:
        rounded = bits + 0x8000
    rounded = (rounded >> 16) << 16
    # Infinity stays infinity; NaN becomes the canonical quiet NaN.
    is_nan = torch.isnan(x)
    is_inf = torch.isinf(x)
    rounded = torch.where(is_inf, bits, rounded)
    rounded = torch.where(is_nan, torch.full_like(bits, 0x7FC00000), rounded)
    rounded = torch.where(rounded >= 2**31, rounded - 2**32, rounded).to(torch.int32)
    return rounded.view(torch.float32)


def _block_float(x: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
    """Shared-exponent quantisation over groups of 16 consecutive values of the last dim (face rows).

    Follows blockfloat_common.cpp (convert_u32_to_bfp): per 16-value row the shared exponent is the max
    8-bit exponent field; each significand (hidden bit restored) is shifted right by the exponent gap and
    rounded to `mantissa_bits` bits nearest-even, saturating; exponent-0 values encode 0.
    """
    x = x.to(torch.float32)
    shape = x.shape
    last = shape[-1] if x.dim() else 1
    flat = x.reshape(-1, last) if x.dim() else x.reshape(1, 1)
    pad = (-flat.shape[-1]) % 16
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad))
    groups = flat.reshape(flat.shape[0], -1, 16).contiguous()
    bits = groups.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    sign = bits >> 31
    exp = (bits >> 23) & 0xFF
    man = bits & 0x7FFFFF
    shared = exp.amax(dim=-1, keepdim=True)
    sig = torch.where(exp == 0, torch.zeros_like(man), man | 0x800000)  # 24-bit significand
    # Shift so that the shared exponent's hidden bit lands at bit `mantissa_bits - 1` of the result.
    shift = (shared - exp) + (24 - mantissa_bits)
    shift = shift.clamp(max=40)
    kept = sig >> shift
    rem = sig - (kept << shift)
    half = torch.where(shift > 0, torch.ones_like(shift) << (shift - 1).clamp(min=0), torch.zeros_like(shift))
    round_up = (rem > half) | ((rem == half) & (half > 0) & ((kept & 1) == 1))
    kept = kept + round_up.to(torch.int64)
    kept = kept.clamp(max=(1 << mantissa_bits) - 1)
    scale = torch.pow(2.0, (shared - 127 - (mantissa_bits - 1)).to(torch.float64))
    value = kept.to(torch.float64) * scale
    value = torch.where(sign == 1, -value, value).to(torch.float32)
    value = value.reshape(flat.shape)[:, :last]
    return value.reshape(shape)


def round_block_float(x: torch.Tensor, dtype: DataType, mode: str = HOST) -> torch.Tensor:
    """bfloat8_b (7-bit magnitude) or bfloat4_b (3-bit). On device the packer goes through bf16 first."""
    if mode == PACKER:
        x = round_bfloat16(x, PACKER)
    return _block_float(x, 7 if dtype == DataType.BFLOAT8_B else 3)


def quantize(x: torch.Tensor, dtype: DataType, mode: str = HOST) -> torch.Tensor:
    """Round `x` to what `dtype` can hold; float dtypes return float32, integer dtypes int64."""
    if dtype == DataType.FLOAT32:
        return x.to(torch.float32)
    if dtype == DataType.BFLOAT16:
        return round_bfloat16(x, mode)
    if dtype in BLOCK_FLOAT_DTYPES:
        return round_block_float(x, dtype, mode)
    lo, hi = _INT_RANGES[dtype]
    if x.is_floating_point():
        x = torch.nan_to_num(x.to(torch.float64), nan=0.0).trunc()
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
    return {
        torch.bfloat16: DataType.BFLOAT16,
        torch.float32: DataType.FLOAT32,
        torch.float16: DataType.BFLOAT16,
        torch.float64: DataType.FLOAT32,
        torch.int32: DataType.INT32,
        torch.int64: DataType.UINT32,
        torch.uint8: DataType.UINT8,
        torch.int16: DataType.UINT16,
    }[dtype]


def ttnn_dtype_to_torch(dtype: DataType) -> torch.dtype:
    """The torch dtype to_torch returns (ttnn/ttnn/operations/core.py: bfloat8_b/4_b come back as float32)."""
    return {
        DataType.BFLOAT16: torch.bfloat16,
        DataType.FLOAT32: torch.float32,
        DataType.BFLOAT8_B: torch.float32,
        DataType.BFLOAT4_B: torch.float32,
        DataType.UINT32: torch.int32,
        DataType.INT32: torch.int32,
        DataType.UINT16: torch.int16,
        DataType.UINT8: torch.uint8,
    }[dtype]
