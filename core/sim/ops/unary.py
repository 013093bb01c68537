"""The rest of ttnn 0.81.1's unary elementwise family (eltwise.py holds the ops ports used first), built
from one table.

Each entry names the op, its torch function and its parameters exactly as real ttnn's binding declares
them (ttnn/cpp/ttnn/operations/eltwise/unary/unary_nanobind.cpp; checked against the 0.81.1 wheel by the
parity session's api check): parameters after `input_tensor` that are positional, keyword-only ones, and
whether the op takes output_tensor= / sub_core_grids=. The op computes in float32 (float64 for integer
inputs) from the already-rounded input and rounds once to the output dtype, like every eltwise op here;
the SFPU's own approximations are not modelled (a later change can route `UNARY_FNS` through
ttport.sim.numerics). Each op carries its torch reference as `golden_function` (ttnn.get_golden_function).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op, same_shape
from ..types import DataType, MemoryConfig
from .eltwise import _float, _named, activation_fn, into_output, resolve_activation
from .golden import attach_golden_function

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Unary:
    """One unary op: `fn(x, **params)` on float values, its parameters as ttnn binds them."""

    fn: Callable[..., torch.Tensor]
    doc: str
    positional: tuple[tuple[str, Any], ...] = ()
    keywords: tuple[tuple[str, Any], ...] = ()
    output_tensor: bool = True
    sub_core_grids: bool = True
    # a statistic over the whole tensor: its values mix the leading dim, so a mesh's chips never share one call
    # (tensor.py _compute_chips)
    global_statistic: bool = False
    # the output's shape from the input's (device_op's `output_shapes`: without it the shape would come from
    # running `fn` on meta tensors, about a millisecond per op)
    output_shape: Callable[[tuple[int, ...]], tuple[int, ...]] = same_shape


def _compare_zero(torch_fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    return lambda x, **_: torch_fn(x, 0).to(x.dtype)


def _predicate(torch_fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    return lambda x, **_: torch_fn(x).to(x.dtype)


def _plain(torch_fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    return lambda x, **_: torch_fn(x)


def _cbrt(x: torch.Tensor, **_: Any) -> torch.Tensor:
    return torch.sign(x) * torch.abs(x).pow(1.0 / 3.0)


def _xielu(x: torch.Tensor, alpha_p: float, alpha_n: float, **_: Any) -> torch.Tensor:
    # xIELU (arXiv 2411.13010) with beta = 0.5, eps = -1e-6, as ttnn's binding documents it.
    positive = alpha_p * x * x + 0.5 * x
    negative = alpha_n * torch.expm1(torch.clamp(x, max=-1e-6)) - alpha_n * x + 0.5 * x
    return torch.where(x > 0, positive, negative)


def _rdiv(x: torch.Tensor, value: float, rounding_mode: str | None, **_: Any) -> torch.Tensor:
    rules.require(
        rounding_mode in (None, "trunc", "floor"),
        f"Incorrect rounding mode (expected None, 'trunc', or 'floor'), got {rounding_mode!r}",
    )
    return torch.div(torch.full_like(x, value), x, rounding_mode=rounding_mode)


def _glu(gate: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    def fn(x: torch.Tensor, dim: int, **_: Any) -> torch.Tensor:
        rules.require(dim in (-1, x.dim() - 1), "Only last dimension is supported for glu variants")
        rules.require(x.shape[-1] % 64 == 0, "Last dim of the input must be a multiple of 64 (two tiles)")
        a, b = torch.chunk(x, 2, dim=-1)
        return a * gate(b)

    return fn


def _glu_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A glu variant's output: the last dim halved."""
    return (*shape[:-1], shape[-1] // 2)


def _moments_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """var_hw / std_hw: one value per matrix (the last two dims reduced, kept as 1)."""
    return (*shape[:-2], 1, 1)


def _hw_moments(kind: str) -> Callable[..., torch.Tensor]:
    def fn(x: torch.Tensor, **_: Any) -> torch.Tensor:
        mean = x.mean(dim=(-2, -1), keepdim=True)
        var = (x - mean).square().mean(dim=(-2, -1), keepdim=True)
        if kind == "var":
            return var
        if kind == "std":
            return var.sqrt()
        return (x - mean) / var.sqrt()

    return fn


def _normalize_global(x: torch.Tensor, **_: Any) -> torch.Tensor:
    mean = x.mean()
    return (x - mean) / (x - mean).square().mean().sqrt()


def _tri(torch_fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    return lambda x, diagonal, **_: torch_fn(x, diagonal=diagonal)


APPROX = (("fast_and_approximate_mode", False),)

UNARY_FNS: dict[str, Unary] = {
    "acos": Unary(_plain(torch.acos), "arccosine."),
    "acosh": Unary(_plain(torch.acosh), "inverse hyperbolic cosine."),
    "asin": Unary(_plain(torch.asin), "arcsine."),
    "asinh": Unary(_plain(torch.asinh), "inverse hyperbolic sine."),
    "atan": Unary(_plain(torch.atan), "arctangent."),
    "atanh": Unary(_plain(torch.atanh), "inverse hyperbolic tangent."),
    "cbrt": Unary(_cbrt, "cube root (real, odd)."),
    "ceil": Unary(_plain(torch.ceil), "rounds up."),
    "celu": Unary(lambda x, alpha, **_: torch.celu(x, alpha), "CELU.", keywords=(("alpha", 1.0),)),
    "cosh": Unary(_plain(torch.cosh), "hyperbolic cosine."),
    "deg2rad": Unary(_plain(torch.deg2rad), "degrees to radians."),
    "digamma": Unary(_plain(torch.digamma), "digamma (psi)."),
    "elu": Unary(lambda x, alpha, **_: torch.nn.functional.elu(x, alpha), "ELU.", keywords=(("alpha", 1.0),)),
    "eqz": Unary(_compare_zero(torch.eq), "1.0 where x == 0 else 0.0."),
    "erfc": Unary(_plain(torch.erfc), "complementary error function."),
    "erfinv": Unary(_plain(torch.erfinv), "inverse error function."),
    "exp2": Unary(_plain(torch.exp2), "2 ** x."),
    "expm1": Unary(_plain(torch.expm1), "exp(x) - 1."),
    "fill": Unary(
        lambda x, fill_value, **_: torch.full_like(x, float(fill_value)),
        "every element set to fill_value.",
        positional=(("fill_value", REQUIRED),),
    ),
    "floor": Unary(_plain(torch.floor), "rounds down."),
    "frac": Unary(_plain(torch.frac), "x - trunc(x)."),
    "geglu": Unary(
        _glu(lambda b: torch.nn.functional.gelu(b)),
        "a * gelu(b) for the two halves of the last dim.",
        positional=(("dim", -1),),
        keywords=(("variant", None),),
        output_tensor=False,
        sub_core_grids=False,
        output_shape=_glu_shape,
    ),
    "gez": Unary(_compare_zero(torch.ge), "1.0 where x >= 0 else 0.0."),
    "glu": Unary(
        _glu(torch.sigmoid),
        "a * sigmoid(b) for the two halves of the last dim.",
        positional=(("dim", -1),),
        output_tensor=False,
        sub_core_grids=False,
        output_shape=_glu_shape,
    ),
    "gtz": Unary(_compare_zero(torch.gt), "1.0 where x > 0 else 0.0."),
    "hardmish": Unary(lambda x, **_: x * torch.clamp(x * 0.5 + 1.0, 0.0, 1.0), "x * clamp(x/2 + 1, 0, 1)."),
    "hardshrink": Unary(
        lambda x, lambd, **_: torch.nn.functional.hardshrink(x, lambd),
        "hard shrink.",
        keywords=(("lambd", 0.5),),
    ),
    "hardsigmoid": Unary(_plain(torch.nn.functional.hardsigmoid), "hard sigmoid."),
    "hardswish": Unary(_plain(torch.nn.functional.hardswish), "hard swish."),
    "hardtanh": Unary(
        lambda x, min_val, max_val, **_: torch.clamp(x, min_val, max_val),
        "clamp(x, min_val, max_val).",
        keywords=(("min_val", -1.0), ("max_val", 1.0)),
    ),
    "heaviside": Unary(
        lambda x, value, **_: torch.heaviside(x, torch.tensor(float(value), dtype=x.dtype)),
        "0 for x < 0, value at 0, 1 for x > 0.",
        positional=(("value", REQUIRED),),
    ),
    "i0": Unary(_plain(torch.special.i0), "modified Bessel function of order 0."),
    "i1": Unary(_plain(torch.special.i1), "modified Bessel function of order 1."),
    "identity": Unary(_plain(lambda x: x), "a copy of x."),
    "isfinite": Unary(_predicate(torch.isfinite), "1.0 where x is finite."),
    "isinf": Unary(_predicate(torch.isinf), "1.0 where x is +-inf."),
    "isnan": Unary(_predicate(torch.isnan), "1.0 where x is NaN."),
    "isneginf": Unary(_predicate(torch.isneginf), "1.0 where x is -inf."),
    "isposinf": Unary(_predicate(torch.isposinf), "1.0 where x is +inf."),
    "leaky_relu": Unary(
        lambda x, negative_slope, **_: torch.nn.functional.leaky_relu(x, negative_slope),
        "leaky ReLU.",
        positional=(("negative_slope", REQUIRED),),
    ),
    "lez": Unary(_compare_zero(torch.le), "1.0 where x <= 0 else 0.0."),
    "lgamma": Unary(_plain(torch.lgamma), "log |gamma(x)|."),
    "log10": Unary(_plain(torch.log10), "base-10 logarithm.", keywords=APPROX),
    "log1p": Unary(_plain(torch.log1p), "log(1 + x).", keywords=APPROX),
    "log2": Unary(_plain(torch.log2), "base-2 logarithm.", keywords=APPROX),
    "log_sigmoid": Unary(_plain(torch.nn.functional.logsigmoid), "log(sigmoid(x))."),
    "logical_not": Unary(_predicate(lambda x: x == 0), "1.0 where x == 0 else 0.0."),
    "logit": Unary(lambda x, eps, **_: torch.logit(x, eps), "log(x / (1 - x)).", keywords=(("eps", None),)),
    "ltz": Unary(_compare_zero(torch.lt), "1.0 where x < 0 else 0.0."),
    "mish": Unary(_plain(torch.nn.functional.mish), "x * tanh(softplus(x)).", keywords=APPROX),
    "multigammaln": Unary(
        lambda x, **_: torch.special.multigammaln(x, 4),
        "multivariate log-gamma of order 4.",
        output_tensor=False,
        sub_core_grids=False,
    ),
    "nez": Unary(_compare_zero(torch.ne), "1.0 where x != 0 else 0.0."),
    "normalize_global": Unary(
        _normalize_global,
        "(x - mean) / std over the whole tensor.",
        output_tensor=False,
        sub_core_grids=False,
        global_statistic=True,
    ),
    "normalize_hw": Unary(
        _hw_moments("normalize"),
        "(x - mean) / std over the last two dims.",
        output_tensor=False,
        sub_core_grids=False,
    ),
    "polygamma": Unary(
        lambda x, k, **_: torch.special.polygamma(int(k), x),
        "k-th derivative of digamma.",
        positional=(("k", REQUIRED),),
        output_tensor=False,
        sub_core_grids=False,
    ),
    "rad2deg": Unary(_plain(torch.rad2deg), "radians to degrees."),
    "rdiv": Unary(
        _rdiv, "value / x.", positional=(("value", REQUIRED),), keywords=(("rounding_mode", None),)
    ),
    "reglu": Unary(
        _glu(torch.relu),
        "a * relu(b) for the two halves of the last dim.",
        positional=(("dim", -1),),
        output_tensor=False,
        sub_core_grids=False,
        output_shape=_glu_shape,
    ),
    "relu6": Unary(_plain(torch.nn.functional.relu6), "min(max(x, 0), 6)."),
    "relu_max": Unary(
        lambda x, upper_limit, **_: torch.clamp(torch.relu(x), max=float(upper_limit)),
        "min(max(x, 0), upper_limit).",
        positional=(("upper_limit", REQUIRED),),
    ),
    "relu_min": Unary(
        lambda x, lower_limit, **_: torch.clamp(x, min=float(lower_limit)),
        "max(x, lower_limit).",
        positional=(("lower_limit", REQUIRED),),
    ),
    "round": Unary(
        lambda x, decimals, **_: torch.round(x, decimals=int(decimals or 0)),
        "round half to even at `decimals`.",
        keywords=(("decimals", 0),),
    ),
    "rpow": Unary(
        lambda x, exponent, **_: torch.pow(torch.full_like(x, float(exponent)), x),
        "exponent ** x.",
        positional=(("exponent", REQUIRED),),
    ),
    "selu": Unary(
        lambda x, scale, alpha, **_: (
            scale * (torch.clamp(x, min=0) + torch.clamp(alpha * torch.expm1(x), max=0))
        ),
        "SELU.",
        keywords=(("scale", 1.0507009873554804934193349852946), ("alpha", 1.6732632423543772848170429916717)),
    ),
    "sigmoid_accurate": Unary(
        _plain(torch.sigmoid),
        "1 / (1 + exp(-x)), accurate variant.",
        positional=(("fast_and_approximate_mode", False),),
    ),
    "sign": Unary(_plain(torch.sign), "-1, 0 or 1."),
    "signbit": Unary(_predicate(torch.signbit), "1.0 where the sign bit is set (also -0.0)."),
    "sinh": Unary(_plain(torch.sinh), "hyperbolic sine."),
    "softcap": Unary(
        lambda x, beta, **_: beta * torch.tanh(x / beta),
        "beta * tanh(x / beta).",
        positional=(("beta", REQUIRED),),
    ),
    "softplus": Unary(
        lambda x, beta, threshold, **_: torch.nn.functional.softplus(x, beta, threshold),
        "softplus.",
        keywords=(("beta", 1.0), ("threshold", 20.0)),
    ),
    "softshrink": Unary(
        lambda x, lambd, **_: torch.nn.functional.softshrink(x, lambd),
        "soft shrink.",
        keywords=(("lambd", 0.5),),
    ),
    "softsign": Unary(_plain(torch.nn.functional.softsign), "x / (1 + |x|)."),
    "std_hw": Unary(
        _hw_moments("std"),
        "population std over the last two dims.",
        output_tensor=False,
        sub_core_grids=False,
        output_shape=_moments_shape,
    ),
    "swiglu": Unary(
        _glu(torch.nn.functional.silu),
        "a * silu(b) for the two halves of the last dim.",
        positional=(("dim", -1),),
        output_tensor=False,
        sub_core_grids=False,
        output_shape=_glu_shape,
    ),
    "swish": Unary(_plain(torch.nn.functional.silu), "x * sigmoid(x)."),
    "tan": Unary(_plain(torch.tan), "tangent."),
    "tanhshrink": Unary(_plain(torch.nn.functional.tanhshrink), "x - tanh(x)."),
    "threshold": Unary(
        lambda x, threshold, value, **_: torch.nn.functional.threshold(x, float(threshold), float(value)),
        "x where x > threshold else value.",
        positional=(("threshold", REQUIRED), ("value", REQUIRED)),
    ),
    "tril": Unary(
        _tri(torch.tril),
        "lower triangle of the last two dims.",
        keywords=(("diagonal", 0),),
        output_tensor=False,
        sub_core_grids=False,
    ),
    "triu": Unary(
        _tri(torch.triu),
        "upper triangle of the last two dims.",
        keywords=(("diagonal", 0),),
        output_tensor=False,
        sub_core_grids=False,
    ),
    "trunc": Unary(_plain(torch.trunc), "rounds toward zero."),
    "var_hw": Unary(
        _hw_moments("var"),
        "population variance over the last two dims.",
        output_tensor=False,
        sub_core_grids=False,
        output_shape=_moments_shape,
    ),
    "xielu": Unary(_xielu, "xIELU.", keywords=(("alpha_p", 0.8), ("alpha_n", 0.8))),
}


def _signature(spec: Unary) -> inspect.Signature:
    P = inspect.Parameter
    params = [P("input_tensor", P.POSITIONAL_OR_KEYWORD)]
    params += [P(n, P.POSITIONAL_OR_KEYWORD, default=d) for n, d in spec.positional]
    params += [P(n, P.KEYWORD_ONLY, default=d) for n, d in spec.keywords]
    params.append(P("memory_config", P.KEYWORD_ONLY, default=None))
    if spec.output_tensor:
        params.append(P("output_tensor", P.KEYWORD_ONLY, default=None))
    if spec.sub_core_grids:
        params.append(P("sub_core_grids", P.KEYWORD_ONLY, default=None))
    return inspect.Signature(params)


def _param_names(spec: Unary) -> list[str]:
    return [n for n, _ in spec.positional] + [n for n, _ in spec.keywords]


def _run(
    name: str, spec: Unary, x: Tensor, params: dict[str, Any], mc: MemoryConfig | None, out: Tensor | None
) -> Tensor:
    rules.require_same_device(name, [x])
    out_dtype = out.dtype if out is not None else x.dtype
    mc = mc or x.memory_config()
    result = device_op(
        name,
        [x],
        lambda v: spec.fn(_float(v), **params),
        dtype=out_dtype,
        layout=x.layout,
        memory_config=mc,
        output_shapes=spec.output_shape,
        stack_chips=() if spec.global_statistic else (0,),  # elementwise, or within the last dims
    )
    return into_output(result, out)


def _make(name: str, spec: Unary) -> Callable[..., Tensor]:
    sig = _signature(spec)
    names = _param_names(spec)

    def op(*args: Any, **kwargs: Any) -> Tensor:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        return _run(
            name,
            spec,
            a["input_tensor"],
            {n: a[n] for n in names},
            a["memory_config"],
            a.get("output_tensor"),
        )

    def golden(input_tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        params = dict(spec.positional + spec.keywords)
        params.update(zip([n for n, _ in spec.positional], args, strict=False))
        params.update({k: v for k, v in kwargs.items() if k in params})
        return spec.fn(input_tensor, **params)

    op.__signature__ = sig  # type: ignore[attr-defined]
    return attach_golden_function(_named(op, name, f"ttnn.{name}: {spec.doc}"), golden)


for _name, _spec in UNARY_FNS.items():
    globals()[_name] = _make(_name, _spec)


def unary_chain(
    input_tensor: Tensor,
    ops_chain: Sequence[Any],
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.unary_chain: the activations of `ops_chain` (UnaryWithParam / UnaryOpType) applied in order, as one
    device op."""
    fp32 = input_tensor.dtype == DataType.FLOAT32  # Dst is 32-bit for float32 inputs
    arch = input_tensor.device().arch() if input_tensor.device() is not None else "wormhole_b0"
    fns = [activation_fn(resolve_activation(a), fp32_dest=fp32, arch=arch) for a in ops_chain]
    rules.require(len(fns) > 0, "Op chain cannot be empty")

    def chain(x: torch.Tensor, **_: Any) -> torch.Tensor:
        for fn in fns:
            x = fn(x)
        return x

    return _run("unary_chain", Unary(chain, ""), input_tensor, {}, memory_config, output_tensor)


def bitwise_not(
    input_tensor: Tensor,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.bitwise_not: ~x of an integer tensor (INT32 signed; unsigned dtypes wrap to their width)."""
    bits = {DataType.INT32: 0, DataType.UINT32: 32, DataType.UINT16: 16, DataType.UINT8: 8}
    rules.require(
        input_tensor.dtype in bits,
        f"bitwise_not: input tensor must be INT32, UINT32, UINT16 or UINT8, got DataType::{input_tensor.dtype.name}",
    )
    width = bits[input_tensor.dtype]

    def fn(x: torch.Tensor, **_: Any) -> torch.Tensor:
        flipped = torch.bitwise_not(x.long())
        return (flipped & ((1 << width) - 1) if width else flipped).to(x.dtype)

    return _run("bitwise_not", Unary(fn, ""), input_tensor, {}, memory_config, output_tensor)


_BITCAST_PAIRS = {
    frozenset((DataType.FLOAT32, DataType.INT32)), frozenset((DataType.FLOAT32, DataType.UINT32)),
    frozenset((DataType.INT32, DataType.UINT32)), frozenset((DataType.BFLOAT16, DataType.UINT16)),
}  # fmt: skip
_TORCH_BITS = {
    DataType.FLOAT32: torch.float32, DataType.INT32: torch.int32, DataType.UINT32: torch.uint32,
    DataType.BFLOAT16: torch.bfloat16, DataType.UINT16: torch.uint16,
}  # fmt: skip


def bitcast(
    input_tensor: Tensor,
    dtype: DataType,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.bitcast: the same bits read as `dtype` of the same width (float32 <-> int32 / uint32,
    bfloat16 <-> uint16)."""
    source = input_tensor.dtype
    rules.require(
        source == dtype or frozenset((source, dtype)) in _BITCAST_PAIRS,
        f"bitcast: input and output dtypes must have the same bit width, got DataType::{source.name} and "
        f"DataType::{dtype.name}",
    )
    rules.require_same_device("bitcast", [input_tensor])

    def fn(v: torch.Tensor) -> torch.Tensor:
        bits = v.to(_TORCH_BITS[source]).view(_TORCH_BITS[dtype])
        return bits.to(torch.float32) if bits.is_floating_point() else bits.to(torch.int64)

    mc = memory_config or input_tensor.memory_config()
    result = device_op(
        "bitcast",
        [input_tensor],
        fn,
        dtype=dtype,
        layout=input_tensor.layout,
        memory_config=mc,
        output_shapes=same_shape,
    )
    return into_output(result, output_tensor)


def logical_not_(input_tensor: Tensor, *, memory_config: MemoryConfig | None = None) -> Tensor:
    """ttnn.logical_not_: logical_not written into the input tensor."""
    spec = UNARY_FNS["logical_not"]
    return _run("logical_not_", spec, input_tensor, {}, memory_config, input_tensor)


attach_golden_function(unary_chain, lambda x, ops_chain, *a, **k: _chain_golden(x, ops_chain))
attach_golden_function(logical_not_, lambda x, *a, **k: (x == 0).to(x.dtype))
attach_golden_function(bitwise_not, lambda x, *a, **k: torch.bitwise_not(x))
attach_golden_function(bitcast, lambda x, dtype, *a, **k: x.view(_TORCH_BITS[dtype]))


def _chain_golden(x: torch.Tensor, ops_chain: Sequence[Any]) -> torch.Tensor:
    for a in ops_chain:
        x = activation_fn(resolve_activation(a))(x)
    return x


__all__ = sorted([*UNARY_FNS, "bitcast", "bitwise_not", "logical_not_", "unary_chain"])
