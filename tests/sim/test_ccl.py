"""Collective ops on simulated meshes (ttport.sim.ops.ccl): every collective on 1x2, 1x8 and 2x4 meshes against
torch, the order the device adds partial sums in (bfloat16 rounding after every addition), ttnn's validation
errors, and the memory / link accounting."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.numerics import collective, formats
from ttport.sim.ops import ccl, fabric

MESHES = [("n300", (1, 2)), ("t3k", (1, 8)), ("t3k", (2, 4))]
OpenMesh = Callable[..., ttnn.MeshDevice]


@pytest.fixture
def open_mesh(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenMesh]:
    """open_mesh("t3k", (2, 4), fabric=FABRIC_1D_RING): a mesh of that board, closed afterwards."""
    monkeypatch.setattr(fabric, "_open_meshes", weakref.WeakSet())
    opened: list[ttnn.MeshDevice] = []

    def _open(
        board: str, shape: tuple[int, int], fabric_config: ttnn.FabricConfig | None = None
    ) -> ttnn.MeshDevice:
        monkeypatch.setenv("TTPORT_BOARD", board)
        ttnn.set_fabric_config(fabric_config or ttnn.FabricConfig.FABRIC_1D)
        mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
        opened.append(mesh)
        return mesh

    yield _open
    for mesh in opened:
        ttnn.close_mesh_device(mesh)
    ttnn.set_fabric_config(ttnn.FabricConfig.DISABLED)


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).to(torch.float32)


def _to_mesh(mesh: ttnn.MeshDevice, per_chip: torch.Tensor, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT):
    """per_chip[i] goes to chip i (row-major)."""
    return ttnn.from_torch(
        per_chip,
        dtype=dtype,
        layout=layout,
        device=mesh,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0),
    )


def _chips(t: ttnn.Tensor) -> list[torch.Tensor]:
    return [ttnn.to_torch(c).to(torch.float32) for c in ttnn.get_device_tensors(t)]


def _lines(shape: tuple[int, int], cluster_axis: int | None) -> list[list[int]]:
    rows, cols = shape
    if cluster_axis is None:
        return [list(range(rows * cols))]
    if cluster_axis == 0:
        return [[r * cols + c for r in range(rows)] for c in range(cols)]
    return [[r * cols + c for c in range(cols)] for r in range(rows)]


def _round(x: torch.Tensor) -> torch.Tensor:
    return formats.quantize(x, ttnn.bfloat16, formats.PACKER)


def _seq(terms: Sequence[torch.Tensor]) -> torch.Tensor:
    acc = terms[0]
    for t in terms[1:]:
        acc = _round(acc + t)
    return acc


# -- values against torch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("board", "shape"), MESHES)
@pytest.mark.parametrize("cluster_axis", [None, 0, 1])
@pytest.mark.parametrize("dim", [3, 2])
def test_all_gather_matches_torch(open_mesh: OpenMesh, board, shape, cluster_axis, dim) -> None:
    mesh = open_mesh(board, shape)
    n = shape[0] * shape[1]
    x = torch.randn(n, 1, 64, 96)
    t = _to_mesh(mesh, x)
    out = ttnn.all_gather(t, dim, cluster_axis=cluster_axis)
    lines = _lines(shape, cluster_axis)
    if cluster_axis is None and 1 not in shape:
        lines = _lines(shape, None)  # axis 1 then axis 0: row-major order over the whole mesh
    got = _chips(out)
    for line in lines:
        want = torch.cat([_bf16(x[i : i + 1]) for i in line], dim=dim)
        for i in line:
            assert torch.equal(got[i], want)
    assert out.shape[dim] == x.shape[dim] * len(lines[0])
    assert out.dtype == ttnn.bfloat16


@pytest.mark.parametrize(("board", "shape"), MESHES)
@pytest.mark.parametrize("cluster_axis", [None, 0, 1])
def test_reduce_scatter_matches_torch(open_mesh: OpenMesh, board, shape, cluster_axis) -> None:
    mesh = open_mesh(board, shape)
    n = shape[0] * shape[1]
    x = torch.randn(n, 1, 64, 256)
    t = _to_mesh(mesh, x)
    out = ttnn.reduce_scatter(t, 3, cluster_axis=cluster_axis)
    got = _chips(out)
    if cluster_axis is None and 1 not in shape:
        # axis 0 then axis 1: chip (r, c) ends with slice r * cols + c of the whole sum
        total = _bf16(x).sum(0, keepdim=True)
        for i in range(n):
            want = torch.chunk(total, n, dim=3)[i]
            assert torch.allclose(got[i], want, atol=0.1, rtol=0.02)
        return
    for line in _lines(shape, cluster_axis):
        total = _bf16(x[line]).sum(0, keepdim=True)
        for p, i in enumerate(line):
            want = torch.chunk(total, len(line), dim=3)[p]
            assert got[i].shape == want.shape
            assert torch.allclose(got[i], want, atol=0.1, rtol=0.02)


@pytest.mark.parametrize(("board", "shape"), MESHES)
@pytest.mark.parametrize("cluster_axis", [None, 0, 1])
def test_all_reduce_matches_torch(open_mesh: OpenMesh, board, shape, cluster_axis) -> None:
    mesh = open_mesh(board, shape)
    n = shape[0] * shape[1]
    x = torch.randn(n, 1, 32, 256)
    out = ttnn.all_reduce(_to_mesh(mesh, x), cluster_axis=cluster_axis)
    got = _chips(out)
    lines = _lines(shape, cluster_axis) if cluster_axis is not None or 1 in shape else [list(range(n))]
    for line in lines:
        total = _bf16(x[line]).sum(0, keepdim=True)
        for i in line:
            assert got[i].shape == total.shape
            assert torch.allclose(got[i], total, atol=0.1, rtol=0.02)
        assert all(torch.equal(got[line[0]], got[i]) for i in line)  # identical on every chip of a line


@pytest.mark.parametrize(("board", "shape"), MESHES)
def test_async_variants_match_the_sync_ops(open_mesh: OpenMesh, board, shape) -> None:
    mesh = open_mesh(board, shape)
    n = shape[0] * shape[1]
    axis = 1 if shape[1] > 1 else 0
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 7))})
    sem = lambda: ttnn.create_global_semaphore(mesh, cores, 0)  # noqa: E731
    x = torch.randn(n, 1, 64, 256)
    t = _to_mesh(mesh, x)
    ag = ttnn.experimental.all_gather_async(
        t,
        persistent_output_buffer=None,
        dim=3,
        multi_device_global_semaphore=[sem(), sem()],
        num_links=1,
        cluster_axis=axis,
        topology=ttnn.Topology.Linear,
        barrier_semaphore=sem(),
        chunks_per_sync=10,
        num_workers_per_link=2,
        num_buffers_per_channel=2,
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(_chips(ag), _chips(ttnn.all_gather(t, 3, cluster_axis=axis)), strict=True)
    )
    rs = ttnn.experimental.reduce_scatter_minimal_async(
        t,
        persistent_output_buffers=None,
        dim=3,
        multi_device_global_semaphore=[sem(), sem(), sem()],
        barrier_semaphore=sem(),
        num_links=1,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
        intermediate_memory_config=ttnn.DRAM_MEMORY_CONFIG,
        topology=ttnn.Topology.Linear,
        cluster_axis=axis,
    )
    want = ttnn.reduce_scatter(t, 3, cluster_axis=axis, topology=ttnn.Topology.Linear)
    assert all(torch.equal(a, b) for a, b in zip(_chips(rs), _chips(want), strict=True))
    ar = ttnn.experimental.all_reduce_async(
        t,
        cluster_axis=axis,
        mesh_device=mesh,
        barrier_semaphores=[sem(), sem()],
        rs_global_semaphores=[sem(), sem(), sem()],
        ag_global_semaphores=[sem(), sem()],
        math_op=ttnn.ReduceType.Sum,
        topology=ttnn.Topology.Linear,
    )
    want = ttnn.all_reduce(t, cluster_axis=axis, topology=ttnn.Topology.Linear)
    assert all(torch.equal(a, b) for a, b in zip(_chips(ar), _chips(want), strict=True))


def test_all_gather_async_positional_overload_and_persistent_buffer(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8))
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 7))})
    sems = [ttnn.create_global_semaphore(mesh, cores, 0) for _ in range(2)]
    x = torch.randn(8, 1, 32, 64)
    t = _to_mesh(mesh, x)
    buffer = ttnn.from_torch(
        torch.zeros(1, 1, 32, 512), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
    )  # fmt: skip
    out = ttnn.experimental.all_gather_async(t, buffer, 3, sems, num_links=1, cluster_axis=1)
    assert out is buffer
    want = torch.cat([_bf16(x[i : i + 1]) for i in range(8)], dim=3)
    assert all(torch.equal(c, want) for c in _chips(buffer))
    # overload 1: (input, dim, semaphores)
    out1 = ttnn.experimental.all_gather_async(t, 3, sems, topology=ttnn.Topology.Ring)
    assert all(torch.equal(c, want) for c in _chips(out1))
    # overload 3: (input, dim, cluster_axis, mesh_device, topology, semaphores)
    out3 = ttnn.experimental.all_gather_async(t, 3, 1, mesh, ttnn.Topology.Linear, sems)
    assert all(torch.equal(c, want) for c in _chips(out3))


# -- the order partial sums are added in ---------------------------------------------------------------------


def _tile_values(n: int, seed: int = 3) -> torch.Tensor:
    """Values whose bfloat16 sum depends on the order: large and small magnitudes mixed."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([256.0, 1.0, -256.0, 0.37, 3.0, -1.0, 0.011, 77.0][:n] * (1 + n // 8))[:n]
    return torch.randn(n, 1, 32, 32 * n, generator=g) * scale.view(n, 1, 1, 1)


