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
- Dst accumulation is where the default mode is a statistical stand-in for the exact mode
  (core/sim/numerics/fpu.py, which models every MVMUL bit for bit; TTPORT_NUMERICS=exact). The device
  aligns the 8 products of each half-MVMUL to the largest one (12-bit grid) and, with a 16-bit Dst, rounds
  the running sum half up into bfloat16 on every MVMUL and fidelity phase. The default mode:
  - bfloat16 Dst: writes Dst in the kernel's order, once per 16-deep K face for phase 0 and once for phases
    1-3 together (their terms are 2^-5 and less of phase 0's), each term a float32 BLAS product rounded to
    the 11-bit grid of the larger of Dst and term, the sum rounded half up to bfloat16 (no group alignment);
  - fp32_dest_acc_en: one float32 matmul plus deterministic noise (a hash of the values, identical on one
    chip or a mesh) of the measured variance of the alignment error (per unit of sum_k a^2 b^2).
  Sums that need no rounding (few products, small integers) stay exact. benchmarks/bench_matmul_numerics.py
  prints both modes' 1 - PCC and relative RMS error against float64 on the ports' shapes.
  A weight's all-zero columns (at least 1/8 of them: SigLIP's heads zero-padded 72 -> 96) are left out of the
  BLAS product and written as +0, which is what every stage above gives them for finite activations
  (_kept_columns; the kept columns' BLAS outputs do not depend on the columns beside them). Zero K rows are
  not skipped: a shorter K changes how MKL groups the sum.

K blocks (`KBlocking`, ttnn/cpp/ttnn/operations/matmul/device/kernels/compute/
bmm_large_block_zm_fused_bias_activation.cpp): the kernel walks K in blocks of in0_block_w tiles. Without
packer L1 accumulation the partial sums leave Dst after every block but the last for an L1 buffer in the
intermediate format and are reloaded into Dst for the next block; with it (packer_l1_acc and more than one
block, the program factories' `packer_l1_acc_en`) every block but the last starts from an empty Dst and the
packer adds its result into the L1 buffer, whose sum is reloaded into Dst for the last block (with a fused
bias the last block is added in L1 too, no reload). The intermediate format (program factories'
`interm0_data_format`) is float32 with fp32_dest_acc_en, else bfloat16 with L1 accumulation and the output
dtype without. Modelled in exact mode and for a bfloat16 Dst in default mode; with a float32 Dst the default
mode ignores the blocks (float32 partials reload exactly, and the L1 adder's float32 rounding is 2^-24 next to
the alignment error it models). Not modelled: the fused bias added by an FPU ELWADD after packing (added in
float32 before the output rounding). Output rounding to the output dtype is the packer's, done by device_op.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from ..types import DataType, MathFidelity, WormholeComputeKernelConfig
from . import derived, formats, fpu, mode

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


def _keep(x: torch.Tensor, have: int, bits: int) -> torch.Tensor:
    return x if bits >= have else truncate_mantissa(x, bits)


def _dst32_left_parts(left: torch.Tensor, left_bits: int, fidelity: MathFidelity) -> tuple[torch.Tensor, ...]:
    """The srcB parts the fp32-Dst phase products read, in _phase_operands' order."""
    if fidelity == MathFidelity.HiFi4:
        return (left,)
    b_hi = _keep(left, left_bits, _SRCB_HI)
    return (b_hi, left - b_hi) if fidelity == MathFidelity.HiFi3 else (b_hi,)


def _dst32_right_parts(
    right: torch.Tensor, right_bits: int, fidelity: MathFidelity
) -> tuple[torch.Tensor, ...]:
    """The srcA parts the fp32-Dst phase products read, in _phase_operands' order."""
    if fidelity == MathFidelity.LoFi:
        return (_keep(right, right_bits, _SRCA_HI),)
    a_full = _keep(right, right_bits, _SRCA_HI + _SRCA_LO)
    if fidelity == MathFidelity.HiFi3:
        return (a_full, _keep(right, right_bits, _SRCA_HI))
    return (a_full,)


def _phase_operands(
    left: torch.Tensor,
    right: torch.Tensor,
    left_bits: int,
    right_bits: int,
    fidelity: MathFidelity,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(left part, right part) pairs whose products sum to the phases the fidelity runs; left is srcB,
    right is srcA (module docstring). `*_bits`: mantissa bits the operands can carry."""
    return list(
        zip(
            _dst32_left_parts(left, left_bits, fidelity),
            _dst32_right_parts(right, right_bits, fidelity),
            strict=True,
        )
    )


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


@dataclass(frozen=True)
class KBlocking:
    """How the matmul kernel walks K (module docstring): `block_tiles` K tiles per block (in0_block_w),
    packer L1 accumulation on or off, the format of the L1 partials, and whether a fused bias keeps the
    last block in L1 too."""

    block_tiles: int
    l1_acc: bool
    partials: DataType
    fused_bias: bool = False


def k_blocking(
    k_tiles: int,
    in0_block_w: int,
    *,
    packer_l1_acc: bool,
    fp32_dest_acc_en: bool,
    output_dtype: DataType,
    fused_bias: bool = False,
) -> KBlocking | None:
    """The K blocking of a matmul program (matmul program factories: num_blocks = Kt / in0_block_w,
    packer_l1_acc_en = packer_l1_acc && num_blocks > 1, interm0_data_format), or None for a single block."""
    if in0_block_w <= 0 or k_tiles // in0_block_w <= 1:
        return None
    if fp32_dest_acc_en:
        partials = DataType.FLOAT32
    else:
        partials = DataType.BFLOAT16 if packer_l1_acc else output_dtype
    return KBlocking(in0_block_w, packer_l1_acc, partials, fused_bias)


def blocks_can_matter(numerics: MatmulNumerics, output_dtype: DataType, packer_l1_acc: bool) -> bool:
    """Whether the K blocks can change a matmul's values in the current mode: packer L1 accumulation, or a
    16-bit Dst spilling into block-float partials; never in default mode with a 32-bit Dst (module
    docstring). Lets the op skip resolving its blocking."""
    if numerics.fp32_dest_acc_en:
        return packer_l1_acc and mode.is_exact()
    return packer_l1_acc or output_dtype in _LOW_PRECISION


def _blocks_matter(blocking: KBlocking | None, fp32_dest_acc_en: bool) -> bool:
    """False when the blocks give the result of one long Dst accumulation: no L1 accumulation, and partials
    that hold Dst's values exactly, whether or not a fused bias leaves the sum in them."""
    if blocking is None or blocking.l1_acc:
        return blocking is not None
    lossless = (DataType.FLOAT32,) if fp32_dest_acc_en else (DataType.FLOAT32, DataType.BFLOAT16)
    return blocking.partials not in lossless


def _run_blocks(
    k: int,
    blocking: KBlocking,
    dst_matmul: Callable[[int, int, torch.Tensor | None], torch.Tensor],
) -> torch.Tensor:
    """The kernel's K-block loop (bmm_large_block_zm_fused_bias_activation.cpp) over K indices [0, k) around
    `dst_matmul(lo, hi, dst)`, which accumulates K indices [lo, hi) into Dst (starting from `dst`, None =
    empty). The L1 adder sums in the
    partials' format: float32 (IEEE, nearest-even) or bfloat16, rounded as the packer rounds (the sources
    read do not describe the adder's rounding; for bfloat16 a tie needs a sum with exactly 9 significant bits,
    rare)."""

    def pack(x: torch.Tensor) -> torch.Tensor:
        return formats.quantize(x, blocking.partials, formats.PACKER)

    step = blocking.block_tiles * K_TILE
    starts = range(0, k, step)
    partial = dst = None
    for i, k0 in enumerate(starts):
        last = i == len(starts) - 1
        k1 = min(k0 + step, k)
        if blocking.l1_acc:
            if last and not blocking.fused_bias:
                return dst_matmul(k0, k1, partial)  # partials reloaded into Dst, then packed out
            block = pack(dst_matmul(k0, k1, None))
            partial = block if partial is None else pack(partial + block)
        else:
            dst = dst_matmul(k0, k1, dst)
            if not last or blocking.fused_bias:
                dst = pack(dst)  # spilled to the partials buffer (and reloaded for the next block)
    return partial if blocking.l1_acc else dst


def matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    a_dtype: DataType,
    b_dtype: DataType,
    numerics: MatmulNumerics,
    *,
    arch: str = "wormhole_b0",
    blocking: KBlocking | None = None,
    b_stored: tuple[torch.Tensor, bool] | None = None,
) -> torch.Tensor:
    """a @ b (rank >= 2, torch batch broadcasting) as the matrix engine computes it, before output packing.
    In exact numerics mode every MVMUL is modelled bit for bit (core/sim/numerics/fpu.py). `blocking`: the
    kernel's K blocks (k_blocking), None for one block. `b_stored`: (the device buffer values `b` was read
    from, whether b is their transpose), when the caller has them: what only depends on b is then computed once per buffer
    (weights are read by every call). Where widens_by_column_blocks(b, numerics), b may also be bfloat16
    storage: it is widened here, one block of columns at a time."""
    fid, dst32 = numerics.math_fidelity, numerics.fp32_dest_acc_en
    if widens_by_column_blocks(b, numerics):
        a2, b2, out_shape = _as_batched(to_source_register(a, a_dtype), b)
        return _dst32_by_column_blocks(a2, b2, a_dtype, b_dtype, fid, b_stored).reshape(out_shape)
    if mode.is_exact():
        if not _blocks_matter(blocking, dst32):
            return fpu.matmul_dst(a, b, a_dtype, b_dtype, fid, dst32, arch=arch)
        a2, b2, out_shape = _as_batched(a, b)

        def exact(lo: int, hi: int, dst: torch.Tensor | None) -> torch.Tensor:
            return fpu.matmul_dst(
                a2[..., lo:hi], b2[..., lo:hi, :], a_dtype, b_dtype, fid, dst32, arch=arch, dst=dst
            )

        return _run_blocks(a2.shape[-1], blocking, exact).reshape(out_shape)
    a2, b2, out_shape = _as_batched(to_source_register(a, a_dtype), to_source_register(b, b_dtype))
    # (a 16-bit Dst's block-float partials share exponents along rows: a column's values depend on its
    # neighbours; a 32-bit Dst's default product ignores the blocks)
    columnwise = dst32 or not _blocks_matter(blocking, dst32) or blocking.partials not in _LOW_PRECISION
    kept = _kept_columns(b2, b_dtype, b_stored) if b2.dim() == 2 and columnwise else None
    if kept is not None and _all_finite(a2):
        # The weight's zero columns are left out of the product: with finite activations each of their
        # outputs is +0 (products and their sum, the Dst writes, the noise: dither and column factor 0), as
        # the kept columns' BLAS outputs are the full product's (tests/sim/test_zero_columns.py).
        row_scale = _row_scale(a2) if dst32 else None
        if row_scale is None or _all_finite(row_scale):  # (an inf factor times a 0 dither is NaN)

            def kept_scales() -> tuple[torch.Tensor, torch.Tensor]:
                return row_scale, _column_scale(b2, b_stored).index_select(-1, kept.columns)

            part = _default_matmul(a2, kept.gather(b2), a_dtype, b_dtype, numerics, blocking, kept_scales)
            return kept.scatter(part).reshape(out_shape)

    def scales() -> tuple[torch.Tensor, torch.Tensor]:
        return _row_scale(a2), _column_scale(b2, b_stored)

    return _default_matmul(a2, b2, a_dtype, b_dtype, numerics, blocking, scales).reshape(out_shape)


def _default_matmul(
    a2: torch.Tensor,
    b2: torch.Tensor,
    a_dtype: DataType,
    b_dtype: DataType,
    numerics: MatmulNumerics,
    blocking: KBlocking | None,
    noise_scales: Callable[[], tuple[torch.Tensor, torch.Tensor]],
) -> torch.Tensor:
    """Default mode's product of source-register operands as _as_batched gives them; `noise_scales()`: the
    row and column factors of the fp32-Dst alignment noise (_add_alignment_error)."""
    fid, dst32 = numerics.math_fidelity, numerics.fp32_dest_acc_en
    left_bits = _SOURCE_MANTISSA.get(a_dtype, 23)
    right_bits = _SOURCE_MANTISSA.get(b_dtype, 23)
    if dst32:
        pairs = _phase_operands(a2, b2, left_bits, right_bits, fid)
        out = torch.matmul(*pairs[0])
        for pa, pb in pairs[1:]:
            out += torch.matmul(pa, pb)
        return _add_noise_(out, *noise_scales())
    phases = _phase_parts(a2, b2, left_bits, right_bits, fid)

    def bf16_dst(lo: int, hi: int, dst: torch.Tensor | None) -> torch.Tensor:
        return _bf16_dst_matmul([(pa[..., lo:hi], pb[..., lo:hi, :]) for pa, pb in phases], dst)

    if _blocks_matter(blocking, dst32):
        return _run_blocks(a2.shape[-1], blocking, bf16_dst)
    return bf16_dst(0, a2.shape[-1], None)


def _all_finite(x: torch.Tensor) -> bool:
    """Whether every value of x is finite, in one reduction: a sum is finite only if every term is (a finite
    sum that overflows answers False, which costs only the fast path)."""
    return bool(torch.isfinite(x.sum()))


# A weight whose columns are at least this share zeros (SigLIP's heads padded from 72 to 96: a quarter)
# multiplies only its other columns (_kept_columns); below it the copy into the output costs about what the
# skipped columns save.
_ZERO_COLUMNS_MIN_SHARE = 1 / 8


@dataclass(frozen=True)
class _KeptColumns:
    """Where a weight b [K, N] has non-zero columns: their indices, N, and `period` (p, r) when they are the
    first r of every p columns (zero-padded heads: gather and scatter are then strided copies). Only the
    indices are kept: gathering the columns per call costs about a millisecond on a SigLIP so400m q/k/v
    weight, where a cached copy would hold memory per weight."""

    columns: torch.Tensor
    width: int
    period: tuple[int, int] | None

    def gather(self, b: torch.Tensor) -> torch.Tensor:
        """b's kept columns, contiguous."""
        if self.period is None or not b.is_contiguous():
            return b.index_select(-1, self.columns)
        p, r = self.period
        return b.view(b.shape[0], self.width // p, p)[..., :r].reshape(b.shape[0], -1)

    def scatter(self, part: torch.Tensor) -> torch.Tensor:
        """The product [..., N] from the kept columns' product `part` [..., N']: zeros elsewhere."""
        rows = part.shape[:-1]
        out = part.new_empty(*rows, self.width)
        if self.period is None:
            return out.zero_().index_copy_(-1, self.columns, part)
        p, r = self.period
        blocks = out.view(*rows, self.width // p, p)
        blocks[..., :r].copy_(part.reshape(*rows, self.width // p, r))
        blocks[..., r:].zero_()
        return out


def _period(nonzero: torch.Tensor) -> tuple[int, int] | None:
    """(p, r) when `nonzero` [N] is r Trues then p - r Falses, repeated (r > 0, p - r > 0), else None."""
    n = nonzero.numel()
    r = int((~nonzero).int().argmax())
    after = nonzero[r:].int()
    p = r + (int(after.argmax()) if bool(after.any()) else n - r)
    if r == 0 or n % p:
        return None
    pattern = torch.arange(p) < r
    return (p, r) if torch.equal(nonzero.view(n // p, p), pattern.expand(n // p, p)) else None


# The kept columns per device buffer read as b (None: too few zero columns).
_KEPT_COLUMNS = derived.DerivedCache()


def _kept_columns(
    b: torch.Tensor, b_dtype: DataType, b_stored: tuple[torch.Tensor, bool] | None
) -> _KeptColumns | None:
    """b's non-zero columns when at least _ZERO_COLUMNS_MIN_SHARE of its columns are 0, found once per stored
    buffer (`b_stored`; None: never looked for); b [K, N] is the source-register form of the buffer's values
    (a NaN column is kept)."""
    if b_stored is None or b_stored[0].is_meta:
        return None

    def find() -> _KeptColumns | None:
        nonzero = (b != 0).any(dim=0)
        columns = nonzero.nonzero().squeeze(1)
        n = b.shape[1]
        if n - columns.numel() < n * _ZERO_COLUMNS_MIN_SHARE:
            return None
        return _KeptColumns(columns, n, _period(nonzero))

    return _per_buffer(_KEPT_COLUMNS, b_stored, (tuple(b.shape), b.dtype, b_dtype), find)


# A weight whose float32 form would be at least this large is widened (and cut to the multiplier's bits) one
# block of columns at a time, each block while it sits in the CPU's cache, rather than as a whole: a fresh
# float32 copy of a Mamba-2.8B LM head (2560 x 50280, 515 MB) costs more than the matmul itself. The columns
# come out bit-identical to the one-call product (tests/sim/test_numerics_speed.py checks it for this build's
# BLAS): each is the same dot products of the same operands.
_COLUMN_BLOCKS_MIN_BYTES = 128 * 2**20
_COLUMN_BLOCK_BYTES = 5 * 2**19  # 2.5 MiB of float32 weight per block: about a core's L2


def widens_by_column_blocks(b: torch.Tensor, numerics: MatmulNumerics) -> bool:
    """Whether matmul() widens `b` one block of columns at a time (then the caller may pass b's bfloat16
    storage as is): in default mode with a float32 Dst, for an unbatched b (a weight) whose float32 form
    reaches _COLUMN_BLOCKS_MIN_BYTES."""
    return (
        numerics.fp32_dest_acc_en
        and not mode.is_exact()
        and b[..., 0, 0].numel() == 1
        and b.numel() * 4 >= _COLUMN_BLOCKS_MIN_BYTES
    )


def _dst32_by_column_blocks(
    a: torch.Tensor,
    b: torch.Tensor,
    a_dtype: DataType,
    b_dtype: DataType,
    fidelity: MathFidelity,
    b_stored: tuple[torch.Tensor, bool] | None,
) -> torch.Tensor:
    """The float32-Dst product of matmul() of a [M, K] (source register values) and b [K, N] (stored form,
    not widened), one block of b's columns at a time."""
    k, n = b.shape
    left_bits, right_bits = _SOURCE_MANTISSA.get(a_dtype, 23), _SOURCE_MANTISSA.get(b_dtype, 23)
    columns = max(K_TILE, _COLUMN_BLOCK_BYTES // (4 * k) // K_TILE * K_TILE)
    # the last block takes the remainder (a product only a few columns wide may run another BLAS kernel)
    edges = [i * columns for i in range(max(1, n // columns))] + [n]
    out = torch.empty(a.shape[0], n, dtype=torch.float32)
    for j0, j1 in itertools.pairwise(edges):
        block = to_source_register(b[:, j0:j1], b_dtype)
        pairs = _phase_operands(a, block, left_bits, right_bits, fidelity)
        part = out[:, j0:j1]
        torch.matmul(*pairs[0], out=part)
        for pa, pb in pairs[1:]:
            part += torch.matmul(pa, pb)
    scale = _column_scale_of((k, n), torch.float32, b_stored, lambda: to_source_register(b, b_dtype))
    return _add_alignment_error(out, a, None, column_scale=scale)


def _bf16_dst_matmul(
    phases: list[tuple[torch.Tensor, torch.Tensor]], dst: torch.Tensor | None
) -> torch.Tensor:
    """Default mode, bfloat16 Dst: every MVMUL write in the kernel's order (per K tile, per fidelity phase, per
    16-deep K face), each phase's 16-deep partial product in float32 (the group alignment, negligible next to
    the bfloat16 rounding, is left out), added to Dst (starting from `dst`) as the device adds it."""
    left, right = phases[0]
    k = left.shape[-1]
    if dst is None:
        acc = torch.zeros(*left.shape[:-1], right.shape[-1], dtype=torch.float32)
    else:
        acc = dst.clone()
    # Phases 2 and 3 (terms 2^-7 and 2^-12 of phase 0's) are written together with phase 1: at most two Dst
    # writes per face, which keeps the error statistics (bench_matmul_numerics.py) at half HiFi4's cost.
    writes = [phases[:1], phases[1:]] if len(phases) > 1 else [phases]
    for k0 in range(0, k, K_TILE):
        for parts in writes:
            for f0 in range(k0, min(k0 + K_TILE, k), fpu.MVMUL_DEPTH):
                f1 = min(f0 + fpu.MVMUL_DEPTH, k)
                term = torch.matmul(parts[0][0][..., f0:f1], parts[0][1][..., f0:f1, :])
                for pa, pb in parts[1:]:
                    term += torch.matmul(pa[..., f0:f1], pb[..., f0:f1, :])
                acc = _bf16_dst_add(acc, term)
    return acc


def _bf16_left_parts(left: torch.Tensor, left_bits: int, fidelity: MathFidelity) -> tuple[torch.Tensor, ...]:
    """The srcB part of each 16-bit-Dst fidelity phase in order (_phase_parts)."""
    n = len(fpu.PHASES[fidelity])
    b_hi = _keep(left, left_bits, _SRCB_HI)
    if n <= 2:
        return (b_hi,) * n
    b_lo = left - b_hi
    return (b_hi, b_hi, b_lo, b_lo)[:n]


def _bf16_right_parts(
    right: torch.Tensor, right_bits: int, fidelity: MathFidelity
) -> tuple[torch.Tensor, ...]:
    """The srcA part of each 16-bit-Dst fidelity phase in order (_phase_parts)."""
    a_hi = _keep(right, right_bits, _SRCA_HI)
    if fidelity == MathFidelity.LoFi:
        return (a_hi,)
    a_lo = _keep(right, right_bits, _SRCA_HI + _SRCA_LO) - a_hi
    return (a_hi, a_lo, a_hi, a_lo)[: len(fpu.PHASES[fidelity])]


def _phase_parts(
    left: torch.Tensor, right: torch.Tensor, left_bits: int, right_bits: int, fidelity: MathFidelity
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(srcB part, srcA part) of each fidelity phase in order: 0 B_hi*A_hi, 1 B_hi*A_lo, 2 B_lo*A_hi,
    3 B_lo*A_lo (left = in0 = srcB, right = in1 = srcA; module docstring)."""
    return list(
        zip(
            _bf16_left_parts(left, left_bits, fidelity),
            _bf16_right_parts(right, right_bits, fidelity),
            strict=True,
        )
    )


def _bf16_dst_add(dst: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
    """One MVMUL write into a 16-bit Dst (wolfpine MatrixUnit._fpu_accumulate, float form): the term is
    rounded to the 11-bit grid of the larger exponent of Dst and term (ties toward +inf, as sign-magnitude
    hardware rounds), added to Dst, and the sum rounded half up in magnitude to bfloat16. Left out: Dst's own
    re-alignment when the term is 16x larger than Dst (only at the start of a sum)."""
    top = torch.maximum(dst.abs(), term.abs())
    grid = (top.view(torch.int32) & 0x7F800000).sub_(10 << 23).clamp_(min=1 << 23).view(torch.float32)
    total = term.div_(grid).add_(0.5).floor_().mul_(grid).add_(dst)
    # float32 -> bfloat16, half up in magnitude (the packer's rounding): add half a bfloat16 unit to the
    # magnitude bits and clear the low 16.
    return (total.view(torch.int32).add_(0x8000).bitwise_and_(-65536)).view(torch.float32)


# Variance of the products' alignment error (each of the 8 products of an MVMUL group is rounded to the
# 12-bit grid of the group's largest, fidelity phase 0) per unit of sum_k a_k^2 b_k^2 * 2^-22: 0.40 measured
# on Gaussian operands, 0.58 with a per-channel scale spread of e^N(0,1).
_ALIGNMENT_VARIANCE = 0.40 * 2.0**-22


# Column factors of the alignment noise per device buffer read as b.
_COLUMN_SCALES = derived.DerivedCache()


def _column_scale(b: torch.Tensor, b_stored: tuple[torch.Tensor, bool] | None) -> torch.Tensor:
    """sqrt(sum_k b_k^2 / K) per column of b, cached per stored buffer (`b_stored`: the buffer and whether
    b is its transpose; None: not cached)."""
    return _column_scale_of(tuple(b.shape), b.dtype, b_stored, lambda: b)


def _column_scale_of(
    shape: tuple[int, ...],
    dtype: torch.dtype,
    b_stored: tuple[torch.Tensor, bool] | None,
    values: Callable[[], torch.Tensor],
) -> torch.Tensor:
    """_column_scale of the operand b of `shape` and `dtype` that `values()` gives, called only when the
    scale is not cached."""
    k = shape[-2]

    def scale() -> torch.Tensor:
        return torch.linalg.vector_norm(values(), dim=-2, keepdim=True).div_(k**0.5)

    if b_stored is None or b_stored[0].is_meta:
        return scale()
    return _per_buffer(_COLUMN_SCALES, b_stored, (shape, dtype), scale)


def _per_buffer(
    cache: derived.DerivedCache,
    b_stored: tuple[torch.Tensor, bool],
    made_of: tuple,
    make: Callable[[], Any],
) -> Any:
    """`make()`, cached in `cache` per device buffer (numerics/derived.py; `b_stored`: the buffer and whether b
    is its transpose; `made_of`: what else the value depends on)."""
    stored, transposed = b_stored
    return cache.get(stored, (*made_of, tuple(stored.shape), stored.dtype, stored.stride(), transposed), make)


def _nonzeros_per_row(a: torch.Tensor) -> torch.Tensor:
    """The number of non-zero entries (NaN included) of each row of `a`, as float32 [..., 1] (_sparse_row_counts,
    every row full where it answers None)."""
    counts = _sparse_row_counts(a)
    return torch.full((*a.shape[:-1], 1), float(a.shape[-1])) if counts is None else counts


def _sparse_row_counts(a: torch.Tensor) -> torch.Tensor | None:
    """_nonzeros_per_row, or None when no row of `a` has a zero. A minimum above 0 or a maximum below it tells a
    dense `a` in one fast pass (softmax probabilities; tried only on the side of the first value's sign:
    mixed-sign activations would pay the pass for nothing). A zero (or NaN) in the first or last row (a causal
    or padding mask in SDPA's P, zero-padded rows of Q) means zeros in many rows: every row is counted at once.
    Otherwise only rows whose smallest magnitude is not above 0 (a zero, or a NaN hiding one) are counted, if
    they are few (activations with a handful of exact zeros: a row-wise minimum costs a fraction of a count)."""
    if a.numel() == 0:
        return None
    first = float(a[(0,) * a.dim()])
    if (first > 0 and bool(a.amin() > 0)) or (first < 0 and bool(a.amax() < 0)):
        return None
    if a.dim() < 2 or any(not bool(a[(i,) * (a.dim() - 1)].abs().amin() > 0) for i in (0, -1)):
        return _count_nonzeros(a)
    suspect = ~(a.abs().amin(dim=-1) > 0)
    n = int(suspect.sum())
    if n * 8 > suspect.numel():  # zeros in many rows (zero-padded heads): count every row
        return _count_nonzeros(a)
    if not n:
        return None
    full = torch.full((*a.shape[:-1], 1), float(a.shape[-1]))
    full[suspect] = _count_nonzeros(a[suspect])
    return full


def _count_nonzeros(a: torch.Tensor) -> torch.Tensor:
    """The non-zero entries (NaN included, -0.0 not) of each row of `a`, as float32 [..., 1]: an int32 sum of
    a.bool() (four times faster than summing a.ne(0), and exact; counts below 2^24 are exact in float32)."""
    return a.bool().sum(-1, keepdim=True, dtype=torch.int32).to(torch.float32)


def _product_share(products: torch.Tensor, k: int) -> torch.Tensor:
    """The share of a row's products that lose bits to the group alignment (_row_scale), from its non-zero
    count `products` (float32)."""
    # Only the products below their group's largest lose bits: with P non-zero products (estimated from
    # a's non-zero count, b taken as dense) over ceil(K / 8) groups, a share 1 - groups / P of them (7/8
    # when dense, which the calibration includes). Fewer than one MVMUL's worth: modelled as exact.
    groups = float(-(-k // 8))
    share = (products - products.clamp(max=groups)).div_(products.clamp(min=1.0)).mul_(8.0 / 7.0)
    return share.masked_fill_(products < 16, 0.0)


@functools.lru_cache(maxsize=64)
def _dense_share(k: int) -> torch.Tensor:
    """_product_share of a row of K non-zero values, as a 0-dim tensor: the same float32 operations on one
    value, so every dense row gets the bits _product_share gives it."""
    return _product_share(torch.tensor(float(k)), k)


def _row_scale(a: torch.Tensor, nonzeros: torch.Tensor | None = None) -> torch.Tensor:
    """The row factor of the alignment noise of a @ b (_add_alignment_error) from a alone: the noise's standard
    deviation is row factor x column factor (_column_scale). `nonzeros`: each row's count of non-zero entries
    (float32 [..., 1]) when the caller knows it (SDPA's P), else counted here."""
    k = a.shape[-1]
    rows = torch.linalg.vector_norm(a, dim=-1, keepdim=True).square_()
    counts = _sparse_row_counts(a) if nonzeros is None else nonzeros
    # (every row dense, the common case: one share for all, without the per-row arithmetic)
    share = _dense_share(k) if counts is None else _product_share(counts, k)
    # Standard deviation of the noise = row factor x column factor; the dither's 2^-11 folded in.
    return rows.mul_(share).mul_(12.0 * _ALIGNMENT_VARIANCE * 2.0**-22).sqrt_()


# Outputs larger than this many values get their noise in blocks of rows this size, so the six passes over a
# block run in the host's caches (twice as fast on a 4096 x 4608 linear output).
_NOISE_BLOCK = 1 << 20


_DITHER_OFFSET = float(2**23 + 0x400)
# One int32 buffer per thread for the dither (_add_noise_), kept while it is at most this many values (a row
# block of _NOISE_BLOCK plus one row of up to 64 Ki values); larger ones are allocated per call.
_SCRATCH_MAX = _NOISE_BLOCK + (1 << 16)
_scratch = threading.local()


def _noise_scratch(like: torch.Tensor) -> torch.Tensor:
    """An int32 tensor of `like`'s shape (contents undefined), in this thread's reused dither buffer."""
    shape = like.shape
    n = math.prod(shape)
    if n > _SCRATCH_MAX or like.device.type != "cpu":
        return torch.empty(shape, dtype=torch.int32, device=like.device)
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None or buffer.numel() < n:
        buffer = _scratch.buffer = torch.empty(max(n, _NOISE_BLOCK), dtype=torch.int32)
    return buffer[:n].view(shape)


def _add_noise_(out: torch.Tensor, row_scale: torch.Tensor, column_scale: torch.Tensor) -> torch.Tensor:
    """out += dither x row factor x column factor, in place (the dither: _add_alignment_error). The dither is
    built in a reused int32 buffer and made float32 in place; elementwise, so done block by block of rows."""
    rows = out.shape[-2] if out.dim() >= 2 else 1
    step = max(1, _NOISE_BLOCK // max(1, out.numel() // rows))
    if out.dim() < 2 or step >= rows:
        # low 11 bits, sign-extended, as float32: the bits 0x4B000000 | ((bits & 0x7FF) ^ 0x400) are the float
        # 2^23 + ((bits & 0x7FF) ^ 0x400) (2^23's unit in the last place is 1), and subtracting 2^23 + 0x400
        # leaves ((bits & 0x7FF) ^ 0x400) - 0x400 exactly: three passes, into a reused buffer (a fresh one
        # costs as much again in page faults)
        bits = _noise_scratch(out)
        torch.bitwise_and(out.view(torch.int32), 0x7FF, out=bits).bitwise_xor_(0x4B000400)
        dither = bits.view(torch.float32).sub_(_DITHER_OFFSET)
        out.addcmul_(dither.mul_(row_scale), column_scale)
        return out
    per_row = row_scale.dim() >= 2 and row_scale.shape[-2] == rows
    for r0 in range(0, rows, step):
        r1 = min(r0 + step, rows)
        _add_noise_(out[..., r0:r1, :], row_scale[..., r0:r1, :] if per_row else row_scale, column_scale)
    return out


def _add_alignment_error(
    out: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor | None,
    b_stored: tuple[torch.Tensor, bool] | None = None,
    column_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """float32 Dst: the error of aligning each MVMUL group's products (module docstring), as deterministic
    noise of the measured variance. sum_k a_k^2 b_k^2 is estimated as (sum_k a_k^2) (sum_k b_k^2) / K: per
    row and column alone (_row_scale, _column_scale), so a row's noise does not depend on which other rows
    share the matmul (a batch sharded over a mesh gets the same values as on one chip).

    The uniform dither in [-0.5, 0.5) is the low 11 bits of the float32 result itself, sign-extended (the
    rounding bits of a K-long float32 sum: the same values give the same noise, run after run, on one chip or
    a mesh). It is 0 exactly when those bits are, so results of at most 12 significant bits (e.g.
    small-integer data, whose products align without loss) stay exact. Six integer / float passes over the output: the
    noise costs less than the matmul it perturbs (benchmarks/bench_matmul_numerics.py)."""
    if column_scale is None:  # (given by a caller that has no float32 b: _dst32_by_column_blocks)
        column_scale = _column_scale(b, b_stored)
    return _add_noise_(out, _row_scale(a), column_scale)


@dataclass(frozen=True)
class Operand:
    """One side of a default-mode matmul, prepared once for several products (SDPA multiplies every K chunk
    by every block of query rows): `values` (source-register values in the layout torch.matmul receives, as
    _as_batched gives them: [G, M, K] / [G, K, N], or [M, K] / [K, N]), the parts its fidelity phases read,
    and its factor of the fp32-Dst alignment noise (row factor of a left operand, column factor of a right
    one; None with a 16-bit Dst). In exact mode `values` is the operand as given and nothing else is
    derived."""

    values: torch.Tensor
    dtype: DataType
    parts: tuple[torch.Tensor, ...] = ()
    noise: torch.Tensor | None = None

    def narrowed(self, dim: int, length: int) -> Operand:
        """The operand with its phase parts cut to their first `length` entries along `dim`: the K entries past
        which every product term is 0 (a zero-padded head dim; a float32 sum is unchanged by zero terms; the
        noise factor stays the whole operand's), or output columns the caller fills in itself (the noise
        factor is cut too). `values` stay whole."""
        if not self.parts or length == self.parts[0].shape[dim]:
            return self
        noise = self.noise
        if noise is not None and noise.shape[dim] != 1:
            noise = noise.narrow(dim, 0, length)
        return replace(self, parts=tuple(part.narrow(dim, 0, length) for part in self.parts), noise=noise)


def _prepare(
    x: torch.Tensor,
    dtype: DataType,
    numerics: MatmulNumerics,
    dst32_parts: Callable[[torch.Tensor, int, MathFidelity], tuple[torch.Tensor, ...]],
    bf16_parts: Callable[[torch.Tensor, int, MathFidelity], tuple[torch.Tensor, ...]],
    noise: Callable[[torch.Tensor], torch.Tensor],
) -> Operand:
    """One side of matmul_prepared: its source-register values, the phase parts its side reads and (fp32
    Dst) its factor of the alignment noise."""
    if mode.is_exact():
        return Operand(x, dtype)
    x = to_source_register(x, dtype)
    bits = _SOURCE_MANTISSA.get(dtype, 23)
    if numerics.fp32_dest_acc_en:
        return Operand(x, dtype, dst32_parts(x, bits, numerics.math_fidelity), noise(x))
    return Operand(x, dtype, bf16_parts(x, bits, numerics.math_fidelity))


def prepare_left(
    a: torch.Tensor, a_dtype: DataType, numerics: MatmulNumerics, *, nonzeros: torch.Tensor | None = None
) -> Operand:
    """The left operand (in0, srcB) of matmul_prepared. `nonzeros`: the count of non-zero entries of each row
    of a, when the caller knows it (_row_scale)."""
    row_scale = _row_scale if nonzeros is None else (lambda x: _row_scale(x, nonzeros))
    return _prepare(a, a_dtype, numerics, _dst32_left_parts, _bf16_left_parts, row_scale)


def prepare_right(b: torch.Tensor, b_dtype: DataType, numerics: MatmulNumerics) -> Operand:
    """The right operand (in1, srcA) of matmul_prepared."""
    return _prepare(
        b, b_dtype, numerics, _dst32_right_parts, _bf16_right_parts, lambda x: _column_scale(x, None)
    )


def matmul_prepared(
    left: Operand,
    right: Operand,
    numerics: MatmulNumerics,
    *,
    arch: str = "wormhole_b0",
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """matmul(a, b) of two prepared operands, the same values (one K block); `out`: a buffer of the result's
    shape for the fp32-Dst product (default mode)."""
    if mode.is_exact():
        return fpu.matmul_dst(
            left.values,
            right.values,
            left.dtype,
            right.dtype,
            numerics.math_fidelity,
            numerics.fp32_dest_acc_en,
            arch=arch,
        )
    pairs = list(zip(left.parts, right.parts, strict=True))
    if not numerics.fp32_dest_acc_en:
        return _bf16_dst_matmul(pairs, None)
    result = torch.matmul(*pairs[0], out=out)
    for pa, pb in pairs[1:]:
        result += torch.matmul(pa, pb)
    return _add_noise_(result, left.noise, right.noise)
