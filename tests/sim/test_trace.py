"""Trace capture and replay, command queues and events (ttport.sim.dispatch, ttport.sim.ops.command_queue): what
tt-metal's performant runners rely on. Values are checked against the same ops run eagerly."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn


@pytest.fixture
def device():
    dev = ttnn.device.CreateDevice(device_id=0, num_command_queues=2, trace_region_size=1 << 20)
    yield dev
    ttnn.close_device(dev)


def _tile(x: torch.Tensor, device=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


def _model(x: ttnn.Tensor, w: ttnn.Tensor) -> ttnn.Tensor:
    """A small traced workload: intermediates deallocated inside, as tt-metal model code does."""
    y = ttnn.linear(x, w)
    z = ttnn.gelu(y)
    ttnn.deallocate(y)
    out = ttnn.softmax(z, dim=-1)
    ttnn.deallocate(z)
    return out


def _captured(device, x_dev, w):
    _model(x_dev, w)  # compile run: fills the program cache, as tt-metal requires before capture
    tid = ttnn.begin_trace_capture(device, cq_id=0)
    out = _model(x_dev, w)
    ttnn.end_trace_capture(device, tid, cq_id=0)
    return tid, out


def test_capture_records_without_running_and_replay_matches_eager(device) -> None:
    w = _tile(torch.randn(64, 96), device)
    x = torch.randn(1, 32, 64)
    x_dev = _tile(x, device)
    eager = ttnn.to_torch(_model(x_dev, w))
    tid, out = _captured(device, x_dev, w)
    before = sim.stats(device)
    # captured, not run: the output buffer holds garbage until the trace executes
    assert torch.isnan(ttnn.to_torch(out).float()).all()
    ttnn.execute_trace(device, tid, cq_id=0, blocking=True)
    assert torch.equal(ttnn.to_torch(out), eager)
    after = sim.stats(device)
    assert (
        after.ops_by_name["linear"] == before.ops_by_name["linear"] + 1
    )  # a replay runs (and counts) each op
    replayed = after.op_records[len(before.op_records) :]
    assert [r.name for r in replayed] == ["linear", "gelu", "softmax"]  # with the records taken at capture
    assert replayed[0].outputs[0].shape == (1, 32, 96)


def test_inputs_refreshed_through_copy_host_to_device_tensor(device) -> None:
    w = _tile(torch.randn(64, 96), device)
    x_dev = ttnn.allocate_tensor_on_device(ttnn.Shape([1, 32, 64]), ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    ttnn.copy_host_to_device_tensor(_tile(torch.randn(1, 32, 64)), x_dev, cq_id=1)
    tid, out = _captured(device, x_dev, w)
    for _ in range(3):
        x = torch.randn(1, 32, 64)
        ttnn.copy_host_to_device_tensor(_tile(x), x_dev, cq_id=1)  # queue 1 uploads
        written = ttnn.record_event(device, 1)
        ttnn.wait_for_event(0, written)  # queue 0 waits for the upload, then replays
        ttnn.execute_trace(device, tid, cq_id=0, blocking=False)
        expected = ttnn.to_torch(_model(_tile(x, device), w))
        assert torch.equal(ttnn.to_torch(out), expected)
    ttnn.release_trace(device, tid)


def test_copy_requires_matching_spec_and_counts_a_write(device) -> None:
    x_dev = ttnn.allocate_tensor_on_device(ttnn.Shape([1, 32, 64]), ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    writes = sim.stats(device).host_to_device
    ttnn.copy_host_to_device_tensor(_tile(torch.ones(1, 32, 64)), x_dev)
    assert sim.stats(device).host_to_device == writes + 1
    assert torch.equal(ttnn.to_torch(x_dev), torch.ones(1, 32, 64, dtype=torch.bfloat16))
    with pytest.raises(
        RuntimeError, match="host_tensor.tensor_spec\\(\\) == device_tensor.tensor_spec\\(\\)"
    ):
        ttnn.copy_host_to_device_tensor(_tile(torch.ones(1, 32, 32)), x_dev)
    host = _tile(torch.zeros(1, 32, 64))
    ttnn.copy_device_to_host_tensor(x_dev, host)
    assert torch.equal(ttnn.to_torch(host), torch.ones(1, 32, 64, dtype=torch.bfloat16))


def test_capture_needs_warm_program_cache(device) -> None:
    x_dev = _tile(torch.randn(1, 32, 64), device)
    tid = ttnn.begin_trace_capture(device, cq_id=0)
    with pytest.raises(RuntimeError, match="Cannot load new binaries during trace capture"):
        ttnn.exp(x_dev)
    ttnn.end_trace_capture(device, tid, cq_id=0)


def test_host_transfers_refused_during_capture(device) -> None:
    x_dev = _tile(torch.randn(1, 32, 64), device)
    tid = ttnn.begin_trace_capture(device, cq_id=0)
    with pytest.raises(RuntimeError, match=r"^Writes are not supported during trace capture\. trace id: "):
        _tile(torch.randn(1, 32, 64), device)
    with pytest.raises(RuntimeError, match=r"^Reads are not supported during trace capture\.$"):
        ttnn.to_torch(x_dev)
    with pytest.raises(RuntimeError, match="Event Synchronization is not supported during trace capture."):
        ttnn.event_synchronize(ttnn.record_event(device, 0))
    ttnn.end_trace_capture(device, tid, cq_id=0)


def test_trace_ids_and_queue_ids_are_checked(device) -> None:
    w = _tile(torch.randn(64, 96), device)
    tid, _ = _captured(device, _tile(torch.randn(1, 32, 64), device), w)
    ttnn.release_trace(device, tid)
    with pytest.raises(RuntimeError, match=f"Trace instance {int(tid)} must exist on device"):
        ttnn.execute_trace(device, tid)
    with pytest.raises(RuntimeError, match="command queue 2 does not exist"):
        ttnn.record_event(device, 2)
    one_queue = ttnn.open_device(device_id=0)  # already open: the same device (ttnn semantics)
    assert one_queue is device
    with pytest.raises(RuntimeError, match="num_hw_cqs can be between 1 and 2"):
        ttnn.open_mesh_device(ttnn.MeshShape(1, 1), num_command_queues=3)


def test_external_input_deallocated_after_capture_is_refused(device) -> None:
    w = _tile(torch.randn(64, 96), device)
    x_dev = _tile(torch.randn(1, 32, 64), device)
    tid, _ = _captured(device, x_dev, w)
    ttnn.deallocate(w)
    with pytest.raises(RuntimeError, match="Buffer is not allocated"):
        ttnn.execute_trace(device, tid)


def test_traced_kv_cache_update_writes_at_replay(device) -> None:
    cache = _tile(torch.zeros(1, 1, 64, 32), device)
    new = _tile(torch.ones(1, 1, 32, 32), device)
    ttnn.fill_cache(cache, new, 0)  # warm-up
    ttnn.copy_host_to_device_tensor(_tile(torch.zeros(1, 1, 64, 32)), cache)
    tid = ttnn.begin_trace_capture(device, cq_id=0)
    ttnn.fill_cache(cache, new, 0)
    ttnn.end_trace_capture(device, tid, cq_id=0)
    assert ttnn.to_torch(cache).abs().sum() == 0  # recorded only
    ttnn.copy_host_to_device_tensor(_tile(torch.full((1, 1, 32, 32), 2.0)), new)
    ttnn.execute_trace(device, tid)
    result = ttnn.to_torch(cache).float()
    assert torch.equal(result[..., :32, :], torch.full((1, 1, 32, 32), 2.0))
    assert result[..., 32:, :].abs().sum() == 0


def test_mesh_trace_replays_on_every_chip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTPORT_BOARD", "n300")
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2), trace_region_size=1 << 20)
    try:
        mapper = ttnn.ShardTensorToMesh(mesh, dim=0)
        x = torch.randn(2, 32, 32)
        x_dev = ttnn.from_torch(
            x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh, mesh_mapper=mapper
        )
        ttnn.exp(x_dev)
        tid = ttnn.begin_trace_capture(mesh, cq_id=0)
        out = ttnn.exp(x_dev)
        ttnn.end_trace_capture(mesh, tid, cq_id=0)
        x2 = torch.randn(2, 32, 32)
        host = ttnn.from_torch(x2, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, mesh_mapper=mapper)
        ttnn.copy_host_to_device_tensor(host, x_dev)
        ttnn.execute_trace(mesh, tid)
        got = ttnn.to_torch(out, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0))
        expected = ttnn.to_torch(ttnn.exp(x_dev), mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0))
        assert torch.equal(got, expected)
    finally:
        ttnn.close_mesh_device(mesh)


def test_replayed_copy_feeds_its_target_to_the_next_replay(device) -> None:
    """ttnn.copy(y, x) writes x's buffer: a trace whose ops read x and end by copying their result into x is a
    loop step (x, x + 1, x + 2, ...). Captured, the copy does not touch x; each replay advances it by one."""
    x = _tile(torch.zeros(1, 1, 32, 32), device)
    one = _tile(torch.ones(1, 1, 32, 32), device)

    def step() -> None:
        y = ttnn.add(x, one)
        ttnn.copy(y, x)
        ttnn.deallocate(y)

    step()  # warm-up: x = 1
    tid = ttnn.begin_trace_capture(device, cq_id=0)
    step()
    ttnn.end_trace_capture(device, tid, cq_id=0)
    assert torch.equal(ttnn.to_torch(x).float(), torch.ones(1, 1, 32, 32))  # captured, not run
    for expected in (2.0, 3.0, 4.0):
        ttnn.execute_trace(device, tid, cq_id=0)
        assert torch.equal(ttnn.to_torch(x).float(), torch.full((1, 1, 32, 32), expected))
    # an output_tensor= write outside a trace lands in the given tensor too
    out = _tile(torch.zeros(1, 1, 32, 32), device)
    assert ttnn.add(x, one, output_tensor=out) is out
    assert torch.equal(ttnn.to_torch(out).float(), torch.full((1, 1, 32, 32), 5.0))
