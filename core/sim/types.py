"""Value types of the ttnn API (enums, memory and compute configs) shared by the simulator's ops.

Names, members and keyword names follow real ttnn (ttnn/api/ttnn/tensor/types.hpp, ttnn/ttnn/types.py) so
that port code written against the simulator runs unchanged on the real library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


def positional_init(cls: type) -> type:
    """Make a dataclass constructor positional-only, as nanobind binds ttnn's (`CoreCoord(1, 2)`; real ttnn
    refuses `CoreCoord(x=1, y=2)`), so code written against the simulator cannot rely on such keywords."""
    init = cls.__init__

    def __init__(self: Any, *args: Any) -> None:
        init(self, *args)

    cls.__init__ = __init__
    return cls


def _member_repr(self: enum.Enum) -> str:
    """`DataType.BFLOAT16` rather than enum's `<DataType.BFLOAT16: 0>`, for the enums ports print often."""
    return f"{type(self).__name__}.{self.name}"


class DataType(enum.Enum):
    BFLOAT16 = 0
    FLOAT32 = 1
    UINT32 = 2
    BFLOAT8_B = 3
    BFLOAT4_B = 4
    UINT8 = 5
    UINT16 = 6
    INT32 = 7
    # Real ttnn 0.81.1 has these two (values probed from the wheel); the simulator names them so code that
    # lists dtypes imports, and refuses tensors of them (ops/core.py: from_torch).
    FP8_E4M3 = 8
    INT8 = 9

    __repr__ = _member_repr


class Layout(enum.Enum):
    ROW_MAJOR = 0
    TILE = 1

    __repr__ = _member_repr


class StorageType(enum.Enum):
    HOST = 0
    DEVICE = 1

    __repr__ = _member_repr


class TensorMemoryLayout(enum.Enum):
    INTERLEAVED = 0
    HEIGHT_SHARDED = 2
    WIDTH_SHARDED = 3
    BLOCK_SHARDED = 4
    ND_SHARDED = 5


class BufferType(enum.Enum):
    DRAM = 0
    L1 = 1


class ShardStrategy(enum.Enum):
    # ttnn/ttnn/types.py: a Python enum, values 1..3.
    HEIGHT = 1
    WIDTH = 2
    BLOCK = 3


class ShardOrientation(enum.Enum):
    ROW_MAJOR = 0
    COL_MAJOR = 1


@positional_init
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


class CoreRangeSet:
    """ttnn.CoreRangeSet({ttnn.CoreRange(...), ...}) (or a single CoreRange); `ranges()` is a method as in ttnn."""

    def __init__(self, core_ranges: Any):
        self._ranges = frozenset([core_ranges] if isinstance(core_ranges, CoreRange) else core_ranges)

    def ranges(self) -> list[CoreRange]:
        return sorted(self._ranges, key=lambda r: (r.start.y, r.start.x))

    def num_cores(self) -> int:
        return sum(r.num_cores() for r in self._ranges)

    def bounding_box(self) -> CoreRange:
        return CoreRange(
            CoreCoord(min(r.start.x for r in self._ranges), min(r.start.y for r in self._ranges)),
            CoreCoord(max(r.end.x for r in self._ranges), max(r.end.y for r in self._ranges)),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CoreRangeSet) and self._ranges == other._ranges

    def __hash__(self) -> int:
        return hash(self._ranges)

    def __repr__(self) -> str:
        return f"CoreRangeSet({self.ranges()})"


@dataclass(frozen=True, init=False)
class ShardSpec:
    """ttnn.ShardSpec(grid, shard_shape, shard_orientation); read back as .grid, .shape, .orientation."""

    grid: CoreRangeSet
    shape: tuple[int, int]
    orientation: ShardOrientation = ShardOrientation.ROW_MAJOR

    def __init__(
        self,
        grid: CoreRangeSet,
        shard_shape: tuple[int, int],
        shard_orientation: ShardOrientation = ShardOrientation.ROW_MAJOR,
    ) -> None:
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "shape", tuple(shard_shape))
        object.__setattr__(self, "orientation", shard_orientation)


@dataclass(frozen=True)
class MemoryConfig:
    memory_layout: TensorMemoryLayout = TensorMemoryLayout.INTERLEAVED
    buffer_type: BufferType = BufferType.DRAM
    shard_spec: ShardSpec | None = None
    # MemoryConfig(buffer_type=, nd_shard_spec=NdShardSpec(...)): ND_SHARDED, no legacy shard_spec (probed on
    # 0.81.1). Placement is not modelled: values and sizes are those of the interleaved tensor.
    nd_shard_spec: Any = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.nd_shard_spec is not None and self.memory_layout == TensorMemoryLayout.INTERLEAVED:
            object.__setattr__(self, "memory_layout", TensorMemoryLayout.ND_SHARDED)

    def is_sharded(self) -> bool:
        return self.memory_layout != TensorMemoryLayout.INTERLEAVED