def test_linear_reduce_scatter_adds_forward_then_backward_partials(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (2, 4))
    x = _bf16(_tile_values(8))
    out = ttnn.reduce_scatter(_to_mesh(mesh, x), 3, cluster_axis=1, topology=ttnn.Topology.Linear)
    got = _chips(out)
    for line in _lines((2, 4), 1):
        n = len(line)
        for s, chip in enumerate(line):
            parts = [torch.chunk(x[i : i + 1], n, dim=3)[s] for i in line]
            acc = parts[s]
            if s > 0:
                acc = _round(acc + _seq(parts[:s]))  # forward partial x0 + x1 + ... + x(s-1)
            if s < n - 1:
                acc = _round(acc + _seq(parts[s + 1 :][::-1]))  # backward x(N-1) + ... + x(s+1)
            assert torch.equal(got[chip], acc)
    # the order matters for these values: a plain sequential sum differs somewhere
    plain = [_seq([torch.chunk(x[i : i + 1], 4, dim=3)[s] for i in range(4)]) for s in range(4)]
    assert any(not torch.equal(got[s], plain[s]) for s in range(4))


def test_ring_reduce_scatter_order_per_direction(open_mesh: OpenMesh) -> None:
    """1x8 T3K ring: a one-tile slice goes to the second direction (x(s-1), x(s-2), ..., x(s+1), x_s)."""
    mesh = open_mesh("t3k", (1, 8), ttnn.FabricConfig.FABRIC_1D_RING)
    x = _bf16(_tile_values(8))
    t = _to_mesh(mesh, x)
    assert ttnn.get_usable_topology(t, cluster_axis=1) == ttnn.Topology.Ring
    out = ttnn.reduce_scatter(t, 3, cluster_axis=1)
    got = _chips(out)
    for s in range(8):
        parts = [torch.chunk(x[i : i + 1], 8, dim=3)[s] for i in range(8)]
        want = _seq([parts[(s - k) % 8] for k in range(1, 8)] + [parts[s]])
        assert torch.equal(got[s], want), s


