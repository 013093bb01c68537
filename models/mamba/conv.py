"""Mamba's causal depthwise conv1d on TTNN, with its state (the last K-1 inputs).

As tt-metal's Mamba demo does for prefill (models/demos/wormhole/mamba/tt/mamba_block.py): the state rows
and the new rows are concatenated in ROW_MAJOR along the sequence, and the output row t is
sum_k w[k] * window[t + k] + bias, one ttnn.multiply per tap on a shifted slice of the window. One new row
(a decode step) has a single output row: the whole K-row window times the K taps stacked as rows, summed
over the rows (7 ops instead of the 16 of the per-tap path; the sum accumulates in float32 Dst). The new
state is the window's last K-1 rows. SiLU follows (the mixer's act).
"""

from __future__ import annotations

from typing import Any

from ttport.backend import ttnn
from ttport.models.siglip.common import precise_compute_config


class MambaConvTTNN:
    def __init__(self, weights: dict[str, Any], kernel_size: int, channels: int):
        self.kernel_size = kernel_size
        self.channels = channels
        self.taps = [weights[f"conv_tap{k}"] for k in range(kernel_size)]
        self.stacked_taps = weights["conv_taps"]  # [1, 1, K, E]: tap k in row k
        self.bias = weights["conv_bias"]
        self.sum_config = precise_compute_config()

    def initial_state(self, device: Any) -> Any:
        return ttnn.zeros(
            (1, 1, self.kernel_size - 1, self.channels),
            dtype=ttnn.bfloat16,
            layout=ttnn.ROW_MAJOR_LAYOUT,
            device=device,
        )

    def forward(self, x: Any, state: Any) -> tuple[Any, Any]:
        """x [1, 1, L, E] bfloat16 TILE, state [1, 1, K-1, E] ROW_MAJOR -> (silu(conv(x)), new state)."""
        rows = x.shape[-2]
        x_row_major = ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT)
        window = ttnn.concat([state, x_row_major], dim=2)
        ttnn.deallocate(x_row_major)
        new_state = ttnn.slice(window, (0, 0, rows, 0), (1, 1, rows + self.kernel_size - 1, self.channels))
        out = self._one_row(window) if rows == 1 else self._rows(window, rows)
        ttnn.deallocate(window)
        biased = ttnn.add(out, self.bias)
        ttnn.deallocate(out)
        activated = ttnn.silu(biased)
        ttnn.deallocate(biased)
        return activated, new_state

    __call__ = forward

    def _one_row(self, window: Any) -> Any:
        """The one output row of a K-row window: sum over the rows of window * stacked taps."""
        products = ttnn.multiply(window, self.stacked_taps)
        out = ttnn.sum(products, dim=2, keepdim=True, compute_kernel_config=self.sum_config)
        ttnn.deallocate(products)
        return out

    def _rows(self, window: Any, rows: int) -> Any:
        """`rows` output rows of a (rows + K - 1)-row window: one multiply per tap on a shifted slice."""
        out = None
        for k, tap in enumerate(self.taps):
            shifted = ttnn.slice(window, (0, 0, k, 0), (1, 1, k + rows, self.channels))
            product = ttnn.multiply(shifted, tap)
            ttnn.deallocate(shifted)
            if out is None:
                out = product
            else:
                total = ttnn.add(out, product)
                ttnn.deallocate(out)
                ttnn.deallocate(product)
                out = total
        return out
