"""Parametrise the shared templates over every registered port and each of its components.

A port needs no test code of its own: registering it (entry point) is enough for it to be run here on its
`tiny` preset. Each port runs once per session (the `port_run` cache); each component is its own test.
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

PRESET = "tiny"

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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "port_name" in metafunc.fixturenames:
        names = [n for n in _selected(metafunc.config) if PRESET in registry().ports[n].presets]
        metafunc.parametrize("port_name", names)
    if "port_component" not in metafunc.fixturenames:
        return
    params = []
    for name in _selected(metafunc.config):  # the registry refuses a port without a tiny preset
        components = registry().components[name][PRESET]
        params.extend(pytest.param((name, c.name), id=f"{name}-{c.name}") for c in components)
    metafunc.parametrize("port_component", params)


class _RunCache:
    """One run per port per session, shared by that port's component tests (cold weight cache)."""

    def __init__(self, cache_dir: Any) -> None:
        self.runs: dict[str, RunReport | BaseException] = {}
        self.cache_dir = cache_dir

    def get(self, name: str) -> RunReport:
        if name not in self.runs:
            try:
                cache = WeightCache.open(self.cache_dir / name)
                self.runs[name] = run_port(registry().ports[name], PRESET, seed=0, cache=cache)
            except Exception as exc:  # a failing build fails every component test of the port, once
                self.runs[name] = exc
        run = self.runs[name]
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
def port_run(port_component: tuple[str, Any], port_runs: _RunCache) -> RunReport:
    name, _ = port_component
    return port_runs.get(name)
