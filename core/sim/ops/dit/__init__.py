"""The DiT / Wan normalization kernels of ttnn.experimental (tt_dit models): distributed layer and rms norm in
two stages around an all-gather, and rms norm fused with its activation."""

from .norms import *  # noqa: F403
from .norms import __all__  # noqa: F401
