"""Real ttnn 0.81.1's public names (core/data/ttnn_0_81_1_surface.json, read from the wheel by
`python -m parity.surface --write`) and the error for a name the simulator lacks.

Module paths ("ttnn", "ttnn.experimental" ...) hold the names of the mirror's modules (see
core/sim/ttnn/_surface.py); "ttnn.Tensor" and "ttnn.MeshDevice" hold the members of those classes, so
`tensor.to_numpy()` or `device.get_memory_view()` fail with the same clear error.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


class NotSimulatedError(AttributeError, NotImplementedError):
    """A real ttnn name the simulator lacks. An AttributeError, so `hasattr(ttnn, name)` and
    `getattr(ttnn, name, default)` behave as for any absent attribute; a NotImplementedError for callers
    that catch that."""


@functools.cache
def real_names() -> dict[str, dict[str, Any]]:
    """{module or class path: {name: {"kind", "group"}}} of real ttnn 0.81.1."""
    text = resources.files("ttport").joinpath("data/ttnn_0_81_1_surface.json").read_text()
    return json.loads(text)["modules"]


def missing(path: str, name: str, owner: str) -> AttributeError:
    """The error for `owner.name` (owner: "module 'ttnn'" / "'Tensor' object"): NotSimulatedError when real
    ttnn has `name` at `path`, else the AttributeError Python would raise."""
    entry = real_names().get(path, {}).get(name)
    if entry is None or name.startswith("_"):
        return AttributeError(f"{owner} has no attribute {name!r}", name=name)
    if entry["kind"] == "module":
        what = "submodule"
    elif entry["kind"] in ("member", "property"):
        what = entry["kind"]
    else:
        what = f"{entry['kind']} (from its {entry['group']} module)"
    return NotSimulatedError(
        f"{path}.{name} is not simulated yet (real ttnn 0.81.1 has this {what}; the simulator does not)",
        name=name,
    )
