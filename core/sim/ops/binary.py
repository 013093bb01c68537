"""The rest of ttnn 0.81.1's binary elementwise family: the short aliases (mul, sub, div), the in-place
variants (add_, multiply_ ...), and the other binary_ng / composite binary ops, with the keywords real ttnn
binds for each (binary_nanobind.cpp; checked against the wheel by the parity api check).

Semantics and broadcasting rules are eltwise._binary's (binary_ng); values are computed in float32 (float64
for integer inputs) and rounded once to the output dtype. In-place ops write their result into
input_tensor_a, so the broadcast result must have its shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import rules
from ..tensor import Tensor, device_op
from ..types import DataType, MemoryConfig
from .eltwise import (
    BINARY_COMPARE,
    BINARY_FULL,
    Fn,
    _binary,
    _binary_op,
    _compare,
    _divide,
    _multiply_fn,
    _named,
)
from .golden import attach_golden_function

# "dtype mc out acts a_acts b_acts scg sdi" minus what an op lacks, as real ttnn binds it.
_NO_FAST = BINARY_COMPARE
_INPLACE = "acts a_acts b_acts fast scg sdi"
_INPLACE_NO_FAST = "acts a_acts b_acts scg sdi"


def _logical(torch_fn: Fn) -> Fn:
    return lambda x, y: torch_fn(x != 0, y != 0).to(x.dtype)


def _logaddexp2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp2(x, y)


def _bias_gelu(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(x + y)


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.xlogy(x, y)


def _remainder(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.remainder(x, y)


_TABLE: dict[str, tuple[Fn | Callable[..., Fn], str, str]] = {
    # name: (torch fn, keyword tokens, doc)
    "mul": (torch.mul, BINARY_FULL, "alias of ttnn.multiply."),
    "sub": (torch.sub, BINARY_FULL, "alias of ttnn.subtract."),
    "div": (_divide, "fast rounding_mode " + BINARY_FULL[5:], "alias of ttnn.divide."),
    "squared_difference": (lambda x, y: (x - y).square(), _NO_FAST, "(a - b) ** 2."),
    "logical_and": (_logical(torch.logical_and), _NO_FAST, "1.0 where a and b are nonzero."),
    "logical_or": (_logical(torch.logical_or), _NO_FAST, "1.0 where a or b is nonzero."),
    "logical_xor": (_logical(torch.logical_xor), _NO_FAST, "1.0 where exactly one of a, b is nonzero."),
    "logaddexp": (torch.logaddexp, _NO_FAST, "log(exp(a) + exp(b))."),
    "logaddexp2": (_logaddexp2, _NO_FAST, "log2(2**a + 2**b)."),
    "ldexp": (lambda x, y: x * torch.exp2(y), _NO_FAST, "a * 2**b."),
    "xlogy": (_xlogy, _NO_FAST, "a * log(b) (0 where a == 0)."),
    "remainder": (_remainder, _NO_FAST, "a mod b with the sign of b (torch.remainder)."),
    "fmod": (torch.fmod, "mc scg sdi", "a mod b with the sign of a (torch.fmod)."),
    "bias_gelu": (_bias_gelu, BINARY_FULL, "gelu(a + b)."),
    "atan2": (torch.atan2, "mc", "atan2(a, b)."),
    "hypot": (torch.hypot, "mc", "sqrt(a**2 + b**2)."),
    "nextafter": (torch.nextafter, "mc", "the next float after a towards b."),
    "floor_div": (lambda x, y: torch.div(x, y, rounding_mode="floor"), "mc", "floor(a / b)."),
    "div_no_nan": (
        lambda x, y: torch.where(y == 0, torch.zeros_like(x * y), x / y),
        "mc",
        "a / b, 0 where b == 0.",
    ),
}
_INPLACE_TABLE: dict[str, tuple[Fn | Callable[..., Fn], str]] = {
    "add_": (torch.add, _INPLACE),
    "subtract_": (torch.sub, _INPLACE),
    "sub_": (torch.sub, _INPLACE),
    "multiply_": (torch.mul, _INPLACE),
    "mul_": (torch.mul, _INPLACE),
    "divide_": (torch.div, _INPLACE),
    "div_": (torch.div, _INPLACE),
    "rsub_": (lambda x, y: y - x, _INPLACE),
    "bias_gelu_": (_bias_gelu, _INPLACE_NO_FAST),
    "squared_difference_": (lambda x, y: (x - y).square(), _INPLACE_NO_FAST),
    "eq_": (_compare(torch.eq), _INPLACE_NO_FAST),
    "ne_": (_compare(torch.ne), _INPLACE_NO_FAST),
    "gt_": (_compare(torch.gt), _INPLACE_NO_FAST),
    "ge_": (_compare(torch.ge), _INPLACE_NO_FAST),
    "lt_": (_compare(torch.lt), _INPLACE_NO_FAST),
    "le_": (_compare(torch.le), _INPLACE_NO_FAST),
    "logical_and_": (_logical(torch.logical_and), _INPLACE_NO_FAST),
    "logical_or_": (_logical(torch.logical_or), _INPLACE_NO_FAST),
    "logical_xor_": (_logical(torch.logical_xor), _INPLACE_NO_FAST),
    "logaddexp_": (torch.logaddexp, _INPLACE_NO_FAST),
    "logaddexp2_": (_logaddexp2, _INPLACE_NO_FAST),
    "ldexp_": (lambda x, y: x * torch.exp2(y), _INPLACE_NO_FAST),
}

for _name, (_fn, _keywords, _doc) in _TABLE.items():
    _choose = _multiply_fn if _name == "mul" else None  # mul is multiply, numerics included
    globals()[_name] = _binary_op(_name, _fn, f"ttnn.{_name}: {_doc}", _keywords, choose=_choose)
for _name, (_fn, _keywords) in _INPLACE_TABLE.items():
    globals()[_name] = _binary_op(
        _name, _fn, f"ttnn.{_name}: ttnn.{_name[:-1]} written into input_tensor_a.", _keywords, inplace=True
    )


def _scalar_op(
    name: str, fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], doc: str
) -> Callable[..., Tensor]:
    def op(
        input_tensor_a: Tensor,
        input_tensor_b: Tensor,
        alpha: float,
        *,
        memory_config: MemoryConfig | None = None,
        output_tensor: Tensor | None = None,
    ) -> Tensor:
        return _binary(
            name,
            lambda x, y: fn(x, y, alpha),
            input_tensor_a,
            input_tensor_b,
            None,
            memory_config,
            output_tensor,
        )

    attach_golden_function(op, lambda a, b, alpha, *args, **kwargs: fn(a, b, alpha))
    return _named(op, name, doc)


addalpha = _scalar_op("addalpha", lambda x, y, alpha: x + alpha * y, "ttnn.addalpha: a + alpha * b.")
subalpha = _scalar_op("subalpha", lambda x, y, alpha: x - alpha * y, "ttnn.subalpha: a - alpha * b.")


def isclose(
    input_tensor_a: Tensor,
    input_tensor_b: Tensor,
    *,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.isclose: 1.0 where |a - b| <= atol + rtol * |b| (torch.isclose), else 0.0."""

    def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan).to(x.dtype)

    return _binary("isclose", fn, input_tensor_a, input_tensor_b, None, memory_config, None)


