"""Values derived from a stored device buffer (a weight widened to float32, its noise factors), kept while the
buffer lives unchanged.

A weight is read by every call of its linear, and between writes it does not change: what only depends on it
need not be recomputed per call. An entry is keyed by the stored torch tensor (the per-chip values a device
tensor holds; chips of a replicated tensor share one), one per cache; it is valid while a weak
reference still gives that tensor and its in-place version counter is unchanged (ttnn.copy, `output_tensor=`
and fill_cache write through Tensor.writable_chip, which makes a new tensor or bumps the counter), and it
goes when the tensor does. A cache with a byte budget stores entries only while their total stays within it
(first come, first kept; nothing is evicted, so a model larger than the budget keeps its first layers and
recomputes the rest, never thrashing); past the budget the value is computed and handed back uncached.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import torch

#: budget of the widened-weight cache, in MiB (0: no cache)
WEIGHT_CACHE_ENV_VAR = "TTPORT_SIM_WEIGHT_CACHE_MB"
_DEFAULT_WEIGHT_CACHE_MB = 2048


class DerivedCache:
    """One derived value per stored tensor (module docstring); `budget_bytes` None: unbounded. Entries are keyed
    by the stored tensor's id, which `in` also accepts (an entry is gone once its tensor is)."""

    def __init__(self, budget_bytes: int | None = None) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        # id of the stored tensor -> (weak reference, version, made_of, value)
        self._entries: dict[int, tuple[weakref.ref, int, Hashable, Any]] = {}

    def get(self, stored: torch.Tensor, made_of: Hashable, make: Callable[[], Any]) -> Any:
        """The value `make()` derives from `stored`, cached; `made_of`: what else it depends on (an entry made
        of something else is replaced)."""
        if stored.is_meta:
            return make()
        key = id(stored)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is stored and entry[1] == stored._version and entry[2] == made_of:
            return entry[3]
        if entry is not None:
            self._drop(key, entry[0])
        value = make()
        size = _nbytes(value)
        if self.budget_bytes is not None and self.used_bytes + size > self.budget_bytes:
            return value

        def forget(ref: weakref.ref, key: int = key) -> None:
            self._drop(key, ref)

        self._entries[key] = (weakref.ref(stored, forget), stored._version, made_of, value)
        self.used_bytes += size
        return value

    def value_of(self, stored: torch.Tensor) -> Any:
        """The cached value for `stored` (KeyError if none)."""
        return self._entries[id(stored)][3]

    def values(self) -> list[Any]:
        return [entry[3] for entry in self._entries.values()]

    def clear(self) -> None:
        self._entries.clear()
        self.used_bytes = 0

    def __contains__(self, stored: torch.Tensor | int) -> bool:
        return (stored if isinstance(stored, int) else id(stored)) in self._entries

    def _drop(self, key: int, ref: weakref.ref) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] is ref:
            del self._entries[key]
            self.used_bytes -= _nbytes(entry[3])


def _nbytes(value: Any) -> int:
    return value.numel() * value.element_size() if isinstance(value, torch.Tensor) else 0


def _weight_budget() -> int:
    value = os.environ.get(WEIGHT_CACHE_ENV_VAR, "").strip() or str(_DEFAULT_WEIGHT_CACHE_MB)
    if not value.isdigit():
        raise ValueError(f"{WEIGHT_CACHE_ENV_VAR}={value!r}: expected a size in MiB (0 turns the cache off)")
    return int(value) * 2**20


#: float32 forms of bfloat16-stored weights (matmul's right operand), within TTPORT_SIM_WEIGHT_CACHE_MB
#: (read at the first use, so a bad value fails the op that needs it, not every import). Memory: 4 bytes per
#: cached weight value on top of the stored 2.
WIDENED_WEIGHTS: DerivedCache | None = None


def widened_weights() -> DerivedCache:
    """WIDENED_WEIGHTS, made on first use."""
    global WIDENED_WEIGHTS
    if WIDENED_WEIGHTS is None:
        WIDENED_WEIGHTS = DerivedCache(_weight_budget())
    return WIDENED_WEIGHTS

#: Widening a weight costs about 12 / M of its product over M rows (0.25 ns per value against 2 M flops at
#: ~100 GFLOP/s): a tenth of a 154-row CLIP linear (CLIP full forward 3.86 -> 3.73 s with the cache), under 1%
#: past this many rows, where a cached float32 weight read back from memory measured 2% slower than a freshly
#: widened one (Gemma3's 4096-row SigLIP linears): those widen per call.
WIDEN_ONCE_MAX_ROWS = 1024


def widen_once(b_stored: torch.Tensor, rows: int) -> bool:
    """Whether a matmul over `rows` rows takes its right operand's float32 form from WIDENED_WEIGHTS: a
    bfloat16-stored weight (no batch) read by a product of at most WIDEN_ONCE_MAX_ROWS rows."""
    unbatched = all(d == 1 for d in b_stored.shape[:-2])
    return b_stored.dtype == torch.bfloat16 and unbatched and rows <= WIDEN_ONCE_MAX_ROWS
