"""Mamba's selective scan on TTNN, in the shape of tt-metal's demo (models/demos/wormhole/mamba/tt/
mamba_ssm.py): the state of each of the E channels is N = 32 wide (16 + zero padding) and laid out as one
row of E * 32 values, channel-major, so the kernels of ttnn.experimental do the broadcasting:

    Δ    = softplus(Δt_proj(Δt_in(x)) + bias)                      [L, E]
    Ā    = exp(A ⊗ Δ)       repeat_and_interleave_eltwise_mul       [L, E*32]
    B̄x   = (B(x) ⊗ Δ) ⊗ x   repeat_and_interleave_eltwise_mul x 2   [L, E*32]
    h_t  = Ā_t h_{t-1} + B̄x_t   prefix_scan (prefill) / multiply + add (decode)
    y    = hc_sum_reduce(C(x) ⊗ h) + D x

The kernels size their outputs from the padded rows (a 32-row tile), so each chunk is at most 32 rows
and the rows past the chunk's own are sliced off. The recurrent state h stays on device between calls.
"""

from __future__ import annotations

from typing import Any

from core.backend import ttnn
from models.siglip.common import matmul_compute_config

from .presets import LATENT

TILE = 32
#: prefix_scan wants a, bx and h_prev sharded (prefix_scan_device_operation.cpp); the demo width-shards
#: them over the 8 x 8 grid (models/demos/wormhole/mamba/tt/model_config.py "sharded_scan")
SCAN_GRID = (8, 8)


class MambaSSMTTNN:
    def __init__(self, weights: dict[str, Any], intermediate_size: int):
        self.width = intermediate_size * LATENT
        self.dt_in_proj = weights["dt_in_proj"]
        self.dt_proj = weights["dt_proj"]
        self.dt_bias = weights["dt_bias"]
        self.b_proj = weights["b_proj"]
        self.c_proj = weights["c_proj"]
        self.A = weights["A"]
        self.D = weights["D"]
        self.compute_kernel_config = matmul_compute_config(ttnn.bfloat16)
        grid = ttnn.CoreGrid(y=SCAN_GRID[0], x=SCAN_GRID[1])
        self.scan_memory_config = ttnn.create_sharded_memory_config(
            shape=(1, 1, TILE, self.width), core_grid=grid, strategy=ttnn.ShardStrategy.WIDTH
        )
        self.state_memory_config = ttnn.create_sharded_memory_config(
            shape=(1, 1, 1, self.width), core_grid=grid, strategy=ttnn.ShardStrategy.WIDTH
        )

    def initial_state(self, device: Any) -> Any:
        return ttnn.zeros((1, 1, 1, self.width), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)

    def _linear(self, x: Any, weight: Any, bias: Any = None) -> Any:
        return ttnn.linear(x, weight, bias=bias, compute_kernel_config=self.compute_kernel_config)

    @staticmethod
    def _rows(x: Any, start: int, stop: int) -> Any:
        return ttnn.slice(x, (0, 0, start, 0), (1, 1, stop, x.shape[-1]))

    def forward(self, x: Any, h: Any, decode: bool) -> tuple[Any, Any]:
        """x [1, 1, L, E] bfloat16 TILE (L <= 32), h [1, 1, 1, E*32] -> (y [1, 1, L, E], new h)."""
        rows = x.shape[-2]
        mul = ttnn.experimental.repeat_and_interleave_eltwise_mul
        dt_low = self._linear(x, self.dt_in_proj)
        dt_linear = self._linear(dt_low, self.dt_proj, self.dt_bias)
        ttnn.deallocate(dt_low)
        delta = ttnn.softplus(dt_linear, beta=1.0, threshold=20.0)
        ttnn.deallocate(dt_linear)

        a_delta = mul(self.A, delta)
        a_bar = ttnn.exp(a_delta)
        ttnn.deallocate(a_delta)
        b = self._linear(x, self.b_proj)
        b_bar = mul(b, delta)
        ttnn.deallocate(b)
        ttnn.deallocate(delta)
        bx = mul(b_bar, x)
        ttnn.deallocate(b_bar)

        if decode:
            states = self._step(a_bar, bx, h, rows)
            new_h = states
        else:
            states = self._scan(a_bar, bx, h, rows)
            new_h = self._rows(states, rows - 1, rows)

        c = self._linear(x, self.c_proj)
        c_h = mul(c, states)
        ttnn.deallocate(c)
        if states is not new_h:
            ttnn.deallocate(states)
        y_padded = ttnn.experimental.hc_sum_reduce(c_h)
        ttnn.deallocate(c_h)
        y = self._rows(y_padded, 0, rows)
        ttnn.deallocate(y_padded)
        skip = ttnn.multiply(x, self.D)
        out = ttnn.add(y, skip)
        ttnn.deallocate(y)
        ttnn.deallocate(skip)
        return out, new_h

    __call__ = forward

    def _step(self, a_bar: Any, bx: Any, h: Any, rows: int) -> Any:
        """Decode: h = Ā h + B̄x on the chunk's single row (the demo's multiply + add)."""
        a_row, bx_row = self._rows(a_bar, 0, rows), self._rows(bx, 0, rows)
        ttnn.deallocate(a_bar)
        ttnn.deallocate(bx)
        decayed = ttnn.multiply(a_row, h)
        ttnn.deallocate(a_row)
        new_h = ttnn.add(decayed, bx_row)
        ttnn.deallocate(decayed)
        ttnn.deallocate(bx_row)
        return new_h

    def _scan(self, a_bar: Any, bx: Any, h: Any, rows: int) -> Any:
        """Prefill: every state of the chunk from ttnn.experimental.prefix_scan, its rows [0, rows)."""
        a_sharded = ttnn.to_memory_config(a_bar, self.scan_memory_config)
        bx_sharded = ttnn.to_memory_config(bx, self.scan_memory_config)
        ttnn.deallocate(a_bar)
        ttnn.deallocate(bx)
        h_row_major = ttnn.to_layout(h, ttnn.ROW_MAJOR_LAYOUT)
        h_sharded = ttnn.to_memory_config(h_row_major, self.state_memory_config)
        ttnn.deallocate(h_row_major)
        scanned = ttnn.experimental.prefix_scan(a_sharded, bx_sharded, h_sharded)
        for t in (a_sharded, bx_sharded, h_sharded):
            ttnn.deallocate(t)
        interleaved = ttnn.to_memory_config(scanned, ttnn.DRAM_MEMORY_CONFIG)
        ttnn.deallocate(scanned)
        states = self._rows(interleaved, 0, rows)
        ttnn.deallocate(interleaved)
        return states