DRAM_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
L1_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.L1)
L1_BLOCK_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.BLOCK_SHARDED, BufferType.L1)
L1_HEIGHT_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1)
L1_WIDTH_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.WIDTH_SHARDED, BufferType.L1)


class DumpTensorMode(enum.Enum):
    """How dump_tensor / as_tensor write a distributed tensor (ttnn.DumpTensorMode)."""

    DISTRIBUTED_GATHER = 0
    LOCAL = 1


class Arch(str, enum.Enum):
    """ttnn.Arch: what `device.arch()` returns. Members also compare equal to the arch name string
    ("wormhole_b0", as ttnn.get_arch_name() spells it), so simulator code may test either form."""

    WORMHOLE_B0 = "wormhole_b0"
    BLACKHOLE = "blackhole"
    QUASAR = "quasar"

    __repr__ = _member_repr


class DispatchCoreType(enum.Enum):
    WORKER = 0
    ETH = 1


class DispatchCoreAxis(enum.Enum):
    ROW = 0
    COL = 1


@dataclass
class DispatchCoreConfig:
    """ttnn.DispatchCoreConfig(type=None, axis=None): accepted and recorded; the simulator has no dispatch cores."""

    type: DispatchCoreType | None = None
    axis: DispatchCoreAxis | None = None
    fabric_tensix_config: Any = None


class MathFidelity(enum.Enum):
    LoFi = 0
    HiFi2 = 2
    HiFi3 = 3
    HiFi4 = 4

    @property
    def phases(self) -> int:
        """Number of multiplier passes (TTNN_FACTS §4): LoFi 1, HiFi2 2, HiFi3 3, HiFi4 4."""
        return {0: 1, 2: 2, 3: 3, 4: 4}[self.value]


@dataclass(kw_only=True)
class WormholeComputeKernelConfig:
    """Struct defaults as in ttnn (TTNN_FACTS §4): LoFi, approx on, bf16 Dst, no packer L1 accumulation."""

    math_fidelity: MathFidelity = MathFidelity.LoFi
    math_approx_mode: bool = True
    fp32_dest_acc_en: bool = False
    packer_l1_acc: bool = False
    dst_full_sync_en: bool = False
    throttle_level: Any = None  # ttnn.ThrottleLevel: slows the matrix engine down; changes no values


BlackholeComputeKernelConfig = WormholeComputeKernelConfig


@dataclass(init=False)
class MeshShape:
    """ttnn.MeshShape(s0, s1) or ttnn.MeshShape((s0, s1)); the simulator's meshes are 2-D (rows, cols)."""

    rows: int
    cols: int = 1

    def __init__(self, s0: Any, s1: int = 1) -> None:
        self.rows, self.cols = s0 if isinstance(s0, (tuple, list)) else (s0, s1)

    @property
    def num_devices(self) -> int:
        return self.rows * self.cols

    def mesh_size(self) -> int:
        return self.num_devices

    def dims(self) -> int:
        return 2

    def __iter__(self):
        return iter((self.rows, self.cols))

    def __getitem__(self, i: int) -> int:
        return (self.rows, self.cols)[i]

    def __len__(self) -> int:
        return 2


class UnaryOpType(enum.Enum):
    """ttnn.UnaryOpType: the activations that matmul/linear can fuse (unary_op_types.hpp, subset)."""

    EXP = 0
    RECIP = 1
    GELU = 2
    RELU = 3
    SQRT = 4
    SIGMOID = 5
    LOG = 6
    TANH = 7
    SIN = 9
    COS = 10
    ABS = 11
    NEG = 14
    SILU = 16
    SQUARE = 18
    RSQRT = 20
    ERF = 22
    RELU6 = 26
    IDENTITY = 60
    # Values of ttnn 0.81.1 (probed): the fused activations tt-metal's linear tests name as strings.
    MISH = 93
    HARDSIGMOID = 102


@positional_init
@dataclass
class UnaryWithParam:
    """ttnn.UnaryWithParam(op_type[, param or params]): an activation with its float parameters."""

    op_type: UnaryOpType
    params: Any = None

    def __post_init__(self) -> None:
        if self.params is None:
            self.params = []
        elif not isinstance(self.params, (list, tuple)):
            self.params = [float(self.params)]
        else:
            self.params = [float(p) for p in self.params]


