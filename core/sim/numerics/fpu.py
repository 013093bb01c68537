"""Bit-level model of the Tensix matrix engine (FPU) for matmul: exact numerics mode.

One MVMUL computes Dst[8x16] += SrcB[8x16] @ SrcA[16x16]; ttnn.matmul puts in0 (activations) in SrcB and in1
(weights) in SrcA. This module reproduces, vectorised over whole matrices, the arithmetic of every MVMUL the
matmul kernel issues (facts from ttsim's FPU model as ported to Python by wolfpine 2.2,
framework/pe/tensix/backends/matrix.py `MatrixUnit._fpu_group_sums_batch` / `_fpu_accumulate_batch`, and
tt-isa-documentation WormholeB0/TensixTile/TensixCoprocessor/MVMUL.md, SrcASrcB.md, Dst.md):

- Operands sit in the source registers with an 8-bit exponent and at most 10 mantissa bits (TF32): float32
  operands are truncated (the unpacker drops the low 13 bits), bf16 / bfp8_b / bfp4_b values are exact.
  An exponent field of 0 (zero, denormal) is a zero operand.
- Fidelity phase p multiplies a 5-bit slice of the SrcA significand (hidden + 4 bits when p&1 == 0, the next
  5 bits when p&1 == 1, the 11th significand bit is never used) by a 7-bit slice of SrcB's (hidden + 6 bits
  when p&2 == 0, the remaining 4 bits otherwise): each product is an exact integer of at most 12 bits.
- The 16 products of one output element are summed in two groups of 8 lanes (K indices 0-7 and 8-15 of the
  MVMUL): each product is aligned to the largest exponent of its group with round-half-up of its magnitude
  (alignment shift capped at 30), then the group is summed as integers.
- The two group sums and the old Dst value are aligned to the largest of their three exponents (rounding
  half up in magnitude; negative terms round their magnitude half down, as sign-magnitude hardware does).
  With a 16-bit Dst (no fp32_dest_acc_en) every term is first rounded to 11 significand bits, and the sum is
  normalised and rounded half up to bfloat16; with a 32-bit Dst to float32. Underflow and exact
  cancellation give +0, overflow saturates to exponent 255 with a zero mantissa (Dst holds no infinities).
- Wormhole's renormaliser miscounts a result of magnitude exactly 1 unit with a negative sign (it counts
  leading sign bits), producing a power-of-two error; Blackhole fixed it (ttsim's `negOneRenormBug`).

Instruction order (tt-llk tt_llk_wormhole_b0/llk_lib/llk_math_matmul.h, matmul_configure_mop): one
matmul_tiles call replays the 16 MVMULs of a 32x32x32 tile product (K faces 0-15 then 16-31 for each Dst
row block) once per fidelity phase (ADDR_MOD_5 increments the phase after the replay), and the compute
kernel calls it once per K tile, accumulating in Dst. So the sequence for one output element is
`for kt: for phase: for k_face in (0, 1): MVMUL`. K is zero-padded to whole tiles (zero lanes add nothing).

Where ttsim/wolfpine and documented silicon behaviour disagree, this module follows ttsim (the oracle of
the CI sweep, parity/fpu_oracle.py) and the difference is listed in docs/NUMERICS.md.
"""

from __future__ import annotations

import torch

from ..types import DataType, MathFidelity

PHASES = {
    MathFidelity.LoFi: (0,),
    MathFidelity.HiFi2: (0, 1),
    MathFidelity.HiFi3: (0, 1, 2),
    MathFidelity.HiFi4: (0, 1, 2, 3),
}
K_TILE = 32
MVMUL_DEPTH = 16
GROUP = 8
# Elements of the (batch, M, K-slice, N) product tensor computed at once: bounds exact mode's memory.
_SLICE_ELEMENTS = 1 << 23


def exponent_adjust(phase: int) -> int:
    """Exponent bias of a phase's product: -127 for the hi x hi slices, less the low slices' scale."""
    return -127 - (5 if phase & 1 else 0) - (7 if phase & 2 else 0)


