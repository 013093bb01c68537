"""Simulated devices: the allocator (DRAM / L1 banks of the chosen board) and the accounting counters.

The accounting API (`Stats`) is simulator-only and lives outside the ttnn namespace: reports read it through
`ttport.sim.stats(device)`.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

from . import rules
from .boards import Board, get_board
from .dispatch import Dispatch
from .records import OpRecord, TransferRecord, current_signpost
from .subdevices import SubDeviceManagers
from .types import Arch, BufferType, CoreCoord, CoreGrid, MeshShape

# DRAM pages are aligned to 32 B, L1 pages to 16 B (tt_metal/hw/inc/.../dev_mem_map.h alignments).
_ALIGNMENT = {BufferType.DRAM: 32, BufferType.L1: 16}


@dataclass
class Stats:
    """Counters of one simulated chip since it was opened (or since `reset`)."""

    device_ops: int = 0
    host_to_device: int = 0
    host_to_device_bytes: int = 0
    device_to_host: int = 0
    device_to_host_bytes: int = 0
    dram_bytes: int = 0
    l1_bytes: int = 0
    peak_dram_bytes: int = 0
    peak_l1_bytes: int = 0
    # Bytes this chip sent / received over its ethernet links in collective ops (core/sim/ops/ccl.py).
    ccl_bytes_sent: int = 0
    ccl_bytes_received: int = 0
    ops_by_name: dict[str, int] = field(default_factory=dict)
    #: allocations and frees in order, for reports that replay what was live after each op (the
    #: ttnn-visualizer folder): (ops recorded so far, +1 allocate / -1 free, BufferType name, address,
    #: bytes per bank, buffer id)
    buffer_events: list[tuple[int, int, str, int, int, int]] = field(default_factory=list)
    # One record per op that ran (core/sim/records.py): what numerics, projection and reports read.
    op_records: list[OpRecord] = field(default_factory=list)
    # One record per host <-> device transfer (the projection's PCIe term).
    transfers: list[TransferRecord] = field(default_factory=list)

    def reset(self) -> None:
        """Zero the event counters and restart the peaks from what is allocated now."""
        self.device_ops = self.host_to_device = self.host_to_device_bytes = 0
        self.device_to_host = self.device_to_host_bytes = 0
        self.ccl_bytes_sent = self.ccl_bytes_received = 0
        self.peak_dram_bytes, self.peak_l1_bytes = self.dram_bytes, self.l1_bytes
        self.ops_by_name = {}
        self.op_records = []
        self.buffer_events = []
        self.transfers = []


class Buffer:
    """An interleaved allocation: `per_bank` bytes reserved in each bank of one chip."""

    def __init__(
        self, device: Device, buffer_type: BufferType, size: int, per_bank: int, address: int, buffer_id: int
    ):
        self.device = device
        self.buffer_type = buffer_type
        self.size = size
        self.per_bank = per_bank
        self.address = address  # offset of the buffer in each of its banks (the same in every bank)
        self.buffer_id = buffer_id  # unique per chip, in allocation order
        self.allocated = True

    def free(self) -> None:
        if self.allocated:
            self.allocated = False
            self.device._release(self)


class OutOfMemoryError(rules.TTFatal):
    """The allocator's TT_FATAL when a buffer does not fit (a RuntimeError, as in ttnn)."""


