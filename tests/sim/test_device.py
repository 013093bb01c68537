"""Simulated devices: boards, opening / closing, the allocator's out-of-memory errors per board."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import rules, ttnn
from ttport.sim.runtime import OutOfMemoryError


@pytest.mark.parametrize(
    ("board", "arch", "arch_name", "grid", "chips", "pcie"),
    [
        ("n150", ttnn.Arch.WORMHOLE_B0, "wormhole_b0", (8, 8), 1, 1),
        ("n300", ttnn.Arch.WORMHOLE_B0, "wormhole_b0", (8, 8), 2, 1),
        ("p150", ttnn.Arch.BLACKHOLE, "blackhole", (13, 10), 1, 1),
        ("t3k", ttnn.Arch.WORMHOLE_B0, "wormhole_b0", (8, 8), 8, 4),
        ("galaxy", ttnn.Arch.WORMHOLE_B0, "wormhole_b0", (8, 8), 32, 1),
    ],
)
def test_board_selection(
    open_board, board: str, arch: ttnn.Arch, arch_name: str, grid: tuple, chips: int, pcie: int
) -> None:
    device = open_board(board)
    assert device.arch() == arch == arch_name and ttnn.get_arch_name() == arch_name
    size = device.compute_with_storage_grid_size()
    assert (size.x, size.y) == grid
    assert device.core_grid.num_cores == grid[0] * grid[1]
    assert ttnn.GetNumAvailableDevices() == chips and ttnn.get_num_devices() == chips
    assert ttnn.GetNumPCIeDevices() == pcie


def test_unknown_board_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTPORT_BOARD", "n999")
    with pytest.raises(ValueError, match="unknown simulated board 'n999'"):
        ttnn.open_device(device_id=0)


def test_open_device_returns_the_open_device_for_an_id(device: ttnn.Device) -> None:
    assert ttnn.open_device(device_id=0) is device
    with pytest.raises(rules.TTFatal, match="^Device ID 1 exceeds maximum supported devices 1$"):
        ttnn.open_device(device_id=1)


def test_open_device_accepts_ttnn_keywords(open_board) -> None:
    d = open_board("n150")
    ttnn.close_device(d)
    d = ttnn.open_device(
        device_id=0,
        l1_small_size=24576,
        trace_region_size=0,
        dispatch_core_config=ttnn.DispatchCoreConfig(ttnn.DispatchCoreType.WORKER),
    )
    assert d.is_open() and d.options["l1_small_size"] == 24576
    ttnn.close_device(d)


def test_closed_device_refuses_work_and_frees_its_tensors(open_board) -> None:
    d = open_board("n150")
    t = ttnn.from_torch(torch.ones(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=d)
    ttnn.close_device(d)
    assert not t.is_allocated() and sim.stats(d).dram_bytes == 0
    with pytest.raises(rules.TTFatal, match="is closed"):
        ttnn.from_torch(torch.ones(2, 2), ttnn.bfloat16, device=d)
    with pytest.raises(rules.TTFatal, match="is closed"):
        ttnn.to_torch(t)
    with pytest.raises(rules.TTFatal, match="is closed"):
        ttnn.clone(t)
    with pytest.raises(rules.TTFatal, match="is closed"):
        ttnn.synchronize_device(d)
    reopened = ttnn.open_device(device_id=0)
    assert reopened is not d and reopened.is_open()
    ttnn.close_device(reopened)


def test_manage_device_closes_on_exit() -> None:
    with ttnn.manage_device(0) as d:
        ttnn.synchronize_device(d)
    assert not d.is_open()


def _huge_dram_tensor(device: ttnn.Device) -> ttnn.Tensor:
    # 17 GiB of bfloat16 tiles: more than a Wormhole's 12 GB, less than a Blackhole p150's 32 GB.
    return ttnn.empty([1, 1, 65536, 131072], ttnn.bfloat16, ttnn.TILE_LAYOUT, device)


def test_dram_out_of_memory_depends_on_the_board(open_board) -> None:
    n150 = open_board("n150")
    with pytest.raises(
        OutOfMemoryError,
        match=(
            r"^Out of Memory: Not enough space to allocate 17179869184 B DRAM buffer across 12 banks, "
            r"where each bank needs to store 1431656448 B, but bank size is 1073741792 B"
        ),
    ):
        _huge_dram_tensor(n150)
    assert sim.stats(n150).dram_bytes == 0
    ttnn.close_device(n150)
    p150 = open_board("p150")
    t = _huge_dram_tensor(p150)
    assert sim.stats(p150).dram_bytes == 8 * 2147483648  # 8 banks x 2 GiB of tiles
    ttnn.deallocate(t)
    assert sim.stats(p150).dram_bytes == 0


def test_l1_out_of_memory_depends_on_the_board(open_board) -> None:
    # 96 MiB of float32 tiles in L1: above n150's 64 x 1329888 B, below p150's 130 x 1395424 B.
    shape = [1, 1, 4096, 6144]
    n150 = open_board("n150")
    with pytest.raises(
        RuntimeError, match=r"^Out of Memory: .* L1 buffer across 64 banks, .* bank size is 1329888 B"
    ):
        ttnn.empty(shape, ttnn.float32, ttnn.TILE_LAYOUT, n150, ttnn.L1_MEMORY_CONFIG)
    ttnn.close_device(n150)
    p150 = open_board("p150")
    t = ttnn.empty(shape, ttnn.float32, ttnn.TILE_LAYOUT, p150, ttnn.L1_MEMORY_CONFIG)
    assert sim.stats(p150).l1_bytes == 130 * 190 * 4096  # ceil(24576 tiles / 130 banks) tiles per bank
    del t


def test_out_of_memory_counts_what_is_already_allocated(device: ttnn.Device) -> None:
    half = [1, 1, 32, 32 * 64 * 10]  # 640 float32 tiles = 10 per L1 bank (40960 B of 1329888 B)
    kept = [
        ttnn.empty(half, ttnn.float32, ttnn.TILE_LAYOUT, device, ttnn.L1_MEMORY_CONFIG) for _ in range(32)
    ]
    with pytest.raises(OutOfMemoryError, match=r"allocated: 1310720 B, free: 19168 B"):
        ttnn.empty(half, ttnn.float32, ttnn.TILE_LAYOUT, device, ttnn.L1_MEMORY_CONFIG)
    ttnn.deallocate(kept.pop())
    ttnn.empty(half, ttnn.float32, ttnn.TILE_LAYOUT, device, ttnn.L1_MEMORY_CONFIG)


def test_init_device_compute_kernel_config(device: ttnn.Device) -> None:
    cfg = ttnn.init_device_compute_kernel_config(
        device.arch(), math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True, packer_l1_acc=True
    )
    assert isinstance(cfg, ttnn.WormholeComputeKernelConfig)
    assert (cfg.math_fidelity, cfg.math_approx_mode, cfg.fp32_dest_acc_en, cfg.packer_l1_acc) == (
        ttnn.MathFidelity.HiFi4,
        True,
        True,
        True,
    )
    given = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi)
    assert ttnn.init_device_compute_kernel_config(device.arch(), given) is given
    with pytest.raises(TypeError):
        ttnn.WormholeComputeKernelConfig(ttnn.MathFidelity.LoFi)  # keyword-only, as the ttnn binding


def test_l1_small_size_is_taken_from_every_l1_bank(open_board) -> None:
    ttnn.close_device(open_board("n150"))
    device = ttnn.open_device(device_id=0, l1_small_size=32768)
    try:
        with pytest.raises(OutOfMemoryError, match=r"L1 buffer across 64 banks, .* bank size is 1297120 B"):
            ttnn.empty(
                [1, 1, 32, 32 * 64 * 320], ttnn.float32, ttnn.TILE_LAYOUT, device, ttnn.L1_MEMORY_CONFIG
            )
    finally:
        ttnn.close_device(device)


def _first_fit(placed: list[tuple[int, int]], per_bank: int) -> int:
    """The allocator's placement rule spelled out: the lowest gap between live buffers that fits."""
    address = 0
    for start, length in sorted(placed):
        if start - address >= per_bank:
            return address
        address = max(address, start + length)
    return address


@pytest.mark.parametrize("seed", range(4))
def test_buffers_go_to_the_lowest_gap_that_fits(device: ttnn.Device, seed: int) -> None:
    """Addresses follow first fit from the bottom, through random allocations and frees of mixed sizes (the
    allocator skips its packed prefix of buffers lying end to end: it must not change where anything goes)."""
    from ttport.sim.types import BufferType

    generator = torch.Generator().manual_seed(seed)
    banks = device.dram_grid_size().x
    live: list = []
    for _ in range(400):
        free_one = live and torch.rand((), generator=generator) < 0.45
        if free_one:
            buffer = live.pop(int(torch.randint(len(live), (), generator=generator)))
            buffer.free()
            continue
        pages = int(torch.randint(0, 40, (), generator=generator))
        per_bank = -(-pages // banks) * 2048  # interleaved round-robin over the DRAM banks
        expected = _first_fit([(b.address, b.per_bank) for b in live], per_bank)
        buffer = device.allocate(BufferType.DRAM, pages, 2048)
        assert buffer.address == expected
        live.append(buffer)
    for buffer in live:
        buffer.free()
    assert device.allocate(BufferType.DRAM, 1, 2048).address == 0
