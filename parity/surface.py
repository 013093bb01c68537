"""Real ttnn's public surface, read from the wheel: the names (per module path, with their kind and the
C++ module that registers them) and the keywords of every callable.

`python -m parity.surface --write` stores the names as core/data/ttnn_0_81_1_surface.json, which the
simulator's mirror reads to tell "ttnn.X is not simulated yet" (a name real ttnn has) from a plain
AttributeError (a name it has not). The coverage check (parity/coverage_check.py) compares the live wheel
with that file, so a stale file is reported.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from . import real as real_mod
from .api_check import real_keywords

DATA = Path(__file__).resolve().parent.parent / "core" / "data" / "ttnn_0_81_1_surface.json"

# The user-facing module paths: what model code and tt-metal's tests reach as `ttnn.<path>.<name>`.
MODULES = (
    "ttnn",
    "ttnn.experimental",
    "ttnn.transformer",
    "ttnn.kv_cache",
    "ttnn.distributed",
    "ttnn.distributed.distributed",
    "ttnn.device",
    "ttnn.types",
    "ttnn.operations",
    "ttnn.operations.activations",
)


# Classes whose members model code reaches on objects (t.to_torch(), device.num_program_cache_entries()):
# their public attributes are stored as "ttnn.Tensor" / "ttnn.MeshDevice" entries.
CLASSES = ("ttnn.Tensor", "ttnn.MeshDevice")


def kind(obj: Any) -> str:
    if isinstance(obj, ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "callable"
    return "value"


def group(obj: Any) -> str:
    """Where a name comes from: the C++ op module of a registered operation (unary, binary, data_movement
    ...), else the Python or nanobind module that defines it, without the `ttnn.` / `ttnn._ttnn.` prefix."""
    if isinstance(obj, ModuleType):
        return "modules"
    fn = getattr(obj, "function", None) if type(obj).__name__ == "FastOperation" else None
    module = getattr(fn if fn is not None else obj, "__module__", None) or "values"
    for prefix in ("ttnn._ttnn.operations.", "ttnn._ttnn.", "ttnn.operations.", "ttnn."):
        if module.startswith(prefix):
            return module[len(prefix) :]
    return module


def public_names(module: ModuleType) -> dict[str, Any]:
    """Public attributes that belong to ttnn (not `os`, `logger` or other imports of its Python files; a
    module counts only as its parent's submodule, not where a file merely imports it)."""
    names = {}
    for name in dir(module):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        origin = obj.__name__ if isinstance(obj, ModuleType) else getattr(obj, "__module__", None)
        if isinstance(obj, ModuleType):
            if origin == f"{module.__name__}.{name}":
                names[name] = obj
            continue
        if isinstance(origin, str) and not origin.startswith("ttnn") and origin not in ("core", "comparison"):
            continue
        names[name] = obj
    return names


def resolve(ttnn: ModuleType, path: str) -> ModuleType | None:
    """The module at `path` once ttnn is imported (by sys.modules: ttnn.distributed's `distributed`
    attribute is not its submodule)."""
    importlib.import_module(path)
    return sys.modules.get(path)


def collect(ttnn: ModuleType, keywords: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
    """{module path: {name: {"kind", "group"[, "keywords"]}}} of the real wheel."""
    surface: dict[str, dict[str, dict[str, Any]]] = {}
    for path in MODULES:
        module = resolve(ttnn, path)
        if module is None:
            continue
        entries = {}
        for name, obj in sorted(public_names(module).items()):
            entry: dict[str, Any] = {"kind": kind(obj), "group": group(obj)}
            if keywords and entry["kind"] in ("callable", "class"):
                accepted = real_keywords(obj)
                entry["keywords"] = None if accepted is None else sorted(accepted)
            entries[name] = entry
        surface[path] = entries
    for path in CLASSES:
        cls = getattr(ttnn, path.split(".")[1])
        surface[path] = {
            name: {
                "kind": "property" if isinstance(getattr(cls, name), property) else "member",
                "group": path[5:],
            }
            for name in sorted(dir(cls))
            if not name.startswith("_")
        }
    return surface


def stored() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity.surface", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {DATA.name} from the installed wheel")
    args = parser.parse_args(argv)
    ttnn = real_mod.load()
    from importlib import metadata

    data = {"ttnn_version": metadata.version("ttnn"), "modules": collect(ttnn)}
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.write:
        tmp = DATA.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(DATA)
        print(f"wrote {DATA} ({sum(len(m) for m in data['modules'].values())} names)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
