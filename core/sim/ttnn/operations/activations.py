"""ttnn.operations.activations on the simulator: torch references of fused activations (what `activation=`
of matmul / linear and `activations=` of binary ops apply), as real ttnn.operations.activations gives them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...ops.eltwise import activation_fn, resolve_activation
from ...ops.golden import get_golden_function
from .._surface import not_simulated as _not_simulated

__all__ = ["get_golden_function", "get_golden_function_for_activation"]


def get_golden_function_for_activation(activation: Any) -> Callable[..., Any] | None:
    """The torch function of an activation given as a string ("relu", "gelu_approx" ...), a UnaryOpType or
    a UnaryWithParam; None for None."""
    if activation is None:
        return None
    return activation_fn(resolve_activation(activation))


__getattr__ = _not_simulated("ttnn.operations.activations")
