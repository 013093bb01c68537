"""Names real ttnn 0.81.1 has that the simulator does not: one clear error instead of an AttributeError
from deep inside.

Each module of the mirror sets `__getattr__ = not_simulated("ttnn.<path>")`: a name the real module has
raises NotSimulatedError ("ttnn.X is not simulated yet"), any other name a plain AttributeError, as a
misspelling would on real ttnn. The list of real names is core/data/ttnn_0_81_1_surface.json
(core/sim/real_surface.py); the parity session checks it still matches the wheel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..real_surface import NotSimulatedError, missing, real_names

__all__ = ["NotSimulatedError", "not_simulated", "real_names", "reexport"]


def not_simulated(path: str) -> Callable[[str], Any]:
    """A module `__getattr__` for the mirror of real module `path` (e.g. "ttnn.experimental")."""

    def __getattr__(name: str) -> Any:  # noqa: N807 (module __getattr__)
        raise missing(path, name, f"module {path!r}")

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
