"""ttport plugin entry point (pyproject.toml: clip = "ttport.models.clip.plugin")."""

from __future__ import annotations

from ttport.plugins import hookimpl

from .port import ClipPort


@hookimpl
def ttport_ports() -> list[ClipPort]:
    return [ClipPort()]
