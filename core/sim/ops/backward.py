"""The elementwise backward ops of ttnn 0.81.1 (unary_backward / binary_backward groups: exp_bw, mul_bw, ...):
given the gradient of the output and the forward inputs, the gradient of each input, as a list.

Every gradient is torch autograd's through the op's forward function (the references real ttnn's goldens
use), computed in float32 from the rounded inputs and rounded once to the input's dtype; the device's SFPU
derivative approximations are not modelled. Broadcast inputs get their gradient summed back to their shape.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import Layout, MemoryConfig
from .eltwise import _named, into_output
from .golden import attach_golden_function

Fn = Callable[..., torch.Tensor]

# forward functions of the unary backward ops (grad_tensor, input_tensor, *, memory_config[, input_grad])
UNARY_FORWARD: dict[str, Fn] = {
    "abs": torch.abs, "acos": torch.acos, "acosh": torch.acosh, "asin": torch.asin, "asinh": torch.asinh,
    "atan": torch.atan, "atanh": torch.atanh, "ceil": torch.ceil, "cos": torch.cos, "cosh": torch.cosh,
    "deg2rad": torch.deg2rad, "digamma": torch.digamma, "erf": torch.erf, "erfc": torch.erfc,
    "erfinv": torch.erfinv, "exp2": torch.exp2, "exp": torch.exp, "expm1": torch.expm1, "floor": torch.floor,
    "frac": torch.frac, "hardsigmoid": torch.nn.functional.hardsigmoid, "hardswish": torch.nn.functional.hardswish,
    "i0": torch.special.i0, "lgamma": torch.lgamma, "log10": torch.log10, "log1p": torch.log1p, "log2": torch.log2,
    "log": torch.log, "log_sigmoid": torch.nn.functional.logsigmoid, "logit": torch.logit,
    "multigammaln": lambda x: torch.special.multigammaln(x, 4), "neg": torch.neg, "rad2deg": torch.rad2deg,
    "reciprocal": torch.reciprocal, "relu6": torch.nn.functional.relu6, "relu": torch.relu, "round": torch.round,
    "rsqrt": torch.rsqrt, "selu": torch.selu, "sigmoid": torch.sigmoid, "sign": torch.sign,
    "silu": torch.nn.functional.silu, "sin": torch.sin, "sinh": torch.sinh, "softsign": torch.nn.functional.softsign,
    "sqrt": torch.sqrt, "square": torch.square, "tan": torch.tan, "tanh": torch.tanh,
    "tanhshrink": torch.nn.functional.tanhshrink, "trunc": torch.trunc,
}  # fmt: skip
# the ones whose binding also takes a preallocated input_grad
_WITH_INPUT_GRAD = {"exp", "neg", "rsqrt", "silu", "sqrt", "tanh"}

# forward functions of the binary backward ops (grad_tensor, input_tensor_a, input_tensor_b, *, memory_config)
BINARY_FORWARD: dict[str, Fn] = {
    "atan2": torch.atan2, "fmod": torch.fmod, "hypot": torch.hypot, "ldexp": lambda a, b: a * torch.exp2(b),
    "logaddexp2": torch.logaddexp2, "logaddexp": torch.logaddexp, "max": torch.maximum, "min": torch.minimum,
    "remainder": torch.remainder, "squared_difference": lambda a, b: (a - b) ** 2, "xlogy": torch.xlogy,
}  # fmt: skip


def _grads(
    fn: Fn, grad: torch.Tensor, inputs: Sequence[torch.Tensor], wanted: Sequence[bool]
) -> list[torch.Tensor]:
    """Autograd of fn(*inputs) against grad, each result shaped like its input (broadcasts summed back)."""
    leaves = [x.detach().float().requires_grad_(w) for x, w in zip(inputs, wanted, strict=True)]
    with torch.enable_grad():
        out = fn(*leaves)
        targets = [x for x in leaves if x.requires_grad]
        found = torch.autograd.grad(out, targets, grad.float(), allow_unused=True) if targets else ()
    it = iter(found)
    result = []
    for x, w in zip(leaves, wanted, strict=True):
        g = next(it) if w else None
        result.append(torch.zeros_like(x) if (w and g is None) else g)
    return result


def _run(
    name: str,
    fn: Fn,
    grad: Tensor,
    tensors: Sequence[Tensor],
    wanted: Sequence[bool],
    memory_config: MemoryConfig | None,
    outputs: Sequence[Tensor | None],
    elementwise: bool = True,
) -> list[Tensor | None]:
    rules.require_same_device(name, [grad, *tensors])
    for t in tensors if elementwise else ():  # concat_bw / repeat_bw: the gradient has the output's shape
        rules.check_binary_broadcast(grad.shape, t.shape)
    picked = [t for t, w in zip(tensors, wanted, strict=True) if w]
    if not picked:
        return [None] * len(tensors)

    def compute(g: torch.Tensor, *values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(x for x in _grads(fn, g, values, wanted) if x is not None)

    mc = memory_config or grad.memory_config()
    layout = Layout.ROW_MAJOR if all(t.layout == Layout.ROW_MAJOR for t in [grad, *tensors]) else Layout.TILE
    made = device_op(
        name,
        [grad, *tensors],
        lambda *v: compute(*v),
        dtype=[t.dtype for t in picked],
        layout=layout,
        memory_config=mc,
    )
    it = iter(made)
    result: list[Tensor | None] = []
    for w, out in zip(wanted, outputs, strict=True):
        result.append(into_output(next(it), out) if w else None)
    return result


def _unary_bw(name: str, fn: Fn) -> Callable[..., list[Tensor]]:
    if name in _WITH_INPUT_GRAD:

        def op(
            grad_tensor: Tensor,
            input_tensor: Tensor,
            *,
            memory_config: MemoryConfig | None = None,
            input_grad: Tensor | None = None,
        ) -> list[Tensor]:
            return _run(f"{name}_bw", fn, grad_tensor, [input_tensor], [True], memory_config, [input_grad])

    else:  # their binding has no input_grad

        def op(
            grad_tensor: Tensor, input_tensor: Tensor, *, memory_config: MemoryConfig | None = None
        ) -> list[Tensor]:
            return _run(f"{name}_bw", fn, grad_tensor, [input_tensor], [True], memory_config, [None])

    attach_golden_function(op, lambda grad, x, *a, **k: _grads(fn, grad, [x], [True]))
    return _named(
        op, f"{name}_bw", f"ttnn.{name}_bw: the gradient of ttnn.{name} w.r.t. its input, as [grad_input]."
    )


def _binary_bw(name: str, fn: Fn) -> Callable[..., list[Tensor]]:
    def op(
        grad_tensor: Tensor,
        input_tensor_a: Tensor,
        input_tensor_b: Tensor,
        *,
        memory_config: MemoryConfig | None = None,
    ) -> list[Tensor]:
        return _run(
            f"{name}_bw",
            fn,
            grad_tensor,
            [input_tensor_a, input_tensor_b],
            [True, True],
            memory_config,
            [None, None],
        )

    attach_golden_function(op, lambda grad, a, b, *args, **k: _grads(fn, grad, [a, b], [True, True]))
    return _named(op, f"{name}_bw", f"ttnn.{name}_bw: the gradients of ttnn.{name} w.r.t. both inputs.")


for _n, _f in UNARY_FORWARD.items():
    globals()[f"{_n}_bw"] = _unary_bw(_n, _f)
for _n, _f in BINARY_FORWARD.items():
    globals()[f"{_n}_bw"] = _binary_bw(_n, _f)


def _arith_bw(name: str, forward: Callable[..., Fn], rounding: bool) -> Callable[..., list[Tensor | None]]:
    """add_bw / sub_bw / mul_bw / div_bw: a tensor or a scalar second operand; are_required_outputs picks the
    gradients computed; input_grad / other_grad are preallocated outputs."""

    def op(
        grad_tensor: Tensor,
        input_tensor: Tensor,
        other: Tensor | float,
        /,
        *args: Any,
        rounding_mode: str | None = None,
        are_required_outputs: Sequence[bool] = (True, True),
        memory_config: MemoryConfig | None = None,
        input_grad: Tensor | None = None,
        other_grad: Tensor | None = None,
    ) -> list[Tensor | None]:
        if not rounding and rounding_mode is not None:
            raise TypeError(f"{name}_bw() got an unexpected keyword argument 'rounding_mode'")
        if args:  # div_bw(grad, a, scalar, rounding_mode) takes it positionally
            rules.require(
                rounding and len(args) == 1 and not isinstance(other, Tensor),
                f"{name}_bw: too many arguments",
            )
            rounding_mode = args[0]
        fn = forward(rounding_mode)
        if isinstance(other, Tensor):
            wanted = [bool(w) for w in are_required_outputs]
            return _run(
                f"{name}_bw",
                fn,
                grad_tensor,
                [input_tensor, other],
                wanted,
                memory_config,
                [input_grad, other_grad],
            )
        value = float(other)
        return _run(
            f"{name}_bw",
            lambda x: fn(x, value),
            grad_tensor,
            [input_tensor],
            [True],
            memory_config,
            [input_grad],
        )

    def golden(
        grad: torch.Tensor, a: torch.Tensor, b: Any, *args: Any, rounding_mode: str | None = None, **_: Any
    ) -> list:
        fn = forward(args[0] if args else rounding_mode)
        if isinstance(b, torch.Tensor):
            return _grads(fn, grad, [a, b], [True, True])
        return _grads(lambda x: fn(x, float(b)), grad, [a], [True])

    if not rounding:  # only div_bw's binding has rounding_mode
        sig = inspect.signature(op)
        op.__signature__ = sig.replace(
            parameters=[p for p in sig.parameters.values() if p.name != "rounding_mode"]
        )  # type: ignore[attr-defined]
    attach_golden_function(op, golden)
    return _named(op, f"{name}_bw", f"ttnn.{name}_bw: the gradients of ttnn.{name} (tensor or scalar other).")


def _div(rounding_mode: str | None) -> Fn:
    rules.require(
        rounding_mode in (None, "trunc", "floor"),
        f"Incorrect rounding mode (expected None, 'trunc', or 'floor'), got {rounding_mode!r}",
    )
    if rounding_mode is None:
        return torch.div
    return lambda a, b: torch.div(a, b, rounding_mode=rounding_mode)


add_bw = _arith_bw("add", lambda _: torch.add, False)
sub_bw = _arith_bw("sub", lambda _: torch.sub, False)
mul_bw = _arith_bw("mul", lambda _: torch.mul, False)
div_bw = _arith_bw("div", _div, True)

__all__ = sorted([f"{n}_bw" for n in (*UNARY_FORWARD, *BINARY_FORWARD, "add", "sub", "mul", "div")])


# unary backward ops with parameters: name -> (forward(x, **params), positional params, keyword params, input_grad)
REQUIRED = inspect.Parameter.empty
PARAM_FORWARD: dict[str, tuple[Fn, tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...], bool]] = {
    "celu": (lambda x, alpha: torch.celu(x, alpha), (), (("alpha", 1.0),), False),
    "elu": (lambda x, alpha: torch.nn.functional.elu(x, alpha), (), (("alpha", 1.0),), False),
    "hardshrink": (lambda x, lambd: torch.nn.functional.hardshrink(x, lambd), (), (("lambd", 0.5),), False),
    "softshrink": (lambda x, lambd: torch.nn.functional.softshrink(x, lambd), (), (("lambd", 0.5),), False),
    "hardtanh": (lambda x, min, max: torch.clamp(x, min, max), (), (("min", -1.0), ("max", 1.0)), False),
    "leaky_relu": (
        lambda x, negative_slope: torch.nn.functional.leaky_relu(x, negative_slope), (), (("negative_slope", 0.01),), False,
    ),
    "softplus": (
        lambda x, beta, threshold: torch.nn.functional.softplus(x, beta, threshold), (), (("beta", 1.0), ("threshold", 20.0)), False,
    ),
    "logiteps": (lambda x, eps: torch.logit(x, eps), (), (("eps", 0.0),), False),
    "polygamma": (lambda x, n: torch.special.polygamma(int(n), x), (("n", REQUIRED),), (), False),
    "pow": (lambda x, exponent: torch.pow(x, exponent), (("exponent", REQUIRED),), (), True),
    "rpow": (lambda x, exponent: torch.pow(torch.full_like(x, float(exponent)), x), (("exponent", REQUIRED),), (), False),
    "rdiv": (lambda x, scalar, rounding_mode: float(scalar) / x, (("scalar", REQUIRED),), (("rounding_mode", None),), False),
    "div_no_nan": (lambda x, scalar: x * 0 if scalar == 0 else x / scalar, (("scalar", REQUIRED),), (), False),
    "threshold": (lambda x, min, max: torch.nn.functional.threshold(x, min, max), (("min", REQUIRED), ("max", REQUIRED)), (), False),
    "clamp": (lambda x, min, max: torch.clamp(x, min, max), (("min", None), ("max", None)), (), False),
    "clip": (lambda x, min, max: torch.clamp(x, min, max), (("min", None), ("max", None)), (), False),
    "fill_zero": (lambda x: x * 0, (), (), False),
    "fill": (lambda x: x * 0, (), (), True),
    "repeat": (lambda x, shape: x.repeat(*shape), (("shape", REQUIRED),), (), False),
    "gelu": (
        lambda x, variant: torch.nn.functional.gelu(x, approximate="tanh" if getattr(variant, "name", "") == "Tanh" else "none"),
        (), (("variant", None),), True,
    ),
    "prod": (lambda x, dim: x.prod() if dim is None else x.prod(dim=dim, keepdim=True), (), (("dim", None),), False),
}  # fmt: skip


def _param_bw(name: str, spec: tuple[Fn, tuple, tuple, bool]) -> Callable[..., list[Tensor]]:
    fn, positional, keywords, with_input_grad = spec
    P = inspect.Parameter
    params = [P("grad_tensor", P.POSITIONAL_OR_KEYWORD), P("input_tensor", P.POSITIONAL_OR_KEYWORD)]
    params += [P(n, P.POSITIONAL_OR_KEYWORD, default=d) for n, d in positional]
    params += [P(n, P.KEYWORD_ONLY, default=d) for n, d in keywords]
    params.append(P("memory_config", P.KEYWORD_ONLY, default=None))
    if with_input_grad:
        params.append(P("input_grad", P.KEYWORD_ONLY, default=None))
    sig = inspect.Signature(params)
    names = [n for n, _ in positional] + [n for n, _ in keywords]

    def op(*args: Any, **kwargs: Any) -> list[Tensor]:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        values = {n: a[n] for n in names}
        forward = lambda x: fn(x, **values)  # noqa: E731
        return _run(
            f"{name}_bw",
            forward,
            a["grad_tensor"],
            [a["input_tensor"]],
            [True],
            a["memory_config"],
            [a.get("input_grad")],
            name != "repeat",
        )

    def golden(grad: torch.Tensor, x: torch.Tensor, *args: Any, **kwargs: Any) -> list[torch.Tensor]:
        values = dict(positional + keywords)
        values.update(zip([n for n, _ in positional], args, strict=False))
        values.update({k: v for k, v in kwargs.items() if k in values})
        return _grads(lambda v: fn(v, **values), grad, [x], [True])

    op.__signature__ = sig  # type: ignore[attr-defined]
    attach_golden_function(op, golden)
    return _named(
        op, f"{name}_bw", f"ttnn.{name}_bw: the gradient of ttnn.{name} w.r.t. its input, as [grad_input]."
    )


for _n, _spec in PARAM_FORWARD.items():
    globals()[f"{_n}_bw"] = _param_bw(_n, _spec)
__all__ = sorted([*__all__, *(f"{n}_bw" for n in PARAM_FORWARD)])


def _pair_bw(
    name: str,
    forward: Callable[..., Fn],
    extra: tuple[tuple[str, Any], ...],
    grad_names: tuple[str, str],
) -> Callable[..., list[Tensor | None]]:
    """addalpha_bw / subalpha_bw / rsub_bw / assign_bw / concat_bw: two tensor inputs, an optional positional
    parameter (alpha, dim), are_required_outputs and preallocated gradients named as in ttnn's binding."""
    P = inspect.Parameter
    params = [P(n, P.POSITIONAL_OR_KEYWORD) for n in ("grad_tensor", "input_tensor_a", "input_tensor_b")]
    params += [P(n, P.POSITIONAL_OR_KEYWORD, default=d) for n, d in extra]
    params += [
        P("are_required_outputs", P.KEYWORD_ONLY, default=(True, True)),
        P("memory_config", P.KEYWORD_ONLY, default=None),
        P(grad_names[0], P.KEYWORD_ONLY, default=None),
        P(grad_names[1], P.KEYWORD_ONLY, default=None),
    ]
    sig = inspect.Signature(params)

    def op(*args: Any, **kwargs: Any) -> list[Tensor | None]:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        fn = forward(*(a[n] for n, _ in extra))
        wanted = [bool(w) for w in a["are_required_outputs"]]
        outs = [a[grad_names[0]], a[grad_names[1]]]
        return _run(
            f"{name}_bw",
            fn,
            a["grad_tensor"],
            [a["input_tensor_a"], a["input_tensor_b"]],
            wanted,
            a["memory_config"],
            outs,
            name != "concat",
        )

    def golden(grad: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *args: Any, **kwargs: Any) -> list:
        values = [kwargs.get(n, args[i] if i < len(args) else d) for i, (n, d) in enumerate(extra)]
        return _grads(forward(*values), grad, [x, y], [True, True])

    op.__signature__ = sig  # type: ignore[attr-defined]
    attach_golden_function(op, golden)
    return _named(op, f"{name}_bw", f"ttnn.{name}_bw: the gradients of ttnn.{name} w.r.t. both inputs.")


