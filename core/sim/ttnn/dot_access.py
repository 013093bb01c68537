"""ttnn.dot_access on the simulator: the dictionary with attribute access that model code keeps its
parameters and configs in (`parameters.encoder.layer`, `config.core_grid`)."""

from __future__ import annotations

from typing import Any

from ._surface import not_simulated as _not_simulated

__all__ = ["DotAccessDict", "make_dot_access_dict"]


class DotAccessDict(dict):
    """A dict whose keys read as attributes; a missing key raises KeyError, as in ttnn."""

    __getattr__ = dict.__getitem__
    __delattr__ = dict.__delitem__


def make_dot_access_dict(dictionary: dict, *, ignore_types: Any = None) -> DotAccessDict:
    """`dictionary` with every nested dict (not those of `ignore_types`) turned into a DotAccessDict."""
    if isinstance(dictionary, DotAccessDict) or (
        ignore_types is not None and isinstance(dictionary, ignore_types)
    ):
        return dictionary
    return DotAccessDict(
        {
            key: make_dot_access_dict(value, ignore_types=ignore_types) if isinstance(value, dict) else value
            for key, value in dictionary.items()
        }
    )


__getattr__ = _not_simulated("ttnn.dot_access")
