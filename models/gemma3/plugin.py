"""ttport plugin of the Gemma3 vision port (entry point `gemma3 = "ttport.models.gemma3.plugin"` in pyproject.toml)."""

from ttport.plugins import hookimpl

from .port import Gemma3Port


@hookimpl
def ttport_ports() -> list:
    return [Gemma3Port()]
