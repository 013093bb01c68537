"""`ttport compare A.json B.json`: what changed between two run reports (core/report.py's JSON), and
whether B regressed against A beyond the tolerances a CI job sets on the command line.

A regression is: a component that passed in A and fails (or is missing) in B; a PCC that dropped by more
than `pcc`; a relative RMS error that grew by more than the `rel_error` fraction; with `time` set, a port
time that grew by more than that fraction; with `memory` set, a peak DRAM / L1 that grew by more than that
fraction. Everything else (new components, counters) is reported, not judged.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttport.errors import UserError

#: keys every report written by ttport.report.write_json has
_REQUIRED = ("model", "preset", "backend", "components")
_COUNTERS = ("device_ops", "host_to_device", "device_to_host", "host_to_device_bytes", "device_to_host_bytes")


@dataclass(frozen=True)
class Tolerance:
    pcc: float = 0.0  # largest PCC drop accepted (absolute)
    rel_error: float | None = None  # largest relative growth of rel_rms_error accepted (0.1 = +10 %)
    time: float | None = None  # largest relative growth of port seconds accepted; None: not judged
    memory: float | None = None  # largest relative growth of peak DRAM / L1 accepted; None: not judged

    def __post_init__(self) -> None:
        for name in ("pcc", "rel_error", "time", "memory"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise UserError(f"tolerance {name} must be a finite number >= 0, got {value}")


@dataclass
class ComponentDelta:
    name: str
    before: dict[str, Any] | None  # the component in A (None: new in B)
    after: dict[str, Any] | None  # the component in B (None: gone in B)

    def delta(self, key: str) -> float | None:
        a = (self.before or {}).get(key)
        b = (self.after or {}).get(key)
        return None if a is None or b is None else b - a


@dataclass
class ReportDiff:
    a: dict[str, Any]
    b: dict[str, Any]
    components: list[ComponentDelta] = field(default_factory=list)
    counters: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    regressions: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def load_report(path: str | Path) -> dict[str, Any]:
    """A report written by `ttport run --json`; UserError (one line) for anything else."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"report not found: {path}")
    if not path.is_file():
        raise UserError(f"{path} is not a ttport run report: not a regular file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a ttport run report: not JSON ({exc})") from None
    if not isinstance(data, dict) or any(k not in data for k in _REQUIRED):
        raise UserError(f"{path} is not a ttport run report: it needs the keys {', '.join(_REQUIRED)}")
    if not isinstance(data["components"], list) or not all(
        isinstance(c, dict) and "name" in c for c in data["components"]
    ):
        raise UserError(f"{path} is not a ttport run report: components must be a list of named results")
    return data


def _grew(before: float | None, after: float | None, fraction: float) -> bool:
    if before is None or after is None:
        return False
    return after > before * (1.0 + fraction) and after - before > 1e-12


def diff_reports(a: dict[str, Any], b: dict[str, Any], tolerance: Tolerance) -> ReportDiff:
    """Compare report `b` (new) with `a` (baseline)."""
    if a["model"] != b["model"]:
        raise UserError(f"the reports are of different models: {a['model']!r} and {b['model']!r}")
    diff = ReportDiff(a, b)
    before = {c["name"]: c for c in a["components"]}
    after = {c["name"]: c for c in b["components"]}
    names = list(before) + [n for n in after if n not in before]
    for name in names:
        d = ComponentDelta(name, before.get(name), after.get(name))
        diff.components.append(d)
        _judge(d, tolerance, diff.regressions)
    for key in _COUNTERS:
        diff.counters[key] = (a.get(key), b.get(key))
    peak_a, peak_b = a.get("peak_device_bytes") or {}, b.get("peak_device_bytes") or {}
    for kind in ("dram", "l1"):
        pa, pb = peak_a.get(kind), peak_b.get(kind)
        diff.counters[f"peak_{kind}_bytes"] = (pa, pb)
        if tolerance.memory is not None and _grew(pa, pb, tolerance.memory):
            diff.regressions.append(
                f"peak {kind.upper()} grew from {pa} to {pb} B (more than {tolerance.memory:.0%})"
            )
    # projected device time of the components (simulator runs; ttport.sim.projection), in us
    for key, term in (("projected_kernel_us", "device_ns"), ("projected_trace_us", "trace_ns")):
        diff.counters[key] = (_projected_us(a, term), _projected_us(b, term))
    diff.counters["total_seconds"] = (a.get("total_seconds"), b.get("total_seconds"))
    return diff


