"""ttnn.experimental state-space-model ops on the simulator: prefix_scan, repeat_and_interleave_eltwise_mul,
hc_sum_reduce (the kernels tt-metal's Mamba demo is built on).

Keywords: ttnn/cpp/ttnn/operations/experimental/ssm/*/*_nanobind.cpp. Checks and output specs: the matching
device/*_device_operation.cpp, with their wording. These ops size their outputs from the inputs' *padded*
rows (compute_output_specs builds the output shape from padded_shape), so an input with 1 logical row
gives a 32-row output; on the simulator the rows past the inputs' logical rows are computed from the zero
tile padding (on a card they hold whatever the padding held): ports slice them off.

Numerics: the eltwise products run at HiFi4 (the default math fidelity), exact for bfloat16 operands, and
are rounded once to the output dtype. prefix_scan packs a*h and a*h + bx to bfloat16 at every step
(intermediate circular buffers, prefix_scan/device/kernels/ssm_prefix_scan.cpp). hc_sum_reduce sums each
group of 32 in float32 and rounds once (the reduce's Dst accumulation is not modelled separately).
None of these ops has a golden function in real ttnn (ttnn/ttnn/operations/*.py attach none).

Speed, not numerics: their tensors are 5120 x 32 values per row, so repeat_and_interleave_eltwise_mul and
hc_sum_reduce work in cache-sized blocks of rows (BLOCK_VALUES), each value widened, multiplied / summed and
packed while its block is in the cache; the bits are those of the straightforward float32 computation
packed by formats (tests/sim/test_ssm_fast_paths.py pins every rounding branch against it).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import rules
from ..numerics import formats
from ..records import OpConfig, fidelity_name
from ..tensor import Tensor, compute_values, device_op, same_shape
from ..types import DataType, Layout, MathFidelity, MemoryConfig, ShardOrientation, TensorMemoryLayout

__all__ = ["hc_sum_reduce", "prefix_scan", "repeat_and_interleave_eltwise_mul"]

TILE = 32
#: repeat_and_interleave_eltwise_mul_device_operation.hpp: the kernel is compiled for Mamba-2.8B's
#: intermediate size (HIDDEN_SIZE = 5120) and a latent (state) size of one tile width.
HIDDEN_SIZE = 5120
#: hc_sum_reduce_device_operation.cpp: `constexpr uint32_t latent = 32`
LATENT = 32
_SSM_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B)


def _rows_to_padded(x: torch.Tensor, rows: int) -> torch.Tensor:
    """Logical values extended with the zero tile padding up to `rows` rows."""
    extra = rows - x.shape[-2]
    return torch.nn.functional.pad(x, [0, 0, 0, extra]) if extra > 0 else x


def _config(math_fidelity: MathFidelity | None) -> OpConfig:
    """The op record's config: the kernels' math fidelity (HiFi4 unless given, *_device_operation.cpp)."""
    return OpConfig(math_fidelity=fidelity_name(math_fidelity or MathFidelity.HiFi4))


def _pack_finite_(x: torch.Tensor) -> None:
    """Packer rounding (float32 -> bfloat16, ties away from zero) in place, for finite values."""
    x.view(torch.int32).add_(0x8000).bitwise_and_(-65536)


#: values per block of the SSM products (4 MiB of float32): a block's product, its packing and its widened
#: operand stay in the cache between the passes over it (measured on this project's 2-core host: the 32 x 5120 x
#: 32 products of repeat_and_interleave_eltwise_mul 5.5 ms -> 2.6 ms against one pass per step over all rows)
BLOCK_VALUES = 1 << 20


def _pack_block_(product: torch.Tensor, out: torch.Tensor) -> None:
    """Pack float32 `product` (a scratch block, overwritten) into bfloat16 `out` the way the packer rounds
    (ties away from zero, NaN -> 0x7FC0): the bits of quantize(PACKER) + storage_values. A finite block rounds
    by torch's nearest-even cast once the lowest bit is set (formats._pack_finite_bfloat16); a block with
    infinities but no NaN rounds on the bits (+0x8000, low half cleared: inf stays, finite overflow carries
    into inf) and is then cast exactly; a NaN (a NaN sum: also inf - inf) takes the general path."""
    total = float(product.sum())
    bits = product.view(torch.int32)
    if math.isfinite(total):
        bits.bitwise_or_(1)
    elif not math.isnan(total):
        bits.add_(0x8000).bitwise_and_(-65536)
    else:
        product = formats.bfloat16_bits(formats.round_bfloat16(product, formats.PACKER))
    out.copy_(product)


def _packed_products(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
    """out[r] = packed bfloat16 of x[r] * y[r] for every row r of out (x, y broadcast to [rows, groups, 32]),
    in blocks of rows: the products are exact in float32 (bfloat16 operands) and each is rounded once by
    _pack_block_. A bfloat16 operand is widened straight into the block (broadcast) and multiplied there by
    the other, a float32 one (x * y and y * x are the same float32 product)."""
    rows = out.shape[0]
    block = max(1, BLOCK_VALUES // out[0].numel())
    product = torch.empty((min(block, rows), *out.shape[1:]), dtype=torch.float32)
    stored, factor = (x, y) if x.dtype != torch.float32 else (y, x)
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        values = product[: stop - start]
        if stored.dtype == torch.float32:
            torch.mul(x[start:stop], y[start:stop], out=values)
        else:
            values.copy_(stored[start:stop]).mul_(factor[start:stop])
        _pack_block_(values, out[start:stop])


def _require_interleaved(t: Tensor, message: str) -> None:
    rules.require(t.memory_config().memory_layout == TensorMemoryLayout.INTERLEAVED, message)


def repeat_and_interleave_eltwise_mul(
    a: Tensor,
    b: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    math_fidelity: MathFidelity | None = None,
) -> Tensor:
    """a.repeat(1, 1, 1, HIDDEN_SIZE) (if a is one tile wide) * b.repeat_interleave(32, dim=-1) (if b is
    HIDDEN_SIZE wide): [1, 1, R, 32 * HIDDEN_SIZE], element e * 32 + n = a[..., n or e*32+n] * b[..., e or
    e*32+n]. R is the inputs' padded row count."""
    op = "repeat_and_interleave_eltwise_mul"
    rules.require(
        a.layout == Layout.TILE and b.layout == Layout.TILE, "Inputs to ssm_eltwise_mul must be tilized"
    )
    rules.require_same_device(op, [a, b])
    out_dtype = dtype if dtype is not None else a.dtype
    mc = memory_config or a.memory_config()
    _require_interleaved(a, "Unsupported memory layout for input a!")
    _require_interleaved(b, "Unsupported memory layout for input b!")
    rules.require(a.dtype in _SSM_DTYPES, "Unsupported data format for input a!")
    rules.require(b.dtype in _SSM_DTYPES, "Unsupported data format for input b!")
    rules.require(mc.memory_layout == TensorMemoryLayout.INTERLEAVED, "Unsupported memory layout for output!")
    rules.require(out_dtype in _SSM_DTYPES, "Unsupported data format for output!")
    ashape, bshape = a.padded_shape, b.padded_shape
    rules.require(len(ashape) == 4 and len(bshape) == 4, f"{op}: inputs must be rank 4")
    rules.require(ashape[0] == 1 and ashape[1] == 1, "Batch not supported for input a!")
    rules.require(bshape[0] == 1 and bshape[1] == 1, "Batch not supported for input b!")
    rules.require(ashape[2] % TILE == 0, "Num of users must be multiple of 32 for input a!")
    rules.require(bshape[2] % TILE == 0, "Num of users must be multiple of 32 for input b!")
    rules.require(ashape[2] == bshape[2], "Num of users must match in both of the input!")
    rules.require(ashape[3] != bshape[3], "Use eltwise mul for same size inputs!")
    rules.require(ashape[3] in (TILE, TILE * HIDDEN_SIZE), "Input a width must be 32 or 32*5120!")
    rules.require(bshape[3] in (HIDDEN_SIZE, TILE * HIDDEN_SIZE), "Input b width must be 32 or 32*5120!")
    rows = ashape[2]
    # Rows past both inputs' logical rows multiply the zero padding of both: exactly 0. Only the live rows
    # are computed (a one-row decode step would otherwise cost 32 rows of 5120 x 32 products). The products
    # are formed by broadcasting over [rows, 5120, 32] (no repeated copy of either input); a bfloat16 output
    # is packed here, straight into its storage.
    live = max(a.shape[2], b.shape[2])
    packed_here = out_dtype == DataType.BFLOAT16

    def compute(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = _rows_to_padded(x, live), _rows_to_padded(y, live)
        # a one tile wide: every group of 32 gets a's row (a.repeat); b HIDDEN_SIZE wide: each of b's values
        # fills a group of 32 (repeat_interleave)
        x = x.reshape(live, 1 if x.shape[-1] == TILE else HIDDEN_SIZE, TILE)
        y = y.reshape(live, HIDDEN_SIZE, 1 if y.shape[-1] == HIDDEN_SIZE else TILE)
        # The narrower operand is widened to float32 once; a 32 x 5120 wide one is widened block by block
        # (_packed_products) or, for a block-float output, read as stored: torch widens its elements
        # (exactly) inside the float32 product.
        if x.numel() <= y.numel():
            x = compute_values(x)
        if y.numel() <= x.numel():
            y = compute_values(y)
        if not packed_here:
            return _rows_to_padded(torch.mul(x, y).reshape(1, 1, live, TILE * HIDDEN_SIZE), rows)
        out = torch.empty((1, 1, rows, TILE * HIDDEN_SIZE), dtype=torch.bfloat16)
        _packed_products(x, y, out[0, 0, :live].view(live, HIDDEN_SIZE, TILE))
        out[:, :, live:] = 0.0
        return out

    rounding = formats.HOST if packed_here else formats.PACKER  # HOST keeps bfloat16 values as they are
    return device_op(
        op,
        [a, b],
        compute,
        dtype=out_dtype,
        layout=Layout.TILE,
        memory_config=mc,
        rounding=rounding,
        stored_inputs=True,
        config=_config(math_fidelity),
        output_shapes=lambda *_: (1, 1, rows, TILE * HIDDEN_SIZE),
    )


def hc_sum_reduce(
    input: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    math_fidelity: MathFidelity | None = None,
) -> Tensor:
    """Sum of each group of 32 consecutive values of the last dim: [1, 1, R, W] -> [1, 1, R, W / 32], R the
    input's padded rows."""
    op = "hc_sum_reduce"
    rules.require(input.layout == Layout.TILE, "Inputs to ssm_1d_sum_reduce must be tilized")
    rules.require_same_device(op, [input])
    out_dtype = dtype if dtype is not None else input.dtype
    mc = memory_config or input.memory_config()
    _require_interleaved(input, "Unsupported memory layout for input a!")
    rules.require(input.dtype in _SSM_DTYPES, "Unsupported data format for input a!")
    rules.require(mc.memory_layout == TensorMemoryLayout.INTERLEAVED, "Unsupported memory layout for output!")
    rules.require(out_dtype in _SSM_DTYPES, "Unsupported data format for output!")
    shape = input.padded_shape
    rules.require(len(shape) == 4, f"{op}: input must be rank 4")
    rules.require(shape[0] == 1 and shape[1] == 1, "Dim 1 and 2 are expected to be 1 in input a!")
    rules.require(shape[2] % TILE == 0, "Batch size must be divisible by 32 for input a!")
    rules.require(shape[3] % TILE == 0, "Final dim must be a multiple of 32!")
    rules.require((shape[3] // TILE) % LATENT == 0, "Final dim/TILE_SIZE must be a multiple of latent size!")
    rows, width = shape[2], shape[3]

    def compute(x: torch.Tensor) -> torch.Tensor:
        # rows past the input's logical rows sum its zero padding: 0, not computed
        live = x.shape[-2]
        if x.shape[-1] < width:
            x = torch.nn.functional.pad(x, [0, width - x.shape[-1]])
        x = x.reshape(live, width)
        sums = torch.empty((1, 1, rows, width // LATENT), dtype=torch.float32)
        sums[:, :, live:] = 0.0
        # the stored values widened in blocks of rows (cache-sized, BLOCK_VALUES), each row's sums the same
        # float32 reduction as over all rows at once
        block = max(1, BLOCK_VALUES // width)
        widened = torch.empty((min(block, live), width), dtype=torch.float32)
        for start in range(0, live, block):
            stop = min(start + block, live)
            values = widened[: stop - start].copy_(x[start:stop])
            torch.sum(values.view(stop - start, width // LATENT, LATENT), dim=-1, out=sums[0, 0, start:stop])
        return sums

    return device_op(
        op,
        [input],
        compute,
        dtype=out_dtype,
        layout=Layout.TILE,
        memory_config=mc,
        stored_inputs=True,
        config=_config(math_fidelity),
        output_shapes=lambda *_: (1, 1, rows, width // LATENT),
    )


def prefix_scan(
    a: Tensor,
    bx: Tensor,
    h_prev: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    dtype: DataType | None = None,
    math_fidelity: MathFidelity | None = None,
) -> Tensor:
    """The SSM hidden states over a sequence: h[t] = a[t] * h[t-1] + bx[t], h[-1] = h_prev (one row).
    a, bx: [1, 1, L, 2EN] TILE, sharded; h_prev: [1, 1, 1, 2EN] bfloat16 ROW_MAJOR, sharded. Returns every
    h[t] (a's shape); the last state is its row L-1 (h_prev itself is not written)."""
    op = "prefix_scan"
    rules.require_same_device(op, [a, bx, h_prev])
    rules.require(a.dtype == bx.dtype, "Expected input tensors to have the same data type")
    rules.require(
        a.layout == Layout.TILE and bx.layout == Layout.TILE, "Expected input tensors to be tile layout"
    )
    rules.require(a.padded_shape == bx.padded_shape, "Expected input tensors to have the same shape")
    shape = a.padded_shape
    rules.require(len(shape) == 4, "Expected input tensors to be rank 4")
    rules.require(shape[0] == 1 and shape[1] == 1, "Dimension 0 and 1 should be size 1")
    rules.require(shape[2] >= TILE and shape[2] % TILE == 0, "Sequence length should be a multiple of 32")
    rules.require(h_prev.dtype == DataType.BFLOAT16, "Expected initial hidden state to be bfloat16")
    rules.require(h_prev.layout == Layout.ROW_MAJOR, "Expected initial hidden state to be row-major")
    sharded = (a, bx, h_prev)
    rules.require(all(t.is_sharded() for t in sharded), "Expected input tensors to be sharded")
    specs = [t.memory_config().shard_spec for t in sharded]
    rules.require(all(s is not None for s in specs), "Expected input tensors to be sharded")
    for spec, name in zip(specs, ("A", "Bx", "h"), strict=True):
        rules.require(
            spec.orientation == ShardOrientation.ROW_MAJOR,
            f"Expected {name} tensor to be row major orientation",
        )
    rules.require(
        h_prev.shape[-1] == a.shape[-1],
        f"{op}: h_prev width {h_prev.shape[-1]} does not match the inputs' width {a.shape[-1]}",
    )
    out_dtype = dtype if dtype is not None else a.dtype
    mc = memory_config or a.memory_config()

    packed_here = out_dtype == DataType.BFLOAT16

    def scan(
        av: torch.Tensor, bxv: torch.Tensor, h: torch.Tensor, pack: Callable, states: torch.Tensor
    ) -> None:
        """states[t] for every row t of av (bfloat16 storage, widened by the float32 arithmetic), from h."""
        decayed = torch.empty_like(h)
        for t in range(av.shape[-2]):
            torch.mul(av[0, 0, t], h, out=decayed)
            pack(decayed)
            h = torch.add(decayed, bxv[0, 0, t], out=states[0, 0, t])
            pack(h)

    def compute(av: torch.Tensor, bxv: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        h = h[..., :1, :].reshape(-1).to(torch.float32)
        states = torch.empty(av.shape, dtype=torch.float32)
        # Finite values round by two integer ops on their bits (ties away from zero). A row is independent
        # of the rows after it: from the first row holding a non-finite value (NaN needs its canonical
        # pattern) the scan is rerun with the general rounding. A column that turns non-finite stays so
        # (a * inf, a * NaN, then + bx: inf or NaN; the bit rounding keeps both, their low halves being 0
        # as the bfloat16 inputs'), so a finite last row means every row is finite: one row's sum decides.
        scan(av, bxv, h, _pack_finite_, states)
        if bool(torch.isfinite(states[0, 0, -1].sum())):
            # every state finite and rounded (low halves 0): torch's cast keeps their high halves
            return states.to(torch.bfloat16) if packed_here else states
        bad = (~torch.isfinite(states.sum(dim=-1))).reshape(-1).nonzero()
        if len(bad):
            first = int(bad[0])
            start = h if first == 0 else states[0, 0, first - 1].clone()
            rerun = states[:, :, first:]
            scan(
                av[:, :, first:],
                bxv[:, :, first:],
                start,
                lambda x: formats.round_bfloat16_(x, formats.PACKER),
                rerun,
            )
            return states if not packed_here else formats.bfloat16_bits(states)
        return states.to(torch.bfloat16) if packed_here else states  # finite rows, a last-row sum overflowing

    return device_op(
        op,
        [a, bx, h_prev],
        compute,
        dtype=out_dtype,
        layout=Layout.TILE,
        memory_config=mc,
        rounding=formats.HOST if packed_here else formats.PACKER,  # HOST keeps the packed states as they are
        stored_inputs=True,
        config=_config(math_fidelity),
        output_shapes=same_shape,
    )
