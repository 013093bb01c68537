"""ttnn.kv_cache on the simulator: re-exports ttport.sim.ops.kv_cache (its `__all__`)."""

from ..ops.kv_cache import *  # noqa: F403
from ._surface import not_simulated as _not_simulated  # noqa: E402

__getattr__ = _not_simulated("ttnn.kv_cache")
