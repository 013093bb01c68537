"""Open and close devices through the selected backend, and choose the simulated board.

Ports and tests never call `ttnn.open_device` themselves: the runner and the pytest fixtures use these
context managers, so a device is always closed (and its buffers released) even when a port raises.
On the simulator the board (grid size, L1 per core, DRAM) comes from `select_board()` or TTPORT_BOARD
(default Wormhole n150); on a real card the board is whatever is plugged in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ttport.backend import is_simulator, ttnn
from ttport.errors import UserError
from ttport.sim.boards import BOARDS, DEFAULT_BOARD, Board

ENV_BOARD = "TTPORT_BOARD"


def select_board(name: str | None) -> None:
    """Choose the simulated board for this process (and its subprocesses) before a device is opened."""
    if name is None:
        return
    if name not in BOARDS:
        raise UserError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    os.environ[ENV_BOARD] = name


def simulated_board() -> Board:
    """The board the simulator opens: select_board(), else TTPORT_BOARD, else n150."""
    name = os.environ.get(ENV_BOARD) or DEFAULT_BOARD
    if name not in BOARDS:
        raise UserError(f"{ENV_BOARD}={name!r} is not a board; choose one of {', '.join(BOARDS)}")
    return BOARDS[name]


def board_name() -> str:
    """Board name for reports: the simulated board, or 'card' on real hardware (not detectable by name)."""
    return simulated_board().name if is_simulator() else "card"


@contextmanager
def board_for(mesh_shape: tuple[int, int] | None) -> Iterator[str | None]:
    """While no board was chosen (no --board, no TTPORT_BOARD), a port whose mesh needs more chips than
    the default board gets the smallest board that has them (a 1x2 mesh -> n300); yields a note saying so,
    or None. The choice is undone on exit so the next port of the session starts from the default again."""
    chips = mesh_shape[0] * mesh_shape[1] if mesh_shape else 1
    if not is_simulator() or os.environ.get(ENV_BOARD) or chips <= BOARDS[DEFAULT_BOARD].chips:
        yield None
        return
    fitting = sorted((b for b in BOARDS.values() if b.chips >= chips), key=lambda b: (b.chips, b.name))
    if not fitting:
        raise UserError(
            f"no simulated board has the {chips} chips a {mesh_shape[0]}x{mesh_shape[1]} mesh needs"
        )
    os.environ[ENV_BOARD] = fitting[0].name
    try:
        yield f"board {fitting[0].name} (the port needs a {mesh_shape[0]}x{mesh_shape[1]} mesh)"
    finally:
        del os.environ[ENV_BOARD]


@contextmanager
def open_device(device_id: int = 0, **options: Any) -> Iterator[Any]:
    """A single chip, closed on exit. `options` go to ttnn.open_device (l1_small_size, trace_region_size...)."""
    if is_simulator():
        simulated_board()  # a bad TTPORT_BOARD is a user error before anything is opened
    device = ttnn.open_device(device_id=device_id, **options)
    try:
        yield device
    finally:
        ttnn.close_device(device)


@contextmanager
def open_mesh_device(mesh_shape: tuple[int, int] | None = None, **options: Any) -> Iterator[Any]:
    """A rows x cols mesh (default: every chip of the board in one row), closed on exit."""
    if mesh_shape is None:
        mesh_shape = (1, simulated_board().chips if is_simulator() else ttnn.GetNumAvailableDevices())
    elif is_simulator() and mesh_shape[0] * mesh_shape[1] > simulated_board().chips:
        board, needed = simulated_board(), mesh_shape[0] * mesh_shape[1]
        larger = ", ".join(name for name, b in BOARDS.items() if b.chips >= needed)
        raise UserError(
            f"mesh {mesh_shape[0]}x{mesh_shape[1]} needs {needed} chips but board "
            f"{board.name} has {board.chips}; choose a larger board with --board ({larger})"
        )
    mesh = ttnn.open_mesh_device(mesh_shape=ttnn.MeshShape(*mesh_shape), **options)
    try:
        yield mesh
    finally:
        ttnn.close_mesh_device(mesh)


def open_for(mesh_shape: tuple[int, int] | None) -> Any:
    """The context manager a port needs: a mesh when it declares `mesh_shape`, else one chip."""
    return open_mesh_device(mesh_shape) if mesh_shape else open_device()


def arch_name(device: Any) -> str:
    """'wormhole_b0' / 'blackhole' from a device handle (real ttnn returns an Arch enum, the simulator a str)."""
    arch = device.arch()
    return str(getattr(arch, "name", arch)).split(".")[-1].lower()


def num_chips(device: Any) -> int:
    return int(device.get_num_devices()) if hasattr(device, "get_num_devices") else 1


def device_info(device: Any) -> dict[str, Any]:
    """What a report records about the hardware (simulated figures come from the board table)."""
    grid = device.compute_with_storage_grid_size()
    info: dict[str, Any] = {
        "board": board_name(),
        "arch": arch_name(device),
        "chips": num_chips(device),
        "grid": [int(grid.x), int(grid.y)],
    }
    if is_simulator():
        board = simulated_board()
        info["l1_bytes_per_core"] = board.l1_bank_size
        info["dram_bytes_per_chip"] = board.dram_bytes
    return info