def test_ring_reduce_scatter_splits_tiles_between_directions() -> None:
    """4 tiles, granularity 8: the first min(4 // 2, 8) = 2 tiles go one way, the other 2 the other way."""
    mask = collective.ring_direction_mask(64, 64, 8)
    assert mask[:32, :].all() and not mask[32:, :].any()
    # 40 tiles, granularity 8: 8 / 8 / 8 / 8 then min(8 // 2, 8) = 4 / 4
    tiles = collective.ring_direction_mask(32, 32 * 40, 8)[0, ::32]
    assert tiles.tolist() == [True] * 8 + [False] * 8 + [True] * 8 + [False] * 8 + [True] * 4 + [False] * 4
    assert collective.tile_granularity(ttnn.bfloat16) == 8
    assert collective.tile_granularity(ttnn.bfloat8_b) == 12
    assert collective.tile_granularity(ttnn.float32) == 4


def test_ring_reduce_scatter_multi_tile_slices_use_both_orders(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8), ttnn.FabricConfig.FABRIC_1D_RING)
    g = torch.Generator().manual_seed(5)
    x = _bf16(
        torch.randn(8, 1, 64, 64 * 8, generator=g)
        * torch.tensor([300.0, 1, -300, 0.3, 3, -1, 0.01, 70]).view(8, 1, 1, 1)
    )
    got = _chips(ttnn.reduce_scatter(_to_mesh(mesh, x), 3, cluster_axis=1, topology=ttnn.Topology.Ring))
    mask = collective.ring_direction_mask(64, 64, 8)
    for s in range(8):
        parts = [torch.chunk(x[i : i + 1], 8, dim=3)[s] for i in range(8)]
        first = _seq([parts[(s + k) % 8] for k in range(1, 8)] + [parts[s]])
        second = _seq([parts[(s - k) % 8] for k in range(1, 8)] + [parts[s]])
        assert torch.equal(got[s], torch.where(mask, first, second))


