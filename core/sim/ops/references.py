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

from . import (
    command_queue,
    comparison,
    core,
    data_movement,
    eltwise,
    embedding,
    experimental,
    kv_cache,
    matmul,
    normalization,
    random,
    reduction,
    transformer,
)
from .data_movement import grouped_concat
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


def _concat(tensors: Sequence[torch.Tensor], dim: int = 0, groups: int = 1, **_: Any) -> torch.Tensor:
    # groups as in real ttnn's golden (tt-metal's grouped concat tests call golden_function(tensors, dim, groups))
    if groups > 1:
        return grouped_concat(tensors[0], tensors[1], groups)
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


def _addmm(
    input_tensor: torch.Tensor,
    mat1: torch.Tensor,
    mat2: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    **_: Any,
) -> torch.Tensor:
    return beta * input_tensor.float() + alpha * (mat1.float() @ mat2.float())


def _moment(sqrt: bool) -> Any:
    def golden(
        x: torch.Tensor, dim: Any = None, keepdim: bool = False, *, correction: bool = True, **_: Any
    ) -> torch.Tensor:
        dims = _dims(dim, x.dim())
        out = x.float().var(dim=dims, keepdim=keepdim, correction=1 if correction else 0)
        return out.sqrt() if sqrt else out

    return golden


def _prod(x: torch.Tensor, dim: int | None = None, keepdim: bool = False, **_: Any) -> torch.Tensor:
    return x.float().prod() if dim is None else x.float().prod(dim=dim, keepdim=keepdim)


def _nonzero(x: torch.Tensor, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
    coordinates = torch.nonzero(x, as_tuple=False).reshape(-1)
    count = torch.zeros(1, 1, 1, 8, dtype=torch.int64)
    count[..., 0] = coordinates.numel() // 4
    indices = torch.zeros(1, 1, 1, 4 * x.numel(), dtype=torch.int64)
    indices[..., : coordinates.numel()] = coordinates
    return count, indices


def _post_all_gather(include_sum: bool) -> Any:
    def golden(
        x: torch.Tensor,
        stats: torch.Tensor,
        *,
        epsilon: float = 1e-12,
        weight: Any = None,
        bias: Any = None,
        **_: Any,
    ) -> torch.Tensor:
        block = 64 if include_sum else 32
        devices = stats.shape[-1] // block
        total = x.shape[-1] * devices
        ex2 = sum(stats[..., d * block] for d in range(devices)).float() / total
        if include_sum:
            ex = sum(stats[..., d * block + 32] for d in range(devices)).float() / total
            y = (x.float() - ex.unsqueeze(-1)) * torch.rsqrt((ex2 - ex * ex).unsqueeze(-1) + epsilon)
        else:
            y = x.float() * torch.rsqrt(ex2.unsqueeze(-1) + epsilon)
        width = x.shape[-1]
        y = y * weight.float().reshape(-1)[:width] if weight is not None else y
        return y + bias.float().reshape(-1)[:width] if bias is not None else y

    return golden


def _sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    attn_mask: Any = None,
    is_causal: bool = True,
    scale: float | None = None,
    **_: Any,
) -> torch.Tensor:
    groups = q.shape[1] // k.shape[1]
    k, v = k.float().repeat_interleave(groups, 1), v.float().repeat_interleave(groups, 1)
    mask = attn_mask.float() if attn_mask is not None else None
    return torch.nn.functional.scaled_dot_product_attention(
        q.float(), k, v, attn_mask=mask, is_causal=is_causal and mask is None, scale=scale
    )


def _rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, token_index: int | None = None, **_: Any
) -> torch.Tensor:
    rows = x.shape[-2]
    c, s = (
        t[..., token_index : token_index + 1, :] if token_index is not None else t[..., :rows, :]
        for t in (cos, sin)
    )
    x1, x2 = x.float().chunk(2, dim=-1)
    return x.float() * c + torch.cat([-x2, x1], dim=-1) * s


def _fill_cache(
    cache: torch.Tensor, input: torch.Tensor, batch_idx: int, *args: Any, **_: Any
) -> torch.Tensor:
    out = cache.clone()
    out[batch_idx, :, : input.shape[-2], :] = input[0]
    return out


def _update_cache(
    cache: torch.Tensor, input: torch.Tensor, update_idx: int, *args: Any, batch_offset: int = 0, **_: Any
) -> torch.Tensor:
    out = cache.clone()
    users = cache.shape[0]
    out[:, :, update_idx, :] = input[0, :, batch_offset : batch_offset + users, :].transpose(0, 1)
    return out


