"""The import hook behind `ttport exec`: `ttnn[.X]` and `tt_lib[.X]` are the simulator's modules.

A meta-path finder placed first on sys.meta_path answers for those names before any installed package, and
hands back the simulator's module objects themselves (so `ttnn.Tensor is ttport.sim.ttnn.Tensor`). A
submodule the simulator lacks fails with one ModuleNotFoundError naming it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

# top-level name a program imports -> the simulator package standing in for it
ALIASES = {"ttnn": "ttport.sim.ttnn", "tt_lib": "ttport.sim.tt_lib"}


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias by importing the simulator module and returning that very module object."""

    def __init__(self, target: str):
        self.target = target
        self._original_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._original_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # importlib replaced __spec__ with the alias's spec; the module keeps its own identity.
        module.__spec__ = self._original_spec


class SimulatorFinder(importlib.abc.MetaPathFinder):
    """Resolves `ttnn`, `ttnn.*`, `tt_lib`, `tt_lib.*` to the simulator."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        top, _, rest = fullname.partition(".")
        if top not in ALIASES:
            return None
        module_name = ALIASES[top] + (f".{rest}" if rest else "")
        if module_name in sys.modules:
            found = sys.modules[module_name].__spec__
        else:
            try:
                found = importlib.util.find_spec(module_name)
            except ModuleNotFoundError:
                found = None
        if found is None:
            raise ModuleNotFoundError(
                f"No module named '{fullname}': {fullname} is not simulated yet (ttport exec runs ttnn on the "
                "simulator)",
                name=fullname,
            )
        is_package = found.submodule_search_locations is not None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module_name), is_package=is_package)


def install() -> None:
    """Put the finder first on sys.meta_path (once) and drop any real ttnn / tt_lib already imported."""
    if any(isinstance(f, SimulatorFinder) for f in sys.meta_path):
        return
    for name in list(sys.modules):
        if name.partition(".")[0] in ALIASES:
            del sys.modules[name]
    sys.meta_path.insert(0, SimulatorFinder())


def is_installed() -> bool:
    return any(isinstance(f, SimulatorFinder) for f in sys.meta_path)
