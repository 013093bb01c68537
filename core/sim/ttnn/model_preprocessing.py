"""ttnn.model_preprocessing on the simulator: the weight helpers model code calls one by one in its
custom preprocessors (torch weight -> host ttnn tensor in the layout the ops take). The whole-model
converters of real ttnn (preprocess_model_parameters ...) are not simulated."""

from __future__ import annotations

from typing import Any

import torch

from ..ops.core import from_torch
from ..types import Layout
from ._surface import not_simulated as _not_simulated
from .dot_access import make_dot_access_dict

__all__ = [
    "make_dot_access_dict",
    "preprocess_embedding_weight",
    "preprocess_layernorm_parameter",
    "preprocess_linear_bias",
    "preprocess_linear_weight",
]


def preprocess_linear_weight(
    weight: torch.Tensor, *, dtype: Any, layout: Layout = Layout.TILE, weights_mesh_mapper: Any = None
) -> Any:
    """A torch Linear weight [out, in] as the [in, out] operand ttnn.linear multiplies by."""
    return from_torch(weight.T.contiguous(), dtype=dtype, layout=layout, mesh_mapper=weights_mesh_mapper)


def preprocess_linear_bias(
    bias: torch.Tensor, *, dtype: Any, layout: Layout = Layout.TILE, weights_mesh_mapper: Any = None
) -> Any:
    """A torch Linear bias [out] as a [1, out] row."""
    return from_torch(bias.reshape(1, -1), dtype=dtype, layout=layout, mesh_mapper=weights_mesh_mapper)


def preprocess_embedding_weight(weight: torch.Tensor, *, dtype: Any) -> Any:
    """An embedding table as is (ROW_MAJOR, the layout ttnn.embedding reads)."""
    return from_torch(weight, dtype=dtype)


def preprocess_layernorm_parameter(
    parameter: torch.Tensor, *, dtype: Any, layout: Layout = Layout.TILE
) -> Any:
    """A LayerNorm weight or bias [C] as a [1, C] row."""
    return from_torch(parameter.reshape(1, -1), dtype=dtype, layout=layout)


__getattr__ = _not_simulated("ttnn.model_preprocessing")
