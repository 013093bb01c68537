"""Which numerics the simulator runs: `default` (fast, statistically faithful) or `exact` (per instruction).

`exact` follows the instruction sequence the device kernels issue (core/sim/numerics/fpu.py: one MVMUL per
16-deep K chunk and fidelity phase, rounded into Dst every time); it is an oracle for tests and small runs,
orders of magnitude slower than `default`. Selected per process with TTPORT_NUMERICS=exact|default, or from
code / tests with `set_mode` (and the `numerics_mode` context manager).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT = "default"
EXACT = "exact"
MODES = (DEFAULT, EXACT)
ENV_VAR = "TTPORT_NUMERICS"


def _from_env() -> str:
    value = os.environ.get(ENV_VAR, DEFAULT).strip().lower() or DEFAULT
    if value not in MODES:
        raise ValueError(f"{ENV_VAR}={value!r}: expected one of {', '.join(MODES)}")
    return value


_mode = _from_env()


def get_mode() -> str:
    return _mode


def set_mode(mode: str) -> None:
    """Select `default` or `exact` numerics for the rest of the process."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"numerics mode {mode!r}: expected one of {', '.join(MODES)}")
    _mode = mode


def is_exact() -> bool:
    return _mode == EXACT


@contextmanager
def numerics_mode(mode: str) -> Iterator[None]:
    """Run a block under `mode`, restoring the previous mode afterwards (tests)."""
    previous = _mode
    set_mode(mode)
    try:
        yield
    finally:
        set_mode(previous)
