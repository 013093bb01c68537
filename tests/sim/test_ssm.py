"""ttnn.experimental SSM kernels (prefix_scan, repeat_and_interleave_eltwise_mul, hc_sum_reduce) and
ttnn.softplus on the simulator: values against torch, and the device's refusals with ttnn's wording."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import formats
from ttport.sim.rules import TTFatal

exp = ttnn.experimental
E, N = 5120, 32  # the kernels' compiled intermediate size and latent size


def _dev(device, x: torch.Tensor, dtype=None, layout=None, memory_config=None) -> ttnn.Tensor:
    return ttnn.from_torch(
        x,
        dtype=dtype or ttnn.bfloat16,
        layout=layout or ttnn.TILE_LAYOUT,
        device=device,
        memory_config=memory_config,
    )


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def _bf16(x: torch.Tensor) -> torch.Tensor:
    """An input's host rounding (round to nearest even)."""
    return x.to(torch.bfloat16).float()


def _packed(x: torch.Tensor) -> torch.Tensor:
    """An op output's rounding (the packer's)."""
    return formats.round_bfloat16(x, formats.PACKER).float()


def _width_sharded(width: int, rows: int) -> ttnn.MemoryConfig:
    return ttnn.create_sharded_memory_config(
        shape=(1, 1, rows, width), core_grid=ttnn.CoreGrid(y=8, x=8), strategy=ttnn.ShardStrategy.WIDTH
    )


# -- repeat_and_interleave_eltwise_mul ----------------------------------------------------------------------


def test_repeat_and_interleave_repeats_a_and_interleaves_b(device):
    a, b = torch.randn(1, 1, 32, N), torch.randn(1, 1, 32, E)
    out = exp.repeat_and_interleave_eltwise_mul(_dev(device, a), _dev(device, b))
    assert out.shape == [1, 1, 32, N * E] and out.dtype == ttnn.bfloat16
    expected = _packed(_bf16(a).repeat(1, 1, 1, E) * _bf16(b).repeat_interleave(N, dim=-1))
    assert torch.equal(_host(out), expected)


def test_repeat_and_interleave_full_width_operands(device):
    a, b = torch.randn(1, 1, 32, N * E), torch.randn(1, 1, 32, E)
    out = exp.repeat_and_interleave_eltwise_mul(_dev(device, a), _dev(device, b))
    assert torch.equal(_host(out), _packed(_bf16(a) * _bf16(b).repeat_interleave(N, dim=-1)))
    c = torch.randn(1, 1, 32, N)
    out = exp.repeat_and_interleave_eltwise_mul(_dev(device, c), _dev(device, a))
    assert torch.equal(_host(out), _packed(_bf16(c).repeat(1, 1, 1, E) * _bf16(a)))


def test_repeat_and_interleave_output_has_the_padded_rows(device):
    """compute_output_specs sizes the output from the padded shape: 1 logical row -> 32 rows, the padding
    rows computed from the zero tile padding."""
    a, b = torch.randn(1, 1, 1, N), torch.randn(1, 1, 1, E)
    out = exp.repeat_and_interleave_eltwise_mul(_dev(device, a), _dev(device, b))
    assert out.shape == [1, 1, 32, N * E]
    values = _host(out)
    assert torch.equal(
        values[:, :, :1], _packed(_bf16(a).repeat(1, 1, 1, E) * _bf16(b).repeat_interleave(N, -1))
    )
    assert not values[:, :, 1:].any()


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "message"),
    [
        ((1, 1, 32, N), (1, 1, 32, 1024), "Input b width must be 32 or 32*5120!"),
        ((1, 1, 32, 64), (1, 1, 32, E), "Input a width must be 32 or 32*5120!"),
        ((1, 1, 32, N * E), (1, 1, 32, N * E), "Use eltwise mul for same size inputs!"),
        ((1, 1, 64, N), (1, 1, 32, E), "Num of users must match in both of the input!"),
        ((2, 1, 32, N), (1, 1, 32, E), "Batch not supported for input a!"),
    ],
)
def test_repeat_and_interleave_refusals(device, a_shape, b_shape, message):
    with pytest.raises(TTFatal, match=message.replace("*", r"\*").replace("!", "!")):
        exp.repeat_and_interleave_eltwise_mul(
            _dev(device, torch.randn(a_shape)), _dev(device, torch.randn(b_shape))
        )


