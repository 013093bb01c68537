"""Parametrise the shared templates over every registered port and each of its components.

A port needs no test code of its own: registering it (entry point) is enough for it to be run here on its
CI presets (`Port.ci_presets`: `tiny`, plus e.g. tensor-parallel variants on a mesh). Each (port, preset)
runs once per session (the `port_run` cache); each component is its own test.
Those runs convert their weights through a fresh weight cache of the session (`port_cache_dir`), which
`test_weight_cache_serves_every_weight` then runs warm.
"""

from __future__ import annotations

from typing import Any

import pytest

from ttport.plugins.registry import Registry, load_registry
from ttport.report import RunReport
from ttport.runner import run_port
from ttport.weights import WeightCache

_registry: list[Registry] = []


def registry() -> Registry:
    """Loaded once per session (collection and tests must agree on the ports)."""
    if not _registry:
        _registry.append(load_registry())
    return _registry[0]


def _selected(config: pytest.Config) -> list[str]:
    wanted = config.getoption("--port")
    names = sorted(registry().ports)
    return [n for n in names if n in wanted] if wanted else names


def _runs(config: pytest.Config) -> list[tuple[str, str]]:
    """(port, preset) for every CI preset of the selected ports (the registry checks they exist)."""
    return [(name, preset) for name in _selected(config) for preset in registry().ports[name].ci_presets]


def _id(name: str, preset: str) -> str:
    return name if preset == "tiny" else f"{name}[{preset}]"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "port_preset" in metafunc.fixturenames:
        runs = _runs(metafunc.config)
        metafunc.parametrize("port_preset", [pytest.param(r, id=_id(*r)) for r in runs])
    if "port_component" not in metafunc.fixturenames:
        return
    params = []
    for name, preset in _runs(metafunc.config):
        components = registry().components[name][preset]
        params.extend(
            pytest.param((name, preset, c.name), id=f"{_id(name, preset)}-{c.name}") for c in components
        )
    metafunc.parametrize("port_component", params)


class _RunCache:
    """One run per (port, preset) per session, shared by its component tests (cold weight cache)."""

    def __init__(self, cache_dir: Any) -> None:
        self.runs: dict[tuple[str, str], RunReport | BaseException] = {}
        self.cache_dir = cache_dir

    def cache_path(self, name: str, preset: str) -> Any:
        return self.cache_dir / name / preset

    def get(self, name: str, preset: str) -> RunReport:
        key = (name, preset)
        if key not in self.runs:
            try:
                cache = WeightCache.open(self.cache_path(name, preset))
                self.runs[key] = run_port(registry().ports[name], preset, seed=0, cache=cache)
            except Exception as exc:  # a failing build fails every component test of the run, once
                self.runs[key] = exc
        run = self.runs[key]
        if isinstance(run, BaseException):
            raise run
        return run


@pytest.fixture(scope="session")
def port_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("weight-cache")


@pytest.fixture(scope="session")
def port_runs(port_cache_dir: Any) -> _RunCache:
    return _RunCache(port_cache_dir)


@pytest.fixture
def ttport_registry() -> Registry:
    return registry()


@pytest.fixture
def port_run(port_component: tuple[str, str, str], port_runs: _RunCache) -> RunReport:
    name, preset, _ = port_component
    return port_runs.get(name, preset)
