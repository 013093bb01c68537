"""Overloads and keywords of existing ops that real model code and tt-metal's tests use: reshape with a padded
shape, both pad forms and the TILE front-padding rule, untilize_with_unpadding, fill_implicit_tile_padding,
reduction keywords, the softmax variants."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.rules import TTFatal


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).float()


def test_reshape_with_logical_and_padded_shape(device):
    x = torch.randn(1, 1, 7, 64)
    out = ttnn.reshape(_dev(device, x), [1, 7, 64], [1, 32, 64])
    assert out.shape == [1, 7, 64] and out.padded_shape == [1, 32, 64]
    assert torch.equal(_host(out), _bf16(x).reshape(1, 7, 64))
    by_keyword = ttnn.reshape(_dev(device, x), logical_shape=[1, 7, 64], padded_shape=[1, 32, 64])
    assert by_keyword.shape == [1, 7, 64]
    with pytest.raises(TTFatal, match="does not cover logical shape"):
        ttnn.reshape(_dev(device, x), [1, 7, 64], [1, 4, 64])


def test_pad_with_output_padded_shape_and_start(device):
    x = torch.randn(1, 2, 30, 40)
    rm = _dev(device, x, layout=ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.pad(rm, [1, 3, 32, 64], [0, 1, 2, 0], -1.0)
    assert torch.equal(_host(out), torch.nn.functional.pad(_bf16(x), (0, 24, 2, 0, 1, 0), value=-1.0))
    by_keyword = ttnn.pad(rm, output_padded_shape=[1, 2, 32, 64], input_tensor_start=[0, 0, 0, 0], value=0.0)
    assert by_keyword.shape == [1, 2, 32, 64]
    tiled = ttnn.pad(_dev(device, x), [1, 2, 32, 64], [0, 0, 0, 0], 0.0)  # end padding is fine on TILE
    assert torch.equal(_host(tiled), torch.nn.functional.pad(_bf16(x), (0, 24, 0, 2)))


def test_pad_refuses_front_padding_of_a_tile_tensor_on_device(device):
    tiled = _dev(device, torch.randn(32, 64))
    with pytest.raises(TTFatal, match="ttnn.pad: on device tile padding does not support front padding"):
        ttnn.pad(tiled, padding=((1, 0), (0, 0)), value=0.0)
    with pytest.raises(TTFatal, match="on device tile padding does not support front padding"):
        ttnn.pad(tiled, [33, 64], [1, 0], 0.0)
    host = ttnn.from_torch(torch.randn(32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    assert ttnn.pad(host, ((1, 0), (0, 0)), 0.0).shape == [33, 64]  # host padding has no such limit


def test_untilize_with_unpadding_keeps_the_inclusive_end(device):
    x = torch.randn(1, 1, 64, 96)
    out = ttnn.untilize_with_unpadding(_dev(device, x), [0, 0, 49, 69])
    assert out.shape == [1, 1, 50, 70] and out.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(_host(out), _bf16(x)[..., :50, :70])
    with pytest.raises(TTFatal, match="Can only untilize tile major data"):
        ttnn.untilize_with_unpadding(_dev(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), [0, 0, 1, 1])
    with pytest.raises(TTFatal, match="must index inside the input shape"):
        ttnn.untilize_with_unpadding(_dev(device, x), [0, 0, 64, 1])


def test_fill_implicit_tile_padding_keeps_the_logical_values(device):
    x = torch.randn(1, 1, 50, 70)
    out = ttnn.fill_implicit_tile_padding(_dev(device, x), 3.0)
    assert out.padded_shape == [1, 1, 64, 96] and torch.equal(_host(out), _bf16(x))
    assert sim.stats(device).ops_by_name["fill_implicit_tile_padding"] == 1


def test_reduction_keywords(device):
    x = torch.randn(1, 1, 32, 64)
    t = _dev(device, x)
    assert torch.equal(
        _host(ttnn.max(t, -1, True, fast_and_approximate_mode=True)), _bf16(x).amax(-1, keepdim=True)
    )
    summed = ttnn.sum(t, dim=-1, keepdim=True, output_layout=ttnn.ROW_MAJOR_LAYOUT)
    assert summed.layout == ttnn.ROW_MAJOR_LAYOUT
    with pytest.raises(TypeError, match="output_layout"):
        ttnn.max(t, -1, output_layout=ttnn.ROW_MAJOR_LAYOUT)
    rm = _dev(device, x, layout=ttnn.ROW_MAJOR_LAYOUT)
    assert torch.equal(ttnn.to_torch(ttnn.argmax(rm, 3)).long(), torch.argmax(_bf16(x), 3))  # dim positional


def test_scale_mask_softmax(device):
    x, mask = torch.randn(2, 4, 32, 64), torch.randn(2, 1, 1, 64)
    out = ttnn.scale_mask_softmax(_dev(device, x), 0.5, _dev(device, mask))
    expected = torch.softmax(_bf16(x) * 0.5 + _bf16(mask), dim=-1)
    torch.testing.assert_close(_host(out), expected, rtol=2**-7, atol=2**-9)
    rm_mask = _dev(device, mask.reshape(2, 1, 2, 32), layout=ttnn.ROW_MAJOR_LAYOUT)  # [B, 1, W/32, 32] form
    torch.testing.assert_close(
        _host(ttnn.scale_mask_softmax(_dev(device, x), 0.5, rm_mask)), expected, rtol=2**-7, atol=2**-9
    )
    causal = torch.triu(torch.full((32, 64), -1e4), 1).reshape(1, 1, 32, 64)
    out = ttnn.scale_mask_softmax(_dev(device, x), None, _dev(device, causal), is_causal_mask=True)
    torch.testing.assert_close(
        _host(out), torch.softmax(_bf16(x) + _bf16(causal), -1), rtol=2**-7, atol=2**-9
    )
    with pytest.raises(TTFatal, match="mask must be"):
        ttnn.scale_mask_softmax(_dev(device, x), 1.0, _dev(device, torch.randn(2, 1, 32, 64)))


def test_in_place_softmax_variants_write_their_input(device):
    x = torch.randn(1, 2, 32, 64)
    t = _dev(device, x)
    assert ttnn.softmax_in_place(t) is t
    torch.testing.assert_close(_host(t), torch.softmax(_bf16(x), -1), rtol=2**-7, atol=2**-9)
    t = _dev(device, x)
    config = ttnn.SoftmaxDefaultProgramConfig()
    assert ttnn.scale_mask_softmax_in_place(t, 2.0, program_config=config) is t
    torch.testing.assert_close(_host(t), torch.softmax(_bf16(x) * 2.0, -1), rtol=2**-7, atol=2**-9)