def _random(kind: str) -> Any:
    def golden(shape: Any, *args: Any, low: float = 0.0, high: float = 1.0, **_: Any) -> torch.Tensor:
        if kind == "randn":
            return torch.randn(tuple(shape))
        return low + (high - low) * torch.rand(tuple(shape))

    return golden


def _full(shape: Any, fill_value: float, dtype: Any = None, *args: Any, **_: Any) -> torch.Tensor:
    """torch.full rounded to the op's dtype (bfloat16 unless given), as the device tensor holds it."""
    values = torch.full(tuple(shape), float(fill_value))
    if dtype is None or getattr(dtype, "name", "") == "BFLOAT16":
        return values.to(torch.bfloat16)
    return values


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
    (matmul.addmm, _addmm),
    (core.as_tensor, _identity),
    (core.from_torch, _identity),
    (core.to_device, _identity),
    (core.from_device, _identity),
    (core.to_torch, _identity),
    (core.reallocate, _identity),
    (core.load_tensor, _identity),
    (core.sharded_to_interleaved, _identity),
    (core.interleaved_to_sharded, _identity),
    (core.to_dtype, _identity),
    (core.unsqueeze_to_4D, lambda tensor, **_: tensor.reshape([1] * (4 - tensor.dim()) + list(tensor.shape))),
    (data_movement.assign, _identity),
    (data_movement.copy, lambda input_a, input_b, **_: input_a.clone()),
    (data_movement.move, _identity),
    (data_movement.view, lambda input_tensor, shape, **_: input_tensor.reshape(tuple(shape))),
    (
        data_movement.narrow,
        lambda input_tensor, dim, start, length, **_: input_tensor.narrow(dim, start, length),
    ),
    (data_movement.stack, lambda input_tensors, dim, **_: torch.stack(list(input_tensors), dim)),
    (data_movement.roll, lambda input_tensor, shifts, dim=None, **_: torch.roll(input_tensor, shifts, dim)),
    (data_movement.gather, lambda input, dim, index, **_: torch.gather(input, dim, index.long())),
    (
        data_movement.scatter,
        lambda input, dim, index, src, **_: torch.scatter(input, dim, index.long(), src.to(input.dtype)),
    ),
    (
        data_movement.scatter_add,
        lambda input, dim, index, src, **_: torch.scatter_add(input, dim, index.long(), src.to(input.dtype)),
    ),
    (
        data_movement.sort,
        lambda input_tensor, dim=-1, descending=False, *a, **_: tuple(
            torch.sort(input_tensor, dim=dim, descending=descending, stable=True)
        ),
    ),
    (data_movement.tilize_with_val_padding, _identity),
    (data_movement.tilize_with_zero_padding, _identity),
    (data_movement.nonzero, _nonzero),
    (reduction.cumprod, lambda input_tensor, dim, **_: torch.cumprod(input_tensor.float(), dim=dim)),
    (reduction.prod, _prod),
    (reduction.std, _moment(True)),
    (reduction.var, _moment(False)),
    (
        reduction.topk,
        lambda input_tensor, k=32, dim=-1, largest=True, sorted=True, **_: tuple(
            torch.topk(input_tensor, k, dim, largest, sorted)
        ),
    ),
    (normalization.layer_norm_post_all_gather, _post_all_gather(True)),
    (normalization.rms_norm_post_all_gather, _post_all_gather(False)),
    (comparison.pearson_correlation_coefficient, comparison.pearson_correlation_coefficient),
    (random.rand, _random("rand")),
    (random.randn, _random("randn")),
    (random.uniform, lambda input, *args, **_: torch.rand_like(input.float())),
    (transformer.scaled_dot_product_attention, _sdpa),
    (experimental.rotary_embedding, _rotary),
    (kv_cache.fill_cache, _fill_cache),
    (kv_cache.update_cache, _update_cache),
    (kv_cache.fill_cache_for_user_, _fill_cache),
    (kv_cache.update_cache_for_token_, _update_cache),
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
    (core.full, _full),
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
# host <-> device copies into existing tensors and allocation: the golden is the data that lands there
_GOLDENS += [
    (command_queue.copy_host_to_device_tensor, lambda host_tensor, *args, **_: host_tensor),
    (command_queue.copy_device_to_host_tensor, lambda device_tensor, *args, **_: device_tensor),
    (command_queue.allocate_tensor_on_device, lambda shape, *args, **_: torch.zeros(tuple(shape))),
]
for _op, _golden in _GOLDENS:
    attach_golden_function(_op, _golden)
