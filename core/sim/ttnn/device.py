"""ttnn.device on the simulator: what real ttnn.device re-exports (open_device, Arch, Device ...) of the
names the simulator has."""

from ..ops import device as _device
from ..runtime import Device
from ..types import Arch, DispatchCoreAxis, DispatchCoreConfig, DispatchCoreType
from ._surface import not_simulated, reexport

_OWN = {
    "Arch": Arch,
    "Device": Device,
    "DispatchCoreAxis": DispatchCoreAxis,
    "DispatchCoreConfig": DispatchCoreConfig,
    "DispatchCoreType": DispatchCoreType,
}
__all__ = reexport(globals(), "ttnn.device", _device, _OWN)
__getattr__ = not_simulated("ttnn.device")
