"""conv2d (with its config, weight preparation and return forms), max_pool2d and group_norm against torch,
their rules by error type and message, and their accounting."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.rules import TTFatal


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).float()


def _nhwc_flat(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(1, 1, n * h * w, c)


def _conv_args(device, n=2, c=16, h=10, w=12, o=32, **extra):
    return dict(
        device=device, in_channels=c, out_channels=o, batch_size=n, input_height=h, input_width=w, **extra
    )


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "groups"),
    [
        ((3, 3), (1, 1), (1, 1), (1, 1), 1),
        ((3, 2), (2, 1), (1, 0, 2, 1), (1, 1), 1),
        ((3, 3), (1, 1), (2, 2), (2, 2), 2),
    ],
)
def test_conv2d_matches_torch(device, kernel, stride, padding, dilation, groups):
    n, c, h, w, o = 2, 16, 10, 12, 32
    g = torch.Generator().manual_seed(0)
    x, weight, bias = (
        torch.randn(n, c, h, w, generator=g),
        torch.randn(o, c // groups, *kernel, generator=g),
        torch.randn(o),
    )
    xt = ttnn.from_torch(_nhwc_flat(x), dtype=ttnn.bfloat16, device=device)
    wt = ttnn.from_torch(weight, dtype=ttnn.bfloat16)
    bt = ttnn.from_torch(bias.reshape(1, 1, 1, o), dtype=ttnn.bfloat16)
    out, (ho, wo) = ttnn.conv2d(
        input_tensor=xt, weight_tensor=wt, bias_tensor=bt, kernel_size=kernel, stride=stride, padding=padding,
        dilation=dilation, groups=groups, return_output_dim=True, **_conv_args(device, n, c, h, w, o),
    )  # fmt: skip
    pad4 = padding if len(padding) == 4 else (padding[0], padding[0], padding[1], padding[1])
    padded = torch.nn.functional.pad(_bf16(x), (pad4[2], pad4[3], pad4[0], pad4[1]))
    ref = torch.nn.functional.conv2d(padded, _bf16(weight), _bf16(bias), stride, 0, dilation, groups)
    assert (ho, wo) == tuple(ref.shape[2:])
    assert (
        out.shape == [1, 1, n * ho * wo, o] and out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat16
    )
    # one bfloat16 step: float32 sums in another order may round to the neighbouring value
    torch.testing.assert_close(ttnn.to_torch(out).float(), _bf16(_nhwc_flat(ref)), rtol=2**-7, atol=1e-5)
    assert sim.stats(device).ops_by_name["conv2d"] == 1


def test_conv2d_prepared_weights_are_reused_and_config_applies(device):
    x, weight = torch.randn(1, 8, 6, 6), torch.randn(16, 8, 3, 3)
    xt = ttnn.from_torch(_nhwc_flat(x), dtype=ttnn.bfloat16, device=device)
    config = ttnn.Conv2dConfig(
        weights_dtype=ttnn.bfloat8_b,
        activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU),
        output_layout=ttnn.ROW_MAJOR_LAYOUT,
    )
    args = _conv_args(device, 1, 8, 6, 6, 16, kernel_size=(3, 3), conv_config=config)
    writes = sim.stats(device).host_to_device
    out, [w_dev, b_dev] = ttnn.conv2d(
        input_tensor=xt,
        weight_tensor=ttnn.from_torch(weight, dtype=ttnn.float32),
        return_weights_and_bias=True,
        **args,
    )
    assert sim.stats(device).host_to_device == writes + 1  # the prepared weights went to the device once
    assert (
        w_dev.layout == ttnn.TILE_LAYOUT and w_dev.dtype == ttnn.bfloat8_b and w_dev.shape == [1, 1, 72, 16]
    )
    assert b_dev is None and out.layout == ttnn.ROW_MAJOR_LAYOUT
    again = ttnn.conv2d(input_tensor=xt, weight_tensor=w_dev, **args)
    assert sim.stats(device).host_to_device == writes + 1 and torch.equal(
        ttnn.to_torch(again), ttnn.to_torch(out)
    )
    rounded = ttnn.to_torch(ttnn.from_torch(weight, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT)).float()
    ref = torch.relu(torch.nn.functional.conv2d(_bf16(x), rounded, padding=0))
    assert ttnn.pearson_correlation_coefficient(_nhwc_flat(ref), out) > 0.999
    prepared = ttnn.prepare_conv_weights(
        weight_tensor=ttnn.from_torch(weight, dtype=ttnn.float32), input_memory_config=ttnn.DRAM_MEMORY_CONFIG,
        input_layout=ttnn.ROW_MAJOR_LAYOUT, weights_format="OIHW", in_channels=8, out_channels=16, batch_size=1,
        input_height=6, input_width=6, kernel_size=[3, 3], stride=[1, 1], padding=[0, 0], dilation=[1, 1],
        has_bias=False, groups=1, device=device, input_dtype=ttnn.bfloat16, conv_config=config,
    )  # fmt: skip
    # row (kh_i * kw + kw_i) * Cin + cin of the prepared layout (prepare_conv2d_weights.cpp)
    assert torch.equal(ttnn.to_torch(prepared).float(), ttnn.to_torch(w_dev).float())


def test_conv2d_rules(device):
    xt = ttnn.from_torch(torch.randn(1, 1, 36, 8), dtype=ttnn.bfloat16, device=device)
    args = _conv_args(device, 1, 8, 6, 6, 16, kernel_size=(3, 3))
    on_device = ttnn.from_torch(torch.randn(16, 8, 3, 3), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTFatal, match="Host conv weights should be placed on host"):
        ttnn.conv2d(input_tensor=xt, weight_tensor=on_device, **args)
    with pytest.raises(TTFatal, match="Host conv weights layout should be in row_major layout"):
        tiled = ttnn.from_torch(torch.randn(16, 8, 3, 3), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
        ttnn.conv2d(input_tensor=xt, weight_tensor=tiled, **args)
    weight = ttnn.from_torch(torch.randn(16, 8, 3, 3), dtype=ttnn.bfloat16)
    with pytest.raises(TTFatal, match="Host conv bias shape is not correct"):
        bias = ttnn.from_torch(torch.randn(1, 1, 2, 16), dtype=ttnn.bfloat16)
        ttnn.conv2d(input_tensor=xt, weight_tensor=weight, bias_tensor=bias, **args)
    with pytest.raises(TTFatal, match=r"input tensor must be \[1, 1, batch_size\*input_height\*input_width"):
        ttnn.conv2d(
            input_tensor=xt, weight_tensor=weight, **_conv_args(device, 1, 8, 7, 6, 16, kernel_size=(3, 3))
        )
    with pytest.raises(TTFatal, match="must be divisible by groups"):
        ttnn.conv2d(input_tensor=xt, weight_tensor=weight, groups=3, **args)
    with pytest.raises(TypeError):
        ttnn.conv2d(xt, weight, **args)  # every conv2d argument is keyword-only


def test_max_pool2d_matches_torch(device):
    n, c, h, w = 2, 32, 9, 8
    x = torch.randn(n, c, h, w)
    xt = ttnn.from_torch(_nhwc_flat(x), dtype=ttnn.bfloat16, device=device)
    out = ttnn.max_pool2d(xt, n, h, w, c, [3, 3], [2, 2], [1, 1], [1, 1], ceil_mode=True)
    ref = torch.nn.functional.max_pool2d(_bf16(x), 3, 2, 1, ceil_mode=True)
    assert out.layout == ttnn.ROW_MAJOR_LAYOUT and out.dtype == ttnn.bfloat16
    assert torch.equal(ttnn.to_torch(out).float(), _nhwc_flat(ref))
    values, indices = ttnn.max_pool2d(xt, n, h, w, c, [2, 2], [2, 2], [0, 0], [1, 1], return_indices=True)
    ref, ref_idx = torch.nn.functional.max_pool2d(_bf16(x), 2, 2, return_indices=True)
    assert torch.equal(ttnn.to_torch(values).float(), _nhwc_flat(ref))
    assert indices.dtype == ttnn.uint32 and torch.equal(ttnn.to_torch(indices).long(), _nhwc_flat(ref_idx))
    assert sim.stats(device).ops_by_name["max_pool2d"] == 2


def test_max_pool2d_rules(device):
    xt = ttnn.from_torch(torch.randn(1, 1, 64, 32), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTFatal, match="padding must be at most half of the kernel size"):
        ttnn.max_pool2d(xt, 1, 8, 8, 32, [2, 2], [1, 1], [2, 2], [1, 1])
    with pytest.raises(
        TTFatal, match=r"max_pool2d: input must be \[1, 1, batch_size\*input_h\*input_w, channels\]"
    ):
        ttnn.max_pool2d(xt, 1, 8, 4, 32, [2, 2], [1, 1], [0, 0], [1, 1])
    host = ttnn.from_torch(torch.randn(1, 1, 64, 32), dtype=ttnn.bfloat16)
    with pytest.raises(TTFatal, match="max_pool2d: input tensor must be on device"):
        ttnn.max_pool2d(host, 1, 8, 8, 32, [2, 2], [1, 1], [0, 0], [1, 1])


def _group_norm_inputs(device, n=2, hw=64, c=64, groups=4, chunks=1):
    x, gamma, beta = torch.randn(n, 1, hw, c), torch.randn(c), torch.randn(c)
    xt = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    gw = ttnn.from_torch(
        ttnn.create_group_norm_weight_bias_rm(gamma, c, chunks), dtype=ttnn.bfloat16, device=device
    )
    gb = ttnn.from_torch(
        ttnn.create_group_norm_weight_bias_rm(beta, c, chunks), dtype=ttnn.bfloat16, device=device
    )
    mask = ttnn.to_device(ttnn.create_group_norm_input_mask(c, groups, chunks), device)
    return x, gamma, beta, xt, gw, gb, mask


def test_group_norm_matches_torch(device):
    x, gamma, beta, xt, gw, gb, mask = _group_norm_inputs(device)
    out = ttnn.group_norm(xt, num_groups=4, epsilon=1e-5, input_mask=mask, weight=gw, bias=gb, inplace=False)
    nchw = _bf16(x).reshape(2, 8, 8, 64).permute(0, 3, 1, 2)
    ref = torch.nn.functional.group_norm(nchw, 4, _bf16(gamma), _bf16(beta), eps=1e-5).permute(0, 2, 3, 1)
    assert out.shape == [2, 1, 64, 64] and out.layout == ttnn.TILE_LAYOUT
    torch.testing.assert_close(ttnn.to_torch(out).float(), ref.reshape(2, 1, 64, 64), rtol=0, atol=2e-2)
    assert sim.stats(device).ops_by_name["group_norm"] == 1


def test_group_norm_unpacks_chunked_affine_params(device):
    # 48 channels in 2 chunks of 24, each padded to 32: [1, 1, 2, 32] (create_group_norm_weight_bias_rm)
    x, gamma, beta, xt, gw, gb, _ = _group_norm_inputs(device, n=1, hw=32, c=48, groups=2, chunks=2)
    assert list(gw.shape) == [1, 1, 2, 32]
    out = ttnn.group_norm(
        xt, num_groups=2, weight=gw, bias=gb, inplace=False, core_grid=ttnn.CoreGrid(y=1, x=2)
    )
    ref = torch.nn.functional.group_norm(
        _bf16(x).permute(0, 3, 1, 2), 2, _bf16(gamma), _bf16(beta), eps=1e-12
    )
    torch.testing.assert_close(ttnn.to_torch(out).float(), ref.permute(0, 2, 3, 1), rtol=0, atol=2e-2)


def test_group_norm_rules(device):
    _, _, _, xt, _, _, _ = _group_norm_inputs(device)
    with pytest.raises(
        TTFatal,
        match=r"In-place operation not supported: Tile layout requires non-inplace tensors\. \(inplace=true\)",
    ):
        ttnn.group_norm(xt, num_groups=4)  # inplace defaults to True in ttnn's binding
    with pytest.raises(
        TTFatal, match=r"Number of channels \(64\) must be divisible by the number of groups \(5\)"
    ):
        ttnn.group_norm(xt, num_groups=5, inplace=False)
    with pytest.raises(TTFatal, match="group_norm output dtype must match input dtype"):
        ttnn.group_norm(xt, num_groups=4, inplace=False, dtype=ttnn.float32)
    rm = ttnn.from_torch(torch.randn(1, 1, 64, 64), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(TTFatal, match="interleaved \\(non-sharded\\) input must be in TILE layout"):
        ttnn.group_norm(rm, num_groups=4, inplace=False)
    flat = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(TTFatal, match=r"Input tensor must have rank 4\. \(rank=2\)"):
        ttnn.group_norm(flat, num_groups=4, inplace=False)


def test_group_norm_input_mask_layout():
    # probed on ttnn 0.81.1
    mask = ttnn.to_torch(ttnn.create_group_norm_input_mask(64, 4, 1)).float()
    assert list(mask.shape) == [1, 4, 32, 32]
    assert torch.equal(mask[0, 1, 0], torch.cat([torch.zeros(16), torch.ones(16)]))
    wide = ttnn.to_torch(ttnn.create_group_norm_input_mask(96, 4, 1)).float()
    assert list(wide.shape) == [1, 4, 32, 64]
    assert torch.equal(wide[0, 1, 0], torch.cat([torch.zeros(24), torch.ones(24), torch.zeros(16)]))


def test_conv1d_matches_torch(device):
    n, c, length, o, k = 2, 16, 40, 32, 5
    x, weight, bias = torch.randn(n, c, length), torch.randn(o, c, k), torch.randn(o)
    xt = ttnn.from_torch(x.permute(0, 2, 1).reshape(1, 1, n * length, c), dtype=ttnn.bfloat16, device=device)
    out, out_length, [w_dev, b_dev] = ttnn.conv1d(
        input_tensor=xt, weight_tensor=ttnn.from_torch(weight, dtype=ttnn.bfloat16),
        bias_tensor=ttnn.from_torch(bias.reshape(1, 1, 1, o), dtype=ttnn.bfloat16), device=device, in_channels=c,
        out_channels=o, batch_size=n, input_length=length, kernel_size=k, stride=2, padding=(1, 3),
        return_output_dim=True, return_weights_and_bias=True,
    )  # fmt: skip
    ref = torch.nn.functional.conv1d(torch.nn.functional.pad(_bf16(x), (1, 3)), _bf16(weight), _bf16(bias), 2)
    assert out_length == ref.shape[-1] == 20 and out.shape == [1, 1, n * 20, o]
    got = ttnn.to_torch(out).float().reshape(n, out_length, o).permute(0, 2, 1)
    torch.testing.assert_close(got, _bf16(ref), rtol=2**-7, atol=1e-5)
    assert w_dev.layout == ttnn.TILE_LAYOUT and w_dev.shape == [1, 1, k * c, o] and b_dev is not None


def test_conv_transpose2d_matches_torch(device):
    n, c, h, w, o, groups = 2, 16, 5, 6, 32, 2
    x, weight, bias = torch.randn(n, c, h, w), torch.randn(c, o // groups, 3, 3), torch.randn(o)
    xt = ttnn.from_torch(_nhwc_flat(x), dtype=ttnn.bfloat16, device=device)
    out, [ho, wo] = ttnn.conv_transpose2d(
        input_tensor=xt, weight_tensor=ttnn.from_torch(weight, dtype=ttnn.bfloat16),
        bias_tensor=ttnn.from_torch(bias.reshape(1, 1, 1, o), dtype=ttnn.bfloat16), device=device, in_channels=c,
        out_channels=o, batch_size=n, input_height=h, input_width=w, kernel_size=(3, 3), stride=(2, 2),
        padding=(1, 1), output_padding=(1, 0), groups=groups, return_output_dim=True,
    )  # fmt: skip
    ref = torch.nn.functional.conv_transpose2d(
        _bf16(x), _bf16(weight), _bf16(bias), stride=2, padding=1, output_padding=(1, 0), groups=groups
    )
    assert (ho, wo) == tuple(ref.shape[2:]) == (10, 11)
    torch.testing.assert_close(ttnn.to_torch(out).float(), _bf16(_nhwc_flat(ref)), rtol=2**-7, atol=1e-5)
    with pytest.raises(
        TTFatal, match=r"does not match \[in_channels, out_channels / groups, kernel_h, kernel_w\]"
    ):
        ttnn.conv_transpose2d(
            input_tensor=xt, weight_tensor=ttnn.from_torch(torch.randn(o, c, 3, 3), dtype=ttnn.bfloat16),
            device=device, in_channels=c, out_channels=o, batch_size=n, input_height=h, input_width=w,
            kernel_size=(3, 3),
        )  # fmt: skip
