"""ttnn.rand / ttnn.randn / ttnn.uniform on the simulator. Values come from torch's generator seeded with
`seed`: the distribution and shape are ttnn's, the exact numbers are not the device RNG's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import DataType, Layout, MemoryConfig
from .core import from_torch

__all__ = ["rand", "randn", "uniform"]


def _generator(seed: int | None) -> torch.Generator:
    g = torch.Generator()
    if seed:
        g.manual_seed(int(seed))
    else:
        g.seed()
    return g


def rand(
    shape: Sequence[int],
    device: Any,
    *,
    dtype: DataType = DataType.BFLOAT16,
    layout: Layout = Layout.TILE,
    memory_config: MemoryConfig | None = None,
    low: float = 0.0,
    high: float = 1.0,
    seed: int = 0,
    mesh_mapper: Any = None,
) -> Tensor:
    """Uniform values in [low, high) on `device` (seed 0: a fresh seed, as ttnn draws one)."""
    rules.require(low < high, f"rand: low ({low}) must be less than high ({high})")
    values = low + (high - low) * torch.rand(tuple(shape), generator=_generator(seed))
    return from_torch(values, dtype=dtype, layout=layout, device=device, memory_config=memory_config)


def randn(
    shape: Sequence[int],
    device: Any,
    *,
    dtype: DataType = DataType.BFLOAT16,
    layout: Layout = Layout.TILE,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    seed: int | None = None,
) -> Tensor:
    """Standard normal values on `device`."""
    values = torch.randn(tuple(shape), generator=_generator(seed))
    return from_torch(values, dtype=dtype, layout=layout, device=device, memory_config=memory_config)


def uniform(
    input: Tensor,
    *args: Any,
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
    **bounds: Any,
) -> Tensor:
    """ttnn.uniform(input, from=0, to=1, seed=0): `input` refilled in place with uniform values in [from, to)
    (`from` is a Python keyword, so the bounds arrive positionally or through **)."""
    unknown = set(bounds) - {"from", "to", "seed"}
    if unknown:
        raise TypeError(f"uniform() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    params = dict(zip(("from", "to", "seed"), args, strict=False))
    params.update(bounds)
    low, high, seed = float(params.get("from", 0.0)), float(params.get("to", 1.0)), int(params.get("seed", 0))
    rules.require(low < high, f"uniform: from ({low}) must be less than to ({high})")
    g = _generator(seed)

    def compute(v: torch.Tensor) -> torch.Tensor:
        return low + (high - low) * torch.rand(v.shape, generator=g)

    result = device_op(
        "uniform",
        [input],
        compute,
        dtype=input.dtype,
        layout=input.layout,
        memory_config=input.memory_config(),
    )
    input._chips = result._chips
    result.deallocate()
    return input
