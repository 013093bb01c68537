"""ttnn.types on the simulator: the dtypes, layouts, memory configs and other types real ttnn.types
re-exports, for the names the simulator has (filled from the top-level mirror, which imports this module
last)."""

import sys

from ._surface import not_simulated, reexport

__all__ = reexport(globals(), "ttnn.types", sys.modules[__name__.rsplit(".", 1)[0]])
__getattr__ = not_simulated("ttnn.types")
