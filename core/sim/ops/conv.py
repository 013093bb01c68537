"""ttnn.conv2d on the simulator, with Conv2dConfig and the weight / bias preparation ops.

Signatures: ttnn 0.81.1's conv2d_nanobind.cpp (every conv2d argument is keyword-only). Activations come
channels-last and flattened, [1, 1, N*H*W, C] (or [N, H, W, C]); the output is [1, 1, N*Ho*Wo, Cout] in
conv_config.output_layout (TILE by default) and `dtype` (the input's by default).

Weights come either as host ROW_MAJOR tensors in torch's [Cout, Cin/groups, kh, kw] layout (conv2d prepares
them: validate_host_conv_weights in prepare_conv2d_weights.cpp), or already prepared on device by
prepare_conv_weights: TILE [1, 1, kh*kw*Cin/groups, Cout] with row (kh_i*kw + kw_i)*Cin + cin, the
order prepare_conv2d_weights.cpp emits (is_valid_device_conv_weights checks only TILE, rank 4 [1, 1, *,
>= Cout] and the dtype). The simulator keeps grouped weights in that compact per-group form; on a card
they are expanded block-diagonally. Bias: host ROW_MAJOR [1, 1, 1, Cout], prepared to TILE on device.
Weights are rounded to conv_config.weights_dtype (bfloat16 when unset) as preparation does.

Numerics: the convolution runs in float32 on the rounded activations and weights and is rounded once to the
output dtype; the matrix engine's fidelity phases and Dst rounding are not modelled for conv2d.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .. import rules
from ..numerics import formats
from ..tensor import Tensor, compute_values, device_op
from ..types import DataType, Layout, MemoryConfig, StorageType, TensorMemoryLayout, UnaryWithParam
from .core import to_device
from .eltwise import activation_fn, resolve_activation
from .golden import attach_golden_function

__all__ = [
    "Conv2dConfig",
    "Conv2dDRAMSliceHeight",
    "Conv2dDRAMSliceWidth",
    "Conv2dL1Full",
    "Conv2dL1FullSliceConfig",
    "Conv2dSliceConfig",
    "Op2DDRAMSliceHeight",
    "Op2DDRAMSliceWidth",
    "Op2DL1FullSliceConfig",
    "Op2DSliceConfig",
    "conv2d",
    "get_conv_output_dim",
    "prepare_conv_bias",
    "prepare_conv_weights",
]


class Op2DSliceConfig:
    """ttnn.Op2DSliceConfig, alias ttnn.Conv2dSliceConfig: how conv2d and the 2-D pools split a large input (all in
    L1, or DRAM slices along height or width). Slicing changes the schedule, not the values, so the simulator
    checks and keeps it. As in ttnn 0.81.1 the constructor is keyword-only and equality is identity."""

    class SliceTypeEnum(enum.Enum):
        L1Full = 0  # noqa: N815 (ttnn's names)
        DRAMSliceHeight = 1  # noqa: N815
        DRAMSliceWidth = 2  # noqa: N815

    _REPR = {"L1Full": "L1_FULL", "DRAMSliceHeight": "DRAM_HEIGHT", "DRAMSliceWidth": "DRAM_WIDTH"}

    def __init__(self, *, slice_type: Op2DSliceConfig.SliceTypeEnum, num_slices: int = 0) -> None:
        if not isinstance(slice_type, Op2DSliceConfig.SliceTypeEnum):
            raise TypeError(
                f"Op2DSliceConfig(): slice_type must be a ttnn.Op2DSliceConfig.SliceTypeEnum, got {slice_type!r}"
            )
        if not isinstance(num_slices, int) or num_slices < 0:
            raise TypeError(f"Op2DSliceConfig(): num_slices must be a non-negative int, got {num_slices!r}")
        self.slice_type = slice_type
        self.num_slices = num_slices

    def __repr__(self) -> str:
        return f"Op2DSliceConfig(slice_type=SliceType::{self._REPR[self.slice_type.name]},num_slices={self.num_slices})"


Conv2dSliceConfig = Op2DSliceConfig
Conv2dL1Full = Op2DSliceConfig.SliceTypeEnum.L1Full
Conv2dDRAMSliceHeight = Op2DDRAMSliceHeight = Op2DSliceConfig.SliceTypeEnum.DRAMSliceHeight
Conv2dDRAMSliceWidth = Op2DDRAMSliceWidth = Op2DSliceConfig.SliceTypeEnum.DRAMSliceWidth
# Two distinct objects in ttnn 0.81.1 (same value, `is` differs).
Conv2dL1FullSliceConfig = Op2DSliceConfig(slice_type=Conv2dL1Full)
Op2DL1FullSliceConfig = Op2DSliceConfig(slice_type=Conv2dL1Full)


def _check_slice_config(slice_config: Any, op: str) -> None:
    # Real ttnn's binding takes only an Op2DSliceConfig here (or None).
    if slice_config is not None and not isinstance(slice_config, Op2DSliceConfig):
        raise TypeError(
            f"{op}(): slice_config must be a ttnn.Conv2dSliceConfig or None, got {slice_config!r}"
        )


@dataclass(kw_only=True)
class Conv2dConfig:
    """ttnn.Conv2dConfig (defaults of ttnn 0.81.1). The simulator uses weights_dtype, activation and
    output_layout; the others choose sharding, blocking and buffering, which change no values."""

    weights_dtype: DataType | None = None
    activation: UnaryWithParam | str | None = None
    deallocate_activation: bool = False
    reallocate_halo_output: bool = True
    config_tensors_in_dram: bool = False
    act_block_h_override: int = 0
    act_block_w_div: int = 1
    reshard_if_not_optimal: bool = False
    override_sharding_config: bool = False
    shard_layout: TensorMemoryLayout | None = None
    core_grid: Any = None
    transpose_shards: bool = False
    output_layout: Layout = Layout.TILE
    enable_act_double_buffer: bool = False
    enable_weights_double_buffer: bool = False
    full_inner_dim: bool = False
    enable_kernel_stride_folding: bool | None = None
    enable_activation_reuse: bool = False
    force_split_reader: bool | None = None
    override_output_sharding_config: bool = False
    padding_mode: Any = None


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    rules.require(len(value) == 2, f"conv2d: {name} must have 2 entries (h, w), got {list(value)}")
    return int(value[0]), int(value[1])


def _padding4(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from [p], [ph, pw] or [top, bottom, left, right] (get_pair_n4_padding)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    values = [int(p) for p in padding]
    if len(values) == 2:
        return values[0], values[0], values[1], values[1]
    rules.require(len(values) == 4, f"conv2d: padding must have 2 or 4 entries, got {values}")
    return values[0], values[1], values[2], values[3]


def get_conv_output_dim(input: int, window: int, stride: int = 1, pad: int = 0, dilation: int = 1) -> int:
    """Output length of a sliding window: (input + 2 pad - dilation (window - 1) - 1) // stride + 1."""
    return (input + 2 * pad - dilation * (window - 1) - 1) // stride + 1


