"""Fixtures for simulator tests: devices on a chosen board, strict mode restored, seeded torch."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts on an n150 (whatever the caller's environment says), non-strict, seeded."""
    monkeypatch.setenv("TTPORT_BOARD", "n150")
    strict = sim.is_strict()
    sim.set_strict(False)
    torch.manual_seed(0)
    yield
    sim.set_strict(strict)


@pytest.fixture
def open_board(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ttnn.Device]]:
    """open_board("p150") -> device 0 of that board; every device opened this way is closed afterwards."""
    opened: list[ttnn.Device] = []

    def _open(board: str, device_id: int = 0) -> ttnn.Device:
        monkeypatch.setenv("TTPORT_BOARD", board)
        device = ttnn.open_device(device_id=device_id)
        opened.append(device)
        return device

    yield _open
    for device in opened:
        ttnn.close_device(device)


@pytest.fixture
def device(open_board: Callable[[str], ttnn.Device]) -> ttnn.Device:
    """Device 0 of a Wormhole n150."""
    return open_board("n150")


@pytest.fixture
def mesh_device(monkeypatch: pytest.MonkeyPatch) -> Iterator[ttnn.MeshDevice]:
    """The 1x2 mesh of a Wormhole n300."""
    monkeypatch.setenv("TTPORT_BOARD", "n300")
    mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 2))
    yield mesh
    ttnn.close_mesh_device(mesh)
