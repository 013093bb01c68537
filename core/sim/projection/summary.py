"""Projected times per component (the runner's signposts) and for the whole run, and the top ops."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ..boards import Board
from ..records import OpRecord, TransferRecord
from .calibration import CALIBRATION
from .ops import project_transfer

OUTSIDE = "(outside components)"


@dataclass
class ComponentTime:
    """Projected times of the ops run under one signpost. On a mesh the chips run in parallel: each figure is
    the slowest chip's."""

    name: str
    ops: int = 0  # device ops per chip (the busiest chip)
    device_ns: float = 0.0  # sum of device kernel durations
    trace_ns: float = 0.0  # replayed from a trace: kernels + trace op-to-op gaps
    no_trace_ns: float = 0.0  # dispatched op by op: max(host enqueue total, kernels + gaps)
    transfer_ns: float = 0.0  # host <-> device transfers under this signpost (PCIe)
    ccl_ns: float = 0.0  # of device_ns: collective ops (ethernet traffic between the chips of a mesh)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class OpGroup:
    """Identical ops (name, operand shapes, dtypes, memory) summed: a row of the top-ops table."""

    name: str
    shapes: str
    count: int
    device_ns: float
    bound: str
    utilisation: float
    cores: int


@dataclass
class ProjectionSummary:
    board: str
    arch: str
    components: list[ComponentTime] = field(default_factory=list)
    total: ComponentTime = field(default_factory=lambda: ComponentTime("total"))
    top_ops: list[OpGroup] = field(default_factory=list)

    def component(self, name: str) -> ComponentTime:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(f"no projected component {name!r}")

    def to_dict(self, records: list[OpRecord] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "board": self.board,
            "arch": self.arch,
            "model": "core/sim/projection (matmul calibrated on tt-metal GEMM_FLOPS; other ops estimated)",
            "components": {c.name: c.to_dict() for c in self.components},
            "total": self.total.to_dict(),
            "top_ops": [
                {**asdict(g), "device_ns": round(g.device_ns, 1), "utilisation": round(g.utilisation, 4)}
                for g in self.top_ops
            ],
        }
        if records is not None:
            out["ops"] = [op_dict(r) for r in records]
        return out


def op_dict(r: OpRecord) -> dict[str, Any]:
    """A compact JSON form of one projected op record."""
    p = r.projection
    return {
        "index": r.index,
        "chip": r.chip,
        "name": r.name,
        "signpost": r.signpost,
        "inputs": [[list(t.padded_shape), t.dtype, t.buffer_type] for t in r.inputs],
        "outputs": [[list(t.padded_shape), t.dtype, t.buffer_type] for t in r.outputs],
        "math_fidelity": r.config.math_fidelity,
        "projected_ns": round(r.projected_ns, 1) if r.projected_ns is not None else None,
        "compute_ns": round(p.compute_ns, 1) if p else None,
        "data_ns": round(p.data_ns, 1) if p else None,
        "cores": p.cores if p else None,
        "bound": p.bound if p else None,
    }


def _shapes(r: OpRecord) -> str:
    parts = [f"{'x'.join(map(str, t.padded_shape))} {t.dtype} {t.buffer_type}" for t in r.inputs]
    return ", ".join(parts)


def summarize(
    records: list[OpRecord],
    transfers: list[TransferRecord],
    board: Board,
    *,
    top: int = 10,
    order: list[str] | None = None,
) -> ProjectionSummary:
    """Per-component and total projected times of projected `records` (see ttport.sim.projection); components
    listed in `order` come first, in that order (the runner passes the port's components)."""
    cal = CALIBRATION[board.arch]
    # per signpost, per chip: [ops, device, host, transfers, collectives]
    acc: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0]))
    order = list(order or [])
    seen = set(order)
    groups: dict[tuple, list[Any]] = {}
    for r in records:
        if r.projection is None:
            continue
        name = r.signpost or OUTSIDE
        if name not in seen:
            seen.add(name)
            order.append(name)
        cell = acc[name][r.chip]
        cell[0] += 1
        cell[1] += r.projection.device_ns
        cell[2] += r.projection.host_ns
        if "collective" in r.config.attributes:
            cell[4] += r.projection.device_ns
        if r.chip == records[0].chip:
            key = (r.name, _shapes(r))
            g = groups.setdefault(key, [0, 0.0, r])
            g[0] += 1
            g[1] += r.projection.device_ns
    for t in transfers:
        name = t.signpost or OUTSIDE
        if name not in seen:
            seen.add(name)
            order.append(name)
        acc[name][t.chip][3] += project_transfer(board, t.num_bytes)

    summary = ProjectionSummary(board=board.name, arch=board.arch)
    total = summary.total
    for name in order:
        if name not in acc:
            continue
        c = ComponentTime(name)
        for ops, device, host, transfer, collectives in acc[name].values():
            gaps = ops * cal.trace_gap_ns
            c.ops = max(c.ops, int(ops))
            c.device_ns = max(c.device_ns, device)
            c.trace_ns = max(c.trace_ns, device + gaps)
            c.no_trace_ns = max(c.no_trace_ns, max(host, device + gaps))
            c.transfer_ns = max(c.transfer_ns, transfer)
            c.ccl_ns = max(c.ccl_ns, collectives)
        summary.components.append(c)
        for attr in ("ops", "device_ns", "trace_ns", "no_trace_ns", "transfer_ns", "ccl_ns"):
            setattr(total, attr, getattr(total, attr) + getattr(c, attr))
    ranked = sorted(groups.items(), key=lambda kv: -kv[1][1])[:top]
    for (op, shapes), (count, device, example) in ranked:
        p = example.projection
        summary.top_ops.append(OpGroup(op, shapes, count, device, p.bound, p.utilisation, p.cores))
    return summary
