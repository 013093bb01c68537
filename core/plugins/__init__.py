"""The pluggy plugin registry: every port, built-ins included, registers through the `ttport` entry
point group (see hookspecs.py for how to write one)."""

from .hookspecs import ENTRY_POINT_GROUP, hookimpl, hookspec

__all__ = ["ENTRY_POINT_GROUP", "hookimpl", "hookspec"]
