"""E2E templates: torch inputs -> reference -> port -> to_torch -> PCC >= the component's threshold."""

from __future__ import annotations

from typing import Any

import pytest

from ttport.plugins.registry import Registry
from ttport.report import RunReport
from ttport.runner import run_port
from ttport.weights import WeightCache


def test_component_pcc(port_component: tuple[str, str, str], port_run: RunReport) -> None:
    """The runner's verdict (ttport.compare.compare_outputs): PCC >= threshold on outputs that are finite,
    not empty and not constant where the other side varies; the reason otherwise."""
    _, _, name = port_component
    result = port_run.component(name)
    assert result.passed and result.error is None, f"{port_run.model} / {name}: {result.error}"
    assert result.pcc is not None and result.pcc >= result.threshold
    assert result.rel_rms_error is not None and result.max_abs_error is not None


def test_registry_has_no_broken_plugins(ttport_registry: Registry, request: pytest.FixtureRequest) -> None:
    """Every entry point of group `ttport` loads (with --port: the named plugins only)."""
    wanted = request.config.getoption("--port")
    broken = [b for b in ttport_registry.broken if not wanted or b.name in wanted]
    assert not broken, "broken plugins:\n" + "\n".join(str(b) for b in broken)


def test_weight_cache_serves_every_weight(
    port_preset: tuple[str, str], port_runs: Any, ttport_registry: Registry
) -> None:
    """Issue 10: pi0 and gemma3 never used TTPORT_CACHE and clip's entries collided. The session's run
    of the port filled a fresh cache; a second run must load every weight from it, convert none, and
    give the same figures."""
    name, preset = port_preset
    cold = port_runs.get(name, preset)
    assert (
        cold.weight_cache is not None and cold.weight_cache["hits"] == 0 and cold.weight_cache["misses"] > 0
    )
    entries = sorted(port_runs.cache_path(name, preset).glob("*.tensorbin"))
    assert len(entries) == cold.weight_cache["misses"]  # one entry per converted weight: no collisions
    port = ttport_registry.ports[name]
    warm = run_port(port, cold.preset, seed=0, cache=WeightCache.open(port_runs.cache_path(name, preset)))
    assert warm.weight_cache["hits"] == cold.weight_cache["misses"] and warm.weight_cache["misses"] == 0
    assert [(c.name, c.pcc) for c in warm.components] == [(c.name, c.pcc) for c in cold.components]
