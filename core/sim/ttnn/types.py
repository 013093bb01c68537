"""ttnn.types on the simulator: the dtypes, layouts, memory configs and other types real ttnn.types
re-exports, for the names the simulator has (filled from the top-level mirror, which imports this module
last)."""

import sys

from ._surface import not_simulated as _not_simulated
from ._surface import reexport as _reexport

__all__ = _reexport(globals(), "ttnn.types", sys.modules[__name__.rsplit(".", 1)[0]])
__getattr__ = _not_simulated("ttnn.types")
