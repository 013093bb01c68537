"""Device ops compute with TTPORT_SIM_THREADS intra-op threads (default 1) and leave torch's setting alone."""

from __future__ import annotations

import subprocess
import sys

import torch

from ttport.sim import ttnn
from ttport.sim.numerics import threads
from ttport.sim.tensor import device_op
from ttport.sim.types import DataType, Layout


def test_device_ops_run_single_threaded_and_restore_torch_threads(device) -> None:
    seen = []

    def compute(v: torch.Tensor) -> torch.Tensor:
        if not v.is_meta:  # the shape inference on meta tensors does no work
            seen.append(torch.get_num_threads())
        return v + v

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = ttnn.from_torch(torch.ones(32, 32), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
        out = device_op("probe", [x], compute, dtype=DataType.FLOAT32, layout=Layout.TILE)
        assert torch.equal(ttnn.to_torch(out), torch.full((32, 32), 2.0))
        assert seen == [1]
        assert torch.get_num_threads() == 2
        with threads.device_op_threads():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_thread_count_from_the_environment() -> None:
    probe = "import torch; from ttport.sim.numerics import threads\nwith threads.device_op_threads(): print(torch.get_num_threads())"
    out = subprocess.run(
        [sys.executable, "-c", probe], env={"TTPORT_SIM_THREADS": "2"}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
    bad = subprocess.run(
        [sys.executable, "-c", probe], env={"TTPORT_SIM_THREADS": "0"}, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "TTPORT_SIM_THREADS='0': expected a positive integer" in bad.stderr
