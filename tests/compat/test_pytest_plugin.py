"""The tt-metal fixtures plugin under `ttport exec -- pytest`: a test file written the way tt-metal's model
tests are (indirect device_params and mesh_device parametrisation, reset_seeds, trace + two command queues)
runs as it is."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from ttport.cli import main

TT_METAL_STYLE_TESTS = """
import pytest
import torch
import ttnn


def pcc(a, b):
    return torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1].item()


def run_model(x, w):
    y = ttnn.linear(x, w, memory_config=ttnn.L1_MEMORY_CONFIG)
    out = ttnn.gelu(y)
    ttnn.deallocate(y)
    return out


@pytest.mark.parametrize(
    "device_params", [{"l1_small_size": 24576, "trace_region_size": 800768, "num_command_queues": 2}], indirect=True
)
def test_traced_model_2cq(device, reset_seeds):
    torch_w = torch.randn(128, 64)
    w = ttnn.from_torch(torch_w, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    host = ttnn.from_torch(torch.randn(1, 32, 128), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    x = ttnn.allocate_tensor_on_device(host.shape, host.dtype, host.layout, device)
    ttnn.copy_host_to_device_tensor(host, x, cq_id=1)
    run_model(x, w)  # compile
    tid = ttnn.begin_trace_capture(device, cq_id=0)
    out = run_model(x, w)
    ttnn.end_trace_capture(device, tid, cq_id=0)
    op_event = ttnn.record_event(device, 0)
    for _ in range(2):
        torch_x = torch.randn(1, 32, 128)
        ttnn.wait_for_event(1, op_event)
        ttnn.copy_host_to_device_tensor(
            ttnn.from_torch(torch_x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT), x, cq_id=1
        )
        write_event = ttnn.record_event(device, 1)
        ttnn.wait_for_event(0, write_event)
        ttnn.execute_trace(device, tid, cq_id=0, blocking=False)
        op_event = ttnn.record_event(device, 0)
        ttnn.synchronize_device(device)
        assert pcc(ttnn.to_torch(out).float(), torch.nn.functional.gelu(torch_x @ torch_w)) > 0.999
    ttnn.release_trace(device, tid)


def test_reset_seeds(reset_seeds):
    value = torch.rand(1)
    torch.manual_seed(213919)
    assert torch.equal(value, torch.rand(1))


@pytest.mark.parametrize("device_params", [{"fabric_config": ttnn.FabricConfig.FABRIC_1D}], indirect=True)
@pytest.mark.parametrize("mesh_device", [(1, 2)], indirect=True)
def test_mesh_with_fabric(mesh_device, device_params):
    assert mesh_device.get_num_devices() == 2
    assert ttnn.get_fabric_config() == ttnn.FabricConfig.FABRIC_1D
    x = ttnn.from_torch(
        torch.randn(2, 32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh_device,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh_device, dim=0),
    )
    assert ttnn.to_torch(x, mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=0)).shape == (2, 32, 32)


@pytest.mark.parametrize("mesh_device", [(1, 8)], indirect=True)
def test_needs_a_t3k(mesh_device):
    raise AssertionError("skipped on a smaller board")


def test_default_mesh_is_the_whole_board(mesh_device, silicon_arch_name, silicon_arch_wormhole_b0):
    assert mesh_device.get_num_devices() == 2 and silicon_arch_name == "wormhole_b0"


def test_helpers(model_location_generator, function_level_defaults, is_ci_env, device, use_program_cache):
    assert model_location_generator("google/paligemma-3b-pt-224") == "google/paligemma-3b-pt-224"
    assert ttnn.get_fabric_config() == ttnn.FabricConfig.DISABLED  # reset after the fabric test
"""


def test_tt_metal_style_test_file_runs_unchanged(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    test_file = tmp_path / "test_model.py"
    test_file.write_text(textwrap.dedent(TT_METAL_STYLE_TESTS))
    args = ["exec", "--board", "n300", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    code = main([*args, "-rs", str(test_file)])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert "5 passed, 1 skipped" in out, out
    assert "Requested more devices than available" in out


MARKED_OP_TEST = """
import pytest
import torch
import ttnn

pytestmark = pytest.mark.use_module_device


def test_relu(device):
    x = torch.randn(32, 32)
    y = ttnn.relu(ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device))
    assert torch.equal(ttnn.to_torch(y), torch.relu(x.bfloat16()))
"""


def test_tt_metal_op_test_markers_are_registered(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """tt-metal's op tests mark their modules `use_module_device`: under --strict-markers an unregistered
    marker is a collection error, so this passes only if the plugin declares it."""
    test_file = tmp_path / "test_op.py"
    test_file.write_text(textwrap.dedent(MARKED_OP_TEST))
    args = ["exec", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers"]
    code = main([*args, str(test_file)])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert "1 passed" in out, out
    assert "PytestUnknownMarkWarning" not in out
