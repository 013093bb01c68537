"""Check 5: coverage. Real ttnn's public callables (functions, operations and classes of `ttnn`,
`ttnn.experimental`, `ttnn.transformer`, `ttnn.kv_cache`, read from the wheel) against the simulator's
mirror: how many it has under the same name, how many of those accept every optional keyword the real one accepts (parameters
with a default or keyword-only: what callers pass by name),
and which are missing, grouped by the ttnn module that registers them (unary, binary, data_movement ...).

The figure is printed, not judged; the check's cases are the stored surface file
(core/data/ttnn_0_81_1_surface.json, what the mirror's "not simulated yet" errors read) agreeing with the
installed wheel.
"""

from __future__ import annotations

from collections import defaultdict
from types import ModuleType
from typing import Any

from . import surface
from .api_check import ANY, _nb_keywords, _py_keywords, _split_params
from .result import CheckResult

NAMESPACES = ("ttnn", "ttnn.experimental", "ttnn.transformer", "ttnn.kv_cache")


def _sim_module(sim: ModuleType, path: str) -> ModuleType | None:
    module: Any = sim
    for part in path.split(".")[1:]:
        module = getattr(module, part, None)
        if not isinstance(module, ModuleType):
            return None
    return module


def optional_keywords(obj: Any) -> set[str] | None:
    """The real callable's keywords in the sense callers use them: parameters with a default or after `*`
    in any overload (operands such as input_tensor_b / input_b are positional in practice and excluded);
    ANY when it takes **kwargs or cannot be introspected."""
    import inspect
    import re

    fn = getattr(obj, "function", None) if type(obj).__name__ in ("FastOperation", "Operation") else None
    target = fn if fn is not None else obj
    sigs = None
    if inspect.isclass(target):
        sigs = getattr(target.__init__, "__nb_signature__", None)
    elif hasattr(target, "__nb_signature__"):
        sigs = target.__nb_signature__
    elif callable(target) and hasattr(type(target).__call__, "__nb_signature__"):
        sigs = type(target).__call__.__nb_signature__
    if sigs is None:
        try:
            params = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):
            return ANY
        if any(p.kind == p.VAR_KEYWORD for p in params):
            return ANY
        return {p.name for p in params if p.kind == p.KEYWORD_ONLY or p.default is not p.empty} - {"self"}
    if _nb_keywords(sigs) is ANY:
        return ANY
    names: set[str] = set()
    for overload in sigs:
        match = re.match(r"\s*def\s+\w+\((.*)\)(\s*->.*)?\s*$", overload[0], re.S)
        keyword_only = False
        for param in _split_params(match.group(1)) if match else []:
            name = re.split(r"[:=]", param, maxsplit=1)[0].strip()
            if name == "*":
                keyword_only = True
            elif name not in ("self", "/") and not name.startswith("*") and (keyword_only or "=" in param):
                names.add(name)
    return names


def measure(real: ModuleType, sim: ModuleType) -> dict[str, Any]:
    """{"total", "named", "keywords", "missing": {group: [names]}, "keyword_gaps": {name: [keywords]}}."""
    total = named = full = 0
    missing: dict[str, list[str]] = defaultdict(list)
    gaps: dict[str, list[str]] = {}
    for path in NAMESPACES:
        real_mod = surface.resolve(real, path)
        sim_mod = _sim_module(sim, path)
        for name, obj in sorted(surface.public_names(real_mod).items()):
            if surface.kind(obj) not in ("callable", "class"):
                continue
            total += 1
            where = name if path == "ttnn" else f"{path[5:]}.{name}"
            sim_obj = getattr(sim_mod, name, None) if sim_mod is not None else None
            if sim_obj is None:
                missing[surface.group(obj)].append(where)
                continue
            named += 1
            accepted, sim_accepted = optional_keywords(obj), _py_keywords(sim_obj)
            lacking = [] if ANY in (accepted, sim_accepted) else sorted(accepted - sim_accepted)
            if lacking:
                gaps[where] = lacking
            else:
                full += 1
    members = {}
    for path, sim_cls in (("ttnn.Tensor", sim.Tensor), ("ttnn.MeshDevice", sim.MeshDevice)):
        names = sorted(n for n in dir(getattr(real, path.split(".")[1])) if not n.startswith("_"))
        have = [n for n in names if n in dir(sim_cls)]
        members[path] = (len(have), len(names), [n for n in names if n not in have])
    return {
        "total": total, "named": named, "keywords": full, "missing": dict(missing), "keyword_gaps": gaps,
        "members": members,
    }  # fmt: skip


def report(figures: dict[str, Any]) -> list[str]:
    total, named, full = figures["total"], figures["named"], figures["keywords"]
    lines = [
        f"coverage: {named}/{total} real ttnn 0.81.1 public callables simulated by name "
        f"({100 * named / total:.1f}%), {full}/{total} with every real keyword ({100 * full / total:.1f}%)"
    ]
    for path, (have, count, lacking) in figures["members"].items():
        lines.append(f"coverage: {path} members {have}/{count}; missing: {', '.join(lacking)}")
    by_size = sorted(figures["missing"].items(), key=lambda kv: (-len(kv[1]), kv[0]))
    for grp, names in by_size:
        lines.append(f"coverage: missing {grp} ({len(names)}): {', '.join(names)}")
    for name, kws in sorted(figures["keyword_gaps"].items()):
        lines.append(f"coverage: {name} lacks keywords {', '.join(kws)}")
    return lines


def run(real: ModuleType, sim: ModuleType) -> CheckResult:
    result = CheckResult("coverage: surface file")
    stored = surface.stored()
    result.case(
        stored["ttnn_version"] == _version(),
        f"{surface.DATA.name} is for ttnn {stored['ttnn_version']}, the wheel is {_version()}",
    )
    live = surface.collect(real)
    for path, names in live.items():
        kept = stored["modules"].get(path, {})
        stale = sorted(set(names) ^ set(kept))
        result.case(not stale, f"{path}: stored surface differs from the wheel: {stale[:20]} (rerun --write)")
    result.notes.extend(report(measure(real, sim)))
    return result


def _version() -> str:
    from importlib import metadata

    return metadata.version("ttnn")
