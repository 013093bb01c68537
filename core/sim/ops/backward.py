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
) -> list[Tensor | None]:
    rules.require_same_device(name, [grad, *tensors])
    for t in tensors:
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
