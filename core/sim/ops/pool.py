"""ttnn.avg_pool2d and ttnn.max_pool2d on the simulator, on the flattened channels-last activations ttnn's conv/pool ops use.

Signature: ttnn/cpp/ttnn/operations/pool/generic/generic_pools_nanobind.cpp. The input holds
[N, H, W, C] as [1, 1, N*H*W, C]; the output is [1, 1, N*Ho*Wo, C] in `dtype` (bfloat16 by default) and
`output_layout` (ROW_MAJOR by default). Used by the Gemma3 projector (tt-metal models/demos/gemma3/tt/mmp.py).
Numerics: window sums accumulate in float32 and are scaled by the bfloat16-rounded reciprocal of the divisor
(the reduce kernel's scalar operand), then rounded to the output dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .. import rules
from ..numerics import formats
from ..tensor import Tensor, device_op
from ..types import DataType, Layout, MemoryConfig, StorageType
from .conv import _nchw_to_rows, _rows_to_nchw
from .golden import attach_golden_function

__all__ = ["avg_pool2d", "global_avg_pool2d", "max_pool2d", "upsample"]

_POOL_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32)


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    rules.require(len(value) == 2, f"avg_pool2d: {name} must have 2 entries (h, w), got {list(value)}")
    return int(value[0]), int(value[1])


def _check_pool_input(
    op: str, input_tensor: Tensor, batch_size: int, input_h: int, input_w: int, channels: int
) -> None:
    rules.require(input_tensor.storage_type() == StorageType.DEVICE, f"{op}: input tensor must be on device")
    rules.require(
        input_tensor.dtype in _POOL_DTYPES,
        f"{op}: input dtype must be BFLOAT16, BFLOAT8_B or FLOAT32, got {input_tensor.dtype!r}",
    )
    shape = input_tensor.shape
    rows = batch_size * input_h * input_w
    rules.require(
        len(shape) == 4 and shape[0] == 1 and shape[1] == 1 and shape[2] == rows and shape[3] == channels,
        f"{op}: input must be [1, 1, batch_size*input_h*input_w, channels] = [1, 1, {rows}, {channels}], "
        f"got {list(shape)}",
    )


def avg_pool2d(
    input_tensor: Tensor,
    batch_size: int,
    input_h: int,
    input_w: int,
    channels: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    memory_config: MemoryConfig | None = None,
    dram_slice_config: Any = None,
    applied_shard_scheme: Any = None,
    compute_kernel_config: Any = None,
    deallocate_input: bool = False,
    reallocate_halo_output: bool = True,
    dtype: DataType = DataType.BFLOAT16,
    output_layout: Layout = Layout.ROW_MAJOR,
    config_tensor_in_dram: bool = False,
) -> Tensor:
    """Average pooling of an [N*H*W, C] activation (see module docstring)."""
    _check_pool_input("avg_pool2d", input_tensor, batch_size, input_h, input_w, channels)
    rules.require(divisor_override is None, "avg_pool2d: divisor_override is not currently supported in ttnn")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    if len(padding) == 4:  # [top, bottom, left, right]
        rules.require(
            padding[0] == padding[1] and padding[2] == padding[3],
            "simulator: asymmetric avg_pool2d padding is not modelled",
        )
        ph, pw = int(padding[0]), int(padding[2])
    else:
        ph, pw = _pair(padding, "padding")
    rules.require(
        ph <= kh // 2 and pw <= kw // 2, "avg_pool2d: padding must be at most half of the kernel size"
    )
    mc = memory_config or input_tensor.memory_config()

    args = dict(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw), ceil_mode=ceil_mode)

    def output_shape(_: tuple[int, ...]) -> tuple[int, ...]:
        """[1, 1, batch * out_h * out_w, channels], out_h / out_w as torch's pooling gives them."""
        out_h, out_w = torch.nn.functional.avg_pool2d(
            torch.empty(1, 1, input_h, input_w, device="meta"), **args
        ).shape[-2:]
        return (1, 1, batch_size * out_h * out_w, channels)

    def compute(x: torch.Tensor) -> torch.Tensor:
        nchw = _rows_to_nchw(x, batch_size, input_h, input_w, channels).float()
        sums = torch.nn.functional.avg_pool2d(nchw, divisor_override=1, **args)
        ones = torch.ones(1, 1, input_h, input_w)
        valid = torch.nn.functional.avg_pool2d(ones, divisor_override=1, **args)
        mean_of_ones = torch.nn.functional.avg_pool2d(ones, count_include_pad=count_include_pad, **args)
        scale = formats.round_bfloat16(mean_of_ones / valid)  # 1 / divisor as a bfloat16 scalar
        return _nchw_to_rows(sums * scale, channels)

    return device_op(
        "avg_pool2d",
        [input_tensor],
        compute,
        dtype=dtype,
        layout=output_layout,
        memory_config=mc,
        output_shapes=output_shape,  # the divisor's bfloat16 rounding reads values
    )