def _output_hw(
    input_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad: tuple[int, ...],
    dil: tuple[int, int],
) -> tuple[int, int]:
    top, bottom, left, right = pad
    ho = (input_hw[0] + top + bottom - dil[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (input_hw[1] + left + right - dil[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    return ho, wo


def _weights_dtype(conv_config: Conv2dConfig | None) -> DataType:
    return (conv_config.weights_dtype if conv_config is not None else None) or DataType.BFLOAT16


def _validate_host_weights(weight: Tensor) -> None:
    # prepare_conv2d_weights.cpp validate_host_conv_weights
    rules.require(weight.storage_type() == StorageType.HOST, "Host conv weights should be placed on host")
    rules.require(weight.layout == Layout.ROW_MAJOR, "Host conv weights layout should be in row_major layout")
    rules.require(len(weight.shape) == 4, "Host conv weights should be 4D tensor")


def _validate_host_bias(bias: Tensor) -> None:
    # prepare_conv2d_weights.cpp validate_host_conv_bias
    rules.require(len(bias.shape) == 4, "Host conv bias should be 4D tensor")
    rules.require(bias.layout == Layout.ROW_MAJOR, "Host conv bias layout should be in row_major layout")
    rules.require(tuple(bias.shape[:3]) == (1, 1, 1), "Host conv bias shape is not correct")


def _is_prepared(weight: Tensor, out_channels: int) -> bool:
    """is_valid_device_conv_weights (prepare_conv2d_weights.cpp): TILE, rank 4 [1, 1, *, >= Cout]."""
    shape = weight.shape
    return (
        weight.storage_type() == StorageType.DEVICE
        and weight.layout == Layout.TILE
        and len(shape) == 4
        and shape[0] == 1
        and shape[1] == 1
        and shape[3] >= out_channels
    )


def _check_weight_shape(
    weight: Tensor, in_channels: int, out_channels: int, groups: int, kernel: tuple[int, int]
) -> None:
    expected = [out_channels, in_channels // groups, kernel[0], kernel[1]]
    rules.require(
        list(weight.shape) == expected,
        f"conv2d: weight tensor shape {list(weight.shape)} does not match [out_channels, in_channels / groups, "
        f"kernel_h, kernel_w] = {expected}",
    )


def _prepared_values(oihw: torch.Tensor) -> torch.Tensor:
    """[Cout, Cin_g, kh, kw] -> [1, 1, kh*kw*Cin_g, Cout], row (kh_i*kw + kw_i)*Cin_g + cin."""
    cout = oihw.shape[0]
    return oihw.permute(2, 3, 1, 0).reshape(1, 1, -1, cout)


def _oihw(
    prepared: torch.Tensor, in_channels_per_group: int, kernel: tuple[int, int], out_channels: int
) -> torch.Tensor:
    rows = kernel[0] * kernel[1] * in_channels_per_group
    rules.require(
        prepared.shape[-2] == rows,
        f"conv2d: prepared weights hold {prepared.shape[-2]} rows, expected kernel_h*kernel_w*in_channels/groups = "
        f"{rows}",
    )
    w = prepared.reshape(rows, -1)[:, :out_channels]
    return w.reshape(kernel[0], kernel[1], in_channels_per_group, out_channels).permute(3, 2, 0, 1)


def _quantized_on_device(values: list[torch.Tensor], conv_config: Conv2dConfig | None, device: Any) -> Tensor:
    """Prepared weight / bias values (one per chip), quantized to conv_config.weights_dtype, as a device TILE
    tensor."""
    dtype = _weights_dtype(conv_config)
    return to_device(Tensor([formats.quantize(v, dtype) for v in values], dtype, Layout.TILE), device)


def _conv_activation(conv_config: Conv2dConfig | None) -> Any:
    """conv_config.activation as a function on values, or None."""
    activation = conv_config.activation if conv_config is not None else None
    return activation_fn(resolve_activation(activation)) if activation is not None else None


def _is_channels_last_input(shape: list[int], batch: int, height: int, width: int, in_channels: int) -> bool:
    """The activation is [1, 1, N*H*W, >= C] or [N, H, W, >= C]."""
    return (
        len(shape) == 4 and shape[:3] == [1, 1, batch * height * width] or shape[:3] == [batch, height, width]
    ) and shape[3] >= in_channels


def _rows_to_nchw(x: torch.Tensor, batch: int, height: int, width: int, in_channels: int) -> torch.Tensor:
    """Channels-last activation rows -> NCHW (the padding channels dropped)."""
    return x.reshape(batch, height, width, -1)[..., :in_channels].permute(0, 3, 1, 2)


def _nchw_to_rows(y: torch.Tensor, out_channels: int) -> torch.Tensor:
    """NCHW output -> ttnn's [1, 1, N*Ho*Wo, Cout]."""
    return y.permute(0, 2, 3, 1).reshape(1, 1, -1, out_channels)


def _conv_result(
    out: Tensor, dims: list[int], params: list[Any], return_output_dim: bool, return_weights_and_bias: bool
) -> Any:
    """What conv2d / conv1d / conv_transpose2d return for their return_output_dim / return_weights_and_bias."""
    if return_output_dim and return_weights_and_bias:
        return out, dims, params
    if return_output_dim:
        return out, dims
    if return_weights_and_bias:
        return out, params
    return out


def prepare_conv_weights(
    *,
    weight_tensor: Tensor,
    input_memory_config: MemoryConfig,
    input_layout: Layout,
    weights_format: str,
    in_channels: int,
    out_channels: int,
    batch_size: int,
    input_height: int,
    input_width: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    has_bias: bool,
    groups: int,
    device: Any,
    input_dtype: DataType,
    output_dtype: DataType | None = None,
    conv_config: Conv2dConfig | None = None,
    compute_config: Any = None,
    slice_config: Any = None,
) -> Tensor:
    """Host [Cout, Cin/groups, kh, kw] weights -> device TILE [1, 1, kh*kw*Cin/groups, Cout] in
    conv_config.weights_dtype (see module docstring)."""
    _check_slice_config(slice_config, "prepare_conv_weights")
    rules.require(weights_format == "OIHW", f"conv2d: weights_format must be OIHW, got {weights_format!r}")
    _validate_host_weights(weight_tensor)
    kernel = _pair(kernel_size, "kernel_size")
    _check_weight_shape(weight_tensor, in_channels, out_channels, groups, kernel)
    values = [_prepared_values(compute_values(v).float()) for v in weight_tensor._chips]
    return _quantized_on_device(values, conv_config, device)


def prepare_conv_bias(
    *,
    bias_tensor: Tensor,
    input_memory_config: MemoryConfig,
    input_layout: Layout,
    in_channels: int,
    out_channels: int,
    batch_size: int,
    input_height: int,
    input_width: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    device: Any,
    input_dtype: DataType,
    output_dtype: DataType | None = None,
    conv_config: Conv2dConfig | None = None,
    compute_config: Any = None,
    slice_config: Any = None,
) -> Tensor:
    """Host ROW_MAJOR [1, 1, 1, Cout] bias -> device TILE [1, 1, 1, Cout] in conv_config.weights_dtype."""
    _check_slice_config(slice_config, "prepare_conv_bias")
    _validate_host_bias(bias_tensor)
    rules.require(
        bias_tensor.shape[3] == out_channels,
        f"conv2d: bias has {bias_tensor.shape[3]} channels, out_channels is {out_channels}",
    )
    return _quantized_on_device([compute_values(v).float() for v in bias_tensor._chips], conv_config, device)


def conv2d(
    *,
    input_tensor: Tensor,
    weight_tensor: Tensor,
    device: Any,
    in_channels: int,
    out_channels: int,
    batch_size: int,
    input_height: int,
    input_width: int,
    kernel_size: Sequence[int],
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0),
    dilation: Sequence[int] = (1, 1),
    groups: int = 1,
    dtype: DataType | None = None,
    bias_tensor: Tensor | None = None,
    conv_config: Conv2dConfig | None = None,
    compute_config: Any = None,
    memory_config: MemoryConfig | None = None,
    slice_config: Any = None,
    return_output_dim: bool = False,
    return_weights_and_bias: bool = False,
) -> Any:
    """2-D convolution of a channels-last activation (see module docstring). Returns the output, or with
    return_output_dim / return_weights_and_bias the tuples (out, [Ho, Wo]), (out, [weight, bias]) or
    (out, [Ho, Wo], [weight, bias]) — the prepared device weights, for reuse on the next call."""
    _check_slice_config(slice_config, "conv2d")
    kernel = _pair(kernel_size, "kernel_size")
    strides = _pair(stride, "stride")
    dil = _pair(dilation, "dilation")
    pad = _padding4(padding)
    mode = getattr(getattr(conv_config, "padding_mode", None), "name", "Zeros")
    rules.require(
        mode == "Zeros", f"simulator: conv2d padding_mode {mode} is not modelled (only zero padding)"
    )
    rules.require(
        groups >= 1 and in_channels % groups == 0,
        f"conv2d: in_channels ({in_channels}) must be divisible by groups ({groups})",
    )
    rules.require(
        out_channels % groups == 0,
        f"conv2d: out_channels ({out_channels}) must be divisible by groups ({groups})",
    )
    shape = list(input_tensor.shape)
    rows = batch_size * input_height * input_width
    rules.require(
        _is_channels_last_input(shape, batch_size, input_height, input_width, in_channels),
        f"conv2d: input tensor must be [1, 1, batch_size*input_height*input_width, in_channels] = "
        f"[1, 1, {rows}, {in_channels}] or [N, H, W, C] = [{batch_size}, {input_height}, {input_width}, "
        f"{in_channels}], got {shape}",
    )
    ho, wo = _output_hw((input_height, input_width), kernel, strides, pad, dil)
    rules.require(ho > 0 and wo > 0, f"conv2d: the kernel does not fit the padded input (output {ho}x{wo})")
    if input_tensor.storage_type() == StorageType.HOST:
        input_tensor = to_device(input_tensor, device)
    weights_dtype = _weights_dtype(conv_config)
    if not _is_prepared(weight_tensor, out_channels):
        weight_tensor = prepare_conv_weights(
            weight_tensor=weight_tensor, input_memory_config=input_tensor.memory_config(),
            input_layout=input_tensor.layout, weights_format="OIHW", in_channels=in_channels,
            out_channels=out_channels, batch_size=batch_size, input_height=input_height, input_width=input_width,
            kernel_size=kernel, stride=strides, padding=pad, dilation=dil, has_bias=bias_tensor is not None,
            groups=groups, device=device, input_dtype=input_tensor.dtype, conv_config=conv_config,
        )  # fmt: skip
    if bias_tensor is not None and bias_tensor.storage_type() == StorageType.HOST:
        bias_tensor = prepare_conv_bias(
            bias_tensor=bias_tensor, input_memory_config=input_tensor.memory_config(),
            input_layout=input_tensor.layout, in_channels=in_channels, out_channels=out_channels,
            batch_size=batch_size, input_height=input_height, input_width=input_width, kernel_size=kernel,
            stride=strides, padding=pad, dilation=dil, groups=groups, device=device,
            input_dtype=input_tensor.dtype, conv_config=conv_config,
        )  # fmt: skip
    rules.require(
        weight_tensor.dtype == weights_dtype or conv_config is None or conv_config.weights_dtype is None,
        f"conv2d: prepared weights are {weight_tensor.dtype!r}, conv_config.weights_dtype is {weights_dtype!r}",
    )
    act = _conv_activation(conv_config)
    out_dtype = dtype or input_tensor.dtype
    out_layout = conv_config.output_layout if conv_config is not None else Layout.TILE
    cin_g = in_channels // groups
    inputs = [input_tensor, weight_tensor] + ([bias_tensor] if bias_tensor is not None else [])

    def compute(x: torch.Tensor, w: torch.Tensor, *b: torch.Tensor) -> torch.Tensor:
        nchw = _rows_to_nchw(x, batch_size, input_height, input_width, in_channels)
        nchw = torch.nn.functional.pad(nchw.float(), (pad[2], pad[3], pad[0], pad[1]))
        weight = _oihw(w.float(), cin_g, kernel, out_channels)
        bias = b[0].reshape(-1)[:out_channels].float() if b else None
        y = torch.nn.functional.conv2d(nchw, weight, bias, stride=strides, dilation=dil, groups=groups)
        y = act(y) if act is not None else y
        return _nchw_to_rows(y, out_channels)

    mc = memory_config or input_tensor.memory_config()
    out = device_op("conv2d", inputs, compute, dtype=out_dtype, layout=out_layout, memory_config=mc)
    return _conv_result(
        out, [ho, wo], [weight_tensor, bias_tensor], return_output_dim, return_weights_and_bias
    )


def _conv2d_golden(
    input_tensor: torch.Tensor,
    weight_tensor: torch.Tensor,
    in_channels: int,
    out_channels: int,
    batch_size: int,
    input_height: int,
    input_width: int,
    kernel_size: Sequence[int],
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0),
    dilation: Sequence[int] = (1, 1),
    groups: int = 1,
    bias_tensor: torch.Tensor | None = None,
    conv_config: Conv2dConfig | None = None,
    **_: Any,
) -> torch.Tensor:
    """torch reference: input [1, 1, N*H*W, C] (or NHWC), weight OIHW, bias [1, 1, 1, Cout]; output
    [1, 1, N*Ho*Wo, Cout]."""
    pad = _padding4(padding)
    nchw = _rows_to_nchw(input_tensor, batch_size, input_height, input_width, in_channels)
    nchw = torch.nn.functional.pad(nchw.float(), (pad[2], pad[3], pad[0], pad[1]))
    bias = bias_tensor.reshape(-1).float() if bias_tensor is not None else None
    y = torch.nn.functional.conv2d(
        nchw, weight_tensor.float(), bias, stride=_pair(stride, "stride"), dilation=_pair(dilation, "dilation"),
        groups=groups,
    )  # fmt: skip
    act = _conv_activation(conv_config)
    return _nchw_to_rows(act(y) if act is not None else y, out_channels)


attach_golden_function(conv2d, _conv2d_golden)


# -- conv1d / conv_transpose2d --------------------------------------------------------------------------------


Conv1dConfig = Conv2dConfig  # same fields in ttnn 0.81.1 (conv1d runs as a conv2d over [L, 1])


def conv1d(
    *,
    input_tensor: Tensor,
    weight_tensor: Tensor,
    device: Any,
    in_channels: int,
    out_channels: int,
    batch_size: int,
    input_length: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | Sequence[int] = 0,
    dilation: int = 1,
    groups: int = 1,
    dtype: DataType | None = None,
    bias_tensor: Tensor | None = None,
    conv_config: Conv2dConfig | None = None,
    compute_config: Any = None,
    memory_config: MemoryConfig | None = None,
    slice_config: Any = None,
    return_output_dim: bool = False,
    return_weights_and_bias: bool = False,
) -> Any:
    """ttnn.conv1d of a channels-last [1, 1, N*L, C] (or [N, L, C]) activation: conv2d over an [L, 1] image
    (conv1d.cpp), host weights [Cout, Cin/groups, K]. Returns like conv2d, with the output length for
    return_output_dim."""
    pad = (padding, padding) if isinstance(padding, int) else tuple(int(p) for p in padding)
    rules.require(len(pad) == 2, f"conv1d: padding must be an int or (left, right), got {padding!r}")
    if weight_tensor.storage_type() == StorageType.HOST and len(weight_tensor.shape) == 3:
        from .data_movement import reshape

        weight_tensor = reshape(weight_tensor, [*weight_tensor.shape, 1])
    if len(input_tensor.shape) == 3:
        from .data_movement import reshape

        input_tensor = reshape(
            input_tensor, [1, 1, input_tensor.shape[0] * input_tensor.shape[1], input_tensor.shape[2]]
        )
    out, (length, _), params = conv2d(
        input_tensor=input_tensor, weight_tensor=weight_tensor, device=device, in_channels=in_channels,
        out_channels=out_channels, batch_size=batch_size, input_height=input_length, input_width=1,
        kernel_size=(kernel_size, 1), stride=(stride, 1), padding=(pad[0], pad[1], 0, 0), dilation=(dilation, 1),
        groups=groups, dtype=dtype, bias_tensor=bias_tensor, conv_config=conv_config, memory_config=memory_config,
        return_output_dim=True, return_weights_and_bias=True,
    )  # fmt: skip
    return _conv_result(out, length, params, return_output_dim, return_weights_and_bias)


def _transpose_to_conv(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """ConvTranspose2d weights [Cin, Cout/g, kh, kw] -> the equivalent conv2d weights [Cout, Cin/g, kh, kw]
    (channels swapped per group, kernel mirrored), as prepare_conv_transpose2d_weights lays them out."""
    cin, cout_g, kh, kw = weight.shape
    w = weight.reshape(groups, cin // groups, cout_g, kh, kw).transpose(1, 2)
    return w.reshape(groups * cout_g, cin // groups, kh, kw).flip(2, 3)


def _conv_to_transpose(weight: torch.Tensor, groups: int) -> torch.Tensor:
    cout, cin_g, kh, kw = weight.shape
    w = weight.flip(2, 3).reshape(groups, cout // groups, cin_g, kh, kw).transpose(1, 2)
    return w.reshape(groups * cin_g, cout // groups, kh, kw)


def conv_transpose2d(
    *,
    input_tensor: Tensor,
    weight_tensor: Tensor,
    device: Any,
    in_channels: int,
    out_channels: int,
    batch_size: int,
    input_height: int,
    input_width: int,
    kernel_size: Sequence[int],
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0),
    output_padding: Sequence[int] = (0, 0),
    dilation: Sequence[int] = (1, 1),
    groups: int = 1,
    dtype: DataType | None = None,
    bias_tensor: Tensor | None = None,
    conv_config: Conv2dConfig | None = None,
    compute_config: Any = None,
    memory_config: MemoryConfig | None = None,
    dram_slice_config: Any = None,
    mirror_kernel: bool = True,
    return_output_dim: bool = False,
    return_weights_and_bias: bool = False,
) -> Any:
    """ttnn.conv_transpose2d of a channels-last activation with host weights in torch's ConvTranspose2d
    layout [Cin, Cout/groups, kh, kw] (prepared on device as the equivalent mirrored conv2d weights).
    Output [1, 1, N*Ho*Wo, Cout], Ho = (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""
    kernel, strides, dil = (
        _pair(kernel_size, "kernel_size"),
        _pair(stride, "stride"),
        _pair(dilation, "dilation"),
    )
    pads, out_pad = _pair(padding, "padding"), _pair(output_padding, "output_padding")
    rules.require(mirror_kernel, "simulator: conv_transpose2d(mirror_kernel=False) is not modelled")
    rules.require(
        in_channels % groups == 0 and out_channels % groups == 0,
        f"conv_transpose2d: channels must be divisible by groups ({groups})",
    )
    shape = list(input_tensor.shape)
    rows = batch_size * input_height * input_width
    rules.require(
        _is_channels_last_input(shape, batch_size, input_height, input_width, in_channels),
        f"conv_transpose2d: input tensor must be [1, 1, {rows}, {in_channels}] or [{batch_size}, {input_height}, "
        f"{input_width}, {in_channels}], got {shape}",
    )
    ho = (input_height - 1) * strides[0] - 2 * pads[0] + dil[0] * (kernel[0] - 1) + out_pad[0] + 1
    wo = (input_width - 1) * strides[1] - 2 * pads[1] + dil[1] * (kernel[1] - 1) + out_pad[1] + 1
    rules.require(ho > 0 and wo > 0, f"conv_transpose2d: output size {ho}x{wo} is not positive")
    if input_tensor.storage_type() == StorageType.HOST:
        input_tensor = to_device(input_tensor, device)
    if not _is_prepared(weight_tensor, out_channels):
        _validate_host_weights(weight_tensor)
        expected = [in_channels, out_channels // groups, kernel[0], kernel[1]]
        rules.require(
            list(weight_tensor.shape) == expected,
            f"conv_transpose2d: weight tensor shape {list(weight_tensor.shape)} does not match [in_channels, "
            f"out_channels / groups, kernel_h, kernel_w] = {expected}",
        )
        values = [
            _prepared_values(_transpose_to_conv(compute_values(v).float(), groups))
            for v in weight_tensor._chips
        ]
        weight_tensor = _quantized_on_device(values, conv_config, device)
    if bias_tensor is not None and bias_tensor.storage_type() == StorageType.HOST:
        _validate_host_bias(bias_tensor)
        values = [compute_values(v).float() for v in bias_tensor._chips]
        bias_tensor = _quantized_on_device(values, conv_config, device)
    act = _conv_activation(conv_config)
    cin_g = in_channels // groups
    inputs = [input_tensor, weight_tensor] + ([bias_tensor] if bias_tensor is not None else [])

    def compute(x: torch.Tensor, w: torch.Tensor, *b: torch.Tensor) -> torch.Tensor:
        nchw = _rows_to_nchw(x, batch_size, input_height, input_width, in_channels).float()
        weight = _conv_to_transpose(_oihw(w.float(), cin_g, kernel, out_channels), groups)
        bias = b[0].reshape(-1)[:out_channels].float() if b else None
        y = torch.nn.functional.conv_transpose2d(
            nchw,
            weight,
            bias,
            stride=strides,
            padding=pads,
            output_padding=out_pad,
            groups=groups,
            dilation=dil,
        )
        y = act(y) if act is not None else y
        return _nchw_to_rows(y, out_channels)

    out_layout = conv_config.output_layout if conv_config is not None else Layout.TILE
    mc = memory_config or input_tensor.memory_config()
    out = device_op(
        "conv_transpose2d",
        inputs,
        compute,
        dtype=dtype or input_tensor.dtype,
        layout=out_layout,
        memory_config=mc,
    )
    return _conv_result(
        out, [ho, wo], [weight_tensor, bias_tensor], return_output_dim, return_weights_and_bias
    )


def _conv1d_golden(
    input_tensor: torch.Tensor, weight_tensor: torch.Tensor, in_channels: int, out_channels: int, batch_size: int,
    input_length: int, kernel_size: int, stride: int = 1, padding: Any = 0, dilation: int = 1, groups: int = 1,
    bias_tensor: torch.Tensor | None = None, **_: Any,
) -> torch.Tensor:  # fmt: skip
    pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
    ncl = input_tensor.reshape(batch_size, input_length, -1)[..., :in_channels].permute(0, 2, 1).float()
    ncl = torch.nn.functional.pad(ncl, pad)
    bias = bias_tensor.reshape(-1).float() if bias_tensor is not None else None
    y = torch.nn.functional.conv1d(
        ncl, weight_tensor.reshape(out_channels, -1, kernel_size).float(), bias, stride, 0, dilation, groups
    )
    return y.permute(0, 2, 1).reshape(1, 1, -1, out_channels)


def _conv_transpose2d_golden(
    input_tensor: torch.Tensor, weight_tensor: torch.Tensor, in_channels: int, out_channels: int, batch_size: int,
    input_height: int, input_width: int, kernel_size: Sequence[int], stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0), output_padding: Sequence[int] = (0, 0), dilation: Sequence[int] = (1, 1),
    groups: int = 1, bias_tensor: torch.Tensor | None = None, **_: Any,
) -> torch.Tensor:  # fmt: skip
    nchw = _rows_to_nchw(input_tensor, batch_size, input_height, input_width, in_channels)
    bias = bias_tensor.reshape(-1).float() if bias_tensor is not None else None
    y = torch.nn.functional.conv_transpose2d(
        nchw.float(), weight_tensor.float(), bias, stride=tuple(stride), padding=tuple(padding),
        output_padding=tuple(output_padding), groups=groups, dilation=tuple(dilation),
    )  # fmt: skip
    return _nchw_to_rows(y, out_channels)


attach_golden_function(conv1d, _conv1d_golden)
attach_golden_function(conv_transpose2d, _conv_transpose2d_golden)
__all__ += ["Conv1dConfig", "conv1d", "conv_transpose2d"]
