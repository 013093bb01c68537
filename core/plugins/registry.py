"""Discover ports: every entry point of the `ttport` group is a pluggy plugin implementing `ttport_ports`.

Built-in ports get no special treatment: they are entry points in this project's pyproject.toml, exactly
as a third-party package would declare them. One faulty plugin must not hide the others, so each plugin is
loaded, registered, called and validated on its own; a failure at any step turns into a `BrokenPlugin`
that names the plugin and says what went wrong, and discovery carries on. "Failure" includes BaseException
(a plugin calling sys.exit must not end `ttport`), KeyboardInterrupt aside, and ports that do not validate
(no name, no `tiny` preset, a component threshold that is not a number in (0, 1]). A port name two plugins
provide selects neither (see `load_registry`).
"""

from __future__ import annotations

import importlib.metadata
import math
import numbers
from dataclasses import dataclass, field

import pluggy

from ttport.errors import UserError
from ttport.port import Component, Port

from . import hookspecs
from .hookspecs import ENTRY_POINT_GROUP, PROJECT


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not contribute ports, and why."""

    name: str  # entry point name
    target: str  # entry point value, e.g. "ttport.models.pi0.plugin"
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} ({self.target}): {self.error}"


@dataclass
class Registry:
    #: the names `ttport run` accepts for each port, as `ttport list` shows them: the port's own name, or
    #: "plugin:port" where two plugins provide a port of that name (then the bare name selects neither)
    ports: dict[str, Port] = field(default_factory=dict)
    #: key of `ports` -> name of the plugin that provided it
    plugin_of: dict[str, str] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    #: "plugin:port" -> port, for every port (a qualified name always selects exactly one)
    qualified: dict[str, Port] = field(default_factory=dict)
    #: key of `ports` -> preset -> its components, as validated at registration (listing never calls the
    #: plugin again)
    components: dict[str, dict[str, list[Component]]] = field(default_factory=dict)
    #: an ambiguous bare port name -> the qualified names that select each of its ports
    ambiguous: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> Port:
        """The port called `name` (or "plugin:port"), or a UserError listing what exists (and what failed
        to load, or which qualified names resolve an ambiguous name)."""
        if name in self.ports:
            return self.ports[name]
        if name in self.qualified:
            return self.qualified[name]
        if name in self.ambiguous:
            choices = " or ".join(repr(q) for q in self.ambiguous[name])
            raise UserError(f"port name {name!r} is provided by several plugins; run {choices}")
        known = ", ".join(sorted(self.ports)) or "none"
        hint = ""
        broken = [b for b in self.broken if b.name == name]
        if broken:
            hint = f" (plugin {name!r} is broken: {broken[0].error})"
        raise UserError(f"unknown model {name!r}; registered ports: {known}{hint}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: the plugin called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}".strip()


def _check_name(what: str, name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")


def _check_threshold(where: str, threshold: object) -> None:
    """A PCC floor is a real number in (0, 1]: a string, NaN or 0 would break listing or pass anything."""
    real = isinstance(threshold, numbers.Real) and not isinstance(threshold, bool)
    if not real or not math.isfinite(float(threshold)) or not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"{where}: threshold must be a number in (0, 1], got {threshold!r}")


def _check_mesh(port: Port, what: str, mesh: object) -> None:
    if mesh is not None and not (
        isinstance(mesh, tuple) and len(mesh) == 2 and all(type(n) is int and n > 0 for n in mesh)
    ):
        raise ValueError(f"port {port.name!r}: {what} must be None or two positive ints, got {mesh!r}")


def _validate(port: object) -> dict[str, list[Component]]:
    """The port's components per preset; raises ValueError naming what is malformed."""
    if not isinstance(port, Port):
        raise ValueError(f"returned {type(port).__name__!r}, not a ttport.port.Port")
    _check_name(f"{type(port).__name__}.name", port.name)
    if ":" in port.name or port.name != port.name.strip():
        raise ValueError(f"port name {port.name!r} must not contain ':' or surrounding spaces")
    if not isinstance(port.description, str):
        raise ValueError(f"port {port.name!r}: description must be a string")
    _check_mesh(port, "mesh_shape", port.mesh_shape)
    if not isinstance(port.presets, dict) or not port.presets:
        raise ValueError(f"port {port.name!r} declares no presets")
    if "tiny" not in port.presets:
        raise ValueError(f"port {port.name!r} has no 'tiny' preset (the shared templates and CI run it)")
    ci = port.ci_presets
    if not isinstance(ci, tuple) or "tiny" not in ci or any(p not in port.presets for p in ci):
        raise ValueError(
            f"port {port.name!r}: ci_presets must be a tuple of its presets with 'tiny', got {ci!r}"
        )
    components: dict[str, list[Component]] = {}
    for preset in port.presets:
        _check_name(f"port {port.name!r}: preset name", preset)
        _check_mesh(port, f"mesh_shape_for({preset!r})", port.mesh_shape_for(preset))
        listed = port.components(preset)
        if not isinstance(listed, (list, tuple)) or not all(isinstance(c, Component) for c in listed):
            raise ValueError(f"port {port.name!r}: components({preset!r}) must return a list of Component")
        for c in listed:
            _check_name(f"port {port.name!r} preset {preset!r}: component name", c.name)
            where = f"port {port.name!r} preset {preset!r} component {c.name!r}"
            _check_threshold(where, c.threshold)
            if not callable(c.reference) or not callable(c.port):
                raise ValueError(f"{where}: reference and port must be callables")
        names = [c.name for c in listed]
        if len(set(names)) != len(names):
            raise ValueError(f"port {port.name!r}: duplicate component names in preset {preset!r}: {names}")
        components[preset] = list(listed)
    return components


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """Entry points of `group`, each (name, target) once (a package can be seen twice on sys.path)."""
    unique = {(ep.name, ep.value): ep for ep in importlib.metadata.entry_points(group=group)}
    return [unique[key] for key in sorted(unique)]