def test_reduce_scatter_rounds_bfloat8_b_partials(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("n300", (1, 2))
    x = torch.randn(2, 1, 32, 64)
    t = _to_mesh(mesh, x, dtype=ttnn.bfloat8_b)
    out = ttnn.reduce_scatter(t, 3)
    assert out.dtype == ttnn.bfloat8_b
    stored = _chips(t)
    for s in range(2):
        want = formats.quantize(
            torch.chunk(stored[0], 2, dim=3)[s] + torch.chunk(stored[1], 2, dim=3)[s],
            ttnn.bfloat8_b,
            formats.PACKER,
        )
        assert torch.equal(_chips(out)[s], want)


def test_row_major_reduce_scatter_is_the_composite_sequential_sum(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8))
    x = _bf16(_tile_values(8))
    got = _chips(ttnn.reduce_scatter(_to_mesh(mesh, x, layout=ttnn.ROW_MAJOR_LAYOUT), 3))
    for s in range(8):
        assert torch.equal(got[s], _seq([torch.chunk(x[i : i + 1], 8, dim=3)[s] for i in range(8)]))


def test_float32_all_reduce_is_close_to_the_exact_sum(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8))
    x = torch.randn(8, 1, 32, 256)
    got = _chips(ttnn.all_reduce(_to_mesh(mesh, x, dtype=ttnn.float32)))
    assert torch.allclose(got[3], x.sum(0, keepdim=True), atol=1e-5)


# -- validation ----------------------------------------------------------------------------------------------