def test_repeat_and_interleave_refuses_float32_and_row_major(device):
    a, b = torch.randn(1, 1, 32, N), torch.randn(1, 1, 32, E)
    with pytest.raises(TTFatal, match="Unsupported data format for input a!"):
        exp.repeat_and_interleave_eltwise_mul(_dev(device, a, ttnn.float32), _dev(device, b))
    with pytest.raises(TTFatal, match="Inputs to ssm_eltwise_mul must be tilized"):
        exp.repeat_and_interleave_eltwise_mul(_dev(device, a, layout=ttnn.ROW_MAJOR_LAYOUT), _dev(device, b))


# -- hc_sum_reduce ----------------------------------------------------------------------------------------


def test_hc_sum_reduce_sums_groups_of_32(device):
    x = torch.randn(1, 1, 32, N * 64)
    out = exp.hc_sum_reduce(_dev(device, x))
    assert out.shape == [1, 1, 32, 64]
    expected = _packed(_bf16(x).reshape(1, 1, 32, 64, N).sum(-1))
    assert torch.equal(_host(out), expected)


def test_hc_sum_reduce_rules(device):
    with pytest.raises(TTFatal, match="Final dim/TILE_SIZE must be a multiple of latent size!"):
        exp.hc_sum_reduce(_dev(device, torch.randn(1, 1, 32, 64 * 33)))
    with pytest.raises(TTFatal, match="Dim 1 and 2 are expected to be 1 in input a!"):
        exp.hc_sum_reduce(_dev(device, torch.randn(1, 2, 32, 1024)))
    with pytest.raises(TTFatal, match="Inputs to ssm_1d_sum_reduce must be tilized"):
        exp.hc_sum_reduce(_dev(device, torch.randn(1, 1, 32, 1024), layout=ttnn.ROW_MAJOR_LAYOUT))


# -- prefix_scan ------------------------------------------------------------------------------------------


def _scan_inputs(device, seq: int, width: int = 2048):
    a = torch.rand(1, 1, seq, width) * 0.9 + 0.05
    bx = torch.randn(1, 1, seq, width)
    h0 = torch.randn(1, 1, 1, width)
    mc = _width_sharded(width, 32)
    h_mc = _width_sharded(width, 1)
    tensors = (
        _dev(device, a, memory_config=mc),
        _dev(device, bx, memory_config=mc),
        _dev(device, h0, layout=ttnn.ROW_MAJOR_LAYOUT, memory_config=h_mc),
    )
    return (a, bx, h0), tensors


def test_prefix_scan_recurrence_with_bfloat16_steps(device):
    (a, bx, h0), (ta, tbx, th) = _scan_inputs(device, 32)
    out = exp.prefix_scan(ta, tbx, th)
    assert out.shape == [1, 1, 32, 2048] and out.layout == ttnn.TILE_LAYOUT and out.is_sharded()
    h = _bf16(h0[0, 0, 0])
    expected = []
    for t in range(32):
        h = _packed(_packed(_bf16(a[0, 0, t]) * h) + _bf16(bx[0, 0, t]))
        expected.append(h)
    assert torch.equal(_host(out)[0, 0], torch.stack(expected))
    # and it is the SSM recurrence: close to the float32 scan
    h32, ref = h0[0, 0, 0], []
    for t in range(32):
        h32 = a[0, 0, t] * h32 + bx[0, 0, t]
        ref.append(h32)
    assert torch.allclose(_host(out)[0, 0], torch.stack(ref), rtol=0.05, atol=0.05)


