"""ttnn.distributed on the simulator: the mesh helpers real ttnn re-exports here (mappers, composers,
open/close_mesh_device), plus its `distributed` submodule (`from ttnn.distributed.distributed import
ConcatMeshToTensor`)."""

from ...ops import device as _device
from ...ops import distributed as _distributed
from ...runtime import MeshDevice
from .._surface import not_simulated as _not_simulated
from .._surface import reexport as _reexport
from . import distributed

__all__ = [
    *_reexport(globals(), "ttnn.distributed", _distributed, _device, {"MeshDevice": MeshDevice}),
    "distributed",
]
__getattr__ = _not_simulated("ttnn.distributed")
