"""How many intra-op threads torch uses while the simulator computes a device op.

A device op's host work is dozens of elementwise passes (rounding to the device's formats, Dst and SFPU
models) over op-sized tensors, plus a few BLAS products. The passes are memory-bound: extra threads buy
little on a small host, and every pass ends in an OpenMP barrier. When the cores are shared with other
processes (CI runners, a loaded workstation) those barriers wait for descheduled threads: measured on a
2-core host under a load average of ~19, one SigLIP SDPA op (256 tokens, 16 heads) took 13.1 s with torch's
default 2 threads and 0.30 s with 1; a 256 x 1152 x 4304 linear 1.46 s and 0.42 s. So device ops run with
TTPORT_SIM_THREADS threads (default 1); the caller's own torch work (e.g. a transformers reference) keeps
torch's setting, which is restored after every op.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

ENV_VAR = "TTPORT_SIM_THREADS"


def _from_env() -> int:
    value = os.environ.get(ENV_VAR, "").strip() or "1"
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{ENV_VAR}={value!r}: expected a positive integer")
    return int(value)


_threads = _from_env()


@contextmanager
def device_op_threads() -> Iterator[None]:
    """Run a block (one device op's computation) with the simulator's thread count, then restore torch's."""
    previous = torch.get_num_threads()
    if previous == _threads:
        yield
        return
    torch.set_num_threads(_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
