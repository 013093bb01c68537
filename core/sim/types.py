"""Value types of the ttnn API (enums, memory and compute configs) shared by the simulator's ops.

Names, members and keyword names follow real ttnn (ttnn/api/ttnn/tensor/types.hpp, ttnn/ttnn/types.py) so
that port code written against the simulator runs unchanged on the real library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class DataType(enum.Enum):
    BFLOAT16 = 0
    FLOAT32 = 1
    UINT32 = 2
    BFLOAT8_B = 3
    BFLOAT4_B = 4
    UINT8 = 5
    UINT16 = 6
    INT32 = 7

    def __repr__(self) -> str:
        return f"DataType.{self.name}"


class Layout(enum.Enum):
    ROW_MAJOR = 0
    TILE = 1

    def __repr__(self) -> str:
        return f"Layout.{self.name}"


class StorageType(enum.Enum):
    HOST = 0
    DEVICE = 1

    def __repr__(self) -> str:
        return f"StorageType.{self.name}"


class TensorMemoryLayout(enum.Enum):
    INTERLEAVED = 0
    HEIGHT_SHARDED = 2
    WIDTH_SHARDED = 3
    BLOCK_SHARDED = 4


class BufferType(enum.Enum):
    DRAM = 0
    L1 = 1


class ShardStrategy(enum.Enum):
    HEIGHT = 0
    WIDTH = 1
    BLOCK = 2


class ShardOrientation(enum.Enum):
    ROW_MAJOR = 0
    COL_MAJOR = 1


@dataclass(frozen=True)
class CoreCoord:
    x: int
    y: int


@dataclass(frozen=True)
class CoreGrid:
    """ttnn.CoreGrid(y=..., x=...): a rectangle of Tensix cores starting at (0, 0)."""

    y: int
    x: int

    @property
    def num_cores(self) -> int:
        return self.x * self.y


@dataclass(frozen=True)
class CoreRange:
    start: CoreCoord
    end: CoreCoord

    def num_cores(self) -> int:
        return (self.end.x - self.start.x + 1) * (self.end.y - self.start.y + 1)


@dataclass(frozen=True)
class CoreRangeSet:
    ranges: Any  # set/list of CoreRange, as in ttnn.CoreRangeSet({ttnn.CoreRange(...)})

    def num_cores(self) -> int:
        return sum(r.num_cores() for r in self.ranges)


@dataclass(frozen=True)
class ShardSpec:
    grid: CoreRangeSet
    shape: tuple[int, int]
    orientation: ShardOrientation = ShardOrientation.ROW_MAJOR


@dataclass(frozen=True)
class MemoryConfig:
    memory_layout: TensorMemoryLayout = TensorMemoryLayout.INTERLEAVED
    buffer_type: BufferType = BufferType.DRAM
    shard_spec: ShardSpec | None = None

    def is_sharded(self) -> bool:
        return self.memory_layout != TensorMemoryLayout.INTERLEAVED


DRAM_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
L1_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.L1)


class MathFidelity(enum.Enum):
    LoFi = 0
    HiFi2 = 2
    HiFi3 = 3
    HiFi4 = 4

    @property
    def phases(self) -> int:
        """Number of multiplier passes (TTNN_FACTS §4): LoFi 1, HiFi2 2, HiFi3 3, HiFi4 4."""
        return {0: 1, 2: 2, 3: 3, 4: 4}[self.value]


@dataclass
class WormholeComputeKernelConfig:
    """Struct defaults as in ttnn (TTNN_FACTS §4): LoFi, approx on, bf16 Dst, no packer L1 accumulation."""

    math_fidelity: MathFidelity = MathFidelity.LoFi
    math_approx_mode: bool = True
    fp32_dest_acc_en: bool = False
    packer_l1_acc: bool = False
    dst_full_sync_en: bool = False


BlackholeComputeKernelConfig = WormholeComputeKernelConfig


@dataclass
class MeshShape:
    """ttnn.MeshShape(rows, cols)."""

    rows: int
    cols: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.rows, (tuple, list)):
            self.rows, self.cols = self.rows

    @property
    def num_devices(self) -> int:
        return self.rows * self.cols

    def __iter__(self):
        return iter((self.rows, self.cols))

    def __getitem__(self, i: int) -> int:
        return (self.rows, self.cols)[i]

    def __len__(self) -> int:
        return 2
