"""ttnn.transformer on the simulator: scaled_dot_product_attention (FlashAttention-2 style) and its
program config.

Keywords: ttnn/cpp/ttnn/operations/transformer/sdpa/sdpa_nanobind.cpp. Checks:
sdpa/device/sdpa_device_operation.cpp (the release with broadcastable mask heads and the mask-divisibility
rule). Default chunk sizes when no program config is given: 32 x 32 (get_q_chunk_size/get_k_chunk_size).

What the numerics model (compute kernel sdpa/device/kernels/compute/sdpa.cpp with compute_common.hpp,
intermediate circular buffers in Float16_b per sdpa_program_factory.cpp, packer rounding ties away from zero):
  per K chunk:  S = bf16(Q K^T); S = bf16(S + mask);  m = max(m_prev, rowmax S)
                P = bf16(exp_sfpu(scale_bf16 * (S - m)))     (sub_exp_block: the scale is fused into the exp)
                l_cur = rowsum P (FPU reduce); O_cur = bf16(P V)
                alpha = bf16(exp_sfpu(scale_bf16 * (m_prev - m))); l = bf16(bf16(l_prev * alpha) + l_cur)
                O = bf16(bf16(O * alpha) + O_cur)
  end:          out = bf16(O * bf16(recip_sfpu(l))), then rounded to Q's dtype.
scale_bf16 is the float32 scale truncated to bfloat16 (scale_fp32 >> 16 in compute_common.hpp). exp_sfpu is
exp_tile<exp_approx_mode, fast_and_approx=false, scale_en=true, skip_positive_check=true>: with
exp_approx_mode (SDPAProgramConfig; true when not given, sdpa_program_factory.cpp) the piecewise fixed-point
approximation (numerics/sfpu.py exp_piecewise_approx, up to ~6% high), else the accurate exp. recip_sfpu is
recip_tile with the compute config's math_approx_mode. FPU results pass Dst (float32 or bfloat16) as in
numerics/tile_math.py. With fp32_dest_acc_en the running sum stays float32 (newer factories keep cb_sum in
Float32).
Both matmuls go through numerics/fidelity.py (operand bit phases, Dst accumulation) with the op's default
compute config HiFi2 / approx / bfloat16 Dst (legacy_compute_config in sdpa.cpp) unless one is given; Q
and P are the srcB operands. Not modelled: padded K rows (the simulator ignores tile padding of the sequence;
kernels of some releases let zero-padded keys into the softmax when Sk is not a tile multiple and no mask is
given).

Memory and speed: the simulator walks K in k_chunk_size slices for a block of query rows of all heads at once
(batched matmuls); blocks are sized so a step touches at most _BLOCK_ELEMENTS values, so the working set is
bounded (plus the [B, H, Sq, D] output), stays in the host's caches, and [B, H, Sq, Sk] is never materialised.
What depends on one operand alone (K^T and V chunks, a block's Q rows: phase parts and alignment-noise
factors) is prepared once (fidelity.Operand), the scores live in one reused buffer, and head-dim columns that
are zero in both Q and K (or in V) are left out of the products (SigLIP pads 72 to 96): the same values as
the plain loop, bit for bit (tests/sim/test_sdpa_pinned.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import rules
from ..numerics import fidelity, formats, mode, sfpu, tile_math
from ..records import OpConfig
from ..tensor import Tensor, device_op
from ..types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    CoreCoord,
    DataType,
    Layout,
    MathFidelity,
    MemoryConfig,
    StorageType,
)

# SDPAProgramConfig lives at ttnn's top level (core/sim/ttnn/__init__.py imports it by name), not in
# ttnn.transformer.
__all__ = ["scaled_dot_product_attention"]

TILE = 32
_DEFAULT_CHUNK = 32
# sdpa.cpp legacy_compute_config: HiFi2, math approx on, bfloat16 Dst, no packer L1 accumulation.
_DEFAULT_NUMERICS = fidelity.MatmulNumerics(MathFidelity.HiFi2, fp32_dest_acc_en=False)
_DEFAULT_KERNEL = tile_math.KernelConfig(MathFidelity.HiFi2, math_approx_mode=True, fp32_dest_acc_en=False)
# At most this many values (fp32) per K-chunk step of the simulator: query rows are blocked to fit.
_BLOCK_ELEMENTS = 1 << 20
_SDPA_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)


@dataclass(kw_only=True)
class SDPAProgramConfig:
    """ttnn.SDPAProgramConfig (keyword-only, as bound in transformer_nanobind.cpp)."""

    compute_with_storage_grid_size: CoreCoord | tuple[int, int]
    q_chunk_size: int
    k_chunk_size: int
    exp_approx_mode: bool | None = None
    sub_core_grids: Any = None
    max_cores_per_head_batch: int = 16
    # work splitting of the 0.81.1 binding: change no values in the simulator
    max_k_splits: int | None = None
    segmented_accumulation: bool = False
    matmul_math_fidelity: Any = None


def _pack_bf16_(x: torch.Tensor, nan_free: bool = False) -> torch.Tensor:
    """In place: packer rounding of a contiguous float32 tensor to bfloat16 (ties away from zero); in place
    because SDPA rounds six intermediates per K chunk. `nan_free`: x is known to hold no NaN."""
    return formats.round_bfloat16_(x, formats.PACKER, nan_free=nan_free)


def _add_mask(s: torch.Tensor, mask: torch.Tensor, kernel: tile_math.KernelConfig) -> torch.Tensor:
    """Scores + mask: added into Dst (rounded to bfloat16 there when Dst is 16-bit) and packed to bfloat16.
    In place on `s` (contiguous float32) with a 32-bit Dst; a new tensor otherwise."""
    return _pack_bf16_(tile_math.to_dst(s.add_(mask), kernel).contiguous())


# exp(x) for x > -80 is at least 1.8e-35, a normal float32 that packs to a non-zero bfloat16: P then holds no 0.
_NO_UNDERFLOW_ABOVE = -80.0


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _bf16_truncated(value: float) -> float:
    """The bfloat16 immediate a kernel builds from a float32 constant's high half (scale_fp32 >> 16)."""
    bits = torch.tensor([value], dtype=torch.float32).view(torch.int32) & -65536
    return float(bits.view(torch.float32)[0])


