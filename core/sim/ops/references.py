"""Golden functions (torch references) of the ops defined before golden functions existed in the simulator:
reductions, matmul / linear, embedding, data movement, creation, where. Newer op modules attach their own.

Each takes torch tensors where the op takes ttnn tensors, the op's other arguments by the same names, and
ignores the rest (device=, memory_config= ...), as real ttnn's goldens do, so tt-metal's tests can call
`ttnn.get_golden_function(ttnn.op)(torch_input, ...)` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from . import core, data_movement, eltwise, embedding, matmul, reduction
from .golden import attach_golden_function


def _dims(dim: int | Sequence[int] | None, rank: int) -> list[int]:
    if dim is None:
        return list(range(rank))
    return [dim] if isinstance(dim, int) else list(dim)


def _reduction(fn: Any) -> Any:
    def golden(
        input_tensor: torch.Tensor, dim: Any = None, keepdim: bool = False, **kwargs: Any
    ) -> torch.Tensor:
        x = input_tensor.float() if input_tensor.is_floating_point() else input_tensor.double()
        out = fn(x, _dims(dim, x.dim()))
        out = out * kwargs["scalar"] if kwargs.get("scalar", 1.0) != 1.0 else out
        return out if keepdim else out.squeeze(_dims(dim, x.dim())) if out.dim() else out

    return golden


for _op, _fn in (
    (reduction.sum, lambda x, d: x.sum(dim=d, keepdim=True)),
    (reduction.mean, lambda x, d: x.mean(dim=d, keepdim=True)),
    (reduction.max, lambda x, d: x.amax(dim=d, keepdim=True)),
    (reduction.min, lambda x, d: x.amin(dim=d, keepdim=True)),
):
    attach_golden_function(_op, _reduction(_fn))


def _argmax(
    input_tensor: torch.Tensor, dim: int | None = None, keepdim: bool = False, **_: Any
) -> torch.Tensor:
    if dim is None:
        return torch.argmax(input_tensor.reshape(-1))
    return torch.argmax(input_tensor, dim=dim, keepdim=keepdim)


def _cumsum(input: torch.Tensor, dim: int, *, reverse_order: bool = False, **_: Any) -> torch.Tensor:
    if reverse_order:
        return torch.flip(torch.cumsum(torch.flip(input, [dim]), dim=dim), [dim])
    return torch.cumsum(input, dim=dim)


def _matmul(
    input_tensor_a: torch.Tensor,
    input_tensor_b: torch.Tensor,
    *,
    transpose_a: bool = False,
    transpose_b: bool = False,
    bias: torch.Tensor | None = None,
    activation: Any = None,
    **_: Any,
) -> torch.Tensor:
    a = input_tensor_a.float().transpose(-1, -2) if transpose_a else input_tensor_a.float()
    b = input_tensor_b.float().transpose(-1, -2) if transpose_b else input_tensor_b.float()
    out = a @ b
    if bias is not None:
        out = out + bias.float().reshape(-1)[: out.shape[-1]]
    if activation is not None:
        out = eltwise.activation_fn(eltwise.resolve_activation(activation))(out)
    return out


def _embedding(input_tensor: torch.Tensor, weight: torch.Tensor, **_: Any) -> torch.Tensor:
    return torch.nn.functional.embedding(input_tensor.long(), weight)


def _where(predicate: torch.Tensor, true_value: Any, false_value: Any, **_: Any) -> torch.Tensor:
    t = true_value if isinstance(true_value, torch.Tensor) else torch.tensor(float(true_value))
    f = false_value if isinstance(false_value, torch.Tensor) else torch.tensor(float(false_value))
    return torch.where(predicate != 0, t, f)


def _concat(tensors: Sequence[torch.Tensor], dim: int = 0, **_: Any) -> torch.Tensor:
    return torch.cat(list(tensors), dim=dim)


def _reshape(
    input_tensor: torch.Tensor, shape: Sequence[int] | None = None, *args: Any, **kwargs: Any
) -> torch.Tensor:
    return input_tensor.reshape(tuple(shape if shape is not None else kwargs["logical_shape"]))


def _slice(
    input_tensor: torch.Tensor,
    slice_start: Sequence[int],
    slice_end: Sequence[int],
    slice_step: Sequence[int] | None = None,
    **_: Any,
) -> torch.Tensor:
    steps = slice_step or [1] * len(slice_start)
    index = tuple(slice(s, e, st) for s, e, st in zip(slice_start, slice_end, steps, strict=True))
    return input_tensor[index]


def _pad(input_tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    if len(args) == 3 or "output_padded_shape" in kwargs:
        out_shape, start, value = (list(args) + [None] * 3)[:3] if args else (
            kwargs["output_padded_shape"], kwargs.get("input_tensor_start"), kwargs.get("value"),
        )  # fmt: skip
        start = start or [0] * input_tensor.dim()
        pairs = [(b, o - i - b) for o, i, b in zip(out_shape, input_tensor.shape, start, strict=True)]
    else:
        padding = args[0] if args else kwargs["padding"]
        value = args[1] if len(args) > 1 else kwargs.get("value")
        pairs = [(0, 0)] * (input_tensor.dim() - len(padding)) + [tuple(p) for p in padding]
    flat = [x for b, a in reversed(pairs) for x in (b, a)]
    return torch.nn.functional.pad(input_tensor, flat, value=float(value))


def _repeat(input_tensor: torch.Tensor, repeat_dims: Sequence[int], **_: Any) -> torch.Tensor:
    return input_tensor.repeat(*repeat_dims)


def _squeeze(input_tensor: torch.Tensor, dim: Any = None, **_: Any) -> torch.Tensor:
    return input_tensor.squeeze() if dim is None else input_tensor.squeeze(dim)


def _untilize_with_unpadding(
    input_tensor: torch.Tensor, output_tensor_end: Sequence[int], **_: Any
) -> torch.Tensor:
    return input_tensor[tuple(slice(0, e + 1) for e in output_tensor_end)]


def _fold(
    input: torch.Tensor,
    stride_h: int,
    stride_w: int,
    *args: Any,
    padding: Any = (0, 0),
    collapse_output: bool = False,
    **_: Any,
) -> torch.Tensor:
    pads = list(padding)
    pads = (
        [pads[0], pads[0], pads[1], pads[1], 0, 0]
        if len(pads) == 2
        else pads + [0, 0]
        if len(pads) == 4
        else pads
    )
    x = torch.nn.functional.pad(input, (pads[4], pads[5], pads[2], pads[3], pads[0], pads[1]))
    n, h, w, c = x.shape
    out = x.reshape(n, h // stride_h, stride_h, w // stride_w, stride_w, c).permute(0, 1, 3, 2, 4, 5)
    out = out.reshape(n, h // stride_h, w // stride_w, -1)
    return out.reshape(1, 1, -1, out.shape[-1]) if collapse_output else out


def _indexed_fill(
    batch_id: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *args: Any, **_: Any
) -> torch.Tensor:
    out = a.clone()
    for source, target in enumerate(batch_id.reshape(-1).long().tolist()):
        out[target] = b[source]
    return out


def _bcast(a: torch.Tensor, b: torch.Tensor, math_op: Any, dim: Any, *args: Any, **_: Any) -> torch.Tensor:
    kind = getattr(dim, "name", str(dim))
    b = b[..., :1] if kind in ("W", "HW") else b
    b = b[..., :1, :] if kind in ("H", "HW") else b
    return {"ADD": torch.add, "SUB": torch.sub, "MUL": torch.mul}[getattr(math_op, "name", str(math_op))](
        a, b
    )


def _identity(input_tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return input_tensor


_GOLDENS: list[tuple[Any, Any]] = [
    (reduction.argmax, _argmax),
    (reduction.cumsum, _cumsum),
    (matmul.matmul, _matmul),
    (matmul.linear, _matmul),
    (embedding.embedding, _embedding),
    (eltwise.where, _where),
    (data_movement.concat, _concat),
    (data_movement.reshape, _reshape),
    (data_movement.slice, _slice),
    (data_movement.pad, _pad),
    (data_movement.repeat, _repeat),
    (data_movement.squeeze, _squeeze),
    (data_movement.unsqueeze, lambda input_tensor, dim, **_: input_tensor.unsqueeze(dim)),
    (data_movement.permute, lambda input_tensor, dims, **_: input_tensor.permute(*dims)),
    (data_movement.transpose, lambda input_tensor, dim1, dim2, **_: input_tensor.transpose(dim1, dim2)),
    (
        data_movement.split,
        lambda input_tensor, split_size, dim=0, **_: torch.split(input_tensor, split_size, dim),
    ),
    (data_movement.chunk, lambda input_tensor, chunks, dim, **_: torch.chunk(input_tensor, chunks, dim)),
    (
        data_movement.repeat_interleave,
        lambda input_tensor, repeats, dim, **_: torch.repeat_interleave(input_tensor, repeats, dim),
    ),
    (data_movement.expand, lambda input_tensor, output_shape, **_: input_tensor.expand(*output_shape)),
    (data_movement.untilize_with_unpadding, _untilize_with_unpadding),
    (data_movement.tilize, _identity),
    (data_movement.untilize, _identity),
    (data_movement.fill_implicit_tile_padding, _identity),
    (data_movement.reshard, _identity),
    (data_movement.fold, _fold),
    (
        data_movement.index_fill,
        lambda input, dim, index, value, **_: torch.index_fill(input, dim, index.long(), value),
    ),
    (data_movement.indexed_fill, _indexed_fill),
    (data_movement.bcast, _bcast),
    (core.to_layout, _identity),
    (core.clone, _identity),
    (core.to_memory_config, _identity),
    (core.typecast, _identity),
    (core.full, lambda shape, fill_value, *a, **k: torch.full(tuple(shape), float(fill_value))),
    (core.zeros, lambda shape, *a, **k: torch.zeros(tuple(shape))),
    (core.ones, lambda shape, *a, **k: torch.ones(tuple(shape))),
    (core.full_like, lambda tensor, fill_value, *a, **k: torch.full_like(tensor, float(fill_value))),
    (core.zeros_like, lambda tensor, *a, **k: torch.zeros_like(tensor)),
    (core.ones_like, lambda tensor, *a, **k: torch.ones_like(tensor)),
    (
        core.arange,
        lambda start, end=None, step=1, **_: (
            torch.arange(start, end, step) if end is not None else torch.arange(start)
        ),
    ),
]
for _op, _golden in _GOLDENS:
    attach_golden_function(_op, _golden)
