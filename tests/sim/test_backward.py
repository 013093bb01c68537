"""Elementwise backward ops (unary_backward / binary_backward) against analytic derivatives."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.rules import TTFatal

G = torch.Generator().manual_seed(3)
X = torch.rand(1, 1, 32, 64, generator=G) + 0.5  # (0.5, 1.5): every forward below is smooth there
Y = torch.rand(1, 1, 32, 64, generator=G) + 0.5
GRAD = torch.randn(1, 1, 32, 64, generator=G)

DERIVATIVES = {
    "exp_bw": lambda x: torch.exp(x),
    "log_bw": lambda x: 1 / x,
    "sqrt_bw": lambda x: 0.5 / torch.sqrt(x),
    "tanh_bw": lambda x: 1 - torch.tanh(x) ** 2,
    "sigmoid_bw": lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x)),
    "silu_bw": lambda x: torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x))),
    "reciprocal_bw": lambda x: -1 / x**2,
    "square_bw": lambda x: 2 * x,
    "sin_bw": torch.cos,
    "atan_bw": lambda x: 1 / (1 + x**2),
    "neg_bw": lambda x: -torch.ones_like(x),
    "relu_bw": lambda x: torch.ones_like(x),
    "floor_bw": torch.zeros_like,
    "lgamma_bw": torch.digamma,
    "i0_bw": torch.special.i1,
    "acosh_bw": lambda x: 1 / torch.sqrt((x + 1) ** 2 - 1),  # on x + 1 (see the test)
}


def _dev(device, x):
    return ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_unary_backward_is_grad_times_derivative(device, name):
    x = X + 1 if name == "acosh_bw" else X  # acosh needs x > 1
    out = getattr(ttnn, name)(_dev(device, GRAD), _dev(device, x))
    assert isinstance(out, list) and len(out) == 1
    torch.testing.assert_close(ttnn.to_torch(out[0]), GRAD * DERIVATIVES[name](X), rtol=1e-5, atol=1e-6)


def test_backward_ops_with_parameters(device):
    g, x = _dev(device, GRAD), _dev(device, X - 1)  # (-0.5, 0.5)
    [out] = ttnn.leaky_relu_bw(g, x, negative_slope=0.2)
    torch.testing.assert_close(ttnn.to_torch(out), GRAD * torch.where(X - 1 > 0, 1.0, 0.2))
    [out] = ttnn.hardtanh_bw(g, x, min=-0.25, max=0.25)
    torch.testing.assert_close(ttnn.to_torch(out), GRAD * ((X - 1).abs() < 0.25).float())
    [out] = ttnn.pow_bw(g, _dev(device, X), 3.0)
    torch.testing.assert_close(ttnn.to_torch(out), GRAD * 3 * X**2, rtol=1e-5, atol=1e-5)
    [out] = ttnn.prod_bw(_dev(device, GRAD[..., :1]), _dev(device, X), dim=3)
    expected = GRAD[..., :1] * X.prod(3, keepdim=True) / X
    torch.testing.assert_close(ttnn.to_torch(out), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(TypeError, match="exponent"):
        ttnn.pow_bw(g, x)


def test_binary_backward_returns_both_gradients(device):
    g, x, y = _dev(device, GRAD), _dev(device, X), _dev(device, Y)
    ga, gb = ttnn.mul_bw(g, x, y)
    torch.testing.assert_close(ttnn.to_torch(ga), GRAD * Y)
    torch.testing.assert_close(ttnn.to_torch(gb), GRAD * X)
    ga, gb = ttnn.div_bw(g, x, y)
    torch.testing.assert_close(ttnn.to_torch(ga), GRAD / Y)
    torch.testing.assert_close(ttnn.to_torch(gb), -GRAD * X / Y**2)
    ga, gb = ttnn.atan2_bw(g, x, y)
    torch.testing.assert_close(ttnn.to_torch(ga), GRAD * Y / (X**2 + Y**2))
    torch.testing.assert_close(ttnn.to_torch(gb), -GRAD * X / (X**2 + Y**2))
    [scalar_grad] = ttnn.mul_bw(g, x, 3.0)
    torch.testing.assert_close(ttnn.to_torch(scalar_grad), GRAD * 3.0)


def test_required_outputs_and_preallocated_grads(device):
    g, x, y = _dev(device, GRAD), _dev(device, X), _dev(device, Y)
    only_other = ttnn.sub_bw(g, x, y, are_required_outputs=[False, True])
    assert only_other[0] is None and torch.equal(ttnn.to_torch(only_other[1]), -GRAD)
    out = _dev(device, torch.zeros_like(X))
    [result] = ttnn.exp_bw(g, x, input_grad=out)
    assert result is out and torch.equal(ttnn.to_torch(out), GRAD * torch.exp(X))
    row = _dev(device, Y[..., :1, :])
    _, g_row = ttnn.add_bw(g, x, row)  # a broadcast input gets its gradient summed back to its shape
    assert g_row.shape == [1, 1, 1, 64] and torch.allclose(ttnn.to_torch(g_row), GRAD.sum(-2, keepdim=True))
    with pytest.raises(TTFatal, match="Incorrect rounding mode"):
        ttnn.div_bw(g, x, 2.0, "ceil")
    with pytest.raises(TypeError, match="input_grad"):
        ttnn.abs_bw(g, x, input_grad=out)


def test_structural_backward_ops(device):
    g, x, y = _dev(device, GRAD), _dev(device, X), _dev(device, Y)
    ga, gb = ttnn.addalpha_bw(g, x, y, 0.5)
    assert torch.equal(ttnn.to_torch(ga), GRAD) and torch.equal(ttnn.to_torch(gb), GRAD * 0.5)
    ga, gb = ttnn.rsub_bw(g, x, y)
    assert torch.equal(ttnn.to_torch(ga), -GRAD) and torch.equal(ttnn.to_torch(gb), GRAD)
    ga, gb = ttnn.concat_bw(_dev(device, torch.cat([GRAD, 2 * GRAD], 3)), x, y, 3)
    assert torch.equal(ttnn.to_torch(ga), GRAD) and torch.equal(ttnn.to_torch(gb), 2 * GRAD)
    [gr] = ttnn.repeat_bw(_dev(device, torch.cat([GRAD, GRAD], 0)), x, [2, 1, 1, 1])
    assert torch.equal(ttnn.to_torch(gr), 2 * GRAD)
    [gf] = ttnn.fill_bw(g, x)
    assert not ttnn.to_torch(gf).any()  # fill's output does not depend on its input
    [ga] = ttnn.assign_bw(g, x)
    assert torch.equal(ttnn.to_torch(ga), GRAD)