def test_prefix_scan_partial_tile_of_rows(device):
    (a, bx, h0), (ta, tbx, th) = _scan_inputs(device, 8)
    out = exp.prefix_scan(ta, tbx, th)
    assert out.shape == [1, 1, 8, 2048]


def test_prefix_scan_requires_sharded_inputs_and_row_major_bf16_state(device):
    (a, bx, h0), (ta, tbx, th) = _scan_inputs(device, 32)
    with pytest.raises(TTFatal, match="Expected input tensors to be sharded"):
        exp.prefix_scan(_dev(device, a), tbx, th)
    with pytest.raises(TTFatal, match="Expected initial hidden state to be row-major"):
        exp.prefix_scan(ta, tbx, _dev(device, h0, memory_config=_width_sharded(2048, 32)))
    with pytest.raises(TTFatal, match="Expected input tensors to have the same shape"):
        other = _dev(device, torch.randn(1, 1, 64, 2048), memory_config=_width_sharded(2048, 64))
        exp.prefix_scan(ta, other, th)
    with pytest.raises(TTFatal, match="Expected input tensors to have the same data type"):
        other = _dev(device, bx, ttnn.bfloat8_b, memory_config=_width_sharded(2048, 32))
        exp.prefix_scan(ta, other, th)


# -- softplus ---------------------------------------------------------------------------------------------


def test_softplus_beta_and_threshold(device):
    x = torch.randn(1, 1, 32, 64) * 8
    for beta, threshold in ((1.0, 20.0), (2.0, 1.0)):
        out = ttnn.softplus(_dev(device, x), beta=beta, threshold=threshold)
        expected = _packed(torch.nn.functional.softplus(_bf16(x), beta=beta, threshold=threshold))
        assert torch.equal(_host(out), expected)


def test_prefix_scan_non_finite_values_round_like_the_packer(device):
    """0 * inf gives NaN (canonical pattern after packing) and inf propagates, as on the general path."""
    (a, bx, h0), (ta, tbx, th) = _scan_inputs(device, 32)
    h0 = h0.clone()
    h0[..., :4] = float("inf")
    a = a.clone()
    a[:, :, 0, :2] = 0.0
    mc, h_mc = _width_sharded(2048, 32), _width_sharded(2048, 1)
    out = _host(
        exp.prefix_scan(
            _dev(device, a, memory_config=mc),
            tbx,
            _dev(device, h0, layout=ttnn.ROW_MAJOR_LAYOUT, memory_config=h_mc),
        )
    )
    h = _bf16(h0[0, 0, 0])
    for t in range(32):
        h = _packed(_packed(_bf16(a[0, 0, t]) * h) + _bf16(bx[0, 0, t]))
    assert torch.isnan(out[0, 0, -1, :2]).all() and torch.isinf(out[0, 0, -1, 2:4]).all()
    assert torch.equal(out[0, 0, -1].nan_to_num(), h.nan_to_num())


# -- the kernels' own packing and partial rows (fast paths: same bits as the general rounding) -------------


def _bits(x: torch.Tensor) -> torch.Tensor:
    """bfloat16 bit patterns (NaN payloads included) of values already rounded to bfloat16."""
    return formats.bfloat16_bits(x.float()).view(torch.int16)