def test_errors_worded_as_ttnn(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8))
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 7))})
    sems = [ttnn.create_global_semaphore(mesh, cores, 0) for _ in range(3)]
    t = _to_mesh(mesh, torch.randn(8, 1, 32, 64))
    with pytest.raises(RuntimeError, match="Number of tiles at dimension 3 must be divisible by ring_size"):
        ttnn.reduce_scatter(t, 3)
    with pytest.raises(RuntimeError, match="Expected 3 semaphores but got 2"):
        ttnn.experimental.reduce_scatter_minimal_async(
            t, persistent_output_buffers=None, dim=2, multi_device_global_semaphore=sems[:2]
        )
    with pytest.raises(RuntimeError, match="Default implementation requires 2 semaphores"):
        ttnn.experimental.all_gather_async(
            t, persistent_output_buffer=None, dim=3, multi_device_global_semaphore=sems
        )
    with pytest.raises(RuntimeError, match="Error, num_links should be more than 0 but has 0"):
        ttnn.experimental.all_gather_async(t, 3, sems[:2], num_links=0)
    with pytest.raises(RuntimeError, match=r"Dimension input should be in between -4 and 3, but has 4"):
        ttnn.experimental.all_gather_async(t, 4, sems[:2])
    with pytest.raises(RuntimeError, match="should be between 0 and 3 however is 4"):
        ttnn.all_gather(t, 4)
    with pytest.raises(RuntimeError, match="should be between 0 and 3 however is 18446744073709551615"):
        ttnn.reduce_scatter(t, -5)
    host = ttnn.from_torch(torch.randn(1, 1, 32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(RuntimeError, match="Operands to all_gather need to be on device!"):
        ttnn.all_gather(host, 3)
    bad = ttnn.from_torch(
        torch.zeros(1, 1, 32, 256), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
    )  # fmt: skip
    with pytest.raises(
        RuntimeError, match="Error, Output tensor shape at dimension 3 should be 512 but has 256"
    ):
        ttnn.experimental.all_gather_async(t, bad, 3, sems[:2])
    with pytest.raises(RuntimeError, match="cluster_axis must be 0 or 1"):
        ttnn.all_reduce(t, cluster_axis=2)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        ttnn.experimental.all_gather_async(t, 3, sems[:2], no_such_keyword=1)
    with pytest.raises(RuntimeError, match="reduce_scatter currently supports rank 2 tensors at minimum"):
        ttnn.reduce_scatter(_rank1(mesh), 0)


def _rank1(mesh: ttnn.MeshDevice) -> ttnn.Tensor:
    return ttnn.from_torch(
        torch.randn(64), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=mesh,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
    )  # fmt: skip


def test_ring_is_demoted_to_linear_where_the_axis_does_not_wrap(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (2, 4), ttnn.FabricConfig.FABRIC_1D_RING)
    t = _to_mesh(mesh, torch.randn(8, 1, 32, 128))
    assert ttnn.get_usable_topology(t, ttnn.Topology.Ring, cluster_axis=1) == ttnn.Topology.Linear
    assert ttnn.get_usable_topology(t, ttnn.Topology.Torus, cluster_axis=0) == ttnn.Topology.Linear


# -- accounting ----------------------------------------------------------------------------------------------


def test_link_traffic_and_records(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8), ttnn.FabricConfig.FABRIC_1D_RING)
    t = _to_mesh(mesh, torch.randn(8, 1, 32, 256))  # one chip: 8 tiles = 16384 B
    sim.reset_stats(mesh)
    ttnn.all_gather(t, 3)
    per_chip = [c.stats for c in mesh.get_devices()]
    # ring all-gather: each chip sends its own slice 4 hops one way, 3 the other, and forwards the rest
    assert [s.ccl_bytes_sent for s in per_chip] == [7 * 16384] * 8
    record = per_chip[0].op_records[-1]
    assert record.name == "all_gather"
    attrs = record.config.attributes
    assert (attrs["topology"], attrs["ring_size"], attrs["busiest_link_bytes"], attrs["steps"]) == (
        "Ring",
        8,
        4 * 16384,
        4,
    )
    sim.reset_stats(mesh)
    ttnn.reduce_scatter(t, 3, topology=ttnn.Topology.Linear)
    sent = [c.stats.ccl_bytes_sent for c in mesh.get_devices()]
    slice_bytes = 16384 // 8
    assert sent == [(7 - p + p) * slice_bytes for p in range(8)]  # N-1-p forward, p backward
    assert (
        mesh.get_devices()[0].stats.op_records[-1].config.attributes["busiest_link_bytes"] == 7 * slice_bytes
    )


def test_reduce_scatter_peak_memory_includes_its_intermediate(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("n300", (1, 2))
    t = _to_mesh(mesh, torch.randn(2, 1, 1024, 1024))  # 2 MiB per chip
    chip = mesh.get_devices()[0]
    sim.reset_stats(mesh)
    before = chip.stats.dram_bytes
    out = ttnn.reduce_scatter(t, 3, topology=ttnn.Topology.Linear)
    size = 1024 * 1024 * 2
    # Linear: intermediate twice the input, output half of it; the intermediate is freed on return
    assert chip.stats.peak_dram_bytes >= before + 2 * size + size // 2
    assert 0 <= chip.stats.dram_bytes - before - size // 2 < 12 * 2048  # (interleaving rounds up per bank)
    del out


def test_out_of_memory_before_any_host_work(open_mesh: OpenMesh, monkeypatch: pytest.MonkeyPatch) -> None:
    mesh = open_mesh("n300", (1, 2))
    t = _to_mesh(mesh, torch.randn(2, 1, 32, 64))
    called = []
    monkeypatch.setattr(ccl, "reduce_slices", lambda *a, **k: called.append(1))
    # an L1 almost full (buffers reserved straight from each chip's allocator): the intermediate does not fit
    filler = [
        chip.allocate(ttnn.BufferType.L1, 64 * (chip.board.l1_bank_size // 2048), 2048)
        for chip in mesh.get_devices()
    ]
    with pytest.raises(RuntimeError, match="Out of Memory"):
        ttnn.reduce_scatter(t, 3, intermediate_memory_config=ttnn.L1_MEMORY_CONFIG)
    assert not called
    for buffer in filler:
        buffer.free()


def test_collectives_are_captured_in_a_trace(monkeypatch: pytest.MonkeyPatch, open_mesh: OpenMesh) -> None:
    monkeypatch.setattr(fabric, "_open_meshes", weakref.WeakSet())
    monkeypatch.setenv("TTPORT_BOARD", "t3k")
    ttnn.set_fabric_config(ttnn.FabricConfig.FABRIC_1D)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 8), trace_region_size=1 << 20)
    try:
        x = torch.randn(8, 1, 32, 256)
        t = _to_mesh(mesh, x)
        ttnn.all_reduce(t)  # warm the program cache
        tid = ttnn.begin_trace_capture(mesh, cq_id=0)
        out = ttnn.all_reduce(t)
        ttnn.end_trace_capture(mesh, tid, cq_id=0)
        ttnn.execute_trace(mesh, tid, cq_id=0, blocking=True)
        want = _bf16(x).sum(0, keepdim=True)
        assert torch.allclose(_chips(out)[5], want, atol=0.1, rtol=0.02)

        # a partial made inside the trace and freed there once reduced (as a row-parallel linear's output), and
        # the reduced sum freed once added to the residual: their addresses are reused on every replay, so
        # the replay reads them, as on the card
        def residual_block() -> ttnn.Tensor:
            partial = ttnn.multiply(t, 2.0)
            reduced = ttnn.all_reduce(partial)
            ttnn.deallocate(partial)
            out = ttnn.add(reduced, 1.0)
            ttnn.deallocate(reduced)
            return out

        residual_block()
        tid = ttnn.begin_trace_capture(mesh, cq_id=0)
        out = residual_block()
        ttnn.end_trace_capture(mesh, tid, cq_id=0)
        ttnn.execute_trace(mesh, tid, cq_id=0, blocking=True)
        assert torch.allclose(_chips(out)[5], 2 * want + 1, atol=0.25, rtol=0.02)
    finally:
        ttnn.close_mesh_device(mesh)


# -- projected device time -----------------------------------------------------------------------------------


def _projected(mesh: ttnn.MeshDevice, op: Callable[[], ttnn.Tensor]) -> list[float]:
    from ttport.sim import projection

    sim.reset_stats(mesh)
    op()
    records = sim.stats(mesh).op_records
    projection.project_records(records, mesh.board)
    return [r.projected_ns for r in records]


def test_projection_prices_link_bytes_topology_and_links(open_mesh: OpenMesh) -> None:
    from ttport.sim.boards import BOARDS
    from ttport.sim.projection import CALIBRATION

    mesh = open_mesh("t3k", (1, 8), ttnn.FabricConfig.FABRIC_1D_RING)
    x = torch.randn(8, 1, 512, 1024)  # 1 MiB per chip
    t = _to_mesh(mesh, x)
    ring = _projected(mesh, lambda: ttnn.all_gather(t, 3))
    line = _projected(mesh, lambda: ttnn.reduce_scatter(t, 3, topology=ttnn.Topology.Linear))
    ring_rs = _projected(mesh, lambda: ttnn.reduce_scatter(t, 3, topology=ttnn.Topology.Ring))
    fabric = BOARDS["t3k"].fabric
    cal = CALIBRATION["wormhole_b0"]
    size = 512 * 1024 * 2
    # ring all-gather: the busiest link carries 4 of the 8 slices (each a whole chip's 1 MiB)
    link_ns = 4 * size / fabric.link_gbps
    assert max(ring) == pytest.approx(cal.kernel_fixed_ns + 4 * fabric.hop_latency_ns + link_ns, rel=0.05)
    # a line reduce-scatter moves 7 slices of 1/8 over its busiest link, a ring one 3.5
    assert max(line) > 1.5 * max(ring_rs)
    assert max(line) == pytest.approx(
        cal.kernel_fixed_ns + 7 * fabric.hop_latency_ns + 7 * size / 8 / 12.5, rel=0.1
    )


def test_projection_uses_the_links_the_board_has(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("galaxy", (4, 8))
    t = _to_mesh(mesh, torch.randn(32, 1, 128, 1024))
    one = _projected(mesh, lambda: ttnn.all_gather(t, 3, cluster_axis=0, num_links=1))
    # ttnn.all_gather ignores num_links (deprecated) and takes the axis' links: 4 on Galaxy axis 0
    default = _projected(mesh, lambda: ttnn.all_gather(t, 3, cluster_axis=0))
    assert one == default
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 7))})
    sems = [ttnn.create_global_semaphore(mesh, cores, 0) for _ in range(2)]
    one_link = _projected(
        mesh,
        lambda: ttnn.experimental.all_gather_async(
            t, None, 3, sems, num_links=1, cluster_axis=0, topology=ttnn.Topology.Linear
        ),
    )
    four_links = _projected(
        mesh,
        lambda: ttnn.experimental.all_gather_async(
            t, None, 3, sems, num_links=4, cluster_axis=0, topology=ttnn.Topology.Linear
        ),
    )
    assert max(one_link) > 3 * max(four_links) * 0.9
    assert max(four_links) == pytest.approx(max(default))


