"""The unary / binary elementwise family of ttnn 0.81.1 against torch, with ttnn's keywords, and the rules
of the overloads (scalar base, in-place, rounding modes)."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.rules import TTFatal


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.float32, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


X = torch.randn(1, 1, 32, 64, generator=torch.Generator().manual_seed(0))
POS = torch.rand(1, 1, 32, 64, generator=torch.Generator().manual_seed(1)) * 3 + 0.1
UNIT = torch.rand(1, 1, 32, 64, generator=torch.Generator().manual_seed(2)) * 1.8 - 0.9

# name -> (input, call args, independent torch reference)
UNARY_CASES = {
    "i0": (X, (), lambda x: torch.special.i0(x)),
    "lgamma": (POS, (), torch.lgamma),
    "log10": (POS, (), torch.log10),
    "log1p": (POS, (), torch.log1p),
    "log2": (POS, (), torch.log2),
    "cbrt": (X, (), lambda x: torch.sign(x) * x.abs() ** (1 / 3)),
    "erfc": (X, (), torch.erfc),
    "erfinv": (UNIT, (), torch.erfinv),
    "exp2": (X, (), lambda x: 2.0**x),
    "expm1": (X, (), torch.expm1),
    "mish": (X, (), lambda x: x * torch.tanh(torch.log1p(torch.exp(x)))),
    "sign": (X, (), torch.sign),
    "gtz": (X, (), lambda x: (x > 0).float()),
    "ltz": (X, (), lambda x: (x < 0).float()),
    "gez": (X.clamp(min=0), (), lambda x: (x >= 0).float()),
    "lez": (X.clamp(max=0), (), lambda x: (x <= 0).float()),
    "eqz": (X.clamp(min=0), (), lambda x: (x == 0).float()),
    "nez": (X.clamp(min=0), (), lambda x: (x != 0).float()),
    "sigmoid_accurate": (X, (), lambda x: 1 / (1 + torch.exp(-x))),
    "tan": (UNIT, (), torch.tan),
    "asin": (UNIT, (), torch.asin),
    "atanh": (UNIT, (), torch.atanh),
    "softsign": (X, (), lambda x: x / (1 + x.abs())),
    "hardswish": (X, (), lambda x: x * (x + 3).clamp(0, 6) / 6),
    "leaky_relu": (X, (0.1,), lambda x: torch.where(x > 0, x, 0.1 * x)),
    "threshold": (X, (0.25, -3.0), lambda x: torch.where(x > 0.25, x, torch.tensor(-3.0))),
    "relu_max": (X, (0.5,), lambda x: x.clamp(0, 0.5)),
    "relu_min": (X, (0.5,), lambda x: x.clamp(min=0.5)),
    "rpow": (X, (2.0,), lambda x: 2.0**x),
    "rdiv": (POS, (3.0,), lambda x: 3.0 / x),
    "heaviside": (X.clamp(min=0), (0.5,), lambda x: torch.where(x == 0, 0.5, (x > 0).float())),
    "fill": (X, (4.0,), lambda x: torch.full_like(x, 4.0)),
    "polygamma": (POS, (1,), lambda x: torch.special.polygamma(1, x)),
    "softcap": (X, (2.0,), lambda x: 2.0 * torch.tanh(x / 2.0)),
}


@pytest.mark.parametrize("name", sorted(UNARY_CASES))
def test_unary_op_matches_torch(device, name):
    x, args, reference = UNARY_CASES[name]
    out = getattr(ttnn, name)(_dev(device, x), *args)
    assert out.shape == list(x.shape) and out.dtype == ttnn.float32
    torch.testing.assert_close(_host(out), reference(x), rtol=2e-5, atol=1e-5)
    assert sim.stats(device).ops_by_name[name] == 1


def test_unary_keywords_follow_ttnn(device):
    t = _dev(device, X)
    torch.testing.assert_close(_host(ttnn.hardtanh(t, min_val=-0.5, max_val=0.25)), X.clamp(-0.5, 0.25))
    torch.testing.assert_close(_host(ttnn.tril(t, diagonal=1)), torch.tril(X, 1))
    torch.testing.assert_close(_host(ttnn.triu(t)), torch.triu(X))
    torch.testing.assert_close(
        _host(ttnn.softplus(t, beta=2.0, threshold=10.0)), torch.nn.functional.softplus(X, 2.0, 10.0)
    )
    torch.testing.assert_close(_host(ttnn.elu(t, alpha=0.5)), torch.nn.functional.elu(X, 0.5))
    torch.testing.assert_close(
        _host(ttnn.log10(_dev(device, POS), fast_and_approximate_mode=True)), torch.log10(POS)
    )
    torch.testing.assert_close(
        _host(ttnn.rdiv(_dev(device, POS), 3.0, rounding_mode="floor")), torch.floor(3.0 / POS)
    )
    out = _dev(device, torch.zeros_like(X))
    assert ttnn.i0(t, output_tensor=out) is out
    torch.testing.assert_close(_host(out), torch.special.i0(X), rtol=2e-5, atol=1e-5)
    with pytest.raises(TypeError, match="negative_slope"):
        ttnn.leaky_relu(t)
    with pytest.raises(TypeError, match="min_value"):
        ttnn.hardtanh(t, min_value=0.0)
    with pytest.raises(TypeError):
        ttnn.tril(t, output_tensor=out)  # tril has no output_tensor in ttnn 0.81.1


def test_glu_family_halves_the_last_dim(device):
    x = torch.randn(1, 1, 32, 128)
    a, b = x.chunk(2, dim=-1)
    torch.testing.assert_close(_host(ttnn.swiglu(_dev(device, x))), a * torch.nn.functional.silu(b))
    torch.testing.assert_close(_host(ttnn.glu(_dev(device, x), -1)), a * torch.sigmoid(b))
    with pytest.raises(TTFatal, match="multiple of 64"):
        ttnn.reglu(_dev(device, torch.randn(1, 1, 32, 96)))


def test_unary_chain_and_logical_not_in_place(device):
    t = _dev(device, X)
    chain = [ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU), ttnn.UnaryWithParam(ttnn.UnaryOpType.EXP)]
    torch.testing.assert_close(_host(ttnn.unary_chain(t, chain)), torch.exp(torch.relu(X)))
    z = _dev(device, X.clamp(min=0))
    assert ttnn.logical_not_(z) is z
    assert torch.equal(_host(z), (X.clamp(min=0) == 0).float())


# -- binary ------------------------------------------------------------------------------------------------


def test_pow_with_a_scalar_base(device):
    t = _dev(device, X)
    torch.testing.assert_close(_host(ttnn.pow(2.0, t)), 2.0**X)
    torch.testing.assert_close(_host(ttnn.pow(_dev(device, POS), t)), POS**X)
    torch.testing.assert_close(_host(ttnn.pow(_dev(device, POS), 0.5)), POS**0.5)


def test_aliases_and_scalar_first_operands(device):
    a, b = _dev(device, X), _dev(device, POS)
    torch.testing.assert_close(_host(ttnn.mul(a, b)), X * POS)
    torch.testing.assert_close(_host(ttnn.sub(a, b)), X - POS)
    torch.testing.assert_close(_host(ttnn.div(a, b)), X / POS)
    torch.testing.assert_close(
        _host(ttnn.div(a, b, rounding_mode="trunc")), torch.div(X, POS, rounding_mode="trunc")
    )
    torch.testing.assert_close(_host(ttnn.add(1.5, b)), POS + 1.5)
    with pytest.raises(TTFatal, match="Incorrect rounding mode"):
        ttnn.divide(a, b, rounding_mode="ceil")


def test_binary_family_matches_torch(device):
    a, b = _dev(device, X), _dev(device, POS)
    cases = {
        "squared_difference": (X - POS) ** 2,
        "logaddexp": torch.logaddexp(X, POS),
        "logaddexp2": torch.logaddexp2(X, POS),
        "xlogy": torch.xlogy(X, POS),
        "remainder": torch.remainder(X, POS),
        "fmod": torch.fmod(X, POS),
        "atan2": torch.atan2(X, POS),
        "hypot": torch.hypot(X, POS),
        "logical_and": ((X != 0) & (POS != 0)).float(),
        "ldexp": X * 2.0**POS,
        "bias_gelu": torch.nn.functional.gelu(X + POS),
    }
    for name, expected in cases.items():
        torch.testing.assert_close(_host(getattr(ttnn, name)(a, b)), expected, rtol=2e-5, atol=1e-5, msg=name)
    torch.testing.assert_close(_host(ttnn.addalpha(a, b, 0.5)), X + 0.5 * POS)
    torch.testing.assert_close(_host(ttnn.polyval(a, [2.0, -1.0, 3.0])), 2 * X * X - X + 3)
    assert torch.equal(_host(ttnn.isclose(a, a)), torch.ones_like(X))
    assert torch.equal(_host(ttnn.isclose(a, b)), torch.isclose(X, POS).float())


def test_in_place_binary_ops_write_input_a(device):
    a, b = _dev(device, X), _dev(device, POS)
    assert ttnn.add_(a, b) is a
    torch.testing.assert_close(_host(a), X + POS)
    ttnn.multiply_(a, 2.0)
    torch.testing.assert_close(_host(a), (X + POS) * 2)
    row = _dev(device, X[..., :1, :])
    with pytest.raises(TTFatal, match=r"Shape of Output tensor \[1, 1, 1, 64\] provided does not match"):
        ttnn.add_(row, b)  # the broadcast result does not fit input_tensor_a


def test_fused_activations_on_binary_ops(device):
    a, b = _dev(device, X), _dev(device, X.flip(-1))
    relu = ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)
    torch.testing.assert_close(_host(ttnn.add(a, b, activations=[relu])), torch.relu(X + X.flip(-1)))
    torch.testing.assert_close(
        _host(ttnn.multiply(a, b, input_tensor_a_activations=[relu])), torch.relu(X) * X.flip(-1)
    )


def test_new_binary_ops_keep_the_binary_rules(device):
    a = _dev(device, X)
    with pytest.raises(TTFatal, match="Invalid subtile broadcast type"):
        ttnn.squared_difference(a, _dev(device, torch.randn(1, 1, 16, 48)))
    host = ttnn.from_torch(X, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(TTFatal, match="Input tensor A must be on device"):
        ttnn.mul(host, 2.0)
