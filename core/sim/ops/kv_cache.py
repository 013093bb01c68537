"""KV-cache ops on the simulator: in-place writes into a preallocated cache tensor.

Names and arguments follow ttnn/cpp/ttnn/operations/kv_cache/kv_cache.hpp and kv_cache_nanobind.cpp:
`ttnn.kv_cache.fill_cache_for_user_` / `update_cache_for_token_` and the top-level `ttnn.fill_cache` /
`ttnn.update_cache` (re-exported by ops/data_movement.py, since only that module is star-imported at the top
level). Checks follow device/update_cache_device_operation.cpp. The cache is the output: its values change
in place and the same Tensor object is returned; written rows are rounded to the cache's dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import rules
from ..numerics import formats
from ..runtime import chips
from ..tensor import Tensor, in_place_recorder, program_key, run_or_capture, storage_values
from ..types import DataType, Layout

__all__ = ["fill_cache_for_user_", "update_cache_for_token_"]

_CACHE_DTYPES = (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B)


def _validate(cache: Tensor, input: Tensor) -> None:
    rules.require(
        cache.storage_type() == input.storage_type() and cache.device() is not None,
        "Operands to update_cache need to be on device!",
    )
    rules.require(input.device() is cache.device(), "Operands to update_cache need to be on the same device!")
    rules.require(
        input.layout == Layout.TILE and cache.layout == Layout.TILE, "Inputs to update_cache must be tilized"
    )
    rules.require(
        input.dtype in _CACHE_DTYPES,
        f"Input tensor dtype must be FLOAT32, BFLOAT16, or BFLOAT8_B but got {input.dtype!r}",
    )
    rules.require(
        cache.dtype in _CACHE_DTYPES,
        f"Cache tensor dtype must be FLOAT32, BFLOAT16, or BFLOAT8_B but got {cache.dtype!r}",
    )
    rules.require(
        len(cache.shape) == 4 and len(input.shape) == 4,
        f"update_cache: cache and input must be rank 4, got {list(cache.shape)} and {list(input.shape)}",
    )
    ip, cp = input.padded_shape, cache.padded_shape
    rules.require(ip[-1] == cp[-1], f"Input tensor width ({ip[-1]}) must equal cache tensor width ({cp[-1]})")
    rules.require(ip[0] == 1, f"Input tensor batch size must be 1 but got {ip[0]}")
    rules.require(ip[1] == cp[1], f"Input tensor height ({ip[1]}) must equal cache tensor height ({cp[1]})")


def _write(
    name: str, cache: Tensor, input: Tensor, write: Callable[[torch.Tensor, torch.Tensor], None]
) -> Tensor:
    device = rules.require_same_device(name, [cache, input])
    input_values = input._chips  # the list itself: a traced update reads the input buffer at replay time
    record = in_place_recorder(name, device, cache, [input])

    def step() -> None:
        for i in range(len(chips(device))):
            write(cache.writable_chip(i), input_values[i])
        record()

    run_or_capture(device, program_key(name, [cache, input]), step)
    return cache


def fill_cache(cache_tensor: Tensor, input_tensor: Tensor, batch_idx: int) -> Tensor:
    """ttnn.fill_cache: cache[batch_idx, :, :S, :] = input[0] (a whole prefill for one user)."""
    _validate(cache_tensor, input_tensor)
    rules.require(input_tensor.dtype == cache_tensor.dtype, "Input and cache tensors must have same dtype!")
    cp, ip = cache_tensor.padded_shape, input_tensor.padded_shape
    rules.require(
        0 <= batch_idx < cp[0],
        f"Batch index ({batch_idx}) must be less than cache tensor batch size ({cp[0]})",
    )
    rules.require(
        ip[-2] <= cp[-2], f"Input tensor height ({ip[-2]}) must be <= cache tensor height ({cp[-2]})"
    )
    seq = input_tensor.shape[-2]

    def write(cache: torch.Tensor, values: torch.Tensor) -> None:
        cache[batch_idx, :, :seq, :] = values[0]

    return _write("fill_cache", cache_tensor, input_tensor, write)


def update_cache(
    cache: Tensor,
    input: Tensor,
    update_idx: int,
    *,
    batch_offset: int = 0,
    compute_kernel_config: object = None,
) -> Tensor:
    """ttnn.update_cache: for every user b, cache[b, :, update_idx, :] = input[0, :, batch_offset + b, :].
    The input carries one token per user along dim -2 (users padded to 32)."""
    _validate(cache, input)
    cp, ip = cache.padded_shape, input.padded_shape
    rules.require(
        cp[0] <= ip[-2], f"Cache tensor batch size ({cp[0]}) must be <= input tensor height ({ip[-2]})"
    )
    if cp[0] < 32:
        rules.require(
            batch_offset + cp[0] <= 32,
            f"Batch offset ({batch_offset}) + cache tensor batch size ({cp[0]}) must be <= 32",
        )
    else:
        rules.require(batch_offset == 0, "Batch offset must be 0 when cache tensor batch size >= 32")
    users = cache.shape[0]
    # The kernel writes without a bounds check; the simulator refuses an index past the cache end.
    rules.require(
        0 <= update_idx < cache.shape[-2],
        f"update_cache: update_idx {update_idx} is outside the cache sequence length {cache.shape[-2]}",
    )
    rules.require(
        batch_offset + users <= input.shape[-2],
        f"update_cache: input holds {input.shape[-2]} users, need batch_offset + {users}",
    )
    dtype = cache.dtype

    def write(cache_values: torch.Tensor, values: torch.Tensor) -> None:
        rows = values[0, :, batch_offset : batch_offset + users, :].transpose(0, 1)  # [users, H, D]
        # Narrowed to the cache's storage bit for bit (torch's float32 -> bfloat16 copy would alter NaNs).
        rounded = formats.quantize(rows, dtype, formats.PACKER)
        cache_values[:, :, update_idx, :] = storage_values(rounded, dtype)

    return _write("update_cache", cache, input, write)


def fill_cache_for_user_(cache: Tensor, input: Tensor, batch_index: int) -> Tensor:
    """ttnn.kv_cache.fill_cache_for_user_ (in place)."""
    return fill_cache(cache, input, batch_index)


def update_cache_for_token_(
    cache: Tensor,
    input: Tensor,
    update_index: int,
    batch_offset: int = 0,
    compute_kernel_config: object = None,
) -> Tensor:
    """ttnn.kv_cache.update_cache_for_token_ (in place)."""
    return update_cache(cache, input, update_index, batch_offset=batch_offset)