def test_projection_summary_reports_collective_time(open_mesh: OpenMesh) -> None:
    from ttport.sim import projection

    mesh = open_mesh("n300", (1, 2))
    t = _to_mesh(mesh, torch.randn(2, 1, 256, 256))
    sim.reset_stats(mesh)
    y = ttnn.add(t, t)
    ttnn.all_reduce(y)
    stats = sim.stats(mesh)
    projection.project_records(stats.op_records, mesh.board)
    summary = projection.summarize(stats.op_records, stats.transfers, mesh.board)
    ccl_ns = max(r.projected_ns for r in stats.op_records if r.name == "all_reduce")
    assert summary.total.ccl_ns == pytest.approx(ccl_ns)
    assert summary.total.device_ns > summary.total.ccl_ns > 0


@pytest.mark.parametrize(("board", "shape"), MESHES)
@pytest.mark.parametrize("cluster_axis", [None, 0, 1])
def test_mesh_partition_is_the_inverse_of_all_gather(open_mesh: OpenMesh, board, shape, cluster_axis) -> None:
    mesh = open_mesh(board, shape)
    n = shape[0] * shape[1]
    x = torch.randn(1, 1, 32, 64 * n)
    t = ttnn.from_torch(
        x,
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
    )
    sim.reset_stats(mesh)
    part = ttnn.mesh_partition(t, 3, cluster_axis)
    got = _chips(part)
    for line in _lines(shape, cluster_axis):
        for p, chip in enumerate(line):
            assert torch.equal(got[chip], torch.chunk(_bf16(x), len(line), dim=3)[p])
    assert sim.stats(mesh).ccl_bytes_sent == 0
    back = ttnn.all_gather(part, 3, cluster_axis=cluster_axis)
    assert all(torch.equal(c, _bf16(x)) for c in _chips(back))


