"""Simulated Tenstorrent boards: grid size, L1 per core and DRAM banks (TTNN_FACTS §7), and the performance
figures the device-time projection (core/sim/projection) builds on. One table, a source for every number."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class BoardPerf:
    """Published performance figures of one chip of a board (what the cost projection divides by)."""

    clock_ghz: float  # Tensix (AI) clock
    dram_gbps: float  # peak DRAM bandwidth of one chip, GB/s
    l1_kib: int  # L1 per Tensix core
    noc_bytes_per_cycle: int  # one NoC link, bytes per clock
    pcie_gbps: float  # host link, GB/s per direction (theoretical)
    worker_cores_profiler: int  # AVAILABLE WORKER CORE COUNT tt-perf-report assumes for the arch


@dataclass(frozen=True)
class Board:
    name: str
    arch: str  # "wormhole_b0" or "blackhole", as ttnn.get_arch_name() reports
    chips: int
    grid: tuple[int, int]  # compute_with_storage_grid_size (x, y)
    l1_bank_size: int  # usable bytes per worker core's L1 bank
    dram_banks: int
    dram_bank_size: int
    perf: BoardPerf

    @property
    def dram_bytes(self) -> int:
        return self.dram_banks * self.dram_bank_size

    @property
    def l1_banks(self) -> int:
        return self.grid[0] * self.grid[1]


# Wormhole bank sizes are those the allocator reports (bank_manager.cpp: DRAM 1073741792 B x 12 banks,
# 1329888 B usable L1 per core of the 1464 KiB). Blackhole p150: 32 GB over 8 banks; its usable L1 share is
# taken in the same proportion of 1536 KiB (approximation, no probe available).
#
# Performance figures, with their sources:
# - clock: Wormhole 1.0 GHz, Blackhole 1.35 GHz (tt-metal tech_reports/GEMM_FLOPS/GEMM_FLOPS.md, "Matrix
#   Multiplication TFLOPS on Wormhole/Blackhole").
# - DRAM: n150 288 GB/s (12 GB GDDR6), n300 576 GB/s over its 2 chips = 288 per chip, p150 512 GB/s (32 GB)
#   (docs.tenstorrent.com board specifications; TTNN_FACTS §7).
# - L1 per Tensix: Wormhole 1464 KiB, Blackhole 1536 KiB (TTNN_FACTS §11; tech_reports/Blackhole/
#   BlackholeBringUpProgrammingGuide.md).
# - NoC link width: Wormhole 32 B/clock, Blackhole 64 B/clock (BlackholeBringUpProgrammingGuide.md, "NoC").
# - PCIe: Wormhole boards PCIe 4.0 x16 (32 GB/s per direction), p150 PCIe 5.0 x16 (64 GB/s)
#   (docs.tenstorrent.com board specifications).
# - worker cores tt-perf-report assumes: 64 (Wormhole), 110 (Blackhole) (TTNN_FACTS §11).
_WORMHOLE = BoardPerf(
    clock_ghz=1.0,
    dram_gbps=288.0,
    l1_kib=1464,
    noc_bytes_per_cycle=32,
    pcie_gbps=32.0,
    worker_cores_profiler=64,
)
_BLACKHOLE = BoardPerf(
    clock_ghz=1.35,
    dram_gbps=512.0,
    l1_kib=1536,
    noc_bytes_per_cycle=64,
    pcie_gbps=64.0,
    worker_cores_profiler=110,
)

BOARDS: dict[str, Board] = {
    "n150": Board("n150", "wormhole_b0", 1, (8, 8), 1329888, 12, 1073741792, _WORMHOLE),
    "n300": Board("n300", "wormhole_b0", 2, (8, 8), 1329888, 12, 1073741792, _WORMHOLE),
    "p150": Board("p150", "blackhole", 1, (13, 10), 1395424, 8, 4294967264, _BLACKHOLE),
}

DEFAULT_BOARD = "n150"


def get_board(name: str | None = None) -> Board:
    """The board named, else TTPORT_BOARD, else Wormhole n150."""
    name = name or os.environ.get("TTPORT_BOARD") or DEFAULT_BOARD
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown simulated board {name!r}; choose one of {', '.join(BOARDS)}") from None
