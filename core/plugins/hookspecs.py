"""Hook specifications of ttport plugins.

A plugin is a module (named by an entry point in the `ttport` group) with hook implementations::

    # pyproject.toml of the plugin's package
    [project.entry-points.ttport]
    mymodel = "mymodel_port.plugin"

    # mymodel_port/plugin.py
    from ttport.plugins import hookimpl

    @hookimpl
    def ttport_ports():
        return [MyModelPort()]
"""

from __future__ import annotations

import pluggy

PROJECT = "ttport"
ENTRY_POINT_GROUP = "ttport"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ttport_ports() -> list:
    """Return the `ttport.port.Port` objects this plugin provides (usually one)."""