def test_collectives_on_a_submesh(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (2, 4))
    sub = mesh.create_submesh(ttnn.MeshShape(1, 4), (1, 0))  # the second row's chips
    x = torch.randn(4, 1, 32, 128)
    t = _to_mesh(sub, x)
    sim.reset_stats(mesh)
    out = ttnn.all_reduce(t)
    assert all(torch.allclose(c, _bf16(x).sum(0, keepdim=True), atol=0.05) for c in _chips(out))
    sent = [c.stats.ccl_bytes_sent for c in mesh.get_devices()]
    assert sent[:4] == [0, 0, 0, 0] and all(s > 0 for s in sent[4:])  # only the submesh's chips talk


@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("ring", [False, True])
def test_traffic_model_conserves_bytes(n: int, ring: bool) -> None:
    for traffic in (ccl.gather_traffic(n, ring), ccl.reduce_scatter_traffic(n, ring)):
        assert sum(traffic.sent) == pytest.approx(sum(traffic.received))
    line = ccl.reduce_scatter_traffic(4, False)
    # position 1 of 4: forward out carries slices 2, 3; backward out slice 0; it receives slices 1..3 from 0
    # and slices 0, 1 from 2
    assert (line.sent[1], line.received[1]) == (3.0, 5.0)
    assert ccl.gather_traffic(4, False).received == (3.0, 3.0, 3.0, 3.0)


