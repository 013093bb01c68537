"""The fixtures tt-metal's root conftest.py gives model tests, on the simulator.

`ttport exec -- pytest ...` loads this plugin (PYTEST_PLUGINS); `pytest -p ttport.compat.pytest_plugin` does the
same by hand. Names and semantics follow tt-metal's conftest.py: `device_params` is parametrised indirectly
(`@pytest.mark.parametrize("device_params", [{"l1_small_size": 24576}], indirect=True)`) and its keys are
open_device / open_mesh_device keywords, plus `fabric_config` / `reliability_mode` (set before opening a mesh,
reset after) and `dispatch_core_axis` / `dispatch_core_type` (folded into a DispatchCoreConfig). `mesh_device`
takes an int (that many chips in one row) or a (rows, cols) tuple, indirectly too; a mesh larger than the
simulated board is skipped, as tt-metal skips it on a smaller machine (choose the board with --board or
TTPORT_BOARD: n150, n300, p150, t3k, galaxy).

A fixture the project's own conftest.py defines wins over these (pytest's rule), so a tree that brings its
own fixtures keeps them. No command-line options are added, so this plugin never clashes with a conftest's.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from ttport.sim import ttnn

# tt-metal's conftest.py seeds torch, numpy and random with this value in `reset_seeds`.
SEED = 213919


@pytest.fixture(scope="function")
def reset_seeds() -> Iterator[None]:
    torch.manual_seed(SEED)
    random.seed(SEED)
    try:
        import numpy as np
    except ImportError:  # numpy is optional for the programs run
        pass
    else:
        np.random.seed(SEED)
    yield


@pytest.fixture(scope="function")
def function_level_defaults(reset_seeds: None) -> Iterator[None]:
    yield


@pytest.fixture(scope="function")
def is_ci_env() -> bool:
    return os.getenv("CI") == "true"


@pytest.fixture(scope="session")
def model_location_generator():
    """tt-metal looks in its internal weight mirrors first; elsewhere the model version (a hub id or a
    local path) comes back unchanged."""

    def model_location_generator_(
        model_version: str, model_subdir: str = "", download_if_ci_v2: bool = False
    ):
        return model_version

    return model_location_generator_


@pytest.fixture(scope="session")
def get_tt_cache_path():
    def get_tt_cache_path_(model_version: str, model_subdir: str = "", default_dir: str = "") -> Path:
        path = Path(default_dir) / "tt_dnn-models/tt" / model_subdir / model_version
        path.mkdir(parents=True, exist_ok=True)
        return path

    return get_tt_cache_path_


@pytest.fixture(scope="function")
def device_params(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", {})


def _open_params(params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """open_device / open_mesh_device keywords from device_params, and the fabric config to set first."""
    params = dict(params)
    fabric = params.pop("fabric_config", None)
    params.pop("reliability_mode", None)
    params.pop("fabric_tensix_config", None)
    axis = params.pop("dispatch_core_axis", None)
    core_type = params.pop("dispatch_core_type", None)
    if axis is not None or core_type is not None:
        params["dispatch_core_config"] = ttnn.DispatchCoreConfig(
            core_type or ttnn.DispatchCoreType.WORKER, axis or ttnn.DispatchCoreAxis.ROW
        )
    return params, fabric


@pytest.fixture(scope="function")
def device(request: pytest.FixtureRequest, device_params: dict[str, Any]) -> Iterator[Any]:
    params, _ = _open_params(device_params)
    device_id = request.config.getoption("device_id", default=0) or 0
    dev = ttnn.device.CreateDevice(device_id=device_id, **params)  # as tt-metal's conftest does
    yield dev
    ttnn.ReadDeviceProfiler(dev)
    ttnn.synchronize_device(dev)
    ttnn.close_device(dev)


def _mesh_shape(request: pytest.FixtureRequest) -> Any:
    available = ttnn.get_num_devices()
    param = getattr(request, "param", available)
    if isinstance(param, tuple):
        assert len(param) == 2, "Device mesh grid shape should have exactly two elements."
        if param[0] * param[1] > available:
            pytest.skip("Requested more devices than available. Test not applicable for machine")
        return ttnn.MeshShape(*param)
    return ttnn.MeshShape(1, min(int(param), available))


def _open_mesh(shape: Any, device_params: dict[str, Any]) -> Iterator[Any]:
    params, fabric = _open_params(device_params)
    if fabric is not None:
        ttnn.set_fabric_config(fabric)
    mesh = ttnn.open_mesh_device(mesh_shape=shape, **params)
    try:
        yield mesh
        for chip in mesh.get_devices():
            ttnn.ReadDeviceProfiler(chip)
    finally:
        ttnn.close_mesh_device(mesh)
        if fabric is not None:
            ttnn.set_fabric_config(ttnn.FabricConfig.DISABLED)


@pytest.fixture(scope="function")
def mesh_device(request: pytest.FixtureRequest, device_params: dict[str, Any]) -> Iterator[Any]:
    yield from _open_mesh(_mesh_shape(request), device_params)


@pytest.fixture(scope="function")
def n300_mesh_device(device_params: dict[str, Any]) -> Iterator[Any]:
    if ttnn.get_num_devices() < 2:
        pytest.skip()
    yield from _open_mesh(ttnn.MeshShape(1, 2), device_params)


@pytest.fixture(scope="function")
def t3k_mesh_device(device_params: dict[str, Any]) -> Iterator[Any]:
    if ttnn.get_num_devices() < 8:
        pytest.skip()
    yield from _open_mesh(ttnn.MeshShape(1, 8), device_params)


@pytest.fixture(scope="function")
def use_program_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    """Program cache on for the test's device(s), cleared after (always on in current ttnn)."""
    devices = [request.getfixturevalue(n) for n in ("device", "mesh_device") if n in request.fixturenames]
    for dev in devices:
        dev.enable_program_cache()
    yield
    for dev in devices:
        dev.disable_and_clear_program_cache()


@pytest.fixture(scope="function")
def silicon_arch_name() -> str:
    return ttnn.get_arch_name()


@pytest.fixture(scope="function")
def silicon_arch_wormhole_b0() -> None:
    if ttnn.get_arch_name() != "wormhole_b0":
        pytest.skip("wormhole_b0 only (simulated board is not a Wormhole)")


@pytest.fixture(scope="function")
def silicon_arch_blackhole() -> None:
    if ttnn.get_arch_name() != "blackhole":
        pytest.skip("blackhole only (simulated board is not a Blackhole)")
