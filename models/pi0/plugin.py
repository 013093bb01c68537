"""ttport plugin of the PI0 port (entry point `pi0 = "ttport.models.pi0.plugin"` in pyproject.toml)."""

from ttport.plugins import hookimpl

from .port import PI0Port


@hookimpl
def ttport_ports() -> list:
    return [PI0Port()]