@dataclass
class Tile:
    """ttnn.Tile: a tile shape ([32, 32] by default; tiny tiles [16, 32], [8, 32] ... exist too). TILE tensors
    made with tile= pad their last two dims to it."""

    tile_shape: list[int]
    transpose_tile: bool = False

    def __post_init__(self) -> None:
        self.tile_shape = [int(d) for d in self.tile_shape]

    @property
    def face_shape(self) -> list[int]:
        return [min(16, self.tile_shape[0]), 16]

    @property
    def num_faces(self) -> int:
        face = self.face_shape
        return max(1, self.tile_shape[0] * self.tile_shape[1] // (face[0] * face[1]))

    def get_tile_size(self, dtype: DataType) -> int:
        """Bytes of one tile of `dtype` (block floats add one shared exponent per 16 values)."""
        volume = self.tile_shape[0] * self.tile_shape[1]
        if dtype == DataType.BFLOAT8_B:
            return volume + volume // 16
        if dtype == DataType.BFLOAT4_B:
            return volume // 2 + volume // 16
        sizes = {
            DataType.FLOAT32: 4,
            DataType.UINT32: 4,
            DataType.INT32: 4,
            DataType.UINT16: 2,
            DataType.UINT8: 1,
            DataType.INT8: 1,
            DataType.FP8_E4M3: 1,
        }
        return volume * sizes.get(dtype, 2)

    def __repr__(self) -> str:
        return f"Tile with shape: {self.tile_shape}"


class GeluVariant(enum.Enum):
    """ttnn.GeluVariant (gelu / geglu `variant=`): Accurate (erf), FastLut, Tanh."""

    Accurate = 0  # noqa: N815 (ttnn's names)
    FastLut = 1  # noqa: N815
    Tanh = 2  # noqa: N815

    __repr__ = _member_repr


class SigmoidMode(enum.Enum):
    """ttnn.SigmoidMode (sigmoid `mode=`)."""

    Accurate = 0  # noqa: N815
    AccurateWithFastExp = 1  # noqa: N815
    FastApproximate = 2  # noqa: N815

    __repr__ = _member_repr


class ShardDistributionStrategy(enum.Enum):
    """ttnn.ShardDistributionStrategy: how an NdShardSpec's shards are spread over its cores."""

    ROUND_ROBIN_1D = 0
    GRID_2D = 1

    __repr__ = _member_repr


@dataclass
class NdShardSpec:
    """ttnn.NdShardSpec: an N-dimensional shard shape over a core range set. The simulator keeps it as a
    description (a MemoryConfig with an nd_shard_spec is not modelled)."""

    shard_shape: Any
    grid: Any
    orientation: ShardOrientation = ShardOrientation.ROW_MAJOR
    shard_distribution_strategy: ShardDistributionStrategy = ShardDistributionStrategy.ROUND_ROBIN_1D

    def __post_init__(self) -> None:
        self.shard_shape = [int(d) for d in self.shard_shape]


class BcastOpMath(enum.Enum):
    """ttnn.BcastOpMath (ttnn.bcast's operation)."""

    ADD = 0
    SUB = 1
    MUL = 2

    __repr__ = _member_repr


class BcastOpDim(enum.Enum):
    """ttnn.BcastOpDim: which of b's dims ttnn.bcast broadcasts (H: its first row, W: its first column)."""

    H = 0
    W = 1
    HW = 2

    __repr__ = _member_repr


class ThrottleLevel(enum.Enum):
    """ttnn.ThrottleLevel (WormholeComputeKernelConfig.throttle_level): slows the matrix engine; no values
    change."""

    NO_THROTTLE = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3
    LEVEL_4 = 4
    LEVEL_5 = 5

    __repr__ = _member_repr


class PaddingMode(enum.Enum):
    """ttnn.PaddingMode (Conv2dConfig.padding_mode). The simulator's conv pads with zeros only."""

    Zeros = 0  # noqa: N815 (ttnn's names)
    Replicate = 1  # noqa: N815

    __repr__ = _member_repr


class ReduceType(enum.Enum):
    """ttnn.ReduceType."""

    Sum = 0  # noqa: N815
    Mean = 1  # noqa: N815
    Max = 2  # noqa: N815
    Min = 3  # noqa: N815
    Std = 4  # noqa: N815
    Var = 5  # noqa: N815
    Prod = 6  # noqa: N815

    __repr__ = _member_repr


class MeshCoordinate(tuple):
    """ttnn.MeshCoordinate(r, c) or MeshCoordinate((r, c)): a chip's position in a mesh (a submesh offset)."""

    def __new__(cls, *coords: Any):
        values = coords[0] if len(coords) == 1 and isinstance(coords[0], (tuple, list)) else coords
        return super().__new__(cls, (int(c) for c in values))

    def dims(self) -> int:
        return len(self)

    def __repr__(self) -> str:
        return f"MeshCoordinate([{', '.join(str(c) for c in self)}])"
