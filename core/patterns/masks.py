"""Attention masks built on the host in torch and uploaded once as bf16 TILE tensors in DRAM.

Masks are additive: 0 where a query may attend a key, a large negative number where it may not. The
negative is bfloat16's lowest finite value, not -inf, so a fully masked row gives a finite softmax input
instead of NaN, and the value survives the bf16 conversion unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

from ttport.backend import ttnn

NEG = torch.finfo(torch.bfloat16).min


def additive(allowed: torch.Tensor) -> torch.Tensor:
    """Boolean "may attend" [..., Sq, Sk] -> float32 additive mask (0 / NEG)."""
    return torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed.bool(), NEG)


def causal_mask(seq_len: int, kv_len: int | None = None) -> torch.Tensor:
    """[1, 1, Sq, Sk] additive causal mask; with kv_len > seq_len the queries are the last Sq positions
    (decode with a cache), like HF's causal mask."""
    kv_len = seq_len if kv_len is None else kv_len
    q_pos = torch.arange(kv_len - seq_len, kv_len).unsqueeze(-1)
    k_pos = torch.arange(kv_len).unsqueeze(0)
    return additive(k_pos <= q_pos)[None, None]


def padding_mask(attention_mask: torch.Tensor, seq_len: int | None = None) -> torch.Tensor:
    """HF-style [B, Sk] 1/0 key mask -> [B, 1, Sq, Sk] additive mask (SDPA wants the full Sq rows)."""
    batch, kv_len = attention_mask.shape
    seq_len = kv_len if seq_len is None else seq_len
    allowed = attention_mask.bool()[:, None, None, :].expand(batch, 1, seq_len, kv_len)
    return additive(allowed)


def combine(*masks: torch.Tensor) -> torch.Tensor:
    """Sum of additive masks, clamped so two NEGs stay finite in bf16."""
    total = masks[0]
    for m in masks[1:]:
        total = total + m
    return total.clamp(min=NEG)


def to_device(mask: torch.Tensor, device: Any, *, mesh_mapper: Any = None) -> Any:
    """Upload a mask as SDPA and ttnn.add expect it: bfloat16, TILE, DRAM."""
    return ttnn.from_torch(
        mask,
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=device,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
        mesh_mapper=mesh_mapper,
    )
