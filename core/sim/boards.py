"""Simulated Tenstorrent boards: grid size, L1 per core and DRAM banks (TTNN_FACTS §7), the performance
figures the device-time projection (core/sim/projection) builds on, and the ethernet fabric between the chips
of multi-chip boards (what the collective ops run over). One table, a source for every number."""

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
class Fabric:
    """The ethernet links between neighbouring chips of a multi-chip board (what CCL ops move data over).

    `links` is how many links a CCL op can use between two neighbours along mesh axis 0 / axis 1 (ttnn's default
    num_links); `wraps` is the mesh shapes whose axes close into a ring (the chips at both ends of an axis are
    linked), as (rows, cols, axis)."""

    link_gbps: float  # one ethernet link, GB/s per direction
    links: tuple[int, int]  # usable links between neighbours along mesh axis 0 / 1
    wraps: frozenset[tuple[int, int, int]] = frozenset()  # (rows, cols, axis) whose axis is a ring
    hop_latency_ns: float = 0.0  # one fabric hop (router + ethernet), per message

    def is_ring(self, rows: int, cols: int, axis: int) -> bool:
        """Whether `axis` of a rows x cols mesh on this board wraps around (a Ring topology is usable)."""
        return (rows, cols, axis) in self.wraps


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
    fabric: Fabric | None = None  # ethernet between chips (None: a single-chip board)
    mesh_shapes: tuple[tuple[int, int], ...] = ()  # the mesh shapes the board is built as (documentation)

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

# Ethernet fabric of the Wormhole multi-chip boards, with their sources:
# - link bandwidth: a Wormhole chip has 16 ethernet ports of 100 Gb/s (Tenstorrent Wormhole product pages and
#   tt-metal tech_reports/EthernetMultichip/BasicEthernetGuide.md): 12.5 GB/s per direction per link
#   (theoretical; the fabric's packet headers take a few percent of it).
# - links a CCL op uses between neighbours: n300 and T3K 1 per axis, Galaxy (TG) 4 along axis 0 and 3 along
#   axis 1 (tt-metal models/tt_transformers/tt/ccl.py, get_num_links' link_dict "N300": (1, 1), "T3K": (1, 1),
#   "TG": (4, 3)).
# - topology: T3K's 8 chips are cabled as a ring, so a 1x8 (or 8x1) mesh wraps and ttnn's Ring topology is
#   usable on it; a 2x4 view has no wraparound on either axis (rows of 4 and columns of 2 are lines), nor has an
#   n300 (two chips) or a 4x8 Galaxy mesh as tt_transformers drives it (Topology.Linear on both axes;
#   ttnn.get_usable_topology demotes Ring to Linear where the axis does not wrap).
# - hop latency: ~1 us per fabric hop and message (router + ethernet), an estimate of the order tt-metal's
#   fabric latency tests report, not a measurement.
_WH_LINK_GBPS = 12.5
_WH_HOP_NS = 1000.0

BOARDS: dict[str, Board] = {
    "n150": Board("n150", "wormhole_b0", 1, (8, 8), 1329888, 12, 1073741792, _WORMHOLE),
    "n300": Board(
        "n300", "wormhole_b0", 2, (8, 8), 1329888, 12, 1073741792, _WORMHOLE,
        Fabric(_WH_LINK_GBPS, (1, 1), frozenset(), _WH_HOP_NS), ((1, 2),),
    ),
    "p150": Board("p150", "blackhole", 1, (13, 10), 1395424, 8, 4294967264, _BLACKHOLE),
    # T3000: four n300 cards, 8 Wormhole chips (docs.tenstorrent.com TT-LoudBox / QuietBox T3000).
    "t3k": Board(
        "t3k", "wormhole_b0", 8, (8, 8), 1329888, 12, 1073741792, _WORMHOLE,
        Fabric(_WH_LINK_GBPS, (1, 1), frozenset({(1, 8, 1), (8, 1, 0)}), _WH_HOP_NS), ((1, 8), (2, 4)),
    ),
    # Galaxy: 32 Wormhole chips in a 4x8 mesh (tt-metal's TG configuration; models/tt_transformers MeshShape(8, 4)
    # or (4, 8)).
    "galaxy": Board(
        "galaxy", "wormhole_b0", 32, (8, 8), 1329888, 12, 1073741792, _WORMHOLE,
        Fabric(_WH_LINK_GBPS, (4, 3), frozenset(), _WH_HOP_NS), ((4, 8),),
    ),
}  # fmt: skip

DEFAULT_BOARD = "n150"


def get_board(name: str | None = None) -> Board:
    """The board named, else TTPORT_BOARD, else Wormhole n150."""
    name = name or os.environ.get("TTPORT_BOARD") or DEFAULT_BOARD
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown simulated board {name!r}; choose one of {', '.join(BOARDS)}") from None