@dataclass(frozen=True)
class _Softmax:
    """The SFPU side of the kernel's online softmax: exp((x) * scale) and the final reciprocal."""

    scale: float  # already a bfloat16 value
    exp_approx: bool
    kernel: tile_math.KernelConfig

    @property
    def scale_is_positive(self) -> bool:
        """A finite scale > 0: exp(scale * d) is NaN only where d is."""
        return 0.0 < self.scale < math.inf

    def exp(self, d: torch.Tensor) -> torch.Tensor:
        """exp_tile<exp_approx, false, scale_en> on Dst contents `d` (= S - m or m_prev - m)."""
        mode = self.kernel.sfpu_mode(approx=self.exp_approx)
        if self.exp_approx:
            y = sfpu.exp_piecewise_approx(d, self.scale)  # >= exp(-42) or 0: never denormal
            return y if mode.fp32_dest else sfpu.store(y, mode)
        return sfpu.apply(sfpu.exp, d, mode, scale=self.scale)

    def exp_(self, d: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """exp on Dst contents the caller gives up (the scores): computed in their memory where it can be.
        Also whether the result is known to hold no 0 (every exponent above _NO_UNDERFLOW_ABOVE)."""
        if self.exp_approx:
            return self.exp(d), False
        p, lowest = sfpu.exp_(d, self.kernel.sfpu_mode(approx=False), scale=self.scale)
        return p, lowest is not None and lowest > _NO_UNDERFLOW_ABOVE

    def recip(self, x: torch.Tensor) -> torch.Tensor:
        return sfpu.apply(sfpu.reciprocal, x, self.kernel.sfpu_mode())


def _dtype_name(dtype: DataType) -> str:
    return f"DataType::{dtype.name}"


def _validate(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None,
    is_causal: bool,
    sliding_window_size: int | None,
    program_config: SDPAProgramConfig | None,
) -> None:
    req = rules.require
    for t in (q, k, v):
        req(t.storage_type() == StorageType.DEVICE, "Operands to SDPA need to be on device")
        rules.require_allocated(t, "scaled_dot_product_attention")
        req(t.layout == Layout.TILE, "Inputs to SDPA must be tilized")
        req(
            t.dtype in _SDPA_DTYPES,
            "Data type of input tensor must be BFLOAT16, BFLOAT8_B, or BFLOAT4_B and is "
            f"{_dtype_name(t.dtype)}",
        )
        req(not t.is_sharded(), "Operands to SDPA need to be DRAM/L1 interleaved")
        req(len(t.shape) == 4, f"SDPA inputs must be rank 4 [b, nh, s, dh], got shape {list(t.shape)}")
    req(
        not (is_causal and attn_mask is not None),
        f"is_causal and attn_mask cannot both be present. Got is_causal: {str(is_causal).lower()}, "
        f"attn_mask: {str(attn_mask is not None).lower()}",
    )
    req(
        not ((sliding_window_size or 0) > 0 and attn_mask is not None),
        "sliding_window_size and attn_mask cannot both be present; bake the sliding-window mask "
        "into attn_mask.",
    )
    B, nqh, Sq, DH = q.shape
    nkv, Sk = k.shape[1], k.shape[2]
    q_chunk = program_config.q_chunk_size if program_config else _DEFAULT_CHUNK
    k_chunk = program_config.k_chunk_size if program_config else _DEFAULT_CHUNK
    if attn_mask is not None:
        m = attn_mask
        req(
            m.storage_type() == StorageType.DEVICE,
            "When mask is provided to SDPA, the tensor must be on device",
        )
        req(
            m.device() is q.device(),
            "When mask is provided to SDPA, it must be on the same device as the input tensors",
        )
        req(m.layout == Layout.TILE, "When mask is provided to SDPA, it must be tilized")
        req(
            m.dtype in _SDPA_DTYPES,
            "When mask is provided to SDPA, it must be in BF16, BFP8, or BFP4 dataformat",
        )
        req(
            m.memory_config().buffer_type == BufferType.DRAM and not m.is_sharded(),
            "When mask is provided to SDPA, it must be in DRAM",
        )
        req(len(m.shape) == 4, f"SDPA mask must be rank 4, got shape {list(m.shape)}")
        req(m.shape[0] == B, "Mask batch dim must match Q batch dim")
        req(
            m.shape[1] in (1, nqh),
            "Mask num_heads must either be 1 (to be broadcasted across all heads) or must match Q heads "
            "dimension",
        )
        req(m.shape[2] == Sq, "Mask sequence length must match Q sequence length")
        req(m.shape[3] == Sk, "Mask sequence length must match K sequence length")
        req(
            Sq % q_chunk == 0,
            f"If mask is provided, Q sequence length must be divisible by q_chunk_size. Got q_seq_len: {Sq}, "
            f"q_chunk_size: {q_chunk}",
        )
        req(
            Sk % k_chunk == 0,
            f"If mask is provided, K sequence length must be divisible by k_chunk_size. Got k_seq_len: {Sk}, "
            f"k_chunk_size: {k_chunk}",
        )
    if is_causal:
        req(Sq == Sk, f"Causal SDPA requires Q and K to have the same sequence length. Got Q: {Sq}, K: {Sk}")
    req(
        k.shape[0] == B and v.shape[0] == B, f"K and V batch must match. Got K: {k.shape[0]}, V: {v.shape[0]}"
    )
    req(v.shape[1] == nkv, f"K and V num_heads must match. Got K: {nkv}, V: {v.shape[1]}")
    req(v.shape[2] == Sk, f"K and V sequence length must match. Got K: {Sk}, V: {v.shape[2]}")
    req(
        k.shape[3] == DH and v.shape[3] == DH,
        f"K and V hidden dim must match. Got K: {k.shape[3]}, V: {v.shape[3]}",
    )
    req(
        nqh >= nkv and nqh % nkv == 0,
        f"Q num_heads must be >= K num_heads and divisible by K num_heads. Got Q: {nqh}, K: {nkv}",
    )
    if program_config is not None:
        req(
            q_chunk % TILE == 0,
            f"q_chunk_size must be divisible by TILE_SIZE. Got q_chunk_size: {q_chunk}, TILE_SIZE: {TILE}",
        )
        req(
            k_chunk % TILE == 0,
            f"k_chunk_size must be divisible by TILE_SIZE. Got k_chunk_size: {k_chunk}, TILE_SIZE: {TILE}",
        )
    for t in (q, k, v):
        req(t.shape[3] == t.padded_shape[3], "Padding is not supported on the head_dim dimension")


@dataclass(frozen=True)
class _Chunk:
    """One K chunk [start, end) of the kernel's K loop, with K^T and V prepared as matmul operands once for
    every block of query rows."""

    start: int
    end: int
    key: fidelity.Operand
    value: fidelity.Operand
    key_size: tuple[tuple[float, ...], float] = ((math.inf,), math.inf)  # _magnitudes(key)
    value_size: tuple[tuple[float, ...], float] = ((math.inf,), math.inf)  # _magnitudes(value)


def _magnitudes(op: fidelity.Operand) -> tuple[tuple[float, ...], float]:
    """The largest |value| of each phase part of a prepared operand and of its noise factor (0 without one);
    inf when nothing is prepared (exact mode) and NaN where a NaN is."""
    if not op.parts:
        return (math.inf,), math.inf
    parts = tuple(float(part.abs().amax()) if part.numel() else 0.0 for part in op.parts)
    noise = float(op.noise.amax()) if op.noise is not None and op.noise.numel() else 0.0
    return parts, noise


def _product_bound(
    a_size: tuple[tuple[float, ...], float], b_size: tuple[tuple[float, ...], float], depth: int
) -> float:
    """A bound on |a @ b| in default mode for operands with these _magnitudes (inf or NaN when none is known):
    every term of a phase product is at most |a| |b|, a float32 sum of `depth` of them at most twice their
    bound, and the alignment noise at most 1024 x row factor x column factor (fidelity._add_noise_)."""
    (a_parts, a_noise), (b_parts, b_noise) = a_size, b_size
    if len(a_parts) != len(b_parts):
        return math.inf
    products = sum(2.0 * depth * a * b for a, b in zip(a_parts, b_parts, strict=True))
    return products + 1024.0 * a_noise * b_noise


def _scores_are_finite(
    q_size: tuple[tuple[float, ...], float], k_size: tuple[tuple[float, ...], float], depth: int
) -> bool:
    """Whether the default-mode Q K^T of operands with these _magnitudes is finite (so NaN-free) everywhere."""
    return _below_overflow(_product_bound(q_size, k_size, depth))


def _below_overflow(bound: float) -> bool:
    """A bound far enough below float32's largest value that sums and bfloat16 rounding of a few such values
    stay finite (False for inf and NaN)."""
    return bound < 1e37


class _Buffers:
    """Score buffers reused across the K loop, one per shape (the last chunk may be narrower): every step
    overwrites the scores of the previous one, so no step allocates its biggest tensors."""

    def __init__(self) -> None:
        self._free: dict[tuple[int, ...], torch.Tensor] = {}

    def get(self, shape: tuple[int, ...]) -> torch.Tensor:
        if shape not in self._free:
            self._free[shape] = torch.empty(shape, dtype=torch.float32)
        return self._free[shape]


def _attend_rows(
    q_rows: fidelity.Operand,
    chunks: list[_Chunk],
    mask: torch.Tensor | None,
    q_pos: torch.Tensor,
    shape: tuple[int, int, int],
    *,
    is_causal: bool,
    sliding_window: int | None,
    round_sum: Callable[[torch.Tensor], torch.Tensor],
    numerics: fidelity.MatmulNumerics,
    softmax: _Softmax,
    buffers: _Buffers,
    dead_columns: int = 0,
) -> torch.Tensor:
    """The kernel's K loop for a block of query rows: `q_rows` the rows of Q as the left matmul operand
    ([B * NKV, R, D] or [R, D], R rows = query heads x positions of one KV head group), `shape` = (B, NKV, R),
    mask [B, NKV|1, R, Sk] or None, q_pos [R, 1] the sequence position of every row. Returns
    [B, NKV, R, D].

    `dead_columns`: the last head-dim columns of V are 0 and the chunks' V operands leave them out (a softmax
    scale > 0 is required). Their columns of P V are then 0, or NaN in a row where P is not finite; each row's
    value is carried through the same updates as a single column and put back at the end."""
    B, NKV, rows = shape
    tail = None  # [B, NKV, R, 1]: the value of the dead columns of O
    masked = mask is not None or is_causal or bool(sliding_window)
    last_row = int(q_pos.max())
    q_size = _magnitudes(q_rows)
    m = denom = o = None
    o_bound = 0.0  # of |O| so far (inf or NaN: unknown)
    for chunk in chunks:
        start, end = chunk.start, chunk.end
        if is_causal and start > last_row:
            break  # past the diagonal: the kernel's loop stops (these chunks are fully masked anyway)
        out = buffers.get((*q_rows.values.shape[:-1], end - start))
        s = fidelity.matmul_prepared(q_rows, chunk.key, numerics, arch=softmax.kernel.arch, out=out)
        s = s.view(B, NKV, rows, end - start)
        s = _pack_bf16_(s, nan_free=_scores_are_finite(q_size, chunk.key_size, q_rows.values.shape[-1]))
        if mask is not None:
            s = _add_mask(s, mask[..., start:end], softmax.kernel)
        if is_causal or sliding_window:
            k_pos = torch.arange(start, end).view(1, -1)
            blocked = torch.zeros(rows, end - start, dtype=torch.bool)
            if is_causal:
                blocked |= k_pos > q_pos
            if sliding_window and is_causal:
                blocked |= k_pos <= q_pos - sliding_window
            elif sliding_window:
                blocked |= (k_pos - q_pos).abs() > sliding_window // 2
            s.masked_fill_(blocked, float("-inf"))
        m_cur = s.amax(dim=-1, keepdim=True)
        m_new = m_cur if m is None else torch.maximum(m, m_cur)
        # Rows with every score so far at -inf would give exp(-inf - -inf) = nan; subtract 0 there instead.
        m_safe = torch.where(torch.isinf(m_new), 0.0, m_new) if masked else m_new
        # With every row's subtracted max finite, S - max is NaN-free (a NaN score would make its row's max NaN)
        # and so is its exp for a finite scale > 0: P's rounding skips the NaN test.
        p_nan_free = softmax.scale_is_positive and bool(torch.isfinite(m_safe).all())
        p, p_no_zeros = softmax.exp_(tile_math.to_dst(s.sub_(m_safe), softmax.kernel))
        p = _pack_bf16_(p.contiguous(), nan_free=p_nan_free)
        l_cur = round_sum(tile_math.reduce_row_sum(p, DataType.BFLOAT16, 1.0, softmax.kernel))
        # P in [0, 1] and NaN-free unless a row's max is +inf (subtracted as 0 where masked) or not finite; then
        # alpha = exp(scale (m - m_safe)) is in [0, 1] too
        p_in_unit = p_nan_free and bool((m_new < math.inf).all())
        p_left = p.view(q_rows.values.shape[:-1] + (end - start,))
        p_rows = fidelity.prepare_left(
            p_left,
            DataType.BFLOAT16,
            numerics,
            nonzeros=_nonzeros_of_p(p_left, p_no_zeros, p_nan_free, p_in_unit),
        )
        o_cur = fidelity.matmul_prepared(p_rows, chunk.value, numerics, arch=softmax.kernel.arch)
        o_bound = o_bound + (
            _product_bound(_unit_magnitudes(p_rows), chunk.value_size, end - start) if p_in_unit else math.inf
        )
        o_finite = _below_overflow(o_bound)  # O's updates below: NaN-free, their rounding skips the NaN test
        o_cur = _pack_bf16_(o_cur.view(B, NKV, rows, -1), nan_free=o_finite)
        tail_cur = _dead_columns_of_pv(p, m_new, m_safe) if dead_columns else None
        if m is None:
            denom, o, tail = l_cur, o_cur, tail_cur
        else:
            alpha = _pack_bf16_(softmax.exp(tile_math.to_dst(m - m_safe, softmax.kernel)).contiguous())
            round_sum(round_sum(denom.mul_(alpha)).add_(l_cur))
            _pack_bf16_(_pack_bf16_(o.mul_(alpha), nan_free=o_finite).add_(o_cur), nan_free=o_finite)
            if dead_columns:
                _pack_bf16_(_pack_bf16_(tail.mul_(alpha)).add_(tail_cur))
        m = m_new
    recip = round_sum(softmax.recip(denom).contiguous())
    if dead_columns:
        o = torch.cat([o, tail.expand(B, NKV, rows, dead_columns)], dim=-1)
    return _pack_bf16_(tile_math.mul(o, recip, DataType.BFLOAT16, softmax.kernel.im_dtype, softmax.kernel))


def _unit_magnitudes(op: fidelity.Operand) -> tuple[tuple[float, ...], float]:
    """_magnitudes of a prepared P whose values are in [0, 1] (its phase parts too), read from its noise alone."""
    if not op.parts:
        return (math.inf,), math.inf
    noise = float(op.noise.amax()) if op.noise is not None and op.noise.numel() else 0.0
    return (1.0,) * len(op.parts), noise


def _nonzeros_of_p(p: torch.Tensor, no_zeros: bool, nan_free: bool, at_most_one: bool) -> torch.Tensor | None:
    """The count of non-zero entries of each row of P ([..., 1], float32) where the step knows it cheaply, for
    P's alignment-noise row factor: the width when P holds no 0; with P NaN-free, a sum of ceilings when P is
    in [0, 1] (every subtracted max finite or -inf), else of signs (exp's results are >= +0, so either is 1
    exactly where an entry is not 0: integer sums, exact in float32 below 2^24, float passes 3-8x faster than
    a boolean count); None (count it there) otherwise."""
    if no_zeros:
        return torch.full((*p.shape[:-1], 1), float(p.shape[-1]))
    if nan_free:
        return (torch.ceil(p) if at_most_one else torch.sign(p)).sum(dim=-1, keepdim=True)
    return None


def _dead_columns_of_pv(p: torch.Tensor, m_new: torch.Tensor, m_safe: torch.Tensor) -> torch.Tensor:
    """The packed value of P V in a column where V is 0, per row [..., 1]: 0, or NaN where the row of P holds
    a non-finite value (inf x 0). With a scale > 0, P is finite in every row whose subtracted max is finite and
    not below a +inf max (exp of values <= 0, or of -inf); only other rows are looked at."""
    suspect = ~torch.isfinite(m_safe) | (m_new == float("inf"))
    poisoned = suspect
    if bool(suspect.any()):
        poisoned = ~torch.isfinite(p).all(dim=-1, keepdim=True)
    return torch.where(poisoned, float("nan"), 0.0)


def _live_prefix(*tensors: torch.Tensor) -> int:
    """How many leading last-dim columns hold a non-zero value (NaN included) in any of `tensors`; 0 if none."""
    if any(bool(t[..., -1].any()) for t in tensors):  # the last column is live (no zero padding): one strided read
        return tensors[0].shape[-1]
    live = torch.zeros(tensors[0].shape[-1], dtype=torch.bool)
    for t in tensors:
        # a column holds a non-zero exactly when its max or its min is not 0 (NaN propagates through both;
        # -0.0 compares equal to 0): two column reductions, 7x faster than any() over a boolean copy
        columns = t.reshape(-1, t.shape[-1])
        live |= columns.amax(dim=0).ne(0) | columns.amin(dim=0).ne(0)
    index = live.nonzero()
    return int(index[-1]) + 1 if len(index) else 0


def _flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    *,
    is_causal: bool,
    sliding_window: int | None,
    k_chunk: int,
    dtypes: tuple[DataType, DataType, DataType],
    numerics: fidelity.MatmulNumerics,
    softmax: _Softmax,
) -> torch.Tensor:
    """Online-softmax attention: q [B, NH, Sq, D], k/v [B, NKV, Sk, D], mask [B, 1|NH, Sq, Sk] -> like q.

    Query heads sharing a KV head are folded into the row dimension so every step is one batched matmul over
    heads and query rows. Query positions are processed in blocks sized so one K-chunk step touches at most
    _BLOCK_ELEMENTS values; every query row sees the same K-chunk sequence as on device, so the blocking does
    not change the result. K^T and V chunks are prepared as matmul operands once, not once per block.
    """
    B, NH, Sq, D = q.shape
    NKV, Sk = k.shape[1], k.shape[2]
    g = NH // NKV
    q_dtype, k_dtype, v_dtype = dtypes
    width = max(k_chunk, D)
    block = max(TILE, (_BLOCK_ELEMENTS // max(1, B * NH * width)) // TILE * TILE)

    # The layout fidelity.matmul gives [B, NKV, ., .] operands: batched over B x NKV, or plain 2-D with one.
    def operand(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, *x.shape[-2:]) if B * NKV > 1 else x.reshape(-1, x.shape[-1])

    # Head-dim columns past which Q and K are both 0 add nothing to Q K^T (a zero-padded head dim, as SigLIP's
    # 72 -> 96); V's zero columns give zero columns of P V (_attend_rows). The products leave them out.
    qk_live, v_live = D, D
    if not mode.is_exact():
        qk_live = _live_prefix(q, k) or D
        if softmax.scale > 0:
            v_live = _live_prefix(v) or D
    kt = k.transpose(-1, -2)
    chunks = []
    for start in range(0, Sk, k_chunk):
        key = fidelity.prepare_right(operand(kt[..., start : start + k_chunk]), k_dtype, numerics).narrowed(
            -2, qk_live
        )
        value = fidelity.prepare_right(operand(v[:, :, start : start + k_chunk]), v_dtype, numerics).narrowed(
            -1, v_live
        )
        chunks.append(
            _Chunk(start, min(start + k_chunk, Sk), key, value, _magnitudes(key), _magnitudes(value))
        )
    q5 = q.reshape(B, NKV, g, Sq, D)
    out = torch.empty(B, NKV, g, Sq, D)
    round_sum = _identity if numerics.fp32_dest_acc_en else _pack_bf16_
    buffers = _Buffers()
    for s0 in range(0, Sq, block):
        s1 = min(s0 + block, Sq)
        n = s1 - s0
        rows_mask = None
        if mask is not None:
            part = mask[:, :, s0:s1]
            if part.shape[1] == NH:
                rows_mask = part.reshape(B, NKV, g * n, -1)
            else:  # one mask head for every query head
                rows_mask = part.repeat(1, 1, g, 1)
        q_pos = torch.arange(s0, s1).repeat(g).view(g * n, 1)
        q_rows = fidelity.prepare_left(
            operand(q5[:, :, :, s0:s1].reshape(B, NKV, g * n, D)), q_dtype, numerics
        ).narrowed(-1, qk_live)
        out[:, :, :, s0:s1] = _attend_rows(
            q_rows,
            chunks,
            rows_mask,
            q_pos,
            (B, NKV, g * n),
            is_causal=is_causal,
            sliding_window=sliding_window,
            round_sum=round_sum,
            numerics=numerics,
            softmax=softmax,
            buffers=buffers,
            dead_columns=D - v_live,
        ).view(B, NKV, g, n, D)
    return out.reshape(B, NH, Sq, D)


def scaled_dot_product_attention(
    input_tensor_q: Tensor,
    input_tensor_k: Tensor,
    input_tensor_v: Tensor,
    *,
    attn_mask: Tensor | None = None,
    is_causal: bool = True,
    scale: float | None = None,
    sliding_window_size: int | None = None,
    memory_config: MemoryConfig | None = None,
    program_config: SDPAProgramConfig | None = None,
    compute_kernel_config: Any = None,
    attention_sink: Tensor | None = None,
) -> Tensor:
    """ttnn.transformer.scaled_dot_product_attention: softmax(scale * Q K^T + mask) V, output in Q's dtype,
    TILE, DRAM unless `memory_config` says otherwise. Note is_causal defaults to True, as in ttnn."""
    if attention_sink is not None:
        raise NotImplementedError(
            "simulator: scaled_dot_product_attention(attention_sink=...) is not modelled"
        )
    _validate(
        input_tensor_q,
        input_tensor_k,
        input_tensor_v,
        attn_mask,
        is_causal,
        sliding_window_size,
        program_config,
    )
    DH = input_tensor_q.padded_shape[-1]
    scale = 1.0 / math.sqrt(DH) if scale is None else float(scale)
    k_chunk = program_config.k_chunk_size if program_config else _DEFAULT_CHUNK
    numerics = (
        _DEFAULT_NUMERICS
        if compute_kernel_config is None
        else fidelity.numerics_from_config(compute_kernel_config)
    )
    kernel = tile_math.from_compute_config(
        compute_kernel_config, _DEFAULT_KERNEL, input_tensor_q.device().arch()
    )
    exp_approx = (
        True
        if program_config is None or program_config.exp_approx_mode is None
        else bool(program_config.exp_approx_mode)
    )
    softmax = _Softmax(_bf16_truncated(scale), exp_approx, kernel)
    dtypes = (input_tensor_q.dtype, input_tensor_k.dtype, input_tensor_v.dtype)
    inputs = [input_tensor_q, input_tensor_k, input_tensor_v] + ([attn_mask] if attn_mask is not None else [])

    def compute(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None):
        return _flash_attention(
            q,
            k,
            v,
            mask,
            is_causal=is_causal,
            sliding_window=sliding_window_size or None,
            k_chunk=k_chunk,
            dtypes=dtypes,
            numerics=numerics,
            softmax=softmax,
        )

    return device_op(
        "scaled_dot_product_attention",
        inputs,
        compute,
        dtype=input_tensor_q.dtype,
        layout=Layout.TILE,
        memory_config=memory_config or DRAM_MEMORY_CONFIG,
        output_shapes=lambda q, *_: q,  # like q; the blocked loop reads values (not runnable on meta)
        config=OpConfig(
            math_fidelity=numerics.math_fidelity.name,
            fp32_dest_acc_en=numerics.fp32_dest_acc_en,
            math_approx_mode=getattr(compute_kernel_config, "math_approx_mode", None),
            program_config=type(program_config).__name__ if program_config is not None else None,
            attributes={"is_causal": is_causal, "k_chunk_size": k_chunk, "program_config": program_config},
        ),
        stack_chips=tuple(range(len(inputs))),  # batch by batch
    )
