"""Simulated Tenstorrent boards: grid size, L1 per core and DRAM banks (TTNN_FACTS §7)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    name: str
    arch: str  # "wormhole_b0" or "blackhole", as ttnn.get_arch_name() reports
    chips: int
    grid: tuple[int, int]  # compute_with_storage_grid_size (x, y)
    l1_bank_size: int  # usable bytes per worker core's L1 bank
    dram_banks: int
    dram_bank_size: int

    @property
    def dram_bytes(self) -> int:
        return self.dram_banks * self.dram_bank_size

    @property
    def l1_banks(self) -> int:
        return self.grid[0] * self.grid[1]


# Wormhole bank sizes are those the allocator reports (bank_manager.cpp: DRAM 1073741792 B x 12 banks,
# 1329888 B usable L1 per core of the 1464 KiB). Blackhole p150: 32 GB over 8 banks; its usable L1 share is
# taken in the same proportion of 1536 KiB (approximation, no probe available).
BOARDS: dict[str, Board] = {
    "n150": Board("n150", "wormhole_b0", 1, (8, 8), 1329888, 12, 1073741792),
    "n300": Board("n300", "wormhole_b0", 2, (8, 8), 1329888, 12, 1073741792),
    "p150": Board("p150", "blackhole", 1, (13, 10), 1395424, 8, 4294967264),
}

DEFAULT_BOARD = "n150"


def get_board(name: str | None = None) -> Board:
    """The board named, else TTPORT_BOARD, else Wormhole n150."""
    name = name or os.environ.get("TTPORT_BOARD") or DEFAULT_BOARD
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown simulated board {name!r}; choose one of {', '.join(BOARDS)}") from None
