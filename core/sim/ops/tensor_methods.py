"""The ttnn.Tensor methods that are ops, bound onto Tensor here as ttnn/__init__.py binds them
(`ttnn.Tensor.__add__ = lambda self, *args, **kwargs: ttnn.add(self, *args, **kwargs)`, ...).

Keeping them out of tensor.py lets the layers import one way (tensor -> ops, never back). The package's
__init__ imports this module, so every Tensor has them whichever simulator module is imported first.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from ..tensor import Tensor, _free_all, is_strict
from ..types import Layout, MemoryConfig, StorageType
from . import core, data_movement, eltwise, matmul

_TORCH_CONSTRUCTOR_KEYWORDS = {
    "data_type", "device", "layout", "mem_config", "tile", "cq_id", "pad_value", "mesh_mapper",
    "preserve_nan_values", "col_tilize", "enable_bfloat_opt",
}  # fmt: skip


def _init_from_torch(self: Tensor, tensor: torch.Tensor, options: dict[str, Any]) -> None:
    """`ttnn.Tensor(torch_tensor, data_type, device, layout, mem_config, tile, ...)`: a from_torch."""
    unknown = sorted(set(options) - _TORCH_CONSTRUCTOR_KEYWORDS)
    if unknown:
        raise TypeError(f"Tensor() got an unexpected keyword argument {unknown[0]!r}")
    made = core.from_torch(
        tensor,
        dtype=options.get("data_type"),
        layout=options.get("layout"),
        device=options.get("device"),
        memory_config=options.get("mem_config"),
        tile=options.get("tile"),
        pad_value=options.get("pad_value"),
        mesh_mapper=options.get("mesh_mapper"),
        preserve_nan_values=options.get("preserve_nan_values", False),
        col_tilize=options.get("col_tilize", False),
        enable_bfloat_opt=options.get("enable_bfloat_opt", False),
    )
    if made._finalizer is not None:
        made._finalizer.detach()
    self.__dict__.update(made.__dict__)
    if self._buffers:
        self._finalizer = weakref.finalize(self, _free_all, self._buffers)


def _to_torch(self: Tensor, mesh_composer: Any = None) -> torch.Tensor:
    return core.to_torch(self, mesh_composer=mesh_composer)


def _cpu(self: Tensor, blocking: bool = True) -> Tensor:
    return core.from_device(self)


def _to(self: Tensor, target: Any, memory_config: MemoryConfig | None = None) -> Tensor:
    if isinstance(target, Layout):
        return core.to_layout(self, target)
    return core.to_device(self, target, memory_config=memory_config)


def _reshape(self: Tensor, *shape: Any) -> Tensor:
    dims = shape[0] if len(shape) == 1 and isinstance(shape[0], (list, tuple)) else shape
    return data_movement.reshape(self, list(dims))


def _check_operator(tensor: Tensor, symbol: str) -> None:
    if is_strict() and tensor.storage_type() == StorageType.DEVICE:
        raise RuntimeError(
            f"strict mode: Python operator '{symbol}' on a device tensor; call the ttnn op explicitly "
            "(ttnn.add / ttnn.subtract / ttnn.multiply / ttnn.matmul / ttnn.slice ...)"
        )


def _binary_operator(op: Any, symbol: str) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        _check_operator(self, symbol)
        return op(self, other)

    return method


def _neg(self: Tensor) -> Tensor:
    _check_operator(self, "-")
    return eltwise.neg(self)


def _matmul(self: Tensor, other: Tensor) -> Tensor:
    _check_operator(self, "@")
    return matmul.matmul(self, other)


def _getitem(self: Tensor, key: Any) -> Tensor:
    _check_operator(self, "[]")
    return data_movement.getitem(self, key)


_OPERATORS = {
    "__add__": (eltwise.add, "+"),
    "__radd__": (eltwise.add, "+"),
    "__sub__": (eltwise.subtract, "-"),
    "__rsub__": (eltwise.rsub, "-"),
    "__mul__": (eltwise.multiply, "*"),
    "__rmul__": (eltwise.multiply, "*"),
    "__truediv__": (eltwise.divide, "/"),
    "__eq__": (eltwise.eq, "=="),
    "__ne__": (eltwise.ne, "!="),
    "__gt__": (eltwise.gt, ">"),
    "__ge__": (eltwise.ge, ">="),
    "__lt__": (eltwise.lt, "<"),
    "__le__": (eltwise.le, "<="),
}

Tensor._init_from_torch = _init_from_torch  # type: ignore[attr-defined]
Tensor.to_torch = _to_torch  # type: ignore[attr-defined]
Tensor.cpu = _cpu  # type: ignore[attr-defined]
Tensor.to = _to  # type: ignore[attr-defined]
Tensor.reshape = _reshape  # type: ignore[attr-defined]
Tensor.__neg__ = _neg  # type: ignore[attr-defined]
Tensor.__matmul__ = _matmul  # type: ignore[attr-defined]
Tensor.__getitem__ = _getitem  # type: ignore[attr-defined]
for _name, (_op, _symbol) in _OPERATORS.items():
    setattr(Tensor, _name, _binary_operator(_op, _symbol))
