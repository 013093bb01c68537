"""The order a collective adds the chips' partial sums in, and its rounding: every partial crosses an ethernet
link as tiles of the tensor's dtype, so each addition is rounded to the dtype (the packer's rounding, as
ttnn.add) in the order the partial visits the chips of a line of N (ring index = position along the line).

- Linear (tt-metal ttnn/cpp/ttnn/operations/experimental/ccl/reduce_scatter_minimal_async/device/kernels/
  line_reduce_scatter_minimal_async_reader.cpp): the slice owned by position s gathers a forward partial
  F = ((x0 + x1) + ...) + x(s-1) and a backward one B = ((x(N-1) + x(N-2)) + ...) + x(s+1); s adds its own
  slice to F first, then B: (x_s + F) + B (s = 0 has no F, s = N-1 no B).
- Ring (ring_reduce_scatter_minimal_async_reader.cpp): two directions each carry part of every slice once
  around the ring. The direction that starts at slice my_chip_id - 1 sums slice s in the order
  x(s+1), x(s+2), ..., x(s-1), then x_s; the other x(s-1), x(s-2), ..., x(s+1), then x_s. The tiles of each
  slice (row-major over its tile grid, per channel) alternate between the directions in chunks: first
  min(remaining / 2, G) tiles to the first direction, then min(remaining, G) to the other, where G (the
  kernel's tile_granularity) is 8 tiles for bfloat16 / bfloat4_b, 12 for bfloat8_b, 4 for float32 (4 x the
  tiles of one 4 KB fabric packet, 8 once a packet holds 4: reduce_scatter_minimal_async_program.cpp). This
  models one worker per direction; with several links / workers per link the device splits the tile range
  between workers and each alternates within its share, so the direction of a tile can differ there.
- Composite (a ROW_MAJOR input, or a scatter that splits tiles; all_reduce without a scatter dim): all-gather
  then a local sum over the chips in ring order 0..N-1, rounding after each addition.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from ..types import DataType
from . import formats

TILE = 32


def tile_granularity(dtype: DataType) -> int:
    """Tiles a reduce-scatter worker moves per chunk: 4 x the tiles one fabric packet (4096 B payload) holds,
    8 once a packet holds 4 or more (reduce_scatter_minimal_async_program.cpp, tile_granularity)."""
    per_packet = min(4, max(1, 4096 // formats.tile_bytes(dtype)))
    return 4 * per_packet if per_packet < 4 else 8


@functools.lru_cache(maxsize=64)
def ring_direction_mask(height: int, width: int, granularity: int) -> torch.Tensor:
    """Which elements of a [height, width] slice plane the first direction reduces (True) in a ring
    reduce-scatter: its tiles, row-major, dealt in alternating chunks (see the module docstring). Cached:
    callers only read it."""
    ht, wt = math.ceil(height / TILE), math.ceil(width / TILE)
    total = ht * wt
    first = torch.zeros(total, dtype=torch.bool)
    read = 0
    while read < total:
        take = min((total - read) // 2, granularity)
        first[read : read + take] = True
        read += take
        read += min(total - read, granularity)
    tiles = first.reshape(ht, wt)
    full = tiles.repeat_interleave(TILE, 0).repeat_interleave(TILE, 1)
    return full[:height, :width]


def accumulate(terms: Sequence[torch.Tensor], dtype: DataType) -> torch.Tensor:
    acc = terms[0]
    for t in terms[1:]:
        acc = formats.quantize(acc + t, dtype, formats.PACKER)
    return acc


def reduce_slices(
    slices: Sequence[Sequence[torch.Tensor]], dtype: DataType, ring: bool, composite: bool
) -> list[torch.Tensor]:
    """The reduced slice each position of a line keeps: `slices[p][s]` is position p's share for position s
    (float32 values in `dtype`), on a ring or a line. Orders as the device adds them (module docstring)."""
    n = len(slices)
    out = []
    for s in range(n):
        x = [slices[p][s] for p in range(n)]
        if composite:
            out.append(accumulate(x, dtype))
        elif ring:
            first = accumulate([x[(s + k) % n] for k in range(1, n)] + [x[s]], dtype)
            second = accumulate([x[(s - k) % n] for k in range(1, n)] + [x[s]], dtype)
            h, w = (x[s].shape[-2], x[s].shape[-1]) if x[s].dim() >= 2 else (1, x[s].shape[-1])
            mask = ring_direction_mask(h, w, tile_granularity(dtype))
            out.append(torch.where(mask, first, second))
        else:
            acc = x[s]
            if s > 0:
                acc = formats.quantize(acc + accumulate(x[:s], dtype), dtype, formats.PACKER)
            if s < n - 1:
                backward = accumulate(x[s + 1 :][::-1], dtype)
                acc = formats.quantize(acc + backward, dtype, formats.PACKER)
            out.append(acc)
    return out
