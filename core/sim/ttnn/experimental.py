"""ttnn.experimental on the simulator: re-exports core.sim.ops.experimental (transformer helpers) and
core.sim.ops.ssm (state-space-model kernels), each through its `__all__`."""

from ..ops.experimental import *  # noqa: F403
from ..ops.ssm import *  # noqa: F403