def source_bits(x: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """float32 values as the int32 bit patterns the unpacker leaves in SrcA/SrcB (float32 truncated to TF32)."""
    bits = x.to(torch.float32).contiguous().view(torch.int32)
    return bits & -(1 << 13) if dtype == DataType.FLOAT32 else bits


class _Operand:
    """Sign, exponent, non-zero flag and 11-bit significand (hidden bit + 10 TF32 bits) of source values."""

    def __init__(self, bits: torch.Tensor) -> None:
        self.sign = (bits >> 31) & 1
        self.exp = (bits >> 23) & 0xFF
        self.live = self.exp != 0
        self.man = ((bits >> 13) & 0x3FF) | 0x400

    def src_a_slice(self, phase: int) -> torch.Tensor:
        return (self.man >> 1) & 0x1F if phase & 1 else self.man >> 6

    def src_b_slice(self, phase: int) -> torch.Tensor:
        return (self.man & 0xF) << 3 if phase & 2 else self.man >> 4


def group_sums(
    left: _Operand, right: _Operand, k0: int, k1: int, phase: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group sums of the MVMULs covering K indices [k0, k1) (a multiple of 16) in one fidelity phase.

    `left` is in0 ([B, M, K], SrcB), `right` is in1 ([B or 1, K, N], SrcA). Returns (sign, exponent,
    magnitude) int32 tensors of shape [B, M, (k1 - k0) / 8, N]: group g holds K lanes 8g..8g+7 of the slice,
    so groups 2c and 2c+1 are the two halves of the c-th MVMUL; magnitudes carry the hidden bit at 2^23."""
    b_man = left.src_b_slice(phase)[..., k0:k1].unsqueeze(-1)
    a_man = right.src_a_slice(phase)[..., k0:k1, :].unsqueeze(-3)
    live = left.live[..., k0:k1].unsqueeze(-1) & right.live[..., k0:k1, :].unsqueeze(-3)
    exps = left.exp[..., k0:k1].unsqueeze(-1) + right.exp[..., k0:k1, :].unsqueeze(-3)
    exps.add_(exponent_adjust(phase)).masked_fill_(~live, 0)
    man = (b_man * a_man).masked_fill_(~live, 0)
    negative = (left.sign[..., k0:k1].unsqueeze(-1) ^ right.sign[..., k0:k1, :].unsqueeze(-3)).bool()

    shape = man.shape
    grouped = (*shape[:-2], shape[-2] // GROUP, GROUP, shape[-1])
    man, exps, negative = man.view(grouped), exps.view(grouped), negative.view(grouped)
    top = exps.amax(dim=-2, keepdim=True)
    shift = (top - exps).clamp_(max=30)
    # Round half up of man / 2^shift: ((2 man + 2^shift) >> (shift + 1)); shift 0 leaves man unchanged.
    aligned = ((man << 1) + (1 << shift)) >> (shift + 1)
    total = torch.where(negative, -aligned, aligned).sum(dim=-2, dtype=torch.int32)
    top = top.squeeze(-2)
    live_group = top > 0
    sign = (live_group & (total < 0)).to(torch.int32)
    exp = top.masked_fill_(~live_group, 0)
    mag = (total.abs_() << 13).masked_fill_(~live_group, 0)
    return sign, exp, mag


def _round_half(shift: torch.Tensor) -> torch.Tensor:
    """2^(shift-1) for shift > 0, else 0: the half-unit a rounding right shift adds."""
    return torch.where(shift > 0, 1 << (shift - 1).clamp(min=0), 0)


def accumulate(
    dst: torch.Tensor,
    sign: torch.Tensor,
    exp: torch.Tensor,
    mag: torch.Tensor,
    *,
    dst32: bool,
    neg_one_bug: bool,
) -> torch.Tensor:
    """One MVMUL's write: Dst (int64 float32 bit patterns) plus the two group sums (int64, leading axis 2)."""
    dst_sign = (dst >> 31) & 1
    dst_exp = (dst >> 23) & 0xFF
    dst_man = torch.where(dst_exp != 0, (dst & 0x7FFFFF) | 0x800000, 0)
    top = torch.maximum(torch.maximum(exp[0], exp[1]), dst_exp)

    shift = (top - exp).clamp_(max=31)
    terms = (mag + _round_half(shift) - torch.where(shift > 0, sign, 0)) >> shift
    if not dst32:
        terms = (terms + (1 << 12) - sign) & ~0x1FFF
    shift_dst = (top - dst_exp).clamp_(max=31)
    dst_man = (dst_man + _round_half(shift_dst)) >> shift_dst
    if not dst32:
        dst_man = (dst_man + (1 << 12)) & ~0x1FFF

    signed = torch.where(sign == dst_sign, terms, -terms)
    acc = dst_man + signed[0] + signed[1]
    out_sign = torch.where(acc < 0, dst_sign ^ 1, dst_sign)
    man = acc.abs()
    bit_length = torch.frexp(man.to(torch.float64))[1].to(torch.int64)
    norm = 24 - bit_length
    if neg_one_bug:
        norm = torch.where((out_sign != 0) & (man == 1), norm - 27, norm)
    out_exp = top - norm
    if not dst32:
        norm = norm - 16
    right = (-norm).clamp(min=0, max=30)
    man = ((man << norm.clamp(min=0)) + _round_half(right)) >> right
    if not dst32:
        man = man << 16
    out_exp = out_exp + ((man >> 24) & 1)
    man = torch.where(out_exp >= 255, 0, man & 0x7FFFFF)
    result = (out_sign << 31) | (out_exp.clamp(max=255) << 23) | man
    return torch.where((top <= 0) | (acc == 0) | (out_exp <= 0), 0, result)


def _batched(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """[B, M, K] and [B or 1, K, N] views of a @ b under torch broadcasting, and the output shape."""
    batch = list(torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    a3 = a.expand(*batch, m, k).reshape(-1, m, k)
    if b[..., 0, 0].numel() == 1:
        b3 = b.reshape(1, k, n)
    else:
        b3 = b.expand(*batch, k, n).reshape(-1, k, n)
    return a3, b3, batch + [m, n]


def matmul_dst(
    a: torch.Tensor,
    b: torch.Tensor,
    a_dtype: DataType,
    b_dtype: DataType,
    fidelity: MathFidelity,
    fp32_dest_acc_en: bool,
    *,
    arch: str = "wormhole_b0",
    dst: torch.Tensor | None = None,
) -> torch.Tensor:
    """a @ b as the matrix engine leaves it in Dst (float32 values, before the packer), MVMUL by MVMUL.

    `dst`: initial Dst contents (float32 values, output shape), e.g. reloaded partials; zero by default."""
    a3, b3, out_shape = _batched(a, b)
    k = a3.shape[-1]
    pad = (-k) % K_TILE
    left_bits = source_bits(a3, a_dtype)
    right_bits = source_bits(b3, b_dtype)
    if pad:
        left_bits = torch.nn.functional.pad(left_bits, (0, pad))
        right_bits = torch.nn.functional.pad(right_bits, (0, 0, 0, pad))
    left, right = _Operand(left_bits), _Operand(right_bits)
    batch, m, n = a3.shape[0], a3.shape[1], b3.shape[-1]
    phases = PHASES[fidelity]
    neg_one_bug = arch != "blackhole"

    if dst is None:
        acc = torch.zeros(batch, m, n, dtype=torch.int64)
    else:
        init = dst.to(torch.float32).expand(out_shape).reshape(batch, m, n).contiguous()
        acc = init.view(torch.int32).to(torch.int64) & 0xFFFFFFFF  # bit patterns as non-negative int64
    k_tiles = (k + pad) // K_TILE
    per_tile = batch * m * n * K_TILE
    slice_tiles = max(1, _SLICE_ELEMENTS // max(per_tile, 1))
    for t0 in range(0, k_tiles, slice_tiles):
        t1 = min(t0 + slice_tiles, k_tiles)
        sums = {p: group_sums(left, right, t0 * K_TILE, t1 * K_TILE, p) for p in phases}
        for t in range(t1 - t0):
            for p in phases:
                sign, exp, mag = sums[p]
                for face in range(K_TILE // MVMUL_DEPTH):
                    g = (t * K_TILE + face * MVMUL_DEPTH) // GROUP
                    acc = accumulate(
                        acc,
                        sign[..., g : g + 2, :].movedim(-2, 0).to(torch.int64),
                        exp[..., g : g + 2, :].movedim(-2, 0).to(torch.int64),
                        mag[..., g : g + 2, :].movedim(-2, 0).to(torch.int64),
                        dst32=fp32_dest_acc_en,
                        neg_one_bug=neg_one_bug,
                    )
    return acc.to(torch.int32).view(torch.float32).reshape(out_shape)
