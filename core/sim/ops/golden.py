"""Golden functions: the torch reference each simulated op carries, as real ttnn's ops do
(ttnn/ttnn/decorators.py attach_golden_function / get_golden_function). tt-metal's op tests compute their
expected values with `ttnn.get_golden_function(ttnn.op)(torch_input, ...)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["attach_golden_function", "get_golden_function"]


def attach_golden_function(operation: Any, golden_function: Callable[..., Any], **_: Any) -> Any:
    """Attach `golden_function` to `operation` (returned, so it can wrap a definition)."""
    operation.golden_function = golden_function
    return operation


def get_golden_function(operation: Any) -> Callable[..., Any]:
    """The torch reference of a simulated op; RuntimeError (ttnn's wording) when it has none."""
    golden = getattr(operation, "golden_function", None)
    if golden is None:
        raise RuntimeError(f"{operation} does not have a golden function")
    return golden
