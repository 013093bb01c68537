"""Elementwise ops of the simulator against torch, and the binary_ng broadcasting rules by message."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.compare import comp_pcc
from ttport.sim import ttnn
from ttport.sim.numerics import formats, sfpu

BF16_EPS = 2**-7  # relative spacing of bfloat16 values, bounds one output rounding


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


@pytest.mark.parametrize(
    ("op", "ref"),
    [
        (ttnn.add, torch.add),
        (ttnn.subtract, torch.sub),
        (ttnn.multiply, torch.mul),
        (ttnn.divide, torch.div),
        (ttnn.rsub, lambda a, b: b - a),
        (ttnn.maximum, torch.maximum),
        (ttnn.minimum, torch.minimum),
    ],
)
def test_binary_tensor_ops_match_torch(device, op, ref):
    a = _dev(device, torch.randn(2, 50, 70))
    b = _dev(device, torch.rand(2, 50, 70) + 0.5)
    out = op(a, b)
    expected = ref(_host(a), _host(b))
    assert out.shape == [2, 50, 70] and out.padded_shape == [2, 64, 96]
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
    torch.testing.assert_close(_host(out), expected, rtol=BF16_EPS, atol=0)


@pytest.mark.parametrize(
    ("op", "ref"),
    [
        (ttnn.eq, torch.eq),
        (ttnn.ne, torch.ne),
        (ttnn.gt, torch.gt),
        (ttnn.ge, torch.ge),
        (ttnn.lt, torch.lt),
        (ttnn.le, torch.le),
    ],
)
def test_comparisons_give_ones_and_zeros(device, op, ref):
    x = torch.tensor([[-1.0, 0.0, 1.0, 2.0]])
    y = torch.tensor([[0.0, 0.0, 0.0, 3.0]])
    out = op(_dev(device, x), _dev(device, y))
    assert torch.equal(_host(out), ref(x, y).float())
    assert torch.equal(_host(op(_dev(device, x), 0.0)), ref(x, torch.zeros_like(x)).float())


def test_scalar_operand_is_packed_as_bfloat16_for_bfloat16_inputs(device):
    # 1 + 2**-8 rounds to 1.0 as a bfloat16 scalar (binary_ng packs two bf16); float32 keeps it.
    x = torch.full((1, 32), 3.0)
    assert torch.equal(_host(ttnn.multiply(_dev(device, x), 1.0 + 2**-8)), x)
    out32 = ttnn.multiply(_dev(device, x, ttnn.float32), 1.0 + 2**-8)
    assert torch.equal(_host(out32), x * (1.0 + 2**-8))
    assert torch.equal(_host(ttnn.add(_dev(device, x), 2.0)), x + 2.0)
    assert torch.equal(_host(ttnn.pow(_dev(device, x), 2.0)), x * x)


def test_output_is_rounded_by_the_packer(device):
    # 256 + 1 needs 9 significant bits: bfloat16 output rounds the tie away from zero (packer).
    a = _dev(device, torch.full((1, 32), 256.0))
    b = _dev(device, torch.full((1, 32), 1.0))
    assert torch.equal(_host(ttnn.add(a, b)), torch.full((1, 32), 258.0))  # tie away from zero
    assert torch.equal(_host(ttnn.add(a, b, dtype=ttnn.float32)), torch.full((1, 32), 257.0))


def test_numpy_broadcasting_on_logical_shapes(device):
    a = torch.randn(2, 1, 64)
    b = torch.randn(1, 40, 64)
    out = ttnn.add(_dev(device, a), _dev(device, b))
    assert out.shape == [2, 40, 64]
    torch.testing.assert_close(
        _host(out), _host(_dev(device, a)) + _host(_dev(device, b)), rtol=BF16_EPS, atol=0
    )
    row = ttnn.multiply(_dev(device, torch.randn(3, 4, 32, 64)), _dev(device, torch.randn(64)))
    assert row.shape == [3, 4, 32, 64]


def test_position_table_with_a_different_sequence_length_is_refused(device):
    # The seed's bug class: a [1, N, D] position table added to [B, M, D] activations, M != N.
    x = _dev(device, torch.randn(2, 50, 64))
    table = _dev(device, torch.randn(1, 64, 64))
    with pytest.raises(RuntimeError, match="^Invalid subtile broadcast type$"):
        ttnn.add(x, table)
    ok = ttnn.add(x, _dev(device, torch.randn(1, 50, 64)))
    assert ok.shape == [2, 50, 64]


def test_batch_dims_must_broadcast(device):
    with pytest.raises(RuntimeError, match=r"^Broadcasting rule violation for rank -3, dim a: 3, dim b: 2$"):
        ttnn.add(_dev(device, torch.randn(3, 32, 32)), _dev(device, torch.randn(2, 32, 32)))


def test_inputs_must_be_on_device(device):
    host = ttnn.from_torch(torch.randn(1, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    on_dev = _dev(device, torch.randn(1, 32))
    with pytest.raises(
        RuntimeError, match="Input tensor A must be on device, got storage type: StorageType::HOST"
    ):
        ttnn.add(host, on_dev)
    with pytest.raises(
        RuntimeError, match="Input tensor B must be on device, got storage type: StorageType::HOST"
    ):
        ttnn.add(on_dev, host)


def test_output_dtype_layout_and_memory_config(device):
    a = _dev(device, torch.randn(4, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    b32 = _dev(device, torch.randn(4, 32), ttnn.float32, ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.add(a, b32)
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.ROW_MAJOR_LAYOUT  # A's dtype, both ROW_MAJOR
    mixed = ttnn.add(a, _dev(device, torch.randn(4, 32)))
    assert mixed.layout == ttnn.TILE_LAYOUT
    l1 = ttnn.add(a, b32, dtype=ttnn.float32, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert l1.dtype == ttnn.float32 and l1.memory_config() == ttnn.L1_MEMORY_CONFIG
    bfp8 = ttnn.multiply(_dev(device, torch.randn(64, 64)), 2.0, dtype=ttnn.bfloat8_b)
    assert bfp8.dtype == ttnn.bfloat8_b


def test_preallocated_output_tensor(device):
    a = _dev(device, torch.randn(32, 32))
    out = _dev(device, torch.zeros(32, 32))
    result = ttnn.add(a, 1.0, output_tensor=out)
    assert result is out
    assert torch.equal(_host(out), _host(ttnn.add(a, 1.0)))
    with pytest.raises(RuntimeError, match="dtypes should match"):
        ttnn.add(a, 1.0, dtype=ttnn.float32, output_tensor=out)
    with pytest.raises(RuntimeError, match="does not match the broadcasted output shape"):
        ttnn.add(a, 1.0, output_tensor=_dev(device, torch.zeros(32, 64)))


@pytest.mark.parametrize(
    ("op", "ref", "positive"),
    [
        (ttnn.neg, torch.neg, False),
        (ttnn.abs, torch.abs, False),
        (ttnn.square, torch.square, False),
        (ttnn.sin, torch.sin, False),
        (ttnn.cos, torch.cos, False),
        (ttnn.relu, torch.relu, False),
    ],
)
def test_unary_ops_match_torch(device, op, ref, positive):
    x = torch.randn(3, 40, 50)
    x = x.abs() + 0.1 if positive else x
    t = _dev(device, x)
    out = op(t)
    assert out.shape == t.shape and out.dtype == t.dtype and out.layout == t.layout
    torch.testing.assert_close(_host(out), ref(_host(t)).bfloat16().float(), rtol=BF16_EPS, atol=1e-6)


# PCC floors of tt-metal's hardware tests for these ops on torch.rand inputs
# (tests/ttnn/unit_tests/operations/eltwise/test_unary.py: exp 0.9998, gelu 0.9996, sigmoid 0.999,
# run_unary_test's default 0.9999 for the others).
@pytest.mark.parametrize(
    ("op", "kernel", "ref", "pcc"),
    [
        (ttnn.exp, sfpu.exp, torch.exp, 0.9998),
        (ttnn.log, sfpu.log, torch.log, 0.9999),
        (ttnn.sqrt, sfpu.sqrt, torch.sqrt, 0.9999),
        (ttnn.rsqrt, sfpu.rsqrt, torch.rsqrt, 0.9999),
        (ttnn.reciprocal, sfpu.reciprocal, torch.reciprocal, 0.9999),
        (ttnn.tanh, sfpu.tanh, torch.tanh, 0.9999),
        (ttnn.erf, sfpu.erf, torch.erf, 0.9999),
        (ttnn.sigmoid, sfpu.sigmoid, torch.sigmoid, 0.999),
        (ttnn.silu, sfpu.silu, torch.nn.functional.silu, 0.9999),
        (ttnn.gelu, sfpu.gelu, torch.nn.functional.gelu, 0.9996),
    ],
)
@pytest.mark.parametrize("dtype", [ttnn.bfloat16, ttnn.float32])
def test_sfpu_unary_ops_run_the_device_kernel(device, op, kernel, ref, pcc, dtype):
    x = torch.rand(64, 128) + 0.01
    t = _dev(device, x, dtype)
    out = _host(op(t))
    assert out.dtype == torch.float32
    mode = sfpu.Mode(fp32_dest=dtype == ttnn.float32)
    assert torch.equal(out, formats.quantize(sfpu.apply(kernel, _host(t), mode), dtype, formats.PACKER))
    assert comp_pcc(ref(_host(t).double()), out.double(), pcc)[0]


def test_fast_and_approximate_mode_selects_the_approximate_kernels(device):
    t = _dev(device, torch.linspace(-4, 4, 64).reshape(2, 32))
    x = _host(t)
    for op, kernel in ((ttnn.gelu, sfpu.gelu), (ttnn.exp, sfpu.exp), (ttnn.tanh, sfpu.tanh)):
        fast = _host(op(t, fast_and_approximate_mode=True))
        assert torch.equal(fast, sfpu.apply(kernel, x, sfpu.Mode(approx=True)))
        assert not torch.equal(fast, _host(op(t)))
    # The approximate GELU is a 6-piece linear table, within 0.025 of either GELU formula.
    fast = _host(ttnn.gelu(t, fast_and_approximate_mode=True))
    assert (fast - torch.nn.functional.gelu(x, approximate="tanh")).abs().max() < 0.025


def test_sfpu_ops_follow_the_board(open_board):
    """Blackhole's reciprocal starts from SFPARECIP: results differ from Wormhole's in the last bits."""
    x = torch.rand(32, 64) * 10 + 0.1
    on_wh = sfpu.apply(sfpu.reciprocal, x.bfloat16().float(), sfpu.Mode(arch="wormhole_b0"))
    wormhole = open_board("n150")
    assert torch.equal(_host(ttnn.reciprocal(_dev(wormhole, x))), on_wh)
    ttnn.close_device(wormhole)
    on_bh = sfpu.apply(sfpu.reciprocal, x.bfloat16().float(), sfpu.Mode(arch="blackhole"))
    assert torch.equal(_host(ttnn.reciprocal(_dev(open_board("p150"), x))), on_bh)
    assert not torch.equal(on_wh, on_bh)
    assert (on_bh - 1 / x.bfloat16().float()).abs().div(1 / x).max() < 2**-8


def test_where_with_tensors_and_scalars(device):
    cond = torch.tensor([[1.0, 0.0, 2.0, 0.0]])
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    b = torch.tensor([[-1.0, -2.0, -3.0, -4.0]])
    out = ttnn.where(_dev(device, cond), _dev(device, a), _dev(device, b))
    assert torch.equal(_host(out), torch.tensor([[1.0, -2.0, 3.0, -4.0]]))
    out = ttnn.where(_dev(device, cond), _dev(device, a), 0.0)
    assert torch.equal(_host(out), torch.tensor([[1.0, 0.0, 3.0, 0.0]]))
    with pytest.raises(RuntimeError, match="Invalid subtile broadcast type"):
        ttnn.where(_dev(device, torch.ones(5, 4)), _dev(device, torch.ones(3, 8)), 0.0)


def test_every_op_is_counted_once(device):
    a = _dev(device, torch.randn(32, 32))
    device.stats.reset()
    ttnn.relu(ttnn.add(a, a))
    assert sim.stats(device).ops_by_name == {"add": 1, "relu": 1}


def test_integer_tensors_stay_integer(device):
    ids = ttnn.from_torch(torch.arange(8).reshape(1, 8), dtype=ttnn.uint32, device=device)
    out = ttnn.add(ids, 3.0)
    assert out.dtype == ttnn.uint32 and out.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(ttnn.to_torch(out).long(), torch.arange(3, 11).reshape(1, 8))
