"""ttnn.experimental on the simulator: re-exports core.sim.ops.experimental (its `__all__`)."""

from ..ops.experimental import *  # noqa: F403