@dataclass(frozen=True)
class _Provided:
    plugin: str
    target: str
    port: Port
    components: dict[str, list[Component]]

    @property
    def qualified(self) -> str:
        return f"{self.plugin}:{self.port.name}"


def _load_plugins(group: str, manager: pluggy.PluginManager, registry: Registry) -> dict[str, str]:
    """Import and register every entry point of `group`; returns plugin name -> target of those loaded.
    Two entry points of one name are both refused: which one wins must not depend on install order."""
    entry_points = _entry_points(group)
    targets_of: dict[str, list[str]] = {}
    for ep in entry_points:
        targets_of.setdefault(ep.name, []).append(ep.value)
    targets: dict[str, str] = {}
    for ep in entry_points:
        if len(targets_of[ep.name]) > 1:
            others = " and ".join(targets_of[ep.name])
            error = f"plugin name {ep.name!r} is used by several entry points ({others}); uninstall one"
            registry.broken.append(BrokenPlugin(ep.name, ep.value, error))
            continue
        try:
            module = ep.load()
            manager.register(module, name=ep.name)
            if not manager.get_hookcallers(module):
                manager.unregister(module)
                raise ValueError("implements no ttport_ports hook (missing @hookimpl or misspelt name?)")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # import errors, sys.exit at import, bad hookimpl signatures
            registry.broken.append(BrokenPlugin(ep.name, ep.value, _describe(exc)))
            continue
        targets[ep.name] = ep.value
    return targets


def _call_plugins(
    manager: pluggy.PluginManager, targets: dict[str, str], registry: Registry
) -> list[_Provided]:
    """Every plugin's ports, validated; a plugin whose hook fails or returns anything malformed is broken."""
    provided: list[_Provided] = []
    for impl in manager.hook.ttport_ports.get_hookimpls():
        plugin, target = impl.plugin_name, targets.get(impl.plugin_name, "?")
        try:
            ports = impl.function()
            if not isinstance(ports, (list, tuple)):
                raise ValueError(f"ttport_ports returned {type(ports).__name__!r}, expected a list of ports")
            mine = [_Provided(plugin, target, port, _validate(port)) for port in ports]
            names = [p.port.name for p in mine]
            if len(set(names)) != len(names):
                raise ValueError(f"returns several ports of one name: {names}")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a hook (or a port's components()) raising, sys.exit included
            registry.broken.append(BrokenPlugin(plugin, target, _describe(exc)))
            continue
        provided.extend(mine)
    return provided


def load_registry(group: str = ENTRY_POINT_GROUP) -> Registry:
    """Load every plugin of `group` and collect its ports; never raises because of a plugin (Ctrl-C aside).

    Name rule: a port name provided by one plugin selects it. A name provided by several plugins (a
    third-party "pi0" next to the built-in one) selects none of them, whichever was installed first: each
    such plugin is listed as broken with a message naming the others, and "plugin:port" selects one.
    """
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    targets = _load_plugins(group, manager, registry)
    by_name: dict[str, list[_Provided]] = {}
    for item in _call_plugins(manager, targets, registry):
        by_name.setdefault(item.port.name, []).append(item)
        registry.qualified[item.qualified] = item.port
    for name, providers in sorted(by_name.items()):
        providers.sort(key=lambda p: p.plugin)
        ambiguous = len(providers) > 1
        if ambiguous:
            registry.ambiguous[name] = [p.qualified for p in providers]
        for item in providers:
            key = item.qualified if ambiguous else name
            registry.ports[key] = item.port
            registry.plugin_of[key] = item.plugin
            registry.components[key] = item.components
            if ambiguous:
                others = ", ".join(f"plugin {p.plugin!r} ({p.target})" for p in providers if p is not item)
                error = (
                    f"port name {name!r} is also provided by {others}: the bare name selects neither; "
                    f"run {' or '.join(repr(q) for q in registry.ambiguous[name])}"
                )
                registry.broken.append(BrokenPlugin(item.plugin, item.target, error))
    registry.broken.sort(key=lambda b: (b.name, b.target))
    return registry
