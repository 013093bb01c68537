"""Mamba's selective scan on TTNN, in the shape of tt-metal's demo (models/demos/wormhole/mamba/tt/
mamba_ssm.py): the state of each of the E channels is N = 32 wide (16 + zero padding) and laid out as one
row of E * 32 values, channel-major, so the kernels of ttnn.experimental do the broadcasting:

    Δ    = softplus(Δt_proj(Δt_in(x)) + bias)                      [L, E]
    Ā    = exp(A ⊗ Δ)       repeat_and_interleave_eltwise_mul       [L, E*32]
    B̄x   = (B(x) ⊗ Δ) ⊗ x   repeat_and_interleave_eltwise_mul x 2   [L, E*32]
    h_t  = Ā_t h_{t-1} + B̄x_t   prefix_scan (prefill) / multiply + add (decode)
    y    = hc_sum_reduce(C(x) ⊗ h) + D x

The scan runs over chunks of at most 32 rows (the demo's prefill chunk: prefix_scan's inputs are sharded
in L1 over the core grid, 32 rows of E * 32 values each), h carried from chunk to chunk; the kernels size
their outputs from the padded rows (a 32-row tile), so the rows past a chunk's own are sliced off. A decode
step (one row) slices its row out right after each kernel, so the next op works on that row only. The
recurrent state h stays on device between calls.
"""

from __future__ import annotations

from typing import Any

from ttport.backend import ttnn
from ttport.models.siglip.common import matmul_compute_config

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
        self.A_prefill = weights["A_prefill"]
        self.A_decode = weights["A_decode"]
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
        """Rows [start, stop) of x; x itself when that is all of it."""
        if (start, stop) == (0, x.shape[-2]):
            return x
        return ttnn.slice(x, (0, 0, start, 0), (1, 1, stop, x.shape[-1]))

    def forward(self, x: Any, h: Any, decode: bool) -> tuple[Any, Any]:
        """x [1, 1, L, E] bfloat16 TILE, h [1, 1, 1, E*32] -> (y [1, 1, L, E], h after the L rows); chunks of
        at most 32 rows, h carried between them (the caller's h is left allocated)."""
        length = x.shape[-2]
        if decode or length <= TILE:
            return self._chunk(x, h, decode)
        outputs, state = [], h
        for start in range(0, length, TILE):
            chunk = self._rows(x, start, min(start + TILE, length))
            y, new_state = self._chunk(chunk, state, decode)
            ttnn.deallocate(chunk)
            if state is not h:
                ttnn.deallocate(state)
            outputs.append(y)
            state = new_state
        out = ttnn.concat(outputs, dim=2)
        for t in outputs:
            ttnn.deallocate(t)
        return out, state

    __call__ = forward

    def _chunk(self, x: Any, h: Any, decode: bool) -> tuple[Any, Any]:
        """x [1, 1, L, E] (L <= 32), h -> (y [1, 1, L, E], new h)."""
        rows = x.shape[-2]
        mul = ttnn.experimental.repeat_and_interleave_eltwise_mul
        dt_low = self._linear(x, self.dt_in_proj)
        dt_linear = self._linear(dt_low, self.dt_proj, self.dt_bias)
        ttnn.deallocate(dt_low)
        delta = ttnn.softplus(dt_linear, beta=1.0, threshold=20.0)
        ttnn.deallocate(dt_linear)

        if decode:
            a_bar = self._exp_rows(mul(self.A_decode, delta), rows)
            b = self._linear(x, self.b_proj)
            b_bar = self._keep_rows(mul(b, delta), rows)
            bx = self._keep_rows(mul(b_bar, x), rows)
            states = new_h = self._step(a_bar, bx, h)
        else:
            # a partial chunk's rows past its own hold -inf * 0 = NaN (A's padding times Δ's): cut before exp
            a_bar = self._exp_rows(mul(self.A_prefill, delta), rows)
            b = self._linear(x, self.b_proj)
            b_bar = mul(b, delta)
            bx = mul(b_bar, x)
            states = self._scan(a_bar, bx, h, rows)
            new_h = self._rows(states, rows - 1, rows)
        ttnn.deallocate(b)
        ttnn.deallocate(b_bar)
        ttnn.deallocate(delta)

        c = self._linear(x, self.c_proj)
        c_h = self._keep_rows(mul(c, states), rows)  # the reduction then sums the live rows only
        ttnn.deallocate(c)
        if states is not new_h:
            ttnn.deallocate(states)
        y_padded = ttnn.experimental.hc_sum_reduce(c_h)
        ttnn.deallocate(c_h)
        y = self._keep_rows(y_padded, rows)
        skip = ttnn.multiply(x, self.D)
        out = ttnn.add(y, skip)
        ttnn.deallocate(y)
        ttnn.deallocate(skip)
        return out, new_h

    def _keep_rows(self, x: Any, rows: int) -> Any:
        """x's first `rows` rows (a kernel's output carries the whole 32-row tile)."""
        kept = self._rows(x, 0, rows)
        if kept is not x:
            ttnn.deallocate(x)
        return kept

    def _exp_rows(self, a_delta: Any, rows: int) -> Any:
        """exp(A·Δ) on the first `rows` rows."""
        a_delta = self._keep_rows(a_delta, rows)
        a_bar = ttnn.exp(a_delta)
        ttnn.deallocate(a_delta)
        return a_bar

    def _step(self, a_bar: Any, bx: Any, h: Any) -> Any:
        """Decode: h = Ā h + B̄x on the step's row (the demo's multiply + add)."""
        decayed = ttnn.multiply(a_bar, h)
        ttnn.deallocate(a_bar)
        new_h = ttnn.add(decayed, bx)
        ttnn.deallocate(decayed)
        ttnn.deallocate(bx)
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
        return self._keep_rows(interleaved, rows)
