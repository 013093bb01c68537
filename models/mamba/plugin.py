"""ttport plugin of the Mamba port (entry point `mamba = "models.mamba.plugin"` in pyproject.toml)."""

from core.plugins import hookimpl

from .port import MambaPort


@hookimpl
def ttport_ports() -> list:
    return [MambaPort()]
