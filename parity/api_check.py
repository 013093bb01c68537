"""Check 4: API surface. Every public name of the simulator's ttnn mirror (ttport.sim.ttnn and its submodules
transformer, experimental, kv_cache) exists in real ttnn at the same path, with the same kind (module /
class / callable / value), every keyword the simulator's callable accepts is accepted by the real one, and
every member of a simulator enum exists in the real enum.

Real keywords come from nanobind signatures (`__nb_signature__` of functions, of op objects' `__call__`, of
classes' `__init__`) or from inspect.signature for Python functions; ttnn's FastOperation wrappers are
unwrapped to the function they register.
"""

from __future__ import annotations

import enum
import inspect
import re
from types import ModuleType
from typing import Any

from .result import CheckResult

SUBMODULES = (
    "transformer",
    "experimental",
    "kv_cache",
    "distributed",
    "distributed.distributed",
    "device",
    "types",
    "operations",
    "operations.activations",
)
ANY = None  # "accepts any keyword" (a **kwargs parameter)


def _split_params(text: str) -> list[str]:
    """Split a parameter list on top-level commas (types hold brackets, quotes and commas of their own)."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _nb_keywords(signatures: Any) -> set[str] | None:
    """Keywords accepted by any overload of a nanobind callable; ANY when an overload takes **kwargs."""
    names: set[str] = set()
    for overload in signatures:
        sig = overload[0]
        match = re.match(r"\s*def\s+\w+\((.*)\)(\s*->.*)?\s*$", sig, re.S)
        if not match:
            return ANY
        for param in _split_params(match.group(1)):
            name = re.split(r"[:=]", param, maxsplit=1)[0].strip().lstrip("\\")
            if name.startswith("**"):
                return ANY
            if name in ("self", "*", "/") or name.startswith("*"):
                continue
            names.add(name)
    return names


def _py_keywords(fn: Any) -> set[str] | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return ANY
    names = set()
    for p in sig.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            return ANY
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    names.discard("self")
    return names


def real_keywords(obj: Any) -> set[str] | None:
    """Keywords the real callable accepts (ANY if it takes **kwargs or cannot be introspected)."""
    fn = getattr(obj, "function", None) if type(obj).__name__ in ("FastOperation", "Operation") else None
    target = fn if fn is not None else obj
    if hasattr(target, "__nb_signature__"):
        return _nb_keywords(target.__nb_signature__)
    if inspect.isclass(target):
        init = target.__init__
        if hasattr(init, "__nb_signature__"):
            return _nb_keywords(init.__nb_signature__)
        return _py_keywords(target)
    call = type(target).__call__ if callable(target) else None
    if call is not None and hasattr(call, "__nb_signature__"):
        return _nb_keywords(call.__nb_signature__)
    return _py_keywords(target)


def sim_keywords(obj: Any) -> set[str]:
    """Keywords the simulator's callable accepts by name (a **kwargs catch-all adds none)."""
    names = _py_keywords(obj)
    return names or set()


def _kind(obj: Any) -> str:
    if isinstance(obj, ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "callable"
    return "value"


def _public(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    return sorted(n for n in names if not n.startswith("_") and n != "annotations")


def _enum_members(obj: Any) -> set[str]:
    if isinstance(obj, type) and issubclass(obj, enum.Enum):
        return set(obj.__members__)
    return {n for n in dir(obj) if n[:1].isupper() and not callable(getattr(obj, n, None))}


def check_module(result: CheckResult, real_mod: ModuleType, sim_mod: ModuleType, path: str) -> None:
    for name in _public(sim_mod):
        sim_obj = getattr(sim_mod, name)
        where = f"{path}.{name}"
        if isinstance(sim_obj, ModuleType) and f"{path}.{name}"[5:] not in SUBMODULES:
            continue  # a helper module imported by the mirror (e.g. `annotations`), not an export
        if not hasattr(real_mod, name):
            result.case(False, f"{where}: simulator exports it, real ttnn has no such name")
            continue
        real_obj = getattr(real_mod, name)
        sim_kind, real_kind = _kind(sim_obj), _kind(real_obj)
        # A simulator class may stand in for a real factory function and vice versa: both are callables.
        comparable = {sim_kind, real_kind} <= {"class", "callable"} or sim_kind == real_kind
        result.case(comparable, f"{where}: simulator {sim_kind}, real ttnn {real_kind}")
        if not comparable or sim_kind == "module":
            continue
        if sim_kind == "class" and isinstance(sim_obj, type) and issubclass(sim_obj, enum.Enum):
            missing = sorted(set(sim_obj.__members__) - _enum_members(real_obj))
            result.case(not missing, f"{where}: enum members absent from real ttnn: {missing}")
            continue
        if sim_kind in ("class", "callable"):
            accepted = real_keywords(real_obj)
            if accepted is ANY:
                result.case(True, where)
                continue
            extra = sorted(sim_keywords(sim_obj) - accepted)
            result.case(not extra, f"{where}: keywords real ttnn does not accept: {extra}")


def _submodule(module: ModuleType, dotted: str) -> ModuleType | None:
    """`module.a.b` by sys.modules where attributes mislead (real ttnn.distributed.distributed is a module
    that `ttnn.distributed`'s attribute `distributed` does not name)."""
    import sys

    found = sys.modules.get(f"{module.__name__}.{dotted}")
    if found is None:
        found = module
        for part in dotted.split("."):
            found = getattr(found, part, None)
    return found if isinstance(found, ModuleType) else None


def run(real: ModuleType, sim: ModuleType) -> CheckResult:
    result = CheckResult("api: names + keywords")
    check_module(result, real, sim, "ttnn")
    for sub in SUBMODULES:
        sim_sub = _submodule(sim, sub)
        if sim_sub is None:
            continue
        real_sub = _submodule(real, sub)
        if real_sub is None:
            result.case(False, f"ttnn.{sub}: real ttnn has no such submodule")
            continue
        check_module(result, real_sub, sim_sub, f"ttnn.{sub}")
    return result