class Device(SubDeviceManagers):
    """One simulated chip. Mirrors the parts of ttnn.Device / a 1x1 ttnn.MeshDevice that ports touch."""

    def __init__(self, device_id: int = 0, board: Board | None = None, **options: object):
        self._id = device_id
        self.board = board or get_board()
        self.options = options
        self.stats = Stats()
        self._bank_used = {BufferType.DRAM: 0, BufferType.L1: 0}
        self._buffers: weakref.WeakSet[Buffer] = weakref.WeakSet()
        # live (address, bytes per bank) per buffer type, sorted by address: where the next buffer goes
        self._placed: dict[BufferType, list[tuple[int, int]]] = {BufferType.DRAM: [], BufferType.L1: []}
        # How many leading entries of _placed lie end to end from address 0: no gap there fits a buffer, so
        # first fit searches after them (the weights, allocated first, make a long packed prefix).
        self._packed: dict[BufferType, int] = {BufferType.DRAM: 0, BufferType.L1: 0}
        self._next_buffer_id = 0
        self._open = True
        self.dispatch = Dispatch(
            self, options.get("num_command_queues") or 1, options.get("trace_region_size") or 0
        )
        self._init_sub_devices()

    # -- ttnn.Device API -------------------------------------------------------------------------
    def id(self) -> int:
        return self._id

    def get_device_ids(self) -> list[int]:
        return [self._id]

    def arch(self) -> Arch:
        return Arch(self.board.arch)

    def compute_with_storage_grid_size(self) -> CoreCoord:
        return CoreCoord(*self.board.grid)

    @property
    def core_grid(self) -> CoreGrid:
        x, y = self.board.grid
        return CoreGrid(y=y, x=x)

    def dram_grid_size(self) -> CoreCoord:
        return CoreCoord(self.board.dram_banks, 1)

    def get_num_devices(self) -> int:
        return 1

    def get_devices(self) -> list[Device]:
        return [self]

    @property
    def shape(self) -> MeshShape:
        return MeshShape(1, 1)

    def enable_program_cache(self) -> None:
        """The simulator compiles nothing, but keeps the cache's keys: trace capture needs warm programs."""
        self.dispatch.program_cache_enabled = True

    def disable_and_clear_program_cache(self) -> None:
        self.dispatch.program_cache_enabled = False
        self.dispatch.program_cache.clear()

    def clear_program_cache(self) -> None:
        self.dispatch.program_cache.clear()

    def num_program_cache_entries(self) -> int:
        return len(self.dispatch.program_cache)

    def set_program_cache_misses_allowed(self, allowed: bool) -> None:
        """With False, an op whose program is not in the program cache fails instead of compiling (tests use it
        to prove a second run hits the cache)."""
        self.dispatch.program_cache_misses_allowed = bool(allowed)

    def is_open(self) -> bool:
        return self._open

    def close(self) -> None:
        """Release every buffer still allocated (tensors on this chip become unreadable), as close_device does."""
        for buffer in list(self._buffers):
            buffer.free()
        self._open = False

    def __repr__(self) -> str:
        return f"<Simulated {self.board.name} device {self._id}>"

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes the class lacks: real ttnn.MeshDevice members get "not simulated yet"
        from .real_surface import missing

        raise missing("ttnn.MeshDevice", name, "'Device' object")

    # -- allocator ------------------------------------------------------------------------------
    def _banks(self, buffer_type: BufferType) -> tuple[int, int]:
        """(number of banks, usable bytes per bank). open_device's l1_small_size is carved out of every
        worker core's L1 for the L1_SMALL region (allocator config), so L1 buffers get that much less."""
        if buffer_type == BufferType.DRAM:
            return self.board.dram_banks, self.board.dram_bank_size
        return self.board.l1_banks, self.board.l1_bank_size - int(self.options.get("l1_small_size") or 0)

    def allocate(
        self, buffer_type: BufferType, num_pages: int, page_size: int, pages_per_bank: int | None = None
    ) -> Buffer:
        """Reserve a buffer in every bank: interleaved pages go round-robin (ceil(pages / banks) per bank),
        a sharded buffer takes `pages_per_bank` (one shard). Raises the allocator's out-of-memory error
        (bank_manager.cpp; the simulator does not fragment, so the largest free block is all that is free)."""
        rules.require_open(self, "allocate")
        banks, bank_size = self._banks(buffer_type)
        align = _ALIGNMENT[buffer_type]
        aligned_page = math.ceil(page_size / align) * align
        if pages_per_bank is None:
            pages_per_bank = math.ceil(num_pages / banks)
        per_bank = pages_per_bank * aligned_page
        size = num_pages * page_size
        used = self._bank_used[buffer_type]
        if used + per_bank > bank_size:
            kind = "DRAM" if buffer_type == BufferType.DRAM else "L1"
            free = bank_size - used
            raise OutOfMemoryError(
                f"Out of Memory: Not enough space to allocate {size} B {kind} buffer across {banks} banks, "
                f"where each bank needs to store {per_bank} B, but bank size is {bank_size} B "
                f"(allocated: {used} B, free: {free} B, largest free block: {free} B)."
            )
        self._bank_used[buffer_type] = used + per_bank
        self._account(buffer_type, per_bank * banks)
        address = self._place(buffer_type, per_bank)
        buffer = Buffer(self, buffer_type, size, per_bank, address, self._next_buffer_id)
        self._next_buffer_id += 1
        self._buffers.add(buffer)
        self._log_buffer(+1, buffer)
        return buffer

    def _place(self, buffer_type: BufferType, per_bank: int) -> int:
        """A deterministic address: the lowest gap of the bank that fits (first fit, bottom up). Reports
        show it; the out-of-memory rule above stays on the total (the simulator does not model
        fragmentation, nor ttnn's top-down L1 placement or its bank base offsets)."""
        placed = self._placed[buffer_type]
        packed = self._packed[buffer_type] if per_bank > 0 else 0  # a 0-byte buffer fits the first "gap"
        address = placed[packed - 1][0] + placed[packed - 1][1] if packed else 0
        at = len(placed)
        for i in range(packed, len(placed)):
            start, length = placed[i]
            if start - address >= per_bank:
                at = i
                break
            address = max(address, start + length)
        placed.insert(at, (address, per_bank))
        end = placed[packed - 1][0] + placed[packed - 1][1] if packed else 0
        while packed < len(placed) and placed[packed][0] == end:
            end += placed[packed][1]
            packed += 1
        self._packed[buffer_type] = packed
        return address

    def _log_buffer(self, sign: int, buffer: Buffer) -> None:
        self.stats.buffer_events.append(
            (len(self.stats.op_records), sign, buffer.buffer_type.name, buffer.address, buffer.per_bank,
             buffer.buffer_id)
        )  # fmt: skip

    def _release(self, buffer: Buffer) -> None:
        placed = self._placed[buffer.buffer_type]
        i = placed.index((buffer.address, buffer.per_bank))
        del placed[i]
        self._packed[buffer.buffer_type] = min(self._packed[buffer.buffer_type], i)
        self._log_buffer(-1, buffer)
        self._bank_used[buffer.buffer_type] -= buffer.per_bank
        banks, _ = self._banks(buffer.buffer_type)
        self._account(buffer.buffer_type, -buffer.per_bank * banks)

    def _account(self, buffer_type: BufferType, delta: int) -> None:
        s = self.stats
        if buffer_type == BufferType.DRAM:
            s.dram_bytes += delta
            s.peak_dram_bytes = max(s.peak_dram_bytes, s.dram_bytes)
        else:
            s.l1_bytes += delta
            s.peak_l1_bytes = max(s.peak_l1_bytes, s.l1_bytes)

    # -- accounting -----------------------------------------------------------------------------
    def record_op(self, name: str, record: OpRecord | None = None) -> None:
        """Count one op that ran on this chip, keeping its record (see core/sim/records.py)."""
        self.stats.device_ops += 1
        self.stats.ops_by_name[name] = self.stats.ops_by_name.get(name, 0) + 1
        if record is not None:
            self.stats.op_records.append(record)

    def record_ccl(self, sent: int, received: int) -> None:
        """Bytes this chip sent and received over ethernet in one collective op."""
        self.stats.ccl_bytes_sent += sent
        self.stats.ccl_bytes_received += received

    def record_write(self, nbytes: int) -> None:
        """One host -> device transfer of `nbytes` to this chip."""
        self.stats.host_to_device += 1
        self.stats.host_to_device_bytes += nbytes
        self.stats.transfers.append(TransferRecord("host_to_device", nbytes, self._id, current_signpost()))

    def record_read(self, nbytes: int) -> None:
        """One device -> host transfer of `nbytes` from this chip."""
        self.stats.device_to_host += 1
        self.stats.device_to_host_bytes += nbytes
        self.stats.transfers.append(TransferRecord("device_to_host", nbytes, self._id, current_signpost()))


