"""Device ops allocate their outputs before the host computes anything (as the device's buffers exist before
its program runs): an output that does not fit fails with the allocator's out-of-memory error, without the
host building a result it has no room for, and an op that fails is not counted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from ttport import sim
from ttport.sim import tensor as sim_tensor
from ttport.sim import ttnn
from ttport.sim.runtime import OutOfMemoryError
from ttport.sim.tensor import device_op

OOM = r"^Out of Memory: Not enough space to allocate \d+ B {} buffer across {} banks"


@pytest.fixture
def host_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, ...]]]:
    """Shapes of the input values device ops read on the host to compute (meta stand-ins excluded); reading
    a large one fails the test at once, so a regression cannot make the host build a 20 GB product."""
    reads: list[tuple[int, ...]] = []
    widen = sim_tensor.compute_values

    def spy(v: torch.Tensor) -> torch.Tensor:
        if v.device.type != "meta":
            reads.append(tuple(v.shape))
            assert v.numel() <= 1 << 20, f"the host computes on {list(v.shape)} before allocating the output"
        return widen(v)

    monkeypatch.setattr(sim_tensor, "compute_values", spy)
    yield reads


def _counters(device: ttnn.Device) -> tuple[int, int, int, int]:
    s = sim.stats(device)
    return s.device_ops, len(s.op_records), s.dram_bytes, s.l1_bytes


def test_matmul_too_big_for_dram_fails_in_the_allocator(device: ttnn.Device, host_reads) -> None:
    """[100352, 32] x [32, 100352]: a 20 GB bfloat16 product on a 12 GB card. Before: torch's "can't allocate
    40282095616 bytes" from the host product; now the allocator's error, nothing computed."""
    a = ttnn.full([100352, 32], 0.5, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    b = ttnn.full([32, 100352], 0.25, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    before = _counters(device)
    with pytest.raises(OutOfMemoryError, match=OOM.format("DRAM", 12)):
        ttnn.matmul(a, b)
    assert host_reads == []
    assert _counters(device) == before  # not counted, nothing left allocated


def test_add_into_l1_fails_before_computing(device: ttnn.Device, host_reads) -> None:
    """Before: the 8192 x 8192 sum was computed on the host, then L1 reported out of memory."""
    a = ttnn.full([8192, 8192], 1.0, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    before = _counters(device)
    with pytest.raises(OutOfMemoryError, match=OOM.format("L1", 64)):
        ttnn.add(a, a, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert host_reads == []
    assert _counters(device) == before
    # with room for its output the op runs: it reads its inputs once each and is counted once
    small = ttnn.full([64, 64], 1.0, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    out = ttnn.add(small, small, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert host_reads == [(64, 64), (64, 64)] and sim.stats(device).device_ops == before[0] + 2  # full, add
    assert torch.equal(ttnn.to_torch(out), torch.full((64, 64), 2.0, dtype=torch.bfloat16))


def test_declared_output_shapes_refuse_before_computing(device: ttnn.Device, host_reads) -> None:
    """SDPA cannot run on meta tensors (its blocked loop reads values): it declares its output shape."""
    shape = [1, 32, 16384, 128]  # 128 MiB of bfloat16: more than the n150's 64 x 1.3 MB of L1
    q = ttnn.full(shape, 0.1, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    before = _counters(device)
    with pytest.raises(OutOfMemoryError, match=OOM.format("L1", 64)):
        ttnn.transformer.scaled_dot_product_attention(
            q, q, q, is_causal=True, memory_config=ttnn.L1_MEMORY_CONFIG
        )
    assert host_reads == []
    assert _counters(device) == before


def test_multi_output_op_frees_what_it_allocated(device: ttnn.Device, host_reads) -> None:
    """Three 32 MiB pieces into 85 MB of L1: the third does not fit, the first two are released."""
    x = ttnn.full([1, 1, 8192, 6144], 1.0, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    before = _counters(device)
    with pytest.raises(OutOfMemoryError, match=OOM.format("L1", 64)):
        ttnn.split(x, 2048, 3, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert host_reads == []
    assert _counters(device) == before


def test_failing_ops_are_not_counted(device: ttnn.Device, host_reads) -> None:
    """Before: 1000 failing ops were 1000 device ops."""
    a = ttnn.full([64, 64], 1.0, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    b = ttnn.full([32, 64], 1.0, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    big = ttnn.full([8192, 8192], 1.0, ttnn.bfloat16, ttnn.TILE_LAYOUT, device)
    before = sim.stats(device).device_ops
    for _ in range(1000):
        with pytest.raises(OutOfMemoryError):
            ttnn.multiply(big, big, memory_config=ttnn.L1_MEMORY_CONFIG)
    with pytest.raises(RuntimeError):
        ttnn.matmul(a, b)  # inner dimensions differ
    assert sim.stats(device).device_ops == before
    ttnn.multiply(a, a)
    assert sim.stats(device).device_ops == before + 1


def _upload(device: ttnn.Device, values: torch.Tensor) -> ttnn.Tensor:
    return ttnn.from_torch(values, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)


def test_compute_that_reads_values_computes_first(device: ttnn.Device) -> None:
    """A computation that cannot run on meta tensors (`.item()`) and declares no shapes still runs: it
    computes first and allocates after, as before."""
    x = _upload(device, torch.arange(64.0).reshape(1, 1, 1, 64))
    out = device_op("scale", [x], lambda v: v / float(v.max()), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT)
    assert torch.equal(ttnn.to_torch(out), torch.arange(64.0).reshape(1, 1, 1, 64) / 63.0)
    assert sim.stats(device).ops_by_name["scale"] == 1


def test_output_shapes_follow_what_was_computed(device: ttnn.Device) -> None:
    """Buffers follow the computed result if a meta run predicted another shape (one tile instead of two)."""
    empty = sim.stats(device).dram_bytes
    x = _upload(device, torch.ones(1, 1, 32, 64))
    size = sim.stats(device).dram_bytes - empty  # what a [1, 1, 32, 64] float32 tensor takes

    def compute(v: torch.Tensor) -> torch.Tensor:
        return v[..., :32] if v.device.type == "meta" else v * 2

    out = device_op("odd", [x], compute, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT)
    assert list(out.shape) == [1, 1, 32, 64] and torch.equal(
        ttnn.to_torch(out), torch.full((1, 1, 32, 64), 2.0)
    )
    assert sim.stats(device).dram_bytes == empty + 2 * size
    ttnn.deallocate(out)
    assert sim.stats(device).dram_bytes == empty + size


def test_a_wrong_declared_shape_is_a_simulator_bug(device: ttnn.Device) -> None:
    x = _upload(device, torch.ones(1, 1, 32, 64))
    before = _counters(device)
    with pytest.raises(
        RuntimeError, match=r"simulator bug: twice declared output shapes \(\(1, 1, 32, 32\),\), "
    ):
        device_op(
            "twice", [x], lambda v: v * 2, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT,
            output_shapes=lambda shape: (*shape[:-1], 32),
        )  # fmt: skip
    assert _counters(device) == before
