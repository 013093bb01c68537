"""ttport plugin of the Mamba port (entry point `mamba = "ttport.models.mamba.plugin"` in pyproject.toml)."""

from ttport.plugins import hookimpl

from .port import MambaPort


@hookimpl
def ttport_ports() -> list:
    return [MambaPort()]
