"""Program configs for prefill-shaped linears: the 2D multicast matmul over the whole core grid, the way
tt-metal's model code configures its prefill matmuls (models/tt_transformers/tt/model_config.py
matmul_config) instead of leaving the choice to ttnn.

Why not ttnn's own choice: without a program config ttnn sizes square 16-tile blocks first, and a problem of
one block row (M <= 512 rows on Wormhole) runs the 1D config, where a single core reads all of A and multicasts
it; with a large K it takes in0_block_w = Kt / grid_x and then shrinks the output block until the buffers fit
L1, re-reading A once per output block column (matmul_program_config.cpp, create_simple_matmul_program_config;
core/sim/projection/matmul.py follows both). The 2D config spreads M over the grid's rows and N over its
columns, every row and column of cores reading its share, with a K block that keeps the buffers small.

Use it where the projection shows it pays (`ttport run ... --json`, top ops): M of a few hundred to a few
thousand rows, K and N of several tiles each. Decode-shaped linears (a few rows) stay on ttnn's 1D choice.
"""

from __future__ import annotations

import math
from typing import Any

from ttport.backend import ttnn

TILE = 32
# in0_block_w candidates, largest first: K blocks of 8 tiles keep in0's double buffer at
# 2 * per_core_M * 8 tiles while amortising the per-block synchronisation.
_K_BLOCKS = (8, 4, 2, 1)


def dest_tiles(fp32_dest_acc_en: bool) -> int:
    """Output tiles one Dst half holds (ttnn get_dest_reg_count, half sync): 8 bf16, 4 fp32."""
    return 4 if fp32_dest_acc_en else 8


def multicast_2d_config(
    device: Any,
    rows: int,
    k: int,
    n: int,
    *,
    fp32_dest_acc_en: bool,
    activation: Any = None,
) -> Any:
    """MatmulMultiCoreReuseMultiCastProgramConfig for [rows, k] @ [k, n] on `device`'s whole grid, the batch
    fused into M (rows = batch x sequence). `activation` is fused into the matmul (a ttnn.UnaryWithParam): with
    a program config ttnn takes the activation from the config, not from the call."""
    grid = device.compute_with_storage_grid_size()
    mt, kt, nt = math.ceil(rows / TILE), math.ceil(k / TILE), math.ceil(n / TILE)
    per_core_m = math.ceil(mt / grid.y)
    per_core_n = math.ceil(nt / grid.x)
    in0_block_w = next(w for w in _K_BLOCKS if kt % w == 0)
    limit = dest_tiles(fp32_dest_acc_en)
    subblock_w = next(w for w in (4, 3, 2, 1) if per_core_n % w == 0 and w <= limit)
    # a subblock taller than one tile must span the whole block width (matmul_device_operation.cpp)
    tall = subblock_w == per_core_n
    subblock_h = next(
        h for h in (4, 3, 2, 1) if per_core_m % h == 0 and h * subblock_w <= limit and (tall or h == 1)
    )
    return ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(grid.x, grid.y),
        in0_block_w=in0_block_w,
        out_subblock_h=subblock_h,
        out_subblock_w=subblock_w,
        per_core_M=per_core_m,
        per_core_N=per_core_n,
        transpose_mcast=False,
        fused_activation=activation,
        fuse_batch=True,
    )


def rows_of(x: Any) -> int:
    """The rows a linear sees in `x` [..., S, K]: every leading dim times the (tile-padded) sequence."""
    shape = list(x.padded_shape)
    return math.prod(shape[:-1])