def _padding4(padding: Sequence[int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from [ph, pw] or [top, bottom, left, right]."""
    values = [int(p) for p in ([padding] * 2 if isinstance(padding, int) else padding)]
    if len(values) == 2:
        return values[0], values[0], values[1], values[1]
    rules.require(len(values) == 4, f"max_pool2d: padding must have 2 or 4 entries, got {values}")
    return values[0], values[1], values[2], values[3]


def max_pool2d(
    input_tensor: Tensor,
    batch_size: int,
    input_h: int,
    input_w: int,
    channels: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    ceil_mode: bool = False,
    *,
    memory_config: MemoryConfig | None = None,
    dram_slice_config: Any = None,
    applied_shard_scheme: Any = None,
    deallocate_input: bool = False,
    reallocate_halo_output: bool = True,
    return_indices: bool = False,
    dtype: DataType = DataType.BFLOAT16,
    output_layout: Layout = Layout.ROW_MAJOR,
    config_tensor_in_dram: bool = False,
) -> Tensor | list[Tensor]:
    """Max pooling of an [N*H*W, C] activation (padding counts as -inf). With return_indices, also the
    uint32 flat index (h * input_w + w within its image) of each maximum, as torch gives it.
    Rules: generic_pools.cpp / pool_utils (padding at most half the kernel, as avg_pool2d)."""
    _check_pool_input("max_pool2d", input_tensor, batch_size, input_h, input_w, channels)
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    top, bottom, left, right = _padding4(padding)
    rules.require(
        max(top, bottom) <= kh // 2 and max(left, right) <= kw // 2,
        "max_pool2d: padding must be at most half of the kernel size",
    )
    mc = memory_config or input_tensor.memory_config()

    def pooled(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nchw = _rows_to_nchw(x, batch_size, input_h, input_w, channels).float()
        # pad explicitly with -inf (torch's max_pool2d padding is symmetric only), then pool without padding
        padded = torch.nn.functional.pad(nchw, (left, right, top, bottom), value=float("-inf"))
        out, idx = torch.nn.functional.max_pool2d(
            padded, (kh, kw), (sh, sw), 0, (dh, dw), ceil_mode=ceil_mode, return_indices=True
        )
        # indices into the padded image -> indices into the unpadded one
        pw = input_w + left + right
        row, col = idx // pw - top, idx % pw - left
        flat = row * input_w + col
        return _nchw_to_rows(out, channels), _nchw_to_rows(flat, channels)

    if return_indices:
        out, idx = device_op(
            "max_pool2d", [input_tensor], lambda x: pooled(x), dtype=[dtype, DataType.UINT32],
            layout=[output_layout, Layout.ROW_MAJOR], memory_config=mc,
        )  # fmt: skip
        return [out, idx]
    return device_op(
        "max_pool2d",
        [input_tensor],
        lambda x: pooled(x)[0],
        dtype=dtype,
        layout=output_layout,
        memory_config=mc,
    )


def _max_pool2d_golden(
    input_tensor: torch.Tensor,
    batch_size: int,
    input_h: int,
    input_w: int,
    channels: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    ceil_mode: bool = False,
    **_: Any,
) -> torch.Tensor:
    top, bottom, left, right = _padding4(padding)
    nchw = _rows_to_nchw(input_tensor, batch_size, input_h, input_w, channels).float()
    padded = torch.nn.functional.pad(nchw, (left, right, top, bottom), value=float("-inf"))
    out = torch.nn.functional.max_pool2d(padded, kernel_size, stride, 0, dilation, ceil_mode=ceil_mode)
    return _nchw_to_rows(out, channels)


def _avg_pool2d_golden(
    input_tensor: torch.Tensor,
    batch_size: int,
    input_h: int,
    input_w: int,
    channels: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    **_: Any,
) -> torch.Tensor:
    nchw = _rows_to_nchw(input_tensor, batch_size, input_h, input_w, channels).float()
    pad = tuple(padding[::2]) if len(padding) == 4 else tuple(padding)
    out = torch.nn.functional.avg_pool2d(nchw, kernel_size, stride, pad, ceil_mode, count_include_pad)
    return _nchw_to_rows(out, channels)


attach_golden_function(max_pool2d, _max_pool2d_golden)
attach_golden_function(avg_pool2d, _avg_pool2d_golden)


def global_avg_pool2d(
    input_tensor: Tensor, *, memory_config: MemoryConfig | None = None, dtype: DataType | None = None
) -> Tensor:
    """ttnn.global_avg_pool2d: the mean over H and W of an NHWC [N, H, W, C] tensor, as a TILE [N, 1, 1, C]
    in `dtype` (bfloat16 by default), as ttnn/ttnn/operations/pool.py routes it through avg_pool2d."""
    rules.require(
        input_tensor.storage_type() == StorageType.DEVICE, "global_avg_pool2d: input tensor must be on device"
    )
    shape = input_tensor.shape
    rules.require(
        len(shape) in (2, 3, 4), f"global_avg_pool2d expects rank 2, 3, or 4 input, got rank {len(shape)}"
    )
    mc = memory_config or input_tensor.memory_config()

    def compute(x: torch.Tensor) -> torch.Tensor:
        nhwc = x.reshape([1] * (4 - x.dim()) + list(x.shape)).float()
        return nhwc.mean(dim=(1, 2), keepdim=True)

    return device_op(
        "global_avg_pool2d",
        [input_tensor],
        compute,
        dtype=dtype or DataType.BFLOAT16,
        layout=Layout.TILE,
        memory_config=mc,
    )


def upsample(
    input_tensor: Tensor,
    scale_factor: int | Sequence[int] | float | Sequence[float],
    *,
    mode: str = "nearest",
    memory_config: MemoryConfig | None = None,
    compute_kernel_config: Any = None,
) -> Tensor:
    """ttnn.upsample of an NHWC [N, H, W, C] tensor by integer (h, w) factors, mode "nearest" or "bilinear"
    (half-pixel centres, as torch's align_corners=False)."""
    rules.require(
        mode in ("nearest", "bilinear"), f"Upsample only supports nearest and bilinear mode, got {mode!r}"
    )
    rules.require(
        len(input_tensor.shape) == 4, f"upsample: input must be [N, H, W, C], got {list(input_tensor.shape)}"
    )
    factors = [scale_factor] * 2 if isinstance(scale_factor, (int, float)) else list(scale_factor)
    rules.require(
        len(factors) == 2, f"upsample: scale_factor must be a number or (h, w), got {scale_factor!r}"
    )
    rules.require(
        all(float(f).is_integer() and f >= 1 for f in factors),
        f"upsample: scale factors must be whole numbers, got {factors}",
    )
    sh, sw = int(factors[0]), int(factors[1])
    mc = memory_config or input_tensor.memory_config()

    def compute(x: torch.Tensor) -> torch.Tensor:
        nchw = x.permute(0, 3, 1, 2).float()
        if mode == "nearest":
            out = torch.nn.functional.interpolate(nchw, scale_factor=(sh, sw), mode="nearest")
        else:
            out = torch.nn.functional.interpolate(
                nchw, scale_factor=(sh, sw), mode="bilinear", align_corners=False
            )
        return out.permute(0, 2, 3, 1)

    return device_op(
        "upsample",
        [input_tensor],
        compute,
        dtype=input_tensor.dtype,
        layout=input_tensor.layout,
        memory_config=mc,
    )


attach_golden_function(
    global_avg_pool2d,
    lambda x, **_: x.float().reshape([1] * (4 - x.dim()) + list(x.shape)).mean(dim=(1, 2), keepdim=True),
)
attach_golden_function(
    upsample,
    lambda x, scale_factor, *, mode="nearest", **_: torch.nn.functional.interpolate(
        x.permute(0, 3, 1, 2).float(), scale_factor=scale_factor, mode=mode,
        **({"align_corners": False} if mode == "bilinear" else {}),
    ).permute(0, 2, 3, 1),
)  # fmt: skip