class MeshDevice(SubDeviceManagers):
    """A rows x cols mesh of simulated chips (row-major order); ops on mesh tensors run once per chip."""

    def __init__(
        self,
        mesh_shape: MeshShape,
        board: Board | None = None,
        devices: list[Device] | None = None,
        **options: object,
    ):
        self._shape = mesh_shape
        board = board or get_board()
        # A submesh views chips of its parent (same allocators); a mesh opened by open_mesh_device owns new ones.
        self._devices = (
            devices
            if devices is not None
            else [Device(i, board, **options) for i in range(mesh_shape.num_devices)]
        )
        self.board = board
        self.options = options
        self.dispatch = Dispatch(
            self, options.get("num_command_queues") or 1, options.get("trace_region_size") or 0
        )
        self._init_sub_devices()
        self._submeshes: list[MeshDevice] = []

    @property
    def shape(self) -> MeshShape:
        return self._shape

    def get_num_devices(self) -> int:
        return len(self._devices)

    def get_devices(self) -> list[Device]:
        return list(self._devices)

    def get_device_ids(self) -> list[int]:
        return [d.id() for d in self._devices]

    def arch(self) -> Arch:
        return self._devices[0].arch()

    def compute_with_storage_grid_size(self) -> CoreCoord:
        return CoreCoord(*self.board.grid)

    @property
    def core_grid(self) -> CoreGrid:
        return self._devices[0].core_grid

    def dram_grid_size(self) -> CoreCoord:
        return self._devices[0].dram_grid_size()

    enable_program_cache = Device.enable_program_cache
    disable_and_clear_program_cache = Device.disable_and_clear_program_cache
    clear_program_cache = Device.clear_program_cache
    num_program_cache_entries = Device.num_program_cache_entries
    set_program_cache_misses_allowed = Device.set_program_cache_misses_allowed

    def is_open(self) -> bool:
        return all(d.is_open() for d in self._devices)

    # -- submeshes (tt_metal/distributed/mesh_device.cpp) ---------------------------------------------
    def create_submesh(self, submesh_shape: MeshShape, offset: Any = None) -> MeshDevice:
        """A mesh over a rectangle of this mesh's chips (row-major), sharing their memory."""
        rows, cols = tuple(submesh_shape)
        if rows <= 0 or cols <= 0:
            raise rules.fatal(f"Invalid submesh shape: ({rows}, {cols}). All dimensions must be positive.")
        r0, c0 = tuple(offset) if offset is not None else (0, 0)
        if r0 + rows > self._shape.rows or c0 + cols > self._shape.cols or r0 < 0 or c0 < 0:
            raise rules.fatal(
                f"Submesh shape MeshShape([{rows}, {cols}]) and offset MeshCoordinate([{r0}, {c0}]) does not fit "
                f"within parent mesh (MeshShape([{self._shape.rows}, {self._shape.cols}]))."
            )
        chosen = [
            self._devices[(r0 + r) * self._shape.cols + c0 + c] for r in range(rows) for c in range(cols)
        ]
        sub = MeshDevice(MeshShape(rows, cols), self.board, devices=chosen, **self.options)
        self._submeshes.append(sub)
        return sub

    def create_submeshes(self, submesh_shape: MeshShape) -> list[MeshDevice]:
        rows, cols = tuple(submesh_shape)
        for dim, (n, k) in enumerate(zip(tuple(self._shape), (rows, cols), strict=True)):
            if k <= 0 or n % k:
                raise rules.fatal(
                    f"Shape MeshShape([{self._shape.rows}, {self._shape.cols}]) is not divisible by submesh shape "
                    f"MeshShape([{rows}, {cols}]) along dimension {dim}"
                )
        return [
            self.create_submesh(submesh_shape, (r, c))
            for r in range(0, self._shape.rows, rows)
            for c in range(0, self._shape.cols, cols)
        ]

    def get_submeshes(self) -> list[MeshDevice]:
        return list(self._submeshes)

    def close(self) -> None:
        for d in self._devices:
            d.close()

    def __repr__(self) -> str:
        return f"<Simulated MeshDevice {self._shape.rows}x{self._shape.cols} of {self.board.name}>"

    def __getattr__(self, name: str) -> Any:
        from .real_surface import missing

        raise missing("ttnn.MeshDevice", name, "'MeshDevice' object")


