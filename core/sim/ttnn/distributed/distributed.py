"""ttnn.distributed.distributed on the simulator (the Python file real ttnn defines its mesh mappers in)."""

from ...ops import device as _device
from ...ops import distributed as _distributed
from ...runtime import MeshDevice
from .._surface import not_simulated as _not_simulated
from .._surface import reexport as _reexport

__all__ = _reexport(
    globals(), "ttnn.distributed.distributed", _distributed, _device, {"MeshDevice": MeshDevice}
)
__getattr__ = _not_simulated("ttnn.distributed.distributed")