def _projected_us(report: dict[str, Any], term: str) -> float | None:
    total = (report.get("projection") or {}).get("total") or {}
    return None if total.get(term) is None else total[term] / 1e3


def _judge(d: ComponentDelta, tol: Tolerance, out: list[str]) -> None:
    a, b = d.before, d.after
    if a is None:
        return  # new in B: shown, not judged
    if b is None:
        out.append(f"{d.name}: missing in the new report")
        return
    if a.get("passed") and not b.get("passed"):
        out.append(f"{d.name}: passed before, fails now ({_short(b.get('error')) or 'below threshold'})")
    pa, pb = a.get("pcc"), b.get("pcc")
    if pa is not None and pb is None:
        out.append(f"{d.name}: PCC {pa:.6f} before, none now")
    elif pa is not None and pa - pb > tol.pcc:
        out.append(f"{d.name}: PCC dropped by {pa - pb:.3g} ({pa:.6f} -> {pb:.6f}), tolerance {tol.pcc:g}")
    if tol.rel_error is not None and _grew(a.get("rel_rms_error"), b.get("rel_rms_error"), tol.rel_error):
        out.append(
            f"{d.name}: relative RMS error grew from {a['rel_rms_error']:.3g} to {b['rel_rms_error']:.3g} "
            f"(more than {tol.rel_error:.0%})"
        )
    if tol.time is not None and _grew(a.get("port_seconds"), b.get("port_seconds"), tol.time):
        out.append(
            f"{d.name}: port time grew from {a['port_seconds']:.3f} s to {b['port_seconds']:.3f} s "
            f"(more than {tol.time:.0%})"
        )


def _short(error: str | None) -> str:
    return error.strip().splitlines()[-1] if error and error.strip() else ""


def _num(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _signed(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, "+" + spec)


def format_diff(diff: ReportDiff) -> str:
    """The table `ttport compare` prints, then counters, then the regressions (if any) and the verdict."""
    a, b = diff.a, diff.b
    lines = [
        f"A: {a['model']} [{a['preset']}] on {a['backend']} ({a.get('board', '')})",
        f"B: {b['model']} [{b['preset']}] on {b['backend']} ({b.get('board', '')})",
    ]
    header = (
        "component",
        "PCC A",
        "PCC B",
        "dPCC",
        "rel err A",
        "rel err B",
        "port s A",
        "port s B",
        "status",
    )
    rows = []
    for d in diff.components:
        x, y = d.before or {}, d.after or {}
        status = "new" if d.before is None else "gone" if d.after is None else ""
        if not status:
            status = {
                (True, True): "pass",
                (True, False): "FAIL (was pass)",
                (False, True): "pass (was FAIL)",
            }.get((bool(x.get("passed")), bool(y.get("passed"))), "FAIL")
        rows.append(
            (
                d.name,
                _num(x.get("pcc"), ".6f"),
                _num(y.get("pcc"), ".6f"),
                _signed(d.delta("pcc"), ".2e"),
                _num(x.get("rel_rms_error"), ".2e"),
                _num(y.get("rel_rms_error"), ".2e"),
                _num(x.get("port_seconds"), ".3f"),
                _num(y.get("port_seconds"), ".3f"),
                status,
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    table = [header, tuple("-" * w for w in widths), *rows]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    for key, (x, y) in diff.counters.items():
        if x is None and y is None:
            continue
        change = ""
        if isinstance(x, int | float) and isinstance(y, int | float):
            change = f" ({y - x:+.3f})" if isinstance(x, float) or isinstance(y, float) else f" ({y - x:+d})"
        spec = ".3f" if isinstance(x, float) or isinstance(y, float) else ""
        lines.append(f"{key}: {_num(x, spec)} -> {_num(y, spec)}{change}")
    for r in diff.regressions:
        lines.append(f"REGRESSION {r}")
    lines.append(f"{len(diff.regressions)} regression(s)" if diff.regressed else "no regression")
    return "\n".join(lines)