def chips(device: Device | MeshDevice) -> list[Device]:
    """The chips behind a device handle."""
    return device.get_devices()


def stats(device: Device | MeshDevice) -> Stats:
    """Counters summed over the chips of `device` (current bytes summed; peaks: the largest per-chip peak, since
    each chip has its own banks)."""
    per_chip = [c.stats for c in chips(device)]
    total = Stats()
    for s in per_chip:
        total.device_ops += s.device_ops
        total.host_to_device += s.host_to_device
        total.host_to_device_bytes += s.host_to_device_bytes
        total.device_to_host += s.device_to_host
        total.device_to_host_bytes += s.device_to_host_bytes
        total.dram_bytes += s.dram_bytes
        total.l1_bytes += s.l1_bytes
        total.ccl_bytes_sent += s.ccl_bytes_sent
        total.ccl_bytes_received += s.ccl_bytes_received
        for k, v in s.ops_by_name.items():
            total.ops_by_name[k] = total.ops_by_name.get(k, 0) + v
        total.op_records.extend(s.op_records)
        total.transfers.extend(s.transfers)
    total.peak_dram_bytes = max(s.peak_dram_bytes for s in per_chip)
    total.peak_l1_bytes = max(s.peak_l1_bytes for s in per_chip)
    return total


def reset_stats(device: Device | MeshDevice) -> None:
    """Zero the counters of every chip of `device` (peaks restart from what is allocated now)."""
    for chip in chips(device):
        chip.stats.reset()