attach_golden_function(
    isclose,
    lambda a, b, *args, rtol=1e-05, atol=1e-08, equal_nan=False, **kwargs: torch.isclose(
        a, b, rtol=rtol, atol=atol, equal_nan=equal_nan
    ),
)


def polyval(
    input_tensor_a: Tensor, coeffs: Sequence[float], *, memory_config: MemoryConfig | None = None
) -> Tensor:
    """ttnn.polyval: the polynomial with `coeffs` (highest power first) evaluated at each element."""
    rules.require(len(coeffs) > 0, "polyval: coeffs must not be empty")

    def fn(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        out = torch.full_like(x, float(coeffs[0]))
        for c in coeffs[1:]:
            out = out * x + float(c)
        return out

    return _binary("polyval", fn, input_tensor_a, 0.0, None, memory_config, None)


attach_golden_function(polyval, lambda a, coeffs, *args, **kwargs: _polyval_golden(a, coeffs))


def _polyval_golden(a: torch.Tensor, coeffs: Sequence[float]) -> torch.Tensor:
    out = torch.full_like(a, float(coeffs[0]))
    for c in coeffs[1:]:
        out = out * a + float(c)
    return out


def prelu(
    input_tensor_a: Tensor,
    weight: Tensor | float | Sequence[float],
    *,
    memory_config: MemoryConfig | None = None,
) -> Tensor:
    """ttnn.prelu: x where x >= 0 else weight * x; weight a scalar, a per-channel list (dim 1) or a tensor."""
    if isinstance(weight, (list, tuple)):
        channels = input_tensor_a.shape[1] if len(input_tensor_a.shape) > 1 else 1
        rules.require(
            len(weight) in (1, channels),
            f"prelu: weight must have 1 or {channels} (channel) entries, got {len(weight)}",
        )
        w = torch.tensor([float(v) for v in weight]).reshape([1, -1] + [1] * (len(input_tensor_a.shape) - 2))

        def fn(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
            return torch.where(x >= 0, x, x * w.to(x.dtype))

        return _binary("prelu", fn, input_tensor_a, 0.0, None, memory_config, None)
    return _binary(
        "prelu", lambda x, y: torch.where(x >= 0, x, x * y), input_tensor_a, weight, None, memory_config, None
    )


attach_golden_function(
    prelu,
    lambda a, weight, *args, **kwargs: torch.nn.functional.prelu(
        a, weight if isinstance(weight, torch.Tensor) else torch.tensor(weight, dtype=a.dtype).reshape(-1)
    ),
)


def outer(
    input_tensor_a: Tensor, input_tensor_b: Tensor, *, memory_config: MemoryConfig | None = None
) -> Tensor:
    """ttnn.outer: the outer product of two vectors held as [1, 1, N, 1] / [1, 1, 1, M] (or with the
    vector along the other of the last two dims); output [1, 1, N, M]."""
    for t in (input_tensor_a, input_tensor_b):
        shape = t.shape
        rules.require(
            len(shape) == 4 and shape[0] * shape[1] == 1 and 1 in (shape[2], shape[3]),
            "All dimensions except the last two should be 1, and one of the last two must be 1 (a vector), "
            f"got {list(shape)}",
        )
    n, m = input_tensor_a.volume(), input_tensor_b.volume()

    def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x.reshape(1, 1, n, 1) * y.reshape(1, 1, 1, m)

    rules.require_same_device("outer", [input_tensor_a, input_tensor_b])
    mc = memory_config or input_tensor_a.memory_config()
    return device_op(
        "outer",
        [input_tensor_a, input_tensor_b],
        fn,
        dtype=input_tensor_a.dtype,
        layout=input_tensor_a.layout,
        memory_config=mc,
    )


attach_golden_function(
    outer,
    lambda a, b, *args, **kwargs: torch.outer(a.reshape(-1), b.reshape(-1)).reshape(
        1, 1, a.numel(), b.numel()
    ),
)

__all__ = sorted([*_TABLE, *_INPLACE_TABLE, "addalpha", "isclose", "outer", "polyval", "prelu", "subalpha"])


# -- integer ops ---------------------------------------------------------------------------------------------

_INT_BITS = {
    DataType.INT32: (32, True),
    DataType.UINT32: (32, False),
    DataType.UINT16: (16, False),
    DataType.UINT8: (8, False),
}


def _wrap(v: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """Two's-complement wraparound of int64 results to the tensor's width."""
    bits, signed = _INT_BITS[dtype]
    v = v & ((1 << bits) - 1)
    return torch.where(v >= (1 << (bits - 1)), v - (1 << bits), v) if signed else v


def _integer_op(
    name: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], doc: str
) -> Callable[..., Tensor]:
    def op(
        input_tensor_a: Tensor,
        input_tensor_b: Tensor | int,
        *,
        memory_config: MemoryConfig | None = None,
        output_tensor: Tensor | None = None,
        activations: Sequence[Any] | None = None,
        input_tensor_a_activations: Sequence[Any] | None = None,
        input_tensor_b_activations: Sequence[Any] | None = None,
        sub_core_grids: Any = None,
        sub_device_id: Any = None,
    ) -> Tensor:
        dtype = input_tensor_a.dtype
        rules.require(
            dtype in _INT_BITS,
            f"{name}: input tensors must be INT32, UINT32, UINT16 or UINT8, got DataType::{dtype.name}",
        )
        return _binary(
            name, lambda x, y: _wrap(fn(x.long(), y.long()), dtype).to(x.dtype), input_tensor_a, input_tensor_b,
            None, memory_config, output_tensor,
        )  # fmt: skip

    def golden(a: torch.Tensor, b: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        other = b.long() if isinstance(b, torch.Tensor) else torch.tensor(int(b))
        width = {torch.int32: DataType.INT32, torch.uint32: DataType.UINT32, torch.uint16: DataType.UINT16}
        return _wrap(fn(a.long(), other), width.get(a.dtype, DataType.INT32))

    attach_golden_function(op, golden)
    return _named(op, name, f"ttnn.{name}: {doc}")


def _shift_right_logical(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x & 0xFFFFFFFF) >> y


bitwise_and = _integer_op("bitwise_and", torch.bitwise_and, "a & b on integer tensors.")
bitwise_or = _integer_op("bitwise_or", torch.bitwise_or, "a | b on integer tensors.")
bitwise_xor = _integer_op("bitwise_xor", torch.bitwise_xor, "a ^ b on integer tensors.")
bitwise_left_shift = _integer_op(
    "bitwise_left_shift", torch.bitwise_left_shift, "a << b, wrapped to the width."
)
bitwise_right_shift = _integer_op("bitwise_right_shift", torch.bitwise_right_shift, "a >> b, arithmetic.")
logical_left_shift = _integer_op(
    "logical_left_shift", torch.bitwise_left_shift, "a << b, wrapped to the width."
)
logical_right_shift = _integer_op("logical_right_shift", _shift_right_logical, "a >> b, zero-filling.")


def _gcd_lcm(
    name: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], doc: str
) -> Callable[..., Tensor]:
    def op(
        input_tensor_a: Tensor,
        input_tensor_b: Tensor,
        *,
        dtype: DataType | None = None,
        memory_config: MemoryConfig | None = None,
        output_tensor: Tensor | None = None,
        activations: Sequence[Any] | None = None,
        input_tensor_a_activations: Sequence[Any] | None = None,
        input_tensor_b_activations: Sequence[Any] | None = None,
    ) -> Tensor:
        return _binary(
            name, lambda x, y: fn(x.round().long(), y.round().long()).to(x.dtype), input_tensor_a, input_tensor_b,
            dtype, memory_config, output_tensor,
        )  # fmt: skip

    attach_golden_function(op, lambda a, b, *args, **kwargs: fn(a.long(), b.long()))
    return _named(op, name, f"ttnn.{name}: {doc}")


gcd = _gcd_lcm("gcd", torch.gcd, "greatest common divisor of integer-valued tensors.")
lcm = _gcd_lcm("lcm", torch.lcm, "least common multiple of integer-valued tensors.")

__all__ += [
    "bitwise_and", "bitwise_left_shift", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "gcd", "lcm",
    "logical_left_shift", "logical_right_shift",
]  # fmt: skip
