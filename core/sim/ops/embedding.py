"""ttnn.embedding on the simulator (ttnn/cpp/ttnn/operations/embedding/embedding.cpp)."""

from __future__ import annotations

import enum

import torch

from .. import rules
from ..tensor import Tensor, compute_values, device_op
from ..types import DataType, Layout, MemoryConfig
from .eltwise import into_output

__all__ = ["EmbeddingsType", "embedding"]


class EmbeddingsType(enum.Enum):
    GENERIC = 0
    PADDED = 1
    BINARY = 2


def embedding(
    input_tensor: Tensor,
    weight: Tensor,
    *,
    padding_idx: int | None = None,
    layout: Layout | None = None,
    embeddings_type: EmbeddingsType = EmbeddingsType.GENERIC,
    dtype: DataType | None = None,
    output_tensor: Tensor | None = None,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """Rows of `weight` ([V, H], bfloat16) picked by uint32 (or bfloat16) indices: [B, S] -> [B, S, H],
    [S] -> [S, H], [B, 1, 1, S] -> [B, S, H]. padding_idx tokens get weight[padding_idx] like any other
    index (the PADDED kernel does not write zeros). Output layout defaults to the weight's; `dtype` only
    applies to TILE output."""
    rules.require_same_device("embedding", [input_tensor, weight])
    out_layout = layout or weight.layout
    # embedding.cpp: with tile-aligned shapes and no layout given, a ROW_MAJOR weight refuses a dtype change.
    aligned = input_tensor.padded_shape[-1] % 32 == 0 and weight.padded_shape[-1] % 32 == 0
    typecast_needed = dtype is not None and dtype != weight.dtype
    rules.check_embedding(
        input_tensor.dtype,
        weight.dtype,
        typecast_needed and aligned and layout is None and weight.layout != Layout.TILE,
    )
    out_dtype = (dtype or weight.dtype) if out_layout == Layout.TILE else weight.dtype
    hidden = weight.shape[-1]
    shape = list(input_tensor.shape)
    if len(shape) == 4 and shape[1] == 1 and shape[2] == 1:
        shape = [shape[0], shape[3]]

    def compute(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        # Stored inputs: only the picked rows of the (possibly vocabulary-sized) table are widened to float32.
        # bfloat16 indices are truncated to integers by the reader kernel.
        rows = table.reshape(-1, hidden)
        picked = rows[compute_values(ids).reshape(-1).to(torch.int64)]
        return compute_values(picked).reshape(*shape, hidden)

    mc = memory_config or input_tensor.memory_config()
    result = device_op(
        "embedding",
        [input_tensor, weight],
        compute,
        dtype=out_dtype,
        layout=out_layout,
        memory_config=mc,
        stored_inputs=True,
    )
    return into_output(result, output_tensor)
