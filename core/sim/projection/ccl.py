"""Device time of collective ops (all-gather, reduce-scatter, all-reduce) from the traffic their records carry
(core/sim/ops/ccl.py) and the board's ethernet fabric (core/sim/boards.py).

A collective is bound by its busiest directed link: `busiest_link_bytes` over the links the op uses between
two neighbours (num_links, at most what the board has along the axis) at the link's bandwidth, plus one fabric
hop latency per sequential step (ring: ceil((N-1)/2) steps for an all-gather, N-1 for a reduce-scatter; line:
N-1), the local DRAM reads and writes (input, output, reduce-scatter's intermediate written and read back) and
the reduce-scatter's additions (one FPU pass per tile of input), overlapped like the other ops' terms. The
link bandwidth is the theoretical one (12.5 GB/s per direction per Wormhole link); tt-metal's CCL measurements
reach a fraction of it, so treat these figures as a lower bound on the device time, good for comparing
topologies, link counts and sizes.
"""

from __future__ import annotations

import math

from ..boards import Board
from ..records import OpRecord, Projection
from .calibration import CALIBRATION
from .ops import FPU_PASS, _data_ns, _tiles

_DEFAULT_LINK_GBPS = 12.5  # a record made without a fabric description (not expected: CCLs need >= 2 chips)


def is_collective(record: OpRecord) -> bool:
    return "collective" in record.config.attributes


def links_used(board: Board, requested: int, cluster_axis: int | None) -> int:
    """The links a collective runs over: what it asked for, at most what the board has along its axis."""
    fabric = board.fabric
    if fabric is None:
        return max(1, requested)
    available = fabric.links[cluster_axis] if cluster_axis in (0, 1) else min(fabric.links)
    return max(1, min(requested, available))


def project_ccl(board: Board, record: OpRecord) -> Projection:
    attrs = record.config.attributes
    cal = CALIBRATION[board.arch]
    fabric = board.fabric
    link_gbps = fabric.link_gbps if fabric is not None else _DEFAULT_LINK_GBPS
    hop_ns = fabric.hop_latency_ns if fabric is not None else 0.0
    axis = attrs.get("cluster_axis")
    links = links_used(board, int(attrs.get("num_links") or 1), axis)
    busiest = float(attrs.get("busiest_link_bytes", 0))
    link_ns = busiest / (link_gbps * links)
    latency_ns = int(attrs.get("steps", 0)) * hop_ns
    kind = attrs.get("collective")
    x = record.inputs[0]
    out = record.outputs[0]
    moved = [(x, 1.0), (out, 1.0)]
    cores = 4 * links  # a reader / writer worker per direction and link (the CCL's worker cores)
    compute_ns = 0.0
    if kind in ("reduce_scatter", "all_reduce"):
        moved.append((x, 2.0))  # the intermediate partials: written by the neighbour, read back
        compute_ns = math.ceil(_tiles(x) / cores) * FPU_PASS / board.perf.clock_ghz
    data_ns = max(link_ns, _data_ns(board, moved, cores))
    q = cal.overlap_power
    device_ns = cal.kernel_fixed_ns + latency_ns + (compute_ns**q + data_ns**q) ** (1 / q)
    all_links = fabric.links[axis] if fabric is not None and axis in (0, 1) else links
    ideal_ns = busiest / (link_gbps * max(links, all_links)) + latency_ns
    return Projection(
        device_ns=device_ns,
        compute_ns=compute_ns,
        data_ns=data_ns,
        fixed_ns=cal.kernel_fixed_ns + latency_ns,
        cores=cores,
        ideal_ns=ideal_ns,
        host_ns=cal.host_dispatch_ns,
    )
