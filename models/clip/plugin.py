"""ttport plugin entry point (pyproject.toml: clip = "models.clip.plugin")."""

from __future__ import annotations

from core.plugins import hookimpl

from .port import ClipPort


@hookimpl
def ttport_ports() -> list[ClipPort]:
    return [ClipPort()]
