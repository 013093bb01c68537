"""Names real ttnn 0.81.1 has that the simulator does not: one clear error instead of an AttributeError
from deep inside.

core/data/ttnn_0_81_1_surface.json lists real ttnn's public names per module path (read from the wheel by
`python -m parity.surface --write`; the parity session checks it still matches). Each module of the mirror
sets `__getattr__ = not_simulated("ttnn.<path>")`: a name the real module has raises NotSimulatedError
("ttnn.X is not simulated yet"), any other name a plain AttributeError, as a misspelling would on real ttnn.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any


class NotSimulatedError(AttributeError, NotImplementedError):
    """A real ttnn name the simulator lacks. An AttributeError, so `hasattr(ttnn, name)` and
    `getattr(ttnn, name, default)` behave as for any absent attribute; a NotImplementedError for callers
    that catch that."""


@functools.cache
def real_names() -> dict[str, dict[str, Any]]:
    """{module path: {name: {"kind", "group"}}} of real ttnn 0.81.1."""
    text = resources.files("core").joinpath("data/ttnn_0_81_1_surface.json").read_text()
    return json.loads(text)["modules"]


def not_simulated(path: str) -> Callable[[str], Any]:
    """A module `__getattr__` for the mirror of real module `path` (e.g. "ttnn.experimental")."""

    def __getattr__(name: str) -> Any:  # noqa: N807 (module __getattr__)
        entry = real_names().get(path, {}).get(name)
        if entry is None or name.startswith("__"):
            raise AttributeError(f"module {path!r} has no attribute {name!r}", name=name)
        what = (
            "submodule"
            if entry["kind"] == "module"
            else f"{entry['kind']} (from its {entry['group']} module)"
        )
        raise NotSimulatedError(
            f"{path}.{name} is not simulated yet (real ttnn 0.81.1 has this {what}; the simulator does not)",
            name=name,
        )

    return __getattr__


def reexport(namespace: dict[str, Any], path: str, *sources: Any) -> list[str]:
    """Fill a mirror module that, in real ttnn, re-exports names defined elsewhere (ttnn.types,
    ttnn.device, ttnn.distributed): every name real `path` has that one of `sources` (modules or dicts)
    provides. Returns the names, for the module's `__all__`."""
    names = []
    for name in sorted(real_names().get(path, {})):
        for source in sources:
            value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
            if value is not None:
                namespace[name] = value
                names.append(name)
                break
    return names
