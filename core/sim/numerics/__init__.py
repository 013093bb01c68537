"""Number formats and compute fidelity of Tenstorrent devices, independent of any op.

`set_mode("exact" | "default")` / `get_mode()` / `numerics_mode(...)` select how the matrix engine is modelled
(core/sim/numerics/mode.py; TTPORT_NUMERICS in the environment)."""

from .mode import get_mode, numerics_mode, set_mode

__all__ = ["get_mode", "numerics_mode", "set_mode"]
