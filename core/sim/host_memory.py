"""Host memory of the simulator process: freed op temporaries stay in the heap for the next op.

Every simulated device op allocates op-sized torch tensors (widened operands, partial products, the packed
output: megabytes to hundreds of megabytes) and frees most of them a moment later. With glibc's defaults a
block above the dynamic mmap threshold (at most 32 MiB) is mapped for the allocation and unmapped on free,
and free memory at the top of the heap is returned to the kernel beyond twice that threshold, so the next
op's tensors fault in every 4 KiB page again, each zeroed by the kernel: that was most of the simulator's
host time on large tensors (measured on this project's 2-core host: a 2560 x 50280 bfloat16 -> float32
widening takes 0.23 s into a fresh tensor and 0.025 s into a reused one; the Mamba full-4 prefill 3.4 s ->
1.5 s with the settings below, bit-identical results).

So when the first simulated device opens, blocks up to MMAP_THRESHOLD come from the heap and the heap keeps up
to TRIM_THRESHOLD of free memory at its top (mallopt M_MMAP_THRESHOLD / M_TRIM_THRESHOLD, glibc's
documented knobs, the in-process form of its GLIBC_TUNABLES glibc.malloc.mmap_threshold / trim_threshold).
The process's peak RSS is what its live tensors need, as before; between ops its RSS stays near that peak
instead of falling back. Other C libraries (musl, macOS) are left alone, and so is a process started with
TTPORT_SIM_MALLOC=default or with its own GLIBC_TUNABLES / MALLOC_*_ settings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ENV_VAR = "TTPORT_SIM_MALLOC"
#: mallopt parameter numbers (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: a Mamba-2.8B linear weight widened to float32 is 52 MB, an SSM intermediate 21 MB
MMAP_THRESHOLD = 256 * 2**20
TRIM_THRESHOLD = 1024 * 2**20
#: environment settings of glibc's own that take precedence over this module
_GLIBC_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_configured: bool | None = None


def _wanted() -> bool:
    value = os.environ.get(ENV_VAR, "").strip().lower() or "keep"
    if value not in ("keep", "default"):
        raise ValueError(
            f"{ENV_VAR}={value!r}: expected 'keep' (the simulator's setting) or 'default' (glibc's)"
        )
    return value == "keep" and not any(name in os.environ for name in _GLIBC_SETTINGS)


def _glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc (it has gnu_get_libc_version), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def keep_freed_memory() -> bool:
    """Apply the settings once per process (module docstring); whether they are in effect."""
    global _configured
    if _configured is None:
        libc = _glibc() if _wanted() else None
        _configured = bool(
            libc is not None
            and libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(MMAP_THRESHOLD))
            and libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(TRIM_THRESHOLD))
        )
    return _configured
