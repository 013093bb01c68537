"""ttnn.device on the simulator: what real ttnn.device re-exports (open_device, Arch, Device ...) of the
names the simulator has."""

from ..ops import device as _device
from ..runtime import Device
from ..types import Arch, DispatchCoreAxis, DispatchCoreConfig, DispatchCoreType
from ._surface import not_simulated as _not_simulated
from ._surface import reexport as _reexport

_OWN = {
    "Arch": Arch,
    "Device": Device,
    "DispatchCoreAxis": DispatchCoreAxis,
    "DispatchCoreConfig": DispatchCoreConfig,
    "DispatchCoreType": DispatchCoreType,
}
__all__ = _reexport(globals(), "ttnn.device", _device, _OWN)
__getattr__ = _not_simulated("ttnn.device")
