"""Discover ports: every entry point of the `ttport` group is a pluggy plugin implementing `ttport_ports`.

Built-in ports get no special treatment: they are entry points in this project's pyproject.toml, exactly
as a third-party package would declare them. One faulty plugin must not hide the others, so each plugin is
loaded, registered, called and validated on its own; a failure at any step turns into a `BrokenPlugin`
that names the plugin and says what went wrong, and discovery carries on.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field

import pluggy

from core.errors import UserError
from core.port import Component, Port

from . import hookspecs
from .hookspecs import ENTRY_POINT_GROUP, PROJECT


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not contribute ports, and why."""

    name: str  # entry point name
    target: str  # entry point value, e.g. "models.pi0.plugin"
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} ({self.target}): {self.error}"


@dataclass
class Registry:
    ports: dict[str, Port] = field(default_factory=dict)
    #: port name -> name of the plugin that provided it
    plugin_of: dict[str, str] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)

    def get(self, name: str) -> Port:
        """The port called `name`, or a UserError listing what exists (and what failed to load)."""
        if name in self.ports:
            return self.ports[name]
        known = ", ".join(sorted(self.ports)) or "none"
        hint = ""
        broken = [b for b in self.broken if b.name == name]
        if broken:
            hint = f" (plugin {name!r} is broken: {broken[0].error})"
        raise UserError(f"unknown model {name!r}; registered ports: {known}{hint}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _validate(port: object) -> list[Component]:
    """The port's components for every preset; raises ValueError naming what is malformed."""
    if not isinstance(port, Port):
        raise ValueError(f"returned {type(port).__name__!r}, not a core.port.Port")
    if not isinstance(port.name, str) or not port.name:
        raise ValueError(f"{type(port).__name__} has no name")
    if not isinstance(port.presets, dict) or not port.presets:
        raise ValueError(f"port {port.name!r} declares no presets")
    components: list[Component] = []
    for preset in port.presets:
        listed = port.components(preset)
        if not isinstance(listed, (list, tuple)) or not all(isinstance(c, Component) for c in listed):
            raise ValueError(f"port {port.name!r}: components({preset!r}) must return a list of Component")
        names = [c.name for c in listed]
        if len(set(names)) != len(names):
            raise ValueError(f"port {port.name!r}: duplicate component names in preset {preset!r}: {names}")
        components.extend(listed)
    return components


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """Entry points of `group`, each (name, target) once (a package can be seen twice on sys.path)."""
    unique = {(ep.name, ep.value): ep for ep in importlib.metadata.entry_points(group=group)}
    return [unique[key] for key in sorted(unique)]


def load_registry(group: str = ENTRY_POINT_GROUP) -> Registry:
    """Load every plugin of `group` and collect its ports; never raises because of a plugin."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    targets: dict[str, str] = {}
    for ep in _entry_points(group):
        try:
            module = ep.load()
            manager.register(module, name=ep.name)
            if not manager.get_hookcallers(module):
                manager.unregister(module)
                raise ValueError("implements no ttport_ports hook (missing @hookimpl or misspelt name?)")
        except Exception as exc:  # import errors, bad hookimpl signatures, name clashes
            registry.broken.append(BrokenPlugin(ep.name, ep.value, _describe(exc)))
            continue
        targets[ep.name] = ep.value
    for impl in manager.hook.ttport_ports.get_hookimpls():
        plugin, target = impl.plugin_name, targets.get(impl.plugin_name, "?")
        try:
            ports = impl.function()
            if not isinstance(ports, (list, tuple)):
                raise ValueError(f"ttport_ports returned {type(ports).__name__!r}, expected a list of ports")
            for port in ports:
                _validate(port)
        except Exception as exc:
            registry.broken.append(BrokenPlugin(plugin, target, _describe(exc)))
            continue
        for port in ports:
            if port.name in registry.ports:
                registry.broken.append(
                    BrokenPlugin(
                        plugin,
                        target,
                        f"duplicate port name {port.name!r}: already provided by plugin "
                        f"{registry.plugin_of[port.name]!r}",
                    )
                )
                continue
            registry.ports[port.name] = port
            registry.plugin_of[port.name] = plugin
    registry.broken.sort(key=lambda b: b.name)
    return registry
