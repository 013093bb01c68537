"""The arithmetic of composite compute kernels (softmax, layer_norm, rms_norm, SDPA) between their SFPU calls.

A composite kernel moves tiles between circular buffers (CBs) and the destination register (Dst):
- FPU eltwise ops (add / sub / mul tiles, with broadcasts) read both operands through the source registers,
  which hold at most TF32: a float32 CB value loses its low 13 mantissa bits (truncation) on the way in
  (fidelity.to_source_register); multiplies consume the operand bits the math fidelity allows
  (fidelity.py phases: srcA = the first operand, srcB = the second).
- The result lands in Dst: float32 with fp32_dest_acc_en, else bfloat16 (rounded to nearest-even, as
  fidelity.py models the FPU's Dst writes).
- Row reductions (reduce_tile SUM / MAX with REDUCE_ROW) run on the FPU too: each 32-wide tile's products with
  the scaler tile are summed and added into one Dst tile, which a 16-bit Dst rounds after every tile.
- pack_tile writes Dst to a CB in the CB's format (packer rounding, formats.PACKER); intermediate CBs of these
  kernels are float32 with fp32_dest_acc_en and bfloat16 otherwise (im_data_format in the program factories).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..types import DataType, MathFidelity
from . import fidelity, formats, sfpu

TILE = 32


@dataclass(frozen=True)
class KernelConfig:
    """The compute switches a composite kernel is compiled with."""

    math_fidelity: MathFidelity = MathFidelity.HiFi4
    math_approx_mode: bool = True
    fp32_dest_acc_en: bool = False
    arch: str = sfpu.WORMHOLE_B0

    @property
    def im_dtype(self) -> DataType:
        """The format of the kernel's intermediate CBs."""
        return DataType.FLOAT32 if self.fp32_dest_acc_en else DataType.BFLOAT16

    def sfpu_mode(self, approx: bool | None = None) -> sfpu.Mode:
        return sfpu.Mode(
            approx=self.math_approx_mode if approx is None else approx,
            fp32_dest=self.fp32_dest_acc_en,
            arch=self.arch,
        )


def from_compute_config(config: object, default: KernelConfig, arch: str) -> KernelConfig:
    """A user's compute_kernel_config, or the op's default, on `arch`."""
    if config is None:
        return KernelConfig(
            default.math_fidelity, default.math_approx_mode, default.fp32_dest_acc_en, sfpu.arch_name(arch)
        )
    return KernelConfig(
        config.math_fidelity,
        bool(config.math_approx_mode),
        bool(config.fp32_dest_acc_en),
        sfpu.arch_name(arch),
    )


def to_dst(x: torch.Tensor, k: KernelConfig) -> torch.Tensor:
    """An FPU result written to Dst."""
    return x if k.fp32_dest_acc_en else x.to(torch.bfloat16).to(torch.float32)


def pack(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """pack_tile into a CB of `dtype`."""
    return formats.quantize(x, dtype, formats.PACKER)


def pack_im(x: torch.Tensor, k: KernelConfig) -> torch.Tensor:
    return pack(x, k.im_dtype)


def _src(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    return fidelity.to_source_register(x, dtype)


def add(
    a: torch.Tensor, b: torch.Tensor, a_dtype: DataType, b_dtype: DataType, k: KernelConfig
) -> torch.Tensor:
    """add_tiles (and its broadcasts): a + b from the source registers into Dst."""
    return to_dst(_src(a, a_dtype) + _src(b, b_dtype), k)


def sub(
    a: torch.Tensor, b: torch.Tensor, a_dtype: DataType, b_dtype: DataType, k: KernelConfig
) -> torch.Tensor:
    """sub_tiles (and its broadcasts): a - b into Dst."""
    return to_dst(_src(a, a_dtype) - _src(b, b_dtype), k)


_MANTISSA = {DataType.FLOAT32: 10, DataType.BFLOAT16: 7, DataType.BFLOAT8_B: 6, DataType.BFLOAT4_B: 2}


def _product(
    a: torch.Tensor, b: torch.Tensor, a_dtype: DataType, b_dtype: DataType, k: KernelConfig
) -> torch.Tensor:
    """Elementwise a * b through the multiplier: a in srcA, b in srcB, the fidelity's phases summed."""
    a, b = _src(a, a_dtype), _src(b, b_dtype)
    # fidelity's phase split takes (srcB, srcA); its products are exact partial products.
    pairs = fidelity._phase_operands(
        b, a, _MANTISSA.get(b_dtype, 23), _MANTISSA.get(a_dtype, 23), k.math_fidelity
    )
    out = pairs[0][0] * pairs[0][1]
    for pb, pa in pairs[1:]:
        out = out + pb * pa
    return out


def mul(
    a: torch.Tensor, b: torch.Tensor, a_dtype: DataType, b_dtype: DataType, k: KernelConfig
) -> torch.Tensor:
    """mul_tiles (and its broadcasts) into Dst."""
    return to_dst(_product(a, b, a_dtype, b_dtype, k), k)


def reduce_row_sum(x: torch.Tensor, x_dtype: DataType, scaler: float, k: KernelConfig) -> torch.Tensor:
    """reduce_tile<SUM, REDUCE_ROW> over the last dim with a bfloat16 scaler tile: the tile-by-tile sum of
    x * scaler accumulated in Dst; returns [..., 1]."""
    narrow = x_dtype in (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
    if scaler == 1.0 and narrow and k.math_fidelity != MathFidelity.LoFi:
        prod = x  # srcA keeps every bit of a bfloat16 value beyond LoFi: the products are x itself
    else:
        prod = _product(x, torch.tensor(scaler, dtype=torch.float32), x_dtype, DataType.BFLOAT16, k)
    width = prod.shape[-1]
    if k.fp32_dest_acc_en or width <= TILE:
        return to_dst(prod.sum(dim=-1, keepdim=True), k)
    pad = (-width) % TILE
    if pad:
        prod = torch.nn.functional.pad(prod, (0, pad))
    partial = prod.reshape(*prod.shape[:-1], -1, TILE).sum(dim=-1)
    acc = torch.zeros(partial.shape[:-1], dtype=torch.float32)
    for t in range(partial.shape[-1]):
        acc = to_dst(acc + partial[..., t], k)
    return acc.unsqueeze(-1)


def bf16_scaler(value: float) -> float:
    """A scaler / constant tile the reader fills with bfloat16 values (host conversion, nearest-even)."""
    return float(formats.round_bfloat16(torch.tensor([value], dtype=torch.float32))[0])
