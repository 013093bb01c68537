"""Data-movement ops of the simulator against torch, and their rules by error type and message."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.numerics import formats
from ttport.sim.rules import TTFatal


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).float()


# -- reshape family -----------------------------------------------------------------------------------


def test_reshape_keeps_values_layout_and_pads_the_new_shape(device):
    x = torch.randn(2, 3, 40, 64)
    out = ttnn.reshape(_dev(device, x), (6, -1, 32))
    assert out.shape == [6, 80, 32] and out.padded_shape == [6, 96, 32]
    assert out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat16
    assert torch.equal(_host(out), _bf16(x).reshape(6, 80, 32))
    assert sim.stats(device).ops_by_name["reshape"] == 1


def test_reshape_method_and_host_tensor_stay_on_their_storage(device):
    x = torch.randn(4, 8)
    host = ttnn.from_torch(x, dtype=ttnn.float32)
    out = ttnn.reshape(host, [2, 16])
    assert out.storage_type() == ttnn.StorageType.HOST and torch.equal(ttnn.to_torch(out), x.reshape(2, 16))
    dev = _dev(device, x).reshape(8, 4)
    assert dev.storage_type() == ttnn.StorageType.DEVICE and torch.equal(_host(dev), _bf16(x).reshape(8, 4))


@pytest.mark.parametrize(
    ("shape", "message"),
    [((5, 5), "Invalid arguments to reshape"), ((-1, 7), "Invalid arguments to reshape"), ((-1, -1), "-1")],
)
def test_reshape_rejects_bad_shapes(device, shape, message):
    with pytest.raises(TTFatal, match=message):
        ttnn.reshape(_dev(device, torch.randn(4, 8)), shape)


def test_squeeze_and_unsqueeze_follow_torch(device):
    x = torch.randn(1, 3, 1, 32)
    t = _dev(device, x)
    assert ttnn.squeeze(t, 0).shape == [3, 1, 32]
    assert ttnn.squeeze(t, 1).shape == [1, 3, 1, 32]  # not size 1: unchanged, like torch
    assert ttnn.squeeze(t).shape == [3, 32]
    assert ttnn.unsqueeze(t, -1).shape == [1, 3, 1, 32, 1]
    assert torch.equal(_host(ttnn.unsqueeze(t, 0)), _bf16(x).unsqueeze(0))
    with pytest.raises(TTFatal, match="out of range"):
        ttnn.unsqueeze(t, 6)


# -- permutations -------------------------------------------------------------------------------------


def test_permute_and_transpose_match_torch(device):
    x = torch.randn(2, 3, 40, 50)
    t = _dev(device, x)
    p = ttnn.permute(t, (0, 2, 1, 3))
    assert p.shape == [2, 40, 3, 50] and p.padded_shape == [2, 40, 32, 64] and p.layout == ttnn.TILE_LAYOUT
    assert torch.equal(_host(p), _bf16(x).permute(0, 2, 1, 3))
    tr = ttnn.transpose(t, -2, -1)
    assert tr.shape == [2, 3, 50, 40] and torch.equal(_host(tr), _bf16(x).transpose(-2, -1))


def test_permute_requantizes_block_float_along_the_new_rows(device):
    # bfloat8_b shares one exponent per 16 values of a row: transposing regroups the values.
    x = torch.randn(1, 1, 32, 32) * torch.logspace(-3, 3, 32)
    t = _dev(device, x, dtype=ttnn.bfloat8_b)
    out = ttnn.transpose(t, -2, -1)
    assert out.dtype == ttnn.bfloat8_b
    expected = formats.quantize(_host(t).transpose(-2, -1), ttnn.bfloat8_b, formats.PACKER)
    assert torch.equal(_host(out), expected)
    assert not torch.equal(expected, _host(t).transpose(-2, -1))


def test_permute_rejects_a_wrong_ordering(device):
    t = _dev(device, torch.randn(2, 3, 4))
    with pytest.raises(TTFatal, match="does not match the length of the desired ordering"):
        ttnn.permute(t, (1, 0))
    with pytest.raises(TTFatal, match="not a permutation"):
        ttnn.permute(t, (0, 0, 1))


# -- concat / split -----------------------------------------------------------------------------------


def test_concat_matches_torch_on_any_dim(device):
    a, b = torch.randn(1, 2, 50, 64), torch.randn(1, 2, 14, 64)
    out = ttnn.concat([_dev(device, a), _dev(device, b)], dim=-2)
    assert out.shape == [1, 2, 64, 64] and out.layout == ttnn.TILE_LAYOUT
    assert torch.equal(_host(out), torch.cat([_bf16(a), _bf16(b)], dim=-2))
    assert ttnn.concat([_dev(device, a)] * 3, 1).shape == [1, 6, 50, 64]


def test_concat_rules(device):
    a = _dev(device, torch.randn(2, 32, 64))
    with pytest.raises(TTFatal, match="All Tensors should have same layouts."):
        ttnn.concat([a, _dev(device, torch.randn(2, 32, 64), layout=ttnn.ROW_MAJOR_LAYOUT)], dim=0)
    with pytest.raises(TTFatal, match="All Tensors should have same dtypes."):
        ttnn.concat([a, _dev(device, torch.randn(2, 32, 64), dtype=ttnn.float32)], dim=0)
    with pytest.raises(TTFatal, match="Input tensor ranks must be equal"):
        ttnn.concat([a, _dev(device, torch.randn(32, 64))], dim=0)
    with pytest.raises(TTFatal, match="concat tensors differ in shape across non-concat dimensions."):
        ttnn.concat([a, _dev(device, torch.randn(2, 32, 32))], dim=0)
    with pytest.raises(TTFatal, match="dim specified is larger than input tensor rank"):
        ttnn.concat([a, a], dim=3)
    with pytest.raises(TTFatal, match="need 1 or more tensors"):
        ttnn.concat([], dim=0)
    with pytest.raises(TTFatal, match="must be on device"):
        ttnn.concat([ttnn.from_torch(torch.randn(2, 32, 64), dtype=ttnn.bfloat16)], dim=0)


def test_split_and_chunk_follow_torch(device):
    x = torch.randn(1, 1, 32, 96)
    t = _dev(device, x)
    parts = ttnn.split(t, 40, dim=-1)
    assert [p.shape[-1] for p in parts] == [40, 40, 16]
    for got, want in zip(parts, torch.split(_bf16(x), 40, dim=-1), strict=True):
        assert torch.equal(_host(got), want)
    assert [p.shape[-1] for p in ttnn.split(t, [32, 64], dim=3)] == [32, 64]
    chunks = ttnn.chunk(t, 3, dim=-1)
    assert len(chunks) == 3 and torch.equal(_host(chunks[2]), _bf16(x)[..., 64:])
    with pytest.raises(TTFatal, match="do not add up"):
        ttnn.split(t, [32, 32], dim=3)


# -- slice / getitem ----------------------------------------------------------------------------------


def test_slice_matches_python_slicing(device):
    x = torch.randn(2, 3, 64, 64)
    t = _dev(device, x)
    out = ttnn.slice(t, [0, 1, 8, -40], [2, 3, 50, 64], [1, 1, 2, 3])
    assert out.layout == ttnn.TILE_LAYOUT
    assert torch.equal(_host(out), _bf16(x)[0:2, 1:3, 8:50:2, -40::3])
    host = ttnn.slice(ttnn.from_torch(x, dtype=ttnn.float32), [0, 0, 0, 0], [1, 1, 5, 6])
    assert host.storage_type() == ttnn.StorageType.HOST and torch.equal(
        ttnn.to_torch(host), x[:1, :1, :5, :6]
    )


def test_slice_rules(device):
    t = _dev(device, torch.randn(4, 64))
    with pytest.raises(TTFatal, match="must each have 2 entries"):
        ttnn.slice(t, [0], [2])
    with pytest.raises(TTFatal, match="step must be positive"):
        ttnn.slice(t, [0, 0], [4, 64], [1, -1])


def test_getitem_slices_and_squeezes_integer_indices(device):
    x = torch.randn(2, 3, 40, 64)
    t = _dev(device, x)
    assert torch.equal(_host(t[1]), _bf16(x)[1])
    assert torch.equal(_host(t[:, 1:, ..., :32]), _bf16(x)[:, 1:, ..., :32])
    assert torch.equal(_host(t[0, -1, 5:9]), _bf16(x)[0, -1, 5:9])
    assert torch.equal(_host(t[..., ::2]), _bf16(x)[..., ::2])
    with pytest.raises(IndexError, match="Too many indices"):
        t[0, 0, 0, 0, 0]
    with pytest.raises(IndexError, match="out of bounds"):
        t[2]
    host = ttnn.from_torch(x, dtype=ttnn.float32)
    with pytest.raises(RuntimeError, match="Host tensors cannot be accessed with non-unit stride"):
        host[..., ::2]


def test_getitem_is_an_operator_refused_in_strict_mode(device):
    t = _dev(device, torch.randn(2, 32))
    sim.set_strict(True)
    with pytest.raises(RuntimeError, match="strict mode"):
        t[0]


# -- pad / repeat / expand ----------------------------------------------------------------------------


def test_pad_matches_torch(device):
    x = torch.randn(1, 2, 30, 40)
    rm = ttnn.ROW_MAJOR_LAYOUT  # front padding: ROW_MAJOR only (TILE refuses it, test_pad_tile_front_padding)
    out = ttnn.pad(_dev(device, x, layout=rm), [(0, 0), (0, 1), (1, 1), (0, 24)], value=-2.0)
    expected = torch.nn.functional.pad(_bf16(x), (0, 24, 1, 1, 0, 1), value=-2.0)
    assert out.shape == [1, 3, 32, 64] and torch.equal(_host(out), expected)
    short = ttnn.pad(_dev(device, x, layout=rm), [(2, 0)], value=0.0)  # a shorter list pads the trailing dims
    assert short.shape == [1, 2, 30, 42] and torch.equal(_host(short)[..., 2:], _bf16(x))


def test_pad_rules(device):
    with pytest.raises(TTFatal, match="can't be larger than input tensor rank"):
        ttnn.pad(_dev(device, torch.randn(4, 4)), [(0, 0)] * 3, value=0.0)
    with pytest.raises(TTFatal, match="lower 3 dimensions"):
        ttnn.pad(
            _dev(device, torch.randn(1, 1, 2, 4, 4), layout=ttnn.ROW_MAJOR_LAYOUT),
            [(0, 0), (1, 0), (0, 0), (0, 0), (0, 0)],
            value=0.0,
        )


def test_repeat_expand_and_repeat_interleave_match_torch(device):
    x = torch.randn(1, 2, 1, 32)
    t = _dev(device, x)
    assert torch.equal(_host(ttnn.repeat(t, [2, 1, 3, 1])), _bf16(x).repeat(2, 1, 3, 1))
    assert torch.equal(_host(ttnn.expand(t, [3, -1, 5, 32])), _bf16(x).expand(3, 2, 5, 32))
    assert torch.equal(_host(ttnn.repeat_interleave(t, 2, dim=1)), _bf16(x).repeat_interleave(2, dim=1))
    with pytest.raises(TTFatal, match="only size-1 dims can be expanded"):
        ttnn.expand(t, [1, 4, 1, 32])
    with pytest.raises(TTFatal, match="at least as many entries"):
        ttnn.repeat(t, [2, 2])


# -- layout conversions -------------------------------------------------------------------------------


def test_tilize_and_untilize_switch_layouts(device):
    x = torch.randn(1, 1, 64, 32)
    rm = _dev(device, x, layout=ttnn.ROW_MAJOR_LAYOUT)
    tiled = ttnn.tilize(rm, dtype=ttnn.bfloat8_b)
    assert tiled.layout == ttnn.TILE_LAYOUT and tiled.dtype == ttnn.bfloat8_b
    assert torch.equal(_host(tiled), formats.quantize(_bf16(x), ttnn.bfloat8_b, formats.PACKER))
    back = ttnn.untilize(tiled)
    assert back.layout == ttnn.ROW_MAJOR_LAYOUT and back.dtype == ttnn.bfloat16
    assert torch.equal(_host(back), _host(tiled))
    with pytest.raises(TTFatal, match="Can only tilize row major data"):
        ttnn.tilize(tiled)
    with pytest.raises(TTFatal, match="Can only untilize tile major data"):
        ttnn.untilize(rm)
    with pytest.raises(TTFatal, match="tile aligned"):
        ttnn.tilize(_dev(device, torch.randn(1, 1, 30, 32), layout=ttnn.ROW_MAJOR_LAYOUT))