def test_repeat_and_interleave_packs_every_kind_of_product_like_the_packer(device):
    """The op packs its products to bfloat16 itself: ties away from zero, overflow into inf, -0.0 and the
    canonical NaN of inf * 0, bit for bit what quantize(PACKER) gives."""
    a = torch.randn(1, 1, 32, N)
    a[0, 0, 0, :6] = torch.tensor([float("-inf"), float("inf"), 0.0, -0.0, 1.0625, 3e38])
    b = torch.randn(1, 1, 32, E)
    b[0, 0, 0, :4] = torch.tensor([0.0, -2.0, 1.0625, 3e38])  # 1.0625 ** 2 = 1 + 2**-3 + 2**-8: a tie
    out = ttnn.to_torch(exp.repeat_and_interleave_eltwise_mul(_dev(device, a), _dev(device, b)))
    expected = formats.round_bfloat16(
        _bf16(a).repeat(1, 1, 1, E) * _bf16(b).repeat_interleave(N, dim=-1), formats.PACKER
    )
    assert torch.isnan(expected).any() and torch.isinf(expected).any()
    assert torch.equal(out.view(torch.int16), _bits(expected))
    assert out[0, 0, 0, 2 * N + 4].item() == 1.1328125  # the tie 1.12890625 packed away from zero


@pytest.mark.parametrize("wide", ["a", "b"])
def test_repeat_and_interleave_packs_infinities_and_overflow_without_nan_like_the_packer(device, wide):
    """Products with +-inf and finite overflow but no NaN (Mamba's A x delta: -inf on the state padding) are
    packed on the bits; the wide operand (read as stored) may be either input."""
    a = torch.randn(1, 1, 32, N * E if wide == "a" else N)
    b = torch.randn(1, 1, 32, N * E if wide == "b" else E).abs_().add_(0.5)  # no 0: inf * 0 = NaN
    a[0, 0, 0, :5] = torch.tensor([float("-inf"), float("inf"), 3.3e38, -3.3e38, 1.0625])
    b[0, 0, :, :2] = 1.0625  # 1.0625 ** 2: a tie, packed away from zero
    out = ttnn.to_torch(exp.repeat_and_interleave_eltwise_mul(_dev(device, a), _dev(device, b)))
    a_wide = _bf16(a) if wide == "a" else _bf16(a).repeat(1, 1, 1, E)
    b_wide = _bf16(b) if wide == "b" else _bf16(b).repeat_interleave(N, dim=-1)
    expected = formats.round_bfloat16(a_wide * b_wide, formats.PACKER)
    assert not torch.isnan(expected).any() and torch.isinf(expected).sum() >= 4
    assert torch.equal(out.view(torch.int16), _bits(expected))


def test_hc_sum_reduce_of_one_row_has_the_padded_rows(device):
    x = torch.randn(1, 1, 1, N * 64)
    out = exp.hc_sum_reduce(_dev(device, x))
    assert out.shape == [1, 1, 32, 64]
    values = _host(out)
    assert torch.equal(values[:, :, :1], _packed(_bf16(x).reshape(1, 1, 1, 64, N).sum(-1)))
    assert not values[:, :, 1:].any()


def test_prefix_scan_non_finite_from_a_middle_row(device):
    """The rows before the first non-finite one take the fast rounding, the rows from it on the general one:
    every row's bits equal the packer recurrence (NaN canonical)."""
    (a, bx, h0), _ = _scan_inputs(device, 32)
    a, bx = a.clone(), bx.clone()
    bx[0, 0, 10, :2] = float("inf")
    a[0, 0, 11, 0] = 0.0  # 0 * inf: NaN from row 11 on in column 0; inf stays in column 1
    mc, h_mc = _width_sharded(2048, 32), _width_sharded(2048, 1)
    out = exp.prefix_scan(
        _dev(device, a, memory_config=mc),
        _dev(device, bx, memory_config=mc),
        _dev(device, h0, layout=ttnn.ROW_MAJOR_LAYOUT, memory_config=h_mc),
    )
    h, expected = _bf16(h0[0, 0, 0]), []
    for t in range(32):
        h = _packed(_packed(_bf16(a[0, 0, t]) * h) + _bf16(bx[0, 0, t]))
        expected.append(h)
    values = ttnn.to_torch(out)[0, 0]
    assert torch.isnan(values[11:, 0]).all() and torch.isinf(values[10:, 1]).all()
    assert torch.equal(values.view(torch.int16), _bits(torch.stack(expected)))
