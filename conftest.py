"""Root pytest configuration: backend / board selection and the `device` / `mesh_device` fixtures.

--backend and --board work like the CLI options (and like TTPORT_BACKEND / TTPORT_BOARD); --port limits
the shared templates (shared_tests/) to the named port(s).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ttport import backend
from ttport import device as devices
from ttport.errors import UserError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ttport")
    group.addoption(
        "--backend", choices=backend.BACKENDS, help="ttnn backend (default: $TTPORT_BACKEND or sim)"
    )
    group.addoption(
        "--board", help="simulated board: n150 (default), n300, p150, t3k, galaxy (or $TTPORT_BOARD)"
    )
    group.addoption(
        "--port", action="append", default=[], help="run the shared templates for this port only (repeatable)"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the backend and board up front, so a bad choice is one usage error, not a crash per test."""
    try:
        backend.select_backend(config.getoption("--backend"))
        devices.select_board(config.getoption("--board"))
        backend.resolve()
        if backend.is_simulator():
            devices.simulated_board()
    except (backend.BackendError, UserError) as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    line = backend.describe()
    if backend.is_simulator():
        line += f", board {devices.simulated_board().name}"
    return f"ttport {line}"


@pytest.fixture
def device() -> Iterator[Any]:
    """One chip of the selected backend, closed after the test."""
    with devices.open_device() as dev:
        yield dev


@pytest.fixture
def mesh_device(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A mesh of the selected board's chips (override the shape with indirect parametrisation: (rows, cols))."""
    shape = getattr(request, "param", None)
    with devices.open_mesh_device(tuple(shape) if shape else None) as mesh:
        yield mesh
