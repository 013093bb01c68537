"""The simulated `ttnn` module: same names, same paths, same keywords as real ttnn (0.81.1).

Only names that real ttnn exports at the same path belong here (a parity check enforces it). Simulator-only
helpers (stats, strict mode, boards) live in `ttport.sim`. Op modules are re-exported through their `__all__`;
`transformer`, `experimental`, `kv_cache` and `distributed` are submodules, as in ttnn.
"""

# ruff: noqa: F401 (every import here is a re-export)

from ..ops import references as _references  # golden functions of the older ops (side effect)
from ..ops.backward import *  # noqa: F403
from ..ops.binary import *  # noqa: F403
from ..ops.ccl import *  # noqa: F403
from ..ops.command_queue import *  # noqa: F403
from ..ops.comparison import *  # noqa: F403
from ..ops.conv import *  # noqa: F403
from ..ops.core import *  # noqa: F403
from ..ops.data_movement import *  # noqa: F403
from ..ops.device import *  # noqa: F403
from ..ops.distributed import *  # noqa: F403
from ..ops.eltwise import *  # noqa: F403
from ..ops.embedding import *  # noqa: F403
from ..ops.fabric import *  # noqa: F403
from ..ops.golden import *  # noqa: F403
from ..ops.loss import *  # noqa: F403
from ..ops.matmul import *  # noqa: F403
from ..ops.normalization import *  # noqa: F403
from ..ops.pool import *  # noqa: F403
from ..ops.quantization import *  # noqa: F403
from ..ops.random import *  # noqa: F403
from ..ops.reduction import *  # noqa: F403
from ..ops.ternary import *  # noqa: F403
from ..ops.transformer import SDPAProgramConfig
from ..ops.unary import *  # noqa: F403
from ..runtime import Device, MeshDevice
from ..tensor import TILE_SIZE, Shape, Tensor
from ..types import (
    DRAM_MEMORY_CONFIG,
    L1_BLOCK_SHARDED_MEMORY_CONFIG,
    L1_HEIGHT_SHARDED_MEMORY_CONFIG,
    L1_MEMORY_CONFIG,
    L1_WIDTH_SHARDED_MEMORY_CONFIG,
    Arch,
    BcastOpDim,
    BcastOpMath,
    BufferType,
    CoreCoord,
    CoreGrid,
    CoreRange,
    CoreRangeSet,
    DataType,
    DispatchCoreAxis,
    DispatchCoreConfig,
    DispatchCoreType,
    DumpTensorMode,
    GeluVariant,
    Layout,
    MathFidelity,
    MemoryConfig,
    MeshCoordinate,
    MeshShape,
    NdShardSpec,
    PaddingMode,
    ReduceType,
    ShardDistributionStrategy,
    ShardOrientation,
    ShardSpec,
    ShardStrategy,
    SigmoidMode,
    StorageType,
    TensorMemoryLayout,
    ThrottleLevel,
    Tile,
    UnaryOpType,
    UnaryWithParam,
    WormholeComputeKernelConfig,
)
from . import experimental, kv_cache, transformer
from ._surface import not_simulated as _not_simulated

bfloat16 = DataType.BFLOAT16
float32 = DataType.FLOAT32
bfloat8_b = DataType.BFLOAT8_B
bfloat4_b = DataType.BFLOAT4_B
uint32 = DataType.UINT32
int32 = DataType.INT32
uint16 = DataType.UINT16
uint8 = DataType.UINT8
int8 = DataType.INT8
fp8_e4m3 = DataType.FP8_E4M3

ROW_MAJOR_LAYOUT = Layout.ROW_MAJOR
TILE_LAYOUT = Layout.TILE
DEVICE_STORAGE_TYPE = StorageType.DEVICE

# Submodules real ttnn has at these paths; `types` re-exports names defined above, so it comes last.
from . import device, distributed, dot_access, model_preprocessing, operations, types  # noqa: E402

__getattr__ = _not_simulated("ttnn")
