"""The host simulator of the ttnn API. Its public, ttnn-shaped surface is `ttport.sim.ttnn`; this package
also offers simulator-only helpers that have no ttnn equivalent (accounting, strict mode, boards)."""

from . import boards
from .boards import BOARDS, get_board
from .ops import tensor_methods  # noqa: F401  (binds Tensor's op-backed methods, as ttnn/__init__.py does)
from .runtime import Stats, reset_stats, stats
from .tensor import is_strict, set_strict

__all__ = ["BOARDS", "Stats", "boards", "get_board", "is_strict", "reset_stats", "set_strict", "stats"]