addalpha_bw = _pair_bw(
    "addalpha", lambda alpha: lambda a, b: a + alpha * b, (("alpha", 1.0),), ("input_a_grad", "input_b_grad")
)
subalpha_bw = _pair_bw(
    "subalpha", lambda alpha: lambda a, b: a - alpha * b, (("alpha", 1.0),), ("input_grad", "other_grad")
)
rsub_bw = _pair_bw("rsub", lambda: lambda a, b: b - a, (), ("input_grad", "other_grad"))
concat_bw = _pair_bw(
    "concat", lambda dim: lambda a, b: torch.cat([a, b], dim), (("dim", 0),), ("input_a_grad", "input_b_grad")
)


def assign_bw(
    grad_tensor: Tensor,
    input_tensor_a: Tensor,
    input_tensor_b: Tensor | None = None,
    *,
    are_required_outputs: Sequence[bool] = (True, True),
    memory_config: MemoryConfig | None = None,
    input_a_grad: Tensor | None = None,
    input_b_grad: Tensor | None = None,
) -> list[Tensor | None]:
    """ttnn.assign_bw: assign copies its input, so the gradient passes through, to both inputs of the
    two-tensor form (as the 0.81.1 golden gives)."""
    identity = lambda a, b: a + b  # noqa: E731  (d/da = d/db = 1)
    if input_tensor_b is None:
        return _run(
            "assign_bw",
            lambda a: a.clone(),
            grad_tensor,
            [input_tensor_a],
            [True],
            memory_config,
            [input_a_grad],
        )
    wanted = [bool(w) for w in are_required_outputs]
    return _run(
        "assign_bw",
        identity,
        grad_tensor,
        [input_tensor_a, input_tensor_b],
        wanted,
        memory_config,
        [input_a_grad, input_b_grad],
    )


