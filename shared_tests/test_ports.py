"""E2E templates: torch inputs -> reference -> port -> to_torch -> PCC >= the component's threshold."""

from __future__ import annotations

from typing import Any

import pytest

from core.plugins.registry import Registry
from core.report import RunReport


def test_component_pcc(port_component: tuple[str, Any], port_run: RunReport) -> None:
    """The runner's verdict (core.compare.compare_outputs): PCC >= threshold on outputs that are finite,
    not empty and not constant where the other side varies; the reason otherwise."""
    _, name = port_component
    result = port_run.component(name)
    assert result.passed and result.error is None, f"{port_run.model} / {name}: {result.error}"
    assert result.pcc is not None and result.pcc >= result.threshold
    assert result.rel_rms_error is not None and result.max_abs_error is not None


def test_registry_has_no_broken_plugins(ttport_registry: Registry, request: pytest.FixtureRequest) -> None:
    """Every entry point of group `ttport` loads (with --port: the named plugins only)."""
    wanted = request.config.getoption("--port")
    broken = [b for b in ttport_registry.broken if not wanted or b.name in wanted]
    assert not broken, "broken plugins:\n" + "\n".join(str(b) for b in broken)
