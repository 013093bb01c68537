"""Elementwise ops (unary, binary, ternary where) of the simulated ttnn.

Binary ops follow binary_ng (ttnn/cpp/ttnn/operations/eltwise/binary_ng/binary_ng.cpp): NumPy broadcasting on
logical shapes, output dtype = `dtype` or A's, memory config = `memory_config` or A's, ROW_MAJOR inputs are
tilized and only two ROW_MAJOR inputs give a ROW_MAJOR output. Values are computed in float32 from the
already-rounded inputs and rounded once by the packer (device_op); for bfloat16 the FPU's own Dst rounding
before packing is not modelled separately.

Unary ops that run on the SFPU (exp, log, sqrt, rsqrt, reciprocal, gelu, erf, tanh, sigmoid, silu) use the
device's algorithms (numerics/sfpu.py) with the switches the unary program factory sets
(unary_program_factory.cpp / unary_op_utils.cpp): the approximation flag is the op's
fast_and_approximate_mode where ttnn has one (default False; math_approx_mode stays off for unary ops), and
Dst is 32-bit when the input is float32 (fp32_dest_acc_en), else 16-bit.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import rules
from ..numerics import formats, sfpu
from ..tensor import Tensor, broadcast_shape, device_op, same_shape
from ..types import DataType, Layout, MemoryConfig, UnaryOpType, UnaryWithParam
from .golden import attach_golden_function

__all__ = [
    "abs",
    "add",
    "cos",
    "divide",
    "eq",
    "erf",
    "exp",
    "ge",
    "gelu",
    "gt",
    "le",
    "log",
    "lt",
    "maximum",
    "minimum",
    "multiply",
    "ne",
    "neg",
    "pow",
    "reciprocal",
    "relu",
    "rsqrt",
    "rsub",
    "sigmoid",
    "silu",
    "sin",
    "sqrt",
    "square",
    "subtract",
    "tanh",
    "where",
]

Fn = Callable[..., torch.Tensor]


def _float(v: torch.Tensor) -> torch.Tensor:
    """Integer tensors are stored as int64: compute on them in float64 (exact for 32-bit values)."""
    return v if v.is_floating_point() else v.to(torch.float64)


def _scalar_for(a: Tensor, scalar: float) -> float:
    # binary_ng_program_factory.cpp packs the scalar as two bfloat16 for non-float32 inputs.
    if a.dtype == DataType.FLOAT32 or not formats.is_float(a.dtype):
        return float(scalar)
    return float(formats.round_bfloat16(torch.tensor([float(scalar)]))[0])


def into_output(result: Tensor, output_tensor: Tensor | None) -> Tensor:
    """Write `result` into a preallocated output tensor (same shape and dtype), as output_tensor= does: in
    place, so whatever reads the output's buffer later sees the new values, the ops of a captured trace
    included (they read the buffer when replayed). While a trace is captured the write is recorded, after the
    op that produces `result`, so a replayed ttnn.copy(y, x) feeds x to the next replay (ttnn.copy writes
    input_b's buffer: ttnn/cpp/ttnn/operations/data_movement/copy/copy.cpp)."""
    if output_tensor is None:
        return result
    rules.check_output_shape(output_tensor.shape, result.shape)
    target, source = output_tensor._chips, result._chips

    def write() -> None:
        target[:] = source

    dispatch = getattr(output_tensor.device(), "dispatch", None)
    if dispatch is not None and dispatch.capturing is not None:
        dispatch.record(write, [source])  # captured: the buffer keeps its values until the trace runs
    else:
        write()
    output_tensor._owned = set()  # the values are the result's: copied before any in-place write
    result.deallocate()
    return output_tensor


def _binary(
    name: str,
    fn: Fn,
    a: Tensor | float,
    b: Tensor | float,
    dtype: DataType | None,
    memory_config: MemoryConfig | None,
    output_tensor: Tensor | None,
    activations: Sequence[Any] | None = None,
    a_activations: Sequence[Any] | None = None,
    b_activations: Sequence[Any] | None = None,
) -> Tensor:
    """One binary_ng op: tensor-tensor, tensor-scalar or (pow, add ... overloads) scalar-tensor; the
    `*_activations` lists are unary ops fused before (on an input) or after (on the output) the op."""
    pre_a, pre_b, post = (_activation_chain(acts) for acts in (a_activations, b_activations, activations))
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        rules.require_same_device(name, [a, b])
        rules.check_binary_broadcast(a.shape, b.shape)
        inputs, first = [a, b], a
        both_rm = a.layout == Layout.ROW_MAJOR and b.layout == Layout.ROW_MAJOR
        layout = Layout.ROW_MAJOR if both_rm else Layout.TILE

        def compute(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return post(fn(pre_a(_float(x)), pre_b(_float(y))))
    elif isinstance(a, Tensor):
        rules.require_same_device(name, [a])
        inputs, first, layout = [a], a, a.layout
        scalar = _scalar_for(a, b)

        def compute(x: torch.Tensor) -> torch.Tensor:
            x = _float(x)
            return post(fn(pre_a(x), pre_b(torch.tensor(scalar, dtype=x.dtype))))
    else:
        rules.require(isinstance(b, Tensor), f"{name}: at least one operand must be a ttnn.Tensor")
        rules.require_same_device(name, [b])
        inputs, first, layout = [b], b, b.layout
        scalar = _scalar_for(b, a)

        def compute(y: torch.Tensor) -> torch.Tensor:
            y = _float(y)
            return post(fn(pre_a(torch.tensor(scalar, dtype=y.dtype)), pre_b(y)))

    rules.check_output_dtype(dtype, output_tensor.dtype if output_tensor is not None else None)
    out_dtype = output_tensor.dtype if output_tensor is not None else (dtype or first.dtype)
    mc = memory_config or first.memory_config()
    packed = _PACKED_BFLOAT16.get(fn)
    rounding = formats.PACKER
    if (
        packed is not None
        and out_dtype == DataType.BFLOAT16
        and not (activations or a_activations or b_activations)
    ):
        # fn's result rounded by the packer, computed straight into bfloat16 storage (HOST keeps it as is)
        fn, rounding = packed, formats.HOST
    result = device_op(
        name,
        inputs,
        compute,
        dtype=out_dtype,
        layout=layout,
        memory_config=mc,
        rounding=rounding,
        output_shapes=broadcast_shape,
        stack_chips=tuple(range(len(inputs))),  # elementwise
    )
    return into_output(result, output_tensor)


def _activation_chain(activations: Sequence[Any] | None) -> Fn:
    fns = [activation_fn(resolve_activation(a)) for a in activations or ()]

    def chain(x: torch.Tensor) -> torch.Tensor:
        for f in fns:
            x = f(x)
        return x

    return chain


def _named(op: Callable[..., Tensor], name: str, doc: str) -> Callable[..., Tensor]:
    """Give an op built by a factory below its ttnn name and docstring (what help() and tracebacks show)."""
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


# Keyword sets of binary_ng ops as ttnn 0.81.1 binds them (binary_nanobind.cpp), by short token.
_BINARY_KEYWORDS = {
    "fast": ("fast_and_approximate_mode", False),
    "rounding_mode": ("rounding_mode", None),
    "dtype": ("dtype", None),
    "mc": ("memory_config", None),
    "out": ("output_tensor", None),
    "acts": ("activations", None),
    "a_acts": ("input_tensor_a_activations", None),
    "b_acts": ("input_tensor_b_activations", None),
    "scg": ("sub_core_grids", None),
    "sdi": ("sub_device_id", None),
}
BINARY_FULL = "fast dtype mc out acts a_acts b_acts scg sdi"
BINARY_COMPARE = "dtype mc out acts a_acts b_acts scg sdi"


def binary_signature(keywords: str, positional_only: bool = False) -> inspect.Signature:
    """input_tensor_a, input_tensor_b, then the keywords named by `keywords`. Most in-place ops name their
    operands input_a / input_b, others input_tensor_a / input_tensor_b: there they are positional-only."""
    P = inspect.Parameter
    kind = P.POSITIONAL_ONLY if positional_only else P.POSITIONAL_OR_KEYWORD
    params = [P("input_tensor_a", kind), P("input_tensor_b", kind)]
    for token in keywords.split():
        kw, default = _BINARY_KEYWORDS[token]
        params.append(P(kw, P.KEYWORD_ONLY, default=default))
    return inspect.Signature(params)


def _binary_op(
    name: str,
    fn: Fn | Callable[..., Fn],
    doc: str,
    keywords: str = BINARY_FULL,
    inplace: bool = False,
    choose: Callable[[Any, Any, DataType], Fn] | None = None,
) -> Callable[..., Tensor]:
    """A binary op with ttnn's keywords (`keywords`: tokens of _BINARY_KEYWORDS). With rounding_mode, `fn`
    is a factory taking it. In-place ops (add_ ...) write the result into input_tensor_a."""
    sig = binary_signature(keywords, positional_only=inplace)

    def op(*args: Any, **kwargs: Any) -> Tensor:
        a = sig.bind(*args, **kwargs).arguments
        x, y = a["input_tensor_a"], a["input_tensor_b"]
        f = fn(a.get("rounding_mode")) if "rounding_mode" in keywords else fn
        output = x if inplace else a.get("output_tensor")
        if inplace:
            rules.require(
                isinstance(x, Tensor), f"{name}: input_tensor_a must be a ttnn.Tensor (written in place)"
            )
        if choose is not None:  # numerics that depend on the dtypes (multiply's bfloat16 rounding)
            first = x if isinstance(x, Tensor) else y
            out_dtype = output.dtype if output is not None else (a.get("dtype") or first.dtype)
            f = choose(x, y, out_dtype)
        acts = (
            a.get("activations"),
            a.get("input_tensor_a_activations"),
            a.get("input_tensor_b_activations"),
        )
        return _binary(name, f, x, y, a.get("dtype"), a.get("memory_config"), output, *acts)

    def golden(input_tensor_a: Any, input_tensor_b: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        f = fn(kwargs.get("rounding_mode")) if "rounding_mode" in keywords else fn
        x, y = (
            v if isinstance(v, torch.Tensor) else torch.tensor(float(v))
            for v in (input_tensor_a, input_tensor_b)
        )
        return f(x, y)

    op.__signature__ = sig  # type: ignore[attr-defined]
    return attach_golden_function(_named(op, name, doc), golden)


def _compare(torch_fn: Fn) -> Fn:
    return lambda x, y: torch_fn(x, y).to(x.dtype)


def _divide(rounding_mode: str | None) -> Fn:
    rules.require(
        rounding_mode in (None, "trunc", "floor"),
        f"Incorrect rounding mode (expected None, 'trunc', or 'floor'), got {rounding_mode!r}",
    )
    return lambda x, y: torch.div(x, y, rounding_mode=rounding_mode)


add = _binary_op("add", torch.add, "ttnn.add: a + b (tensor or scalar b), NumPy broadcasting.")
subtract = _binary_op("subtract", torch.sub, "ttnn.subtract: a - b.")


def _multiply_bf16(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x * y as the device's bfloat16 multiply rounds it before the packer: the float32 product rounded to
    bfloat16 nearest-even, and 0 * anything = 0 (tt_metal/hw/ckernels/{wormhole_b0,blackhole}/metal/llk_api/
    llk_sfpu/ckernel_sfpu_binary.h, calculate_sfpu_binary_mul: float32_to_bf16_rne "to match FPU behavior"
    when fp32_dest_acc_en is off). 87 * 3 = 261 is a tie: 260, not the packer's ties-away 262."""
    product = x * y
    if bool(torch.isfinite(product.sum())):
        return _finite_product_bf16(product, x, y).to(torch.float32)
    out = formats.round_bfloat16(product, formats.HOST)
    return out.masked_fill_((x == 0) | (y == 0), 0.0)


def _finite_product_bf16(product: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """_multiply_bf16 of finite products `product` = x * y, as torch.bfloat16: torch's float32 -> bfloat16 cast
    is the same nearest-even rounding on the bits (formats._pack_finite_bfloat16; overflow rounds into inf).
    A zero operand's product is +-0, so the zero fill can only turn -0.0 into +0.0: skipped without a -0.0."""
    out = product.to(torch.bfloat16)
    if bool(out.view(torch.int16).eq(-(2**15)).any()):
        out.masked_fill_((x == 0) | (y == 0), 0.0)
    return out


def _multiply_bf16_packed(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The packer's bfloat16 storage of _multiply_bf16(x, y), in fewer passes: the packer keeps a bfloat16
    value as it is. Products with a NaN or inf take the unfused path (tests/sim/test_multiply_packed.py pins
    both)."""
    product = x * y
    if not bool(torch.isfinite(product.sum())):
        return formats.pack_bfloat16(_multiply_bf16(x, y))
    return _finite_product_bf16(product, x, y)


#: binary fns with a variant returning the packer's bfloat16 storage of their result (_binary uses it for a
#: bfloat16 output without fused activations: the output skips the float32 round trip of the packing)
_PACKED_BFLOAT16: dict[Fn, Fn] = {_multiply_bf16: _multiply_bf16_packed}


def _multiply_fn(a: Tensor | float, b: Tensor | float, out_dtype: DataType) -> Fn:
    """The bfloat16 rounding applies when no operand or output is float32 (then Dst is 16-bit)."""
    bf16 = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)
    dtypes = [out_dtype] + [t.dtype for t in (a, b) if isinstance(t, Tensor)]
    return _multiply_bf16 if all(d in bf16 for d in dtypes) else torch.mul


multiply = _binary_op("multiply", torch.mul, "ttnn.multiply: a * b.", choose=_multiply_fn)
divide = _binary_op("divide", _divide, "ttnn.divide: a / b.", "fast rounding_mode " + BINARY_FULL[5:])
rsub = _binary_op("rsub", lambda x, y: y - x, "ttnn.rsub: b - a.", "dtype mc out acts a_acts b_acts fast")
maximum = _binary_op(
    "maximum", torch.maximum, "ttnn.maximum: elementwise max.", "dtype mc out acts a_acts b_acts"
)
minimum = _binary_op(
    "minimum", torch.minimum, "ttnn.minimum: elementwise min.", "dtype mc out acts a_acts b_acts"
)
eq = _binary_op("eq", _compare(torch.eq), "ttnn.eq: 1.0 where a == b else 0.0.", BINARY_COMPARE)
ne = _binary_op("ne", _compare(torch.ne), "ttnn.ne: 1.0 where a != b else 0.0.", BINARY_COMPARE)
gt = _binary_op("gt", _compare(torch.gt), "ttnn.gt: 1.0 where a > b else 0.0.", BINARY_COMPARE)
ge = _binary_op("ge", _compare(torch.ge), "ttnn.ge: 1.0 where a >= b else 0.0.", BINARY_COMPARE)
lt = _binary_op("lt", _compare(torch.lt), "ttnn.lt: 1.0 where a < b else 0.0.", BINARY_COMPARE)
le = _binary_op("le", _compare(torch.le), "ttnn.le: 1.0 where a <= b else 0.0.", BINARY_COMPARE)


def pow(
    input_tensor: Tensor | float,
    exponent: Tensor | float,
    *,
    dtype: DataType | None = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    activations: Sequence[Any] | None = None,
    input_tensor_a_activations: Sequence[Any] | None = None,
    input_tensor_b_activations: Sequence[Any] | None = None,
) -> Tensor:
    """ttnn.pow: input ** exponent: a tensor to a scalar or tensor power, or a scalar base to a tensor power
    (`ttnn.pow(2.0, t)`, the overload real ttnn has)."""
    acts = (activations, input_tensor_a_activations, input_tensor_b_activations)
    return _binary("pow", torch.pow, input_tensor, exponent, dtype, memory_config, output_tensor, *acts)


attach_golden_function(pow, lambda input_tensor, exponent, *args, **kwargs: torch.pow(input_tensor, exponent))


# -- unary -------------------------------------------------------------------------------------------------


def _unary(
    name: str, fn: Fn, x: Tensor, memory_config: MemoryConfig | None, output_tensor: Tensor | None
) -> Tensor:
    rules.require_same_device(name, [x])
    out_dtype = output_tensor.dtype if output_tensor is not None else x.dtype
    mc = memory_config or x.memory_config()
    result = device_op(
        name,
        [x],
        lambda v: fn(_float(v)),
        dtype=out_dtype,
        layout=x.layout,
        memory_config=mc,
        output_shapes=same_shape,
        stack_chips=(0,),  # elementwise
    )
    return into_output(result, output_tensor)


_UNARY_FNS: dict[str, Fn] = {
    "neg": torch.neg,
    "abs": torch.abs,
    "square": torch.square,
    "sin": torch.sin,
    "cos": torch.cos,
    "relu": torch.relu,
}

# Unary ops computed by an SFPU kernel (numerics/sfpu.py).
_SFPU_KERNELS: dict[str, sfpu.Fn] = {
    "exp": sfpu.exp,
    "log": sfpu.log,
    "sqrt": sfpu.sqrt,
    "rsqrt": sfpu.rsqrt,
    "reciprocal": sfpu.reciprocal,
    "tanh": sfpu.tanh,
    "erf": sfpu.erf,
    "sigmoid": sfpu.sigmoid,
    "silu": sfpu.silu,
    "gelu": sfpu.gelu,
}


def sfpu_fn(name: str, *, approx: bool, fp32_dest: bool, arch: str) -> Fn:
    """The Dst -> Dst function of an SFPU unary kernel under the given switches."""
    kernel, mode = (
        _SFPU_KERNELS[name],
        sfpu.Mode(approx=approx, fp32_dest=fp32_dest, arch=sfpu.arch_name(arch)),
    )
    return lambda v: sfpu.apply(kernel, v, mode)


def _sfpu_unary(
    name: str, x: Tensor, approx: bool, memory_config: MemoryConfig | None, output_tensor: Tensor | None
) -> Tensor:
    """A unary op on the SFPU: Dst is 32-bit for float32 inputs (unary_program_factory.cpp)."""
    rules.require_same_device(name, [x])
    fp32_dest = x.dtype == DataType.FLOAT32
    out_dtype = output_tensor.dtype if output_tensor is not None else x.dtype
    if x.dtype == DataType.BFLOAT16 and out_dtype == DataType.BFLOAT16:
        # bfloat16 in and out: the packed result looked up by the stored bits (sfpu.apply_packed_bfloat16)
        kernel = _SFPU_KERNELS[name]
        mode = sfpu.Mode(approx=approx, fp32_dest=False, arch=sfpu.arch_name(x.device().arch()))
        result = device_op(
            name,
            [x],
            lambda v: sfpu.apply_packed_bfloat16(kernel, v, mode),
            dtype=DataType.BFLOAT16,
            layout=x.layout,
            memory_config=memory_config or x.memory_config(),
            rounding=formats.HOST,  # HOST keeps the packed bfloat16 values as they are
            stored_inputs=True,
            output_shapes=same_shape,
            stack_chips=(0,),  # elementwise
        )
        return into_output(result, output_tensor)
    fn = sfpu_fn(name, approx=approx, fp32_dest=fp32_dest, arch=x.device().arch())
    return _unary(name, fn, x, memory_config, output_tensor)


def _unary_op(name: str, doc: str) -> Callable[..., Tensor]:
    def op(
        input_tensor: Tensor,
        *,
        memory_config: MemoryConfig | None = None,
        output_tensor: Tensor | None = None,
        sub_core_grids: Any = None,
    ) -> Tensor:
        if name in _SFPU_KERNELS:
            return _sfpu_unary(name, input_tensor, False, memory_config, output_tensor)
        return _unary(name, _UNARY_FNS[name], input_tensor, memory_config, output_tensor)

    return _named(op, name, doc)


def _approx_unary_op(name: str, doc: str) -> Callable[..., Tensor]:
    """Unary ops with a fast_and_approximate_mode switch: it selects the kernel's approximate algorithm."""

    def op(
        input_tensor: Tensor,
        *,
        fast_and_approximate_mode: bool = False,
        memory_config: MemoryConfig | None = None,
        output_tensor: Tensor | None = None,
        sub_core_grids: Any = None,
    ) -> Tensor:
        return _sfpu_unary(name, input_tensor, fast_and_approximate_mode, memory_config, output_tensor)

    return _named(op, name, doc)


neg = _unary_op("neg", "ttnn.neg: -x.")
abs = _unary_op("abs", "ttnn.abs: |x|.")
square = _unary_op("square", "ttnn.square: x * x.")
log = _approx_unary_op("log", "ttnn.log: natural logarithm.")
reciprocal = _unary_op("reciprocal", "ttnn.reciprocal: 1 / x.")
sin = _unary_op("sin", "ttnn.sin.")
cos = _unary_op("cos", "ttnn.cos.")
tanh = _approx_unary_op("tanh", "ttnn.tanh.")
relu = _unary_op("relu", "ttnn.relu: max(x, 0).")
silu = _unary_op("silu", "ttnn.silu: x * sigmoid(x).")
exp = _approx_unary_op("exp", "ttnn.exp.")
sqrt = _approx_unary_op("sqrt", "ttnn.sqrt.")
rsqrt = _approx_unary_op("rsqrt", "ttnn.rsqrt: 1 / sqrt(x).")
erf = _approx_unary_op("erf", "ttnn.erf.")


def gelu(
    input_tensor: Tensor,
    *,
    fast_and_approximate_mode: bool = False,
    variant: Any = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.gelu: the device's accurate GELU kernel, or its look-up-table approximation when
    fast_and_approximate_mode or variant=GeluVariant.FastLut (numerics/sfpu.py gelu); variant=GeluVariant.Tanh
    is the tanh formula, computed in float32."""
    kind = getattr(variant, "name", None)
    if kind == "Tanh":
        tanh_gelu = lambda v: torch.nn.functional.gelu(v, approximate="tanh")  # noqa: E731
        return _unary("gelu", tanh_gelu, input_tensor, memory_config, output_tensor)
    approx = fast_and_approximate_mode or kind == "FastLut"
    return _sfpu_unary("gelu", input_tensor, approx, memory_config, output_tensor)


def sigmoid(
    input_tensor: Tensor,
    *,
    vector_mode: int = 4,
    mode: Any = None,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.sigmoid on the SFPU: SigmoidMode.FastApproximate selects the kernel's approximate algorithm, the
    other modes the accurate one (vector_mode is the tile face selection: all faces by default)."""
    approx = getattr(mode, "name", None) == "FastApproximate"
    return _sfpu_unary("sigmoid", input_tensor, approx, memory_config, output_tensor)


# torch references of the unary ops above (ttnn.get_golden_function)
_GOLDENS: dict[str, Fn] = {
    "neg": torch.neg, "abs": torch.abs, "square": torch.square, "log": torch.log, "reciprocal": torch.reciprocal,
    "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "relu": torch.relu,
    "silu": torch.nn.functional.silu, "exp": torch.exp, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt,
    "erf": torch.erf, "sigmoid": torch.sigmoid,
}  # fmt: skip
for _op in (neg, abs, square, log, reciprocal, sin, cos, tanh, relu, silu, exp, sqrt, rsqrt, erf, sigmoid):
    attach_golden_function(
        _op, (lambda fn: lambda input_tensor, *args, **kwargs: fn(input_tensor))(_GOLDENS[_op.__name__])
    )
attach_golden_function(
    gelu,
    lambda input_tensor, *args, fast_and_approximate_mode=False, **kwargs: torch.nn.functional.gelu(
        input_tensor, approximate="tanh" if fast_and_approximate_mode else "none"
    ),
)


# -- fused activations (matmul / linear `activation=`) ----------------------------------------------------

_ACTIVATION_STRINGS: dict[str, UnaryWithParam] = {
    # unary_op_utils.cpp string_to_unary_with_param. Releases disagree on "gelu": older ones map it to
    # the approximate GELU, current ones to the exact one with "gelu_approx" for the approximation; the
    # simulator follows the current mapping.
    "relu": UnaryWithParam(UnaryOpType.RELU),
    "relu6": UnaryWithParam(UnaryOpType.RELU6),
    "gelu": UnaryWithParam(UnaryOpType.GELU, 0.0),
    "gelu_approx": UnaryWithParam(UnaryOpType.GELU, 1.0),
    "silu": UnaryWithParam(UnaryOpType.SILU),
    "sigmoid": UnaryWithParam(UnaryOpType.SIGMOID),
    "sqrt": UnaryWithParam(UnaryOpType.SQRT),
    "exp": UnaryWithParam(UnaryOpType.EXP, 1.0),
    "recip": UnaryWithParam(UnaryOpType.RECIP),
    "log": UnaryWithParam(UnaryOpType.LOG),
    "tanh": UnaryWithParam(UnaryOpType.TANH),
    # tt-metal's tests/ttnn/unit_tests/operations/matmul/test_linear.py fuses these by name
    "hardsigmoid": UnaryWithParam(UnaryOpType.HARDSIGMOID),
    "mish": UnaryWithParam(UnaryOpType.MISH),
}

_ACTIVATION_FNS: dict[UnaryOpType, str] = {
    UnaryOpType.RELU: "relu",
    UnaryOpType.SILU: "silu",
    UnaryOpType.SIGMOID: "sigmoid",
    UnaryOpType.SQRT: "sqrt",
    UnaryOpType.EXP: "exp",
    UnaryOpType.RECIP: "reciprocal",
    UnaryOpType.LOG: "log",
    UnaryOpType.TANH: "tanh",
    UnaryOpType.SIN: "sin",
    UnaryOpType.COS: "cos",
    UnaryOpType.ABS: "abs",
    UnaryOpType.NEG: "neg",
    UnaryOpType.SQUARE: "square",
    UnaryOpType.RSQRT: "rsqrt",
    UnaryOpType.ERF: "erf",
}


def resolve_activation(activation: Any) -> UnaryWithParam | None:
    """`activation=` of matmul/linear: a string, a UnaryWithParam, or an (op_type, param) tuple."""
    if activation is None or isinstance(activation, UnaryWithParam):
        return activation
    if isinstance(activation, str):
        if activation not in _ACTIVATION_STRINGS:
            rules.check_unknown_activation(activation)
        return _ACTIVATION_STRINGS[activation]
    if isinstance(activation, UnaryOpType):
        return UnaryWithParam(activation)
    op_type, *params = activation
    return UnaryWithParam(op_type, params[0] if len(params) == 1 else params)


def _activation_approx(activation: UnaryWithParam, math_approx_mode: bool) -> bool:
    """GELU (like EXP) carries its approximation flag as parameter 0 (gelu_tile<param0>); the other kernels
    follow the producing kernel's math_approx_mode (APPROX)."""
    if activation.op_type in (UnaryOpType.GELU, UnaryOpType.EXP):
        return bool(activation.params and activation.params[0])
    return math_approx_mode


def activation_fn(
    activation: UnaryWithParam,
    *,
    math_approx_mode: bool = False,
    fp32_dest: bool = False,
    arch: str = "wormhole_b0",
) -> Fn:
    """The Dst -> Dst function of a fused activation inside a kernel with the given compute switches."""
    if activation.op_type == UnaryOpType.RELU6:
        return lambda v: torch.clamp(v, 0.0, 6.0)
    if activation.op_type == UnaryOpType.IDENTITY:
        return lambda v: v
    if activation.op_type == UnaryOpType.HARDSIGMOID:
        return torch.nn.functional.hardsigmoid
    if activation.op_type == UnaryOpType.MISH:
        return torch.nn.functional.mish
    name = "gelu" if activation.op_type == UnaryOpType.GELU else _ACTIVATION_FNS[activation.op_type]
    if name in _SFPU_KERNELS:
        approx = _activation_approx(activation, math_approx_mode)
        return sfpu_fn(name, approx=approx, fp32_dest=fp32_dest, arch=arch)
    return _UNARY_FNS[name]


def apply_activation(x: Tensor, activation: UnaryWithParam, memory_config: MemoryConfig | None) -> Tensor:
    """An unfused activation: its own device op after the producer (matmul.cpp bound_matmul, Unary_chain)."""
    name = _ACTIVATION_FNS.get(activation.op_type, activation.op_type.name.lower())
    fn = activation_fn(activation, fp32_dest=x.dtype == DataType.FLOAT32, arch=x.device().arch())
    return _unary(name, fn, x, memory_config, None)


# -- ternary ----------------------------------------------------------------------------------------------


def where(
    predicate: Tensor,
    true_value: Tensor | float,
    false_value: Tensor | float,
    *,
    memory_config: MemoryConfig | None = None,
    output_tensor: Tensor | None = None,
    sub_core_grids: Any = None,
) -> Tensor:
    """ttnn.where: true_value where predicate != 0 else false_value (tensors or scalars, broadcast)."""
    tensors = [t for t in (predicate, true_value, false_value) if isinstance(t, Tensor)]
    rules.require_same_device("where", tensors)
    for t in tensors[1:]:
        rules.check_binary_broadcast(predicate.shape, t.shape)
    value_tensors = [t for t in (true_value, false_value) if isinstance(t, Tensor)]
    if output_tensor is not None:
        out_dtype = output_tensor.dtype
    else:
        out_dtype = (value_tensors[0] if value_tensors else predicate).dtype
    layout = Layout.ROW_MAJOR if all(t.layout == Layout.ROW_MAJOR for t in tensors) else Layout.TILE
    slots = [isinstance(t, Tensor) for t in (true_value, false_value)]
    scalars = [None if s else float(v) for s, v in zip(slots, (true_value, false_value), strict=True)]

    def compute(cond: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        it = iter(values)
        picked = [_float(next(it)) if s else torch.tensor(scalars[i]) for i, s in enumerate(slots)]
        return torch.where(cond != 0, picked[0], picked[1])

    mc = memory_config or predicate.memory_config()
    result = device_op(
        "where",
        tensors,
        compute,
        dtype=out_dtype,
        layout=layout,
        memory_config=mc,
        output_shapes=broadcast_shape,
    )
    return into_output(result, output_tensor)