def bias_gelu_bw(
    grad_tensor: Tensor,
    input_tensor_a: Tensor,
    input_tensor_b: Tensor | float,
    *,
    variant: Any = None,
    approximate: str | None = None,
    memory_config: MemoryConfig | None = None,
) -> list[Tensor]:
    """ttnn.bias_gelu_bw: the gradients of gelu(a + b) (b a tensor or a float bias)."""
    mode = approximate or ("tanh" if getattr(variant, "name", "") == "Tanh" else "none")
    fn = lambda a, b: torch.nn.functional.gelu(a + b, approximate=mode)  # noqa: E731
    if isinstance(input_tensor_b, Tensor):
        return _run(
            "bias_gelu_bw",
            fn,
            grad_tensor,
            [input_tensor_a, input_tensor_b],
            [True, True],
            memory_config,
            [None, None],
        )
    bias = float(input_tensor_b)
    return _run(
        "bias_gelu_bw", lambda a: fn(a, bias), grad_tensor, [input_tensor_a], [True], memory_config, [None]
    )


attach_golden_function(
    assign_bw,
    lambda grad, a, b=None, *args, **kw: (
        _grads(lambda x: x.clone(), grad, [a], [True])
        if b is None
        else _grads(lambda x, y: x + y, grad, [a, b], [True, True])  # the gradient reaches both inputs
    ),
)
attach_golden_function(
    bias_gelu_bw,
    lambda grad, a, b, *args, approximate="none", **kw: (
        _grads(
            lambda x, y: torch.nn.functional.gelu(x + y, approximate=approximate), grad, [a, b], [True, True]
        )
        if isinstance(b, torch.Tensor)
        else _grads(
            lambda x: torch.nn.functional.gelu(x + float(b), approximate=approximate), grad, [a], [True]
        )
    ),
)
__all__ = sorted(
    [
        *__all__,
        "fill_bw",
        "repeat_bw",
        "addalpha_bw",
        "subalpha_bw",
        "rsub_bw",
        "concat_bw",
        "assign_bw",
        "bias_gelu_bw",
    ]
)