def test_all_reduce_is_reduce_scatter_then_all_gather_or_the_composite_sum(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8))
    x = _bf16(_tile_values(8))  # [8, 1, 32, 256]: 8 tiles wide, scattered on the last dim
    t = _to_mesh(mesh, x)
    ar = _chips(ttnn.all_reduce(t, topology=ttnn.Topology.Linear))
    rs_ag = _chips(ttnn.all_gather(ttnn.reduce_scatter(t, 3, topology=ttnn.Topology.Linear), 3))
    assert all(torch.equal(a, b) for a, b in zip(ar, rs_ag, strict=True))
    # one tile: no dim splits into 8 -> all-gather and a local sum in chip order
    small = _bf16(_tile_values(8)[..., :32])
    got = _chips(ttnn.all_reduce(_to_mesh(mesh, small)))
    assert torch.equal(got[0], _seq([small[i : i + 1] for i in range(8)]))


def test_reduce_scatter_persistent_buffers(open_mesh: OpenMesh) -> None:
    mesh = open_mesh("t3k", (1, 8))
    cores = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 7))})
    sems = [ttnn.create_global_semaphore(mesh, cores, 0) for _ in range(3)]
    x = torch.randn(8, 1, 64, 512)
    t = _to_mesh(mesh, x)
    (intermediate,) = ttnn.experimental.reduce_scatter_minimal_async_create_intermediate_buffer(
        t, 3, topology=ttnn.Topology.Linear
    )
    assert list(intermediate.shape) == [2, 1, 64, 512]  # Linear: twice the input
    output = ttnn.from_torch(
        torch.zeros(1, 1, 64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
    )  # fmt: skip
    chip = mesh.get_devices()[0]
    sim.reset_stats(mesh)
    allocated = chip.stats.dram_bytes
    out = ttnn.experimental.reduce_scatter_minimal_async(
        t, [intermediate, output], 3, sems, topology=ttnn.Topology.Linear
    )
    assert out is output
    assert chip.stats.peak_dram_bytes == allocated  # nothing allocated: both buffers were the caller's
    want = ttnn.reduce_scatter(t, 3, topology=ttnn.Topology.Linear)
    assert all(torch.equal(a, b) for a, b in zip(_chips(out), _chips(want), strict=True))
    wrong = ttnn.from_torch(
        torch.zeros(1, 1, 64, 128), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh,
        mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="Output tensor dimension 3 must be input dimension / ring_size"):
        ttnn.experimental.reduce_scatter_minimal_async(t, [intermediate, wrong], 3, sems)


def test_collective_goldens_take_per_device_inputs_like_ttnn() -> None:
    """ttnn.get_golden_function(collective): per-device torch inputs in row-major mesh order, the mesh shape and
    the shard dim of each mesh axis -> the composed host tensor (None without a mesh description)."""
    from ttport.sim import ttnn as sim_ttnn

    xs = [torch.full((1, 1, 32, 32), float(i)) for i in range(8)]  # a 2x4 mesh, device i holds i
    mesh = dict(_ttnn_golden_mesh_shape=(2, 4), _ttnn_golden_mesh_shard_dims=(None, 3))
    gather = sim_ttnn.get_golden_function(sim_ttnn.all_gather)(xs, 3, cluster_axis=1, **mesh)
    assert gather.shape == (1, 1, 32, 128) and gather[0, 0, 0, ::32].tolist() == [0.0, 1.0, 2.0, 3.0]
    reduced = sim_ttnn.get_golden_function(sim_ttnn.all_reduce)(xs, cluster_axis=0, **mesh)
    assert reduced.shape == (1, 1, 32, 128) and reduced[0, 0, 0, ::32].tolist() == [4.0, 6.0, 8.0, 10.0]
    scattered = sim_ttnn.get_golden_function(sim_ttnn.reduce_scatter)(xs, 3, cluster_axis=None, **mesh)
    assert scattered.shape == (1, 1, 32, 32) and torch.all(scattered == 28.0)
    assert sim_ttnn.get_golden_function(sim_ttnn.all_gather)(xs, 3) is None
