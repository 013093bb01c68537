"""Validation rules of the device, raised with ttnn's wording (file cited per rule).

Op semantics live in core/sim/ops and number formats in core/sim/numerics; this module only decides what
the device refuses. Each function raises RuntimeError (ttnn surfaces TT_FATAL/TT_THROW as RuntimeError).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .types import DataType, Layout, StorageType

if TYPE_CHECKING:
    from .tensor import Tensor


class TTFatal(RuntimeError):
    """What ttnn raises for TT_FATAL / TT_THROW (a RuntimeError subclass, like ttnn's)."""


def fatal(message: str) -> TTFatal:
    return TTFatal(message)


def check_dtype_layout(dtype: DataType, layout: Layout) -> None:
    # ttnn/core/tensor/tensor_utils / tensor_spec: block floats exist only as tiles.
    if dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B) and layout != Layout.TILE:
        raise fatal("Layout must be Layout::TILE for bfloat8_b or bfloat4_b!")


def require_allocated(tensor: Tensor, op: str) -> None:
    # tt-metal raises when a deallocated buffer is read; current releases only warn for ops, with a plan to
    # make it an error (PR #43565): the simulator raises so ports cannot rely on use-after-free.
    if not tensor.is_allocated():
        raise fatal(f"{op}: Buffer is not allocated (tensor of shape {list(tensor.shape)} was deallocated)")


def require_same_device(op: str, inputs: Sequence[Tensor]) -> Any:
    """All tensor inputs on device, on the same device, allocated; returns that device."""
    device = None
    for i, t in enumerate(inputs):
        if t.storage_type() != StorageType.DEVICE:
            # binary_ng_device_operation.cpp and friends (probed on 0.81.1)
            which = "A" if i == 0 else ("B" if i == 1 else str(i))
            raise fatal(
                f"{op}: Input tensor {which} must be on device, got storage type: StorageType::HOST"
            )
        require_allocated(t, op)
        if device is None:
            device = t.device()
        elif t.device() is not device:
            raise fatal(f"{op}: All input tensors must be on the same device")
    if device is None:
        raise fatal(f"{op}: needs at least one device tensor")
    return device


def require_tile(op: str, tensor: Tensor, name: str = "input") -> None:
    if tensor.layout != Layout.TILE:
        raise fatal(f"{op}: {name} tensor must be in TILE layout, got {tensor.layout!r}")
