"""Check 3: op semantics. For every simulator op that real ttnn gives a golden function
(ttnn.get_golden_function), run the simulator op on device tensors and the golden function on the same,
already rounded inputs (what real ttnn's comparison mode feeds it: to_torch of the inputs), and compare
shapes and values within the tolerance the output dtype and the op's kind imply.

A spec builds the call once per side: `spec(m, T)` returns (args, kwargs), where `m` is the module whose
constants (dtypes, layouts) to use and `T(x, dtype, layout)` makes an input tensor: a simulator device
tensor on one side, its to_torch values on the golden side.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

from .result import CheckResult

# (rtol, atol as a fraction of max |golden|); EXACT ops must agree bit for bit.
EXACT = (0.0, 0.0)
ELTWISE = (2.0**-6, 2.0**-10)
ACCUM = (2.0**-5, 2.0**-6)
# What an output's dtype alone allows: a block float's step is set by the largest value of its 16-value row.
DTYPE_TOLERANCE = {"BFLOAT8_B": (2.0**-6, 2.0**-6), "BFLOAT4_B": (2.0**-2, 2.0**-2)}
Maker = Callable[..., Any]
Spec = Callable[[ModuleType, Maker], tuple[tuple[Any, ...], dict[str, Any]]]


def _rand(*shape: int, seed: int = 0, low: float | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if low is not None:
        return low + torch.rand(shape, generator=g) * 3
    return torch.randn(shape, generator=g)


A = _rand(2, 1, 32, 64, seed=1)
B = _rand(2, 1, 32, 64, seed=2)
POS = _rand(2, 1, 32, 64, seed=3, low=0.1)
ROW = _rand(1, 1, 1, 64, seed=4)
W = _rand(64, 96, seed=5)
GAMMA = _rand(1, 1, 1, 64, seed=6)
BETA = _rand(1, 1, 1, 64, seed=7)
IDS = torch.randint(0, 100, (2, 13), generator=torch.Generator().manual_seed(8))
TABLE = _rand(100, 64, seed=9)
Q = _rand(1, 4, 64, 32, seed=10)
K = _rand(1, 4, 64, 32, seed=11)
V = _rand(1, 4, 64, 32, seed=12)
X64 = _rand(1, 4, 32, 64, seed=18)
COS = _rand(1, 1, 64, 64, seed=13)
SIN = _rand(1, 1, 64, 64, seed=14)
CACHE = _rand(2, 4, 64, 32, seed=15)
STEP = _rand(1, 4, 32, 32, seed=16)
POOL = _rand(1, 1, 2 * 8 * 8, 32, seed=17)
UNIT = _rand(2, 1, 32, 64, seed=19, low=0.0) / 3.2 * 1.8 - 0.9  # (-0.9, 0.9)
PROB = _rand(2, 1, 32, 64, seed=20, low=0.0) / 3.2 * 0.9 + 0.05  # (0.05, 0.95)
SMALL = _rand(2, 1, 32, 64, seed=21, low=0.0) / 3.2 * 6 - 3  # exponents for ldexp
CONV_X = _rand(1, 1, 2 * 6 * 6, 16, seed=22)  # N=2, H=W=6, C=16, channels-last
CONV_W = _rand(32, 16, 3, 3, seed=23)
CONV_B = _rand(1, 1, 1, 32, seed=24)
GN_X = _rand(2, 1, 64, 64, seed=25)
GN_W = _rand(1, 1, 2, 32, seed=26)  # 64 channels packed as create_group_norm_weight_bias_rm does
MASK = _rand(2, 1, 1, 64, seed=27)
QSEP = _rand(2, 1, 32, 64, seed=29)  # 2 heads of 32
KVSEP = _rand(2, 1, 32, 128, seed=30)  # 2 (K, V) head pairs
CAUSAL = torch.triu(torch.full((1, 1, 32, 64), -1e4), diagonal=1)  # [1, 1, H, W] causal mask


def _block_sharded(m: ModuleType, T: Maker, x: torch.Tensor) -> Any:
    """x BLOCK_SHARDED over a 2x2 grid on the device side (ops that take only sharded inputs); the golden side
    gets the values."""
    if T.device is None:
        return T(x)
    mc = m.create_sharded_memory_config(
        x.shape, m.CoreGrid(x=2, y=2), m.ShardStrategy.BLOCK, m.ShardOrientation.ROW_MAJOR
    )
    return m.to_memory_config(T(x), mc)


def _stats(x: torch.Tensor, include_sum: bool) -> torch.Tensor:
    """pre_all_gather statistics: sum(x^2) in column 0 (and sum(x) in column 32) of tile-wide blocks."""
    stats = torch.zeros(*x.shape[:-1], 64 if include_sum else 32)
    stats[..., 0] = x.square().sum(-1)
    if include_sum:
        stats[..., 32] = x.sum(-1)
    return stats


_int = torch.Generator().manual_seed(28)
IA = torch.randint(-1000, 1000, (1, 1, 32, 64), generator=_int, dtype=torch.int32)
IB = torch.randint(0, 8, (1, 1, 32, 64), generator=_int, dtype=torch.int32)
IDX = torch.randint(0, 64, (2, 1, 32, 16), generator=_int, dtype=torch.int32)
PERM = torch.argsort(torch.rand(2, 1, 32, 64, generator=_int), dim=-1).to(
    torch.int32
)  # unique scatter targets
NEAR_ONE = 0.95 + _rand(2, 1, 32, 64, seed=29, low=0.0) / 30  # cumulative products stay finite
NHWC = _rand(1, 4, 4, 32, seed=30)
BN_X = _rand(2, 4, 32, 32, seed=31)
BN_MEAN = _rand(1, 4, 1, 1, seed=32)
BN_VAR = _rand(1, 4, 1, 1, seed=33, low=0.5)
QKV = _rand(2, 64, 3 * 4 * 32, seed=34)
SCORES = _rand(2, 4, 32, 64, seed=35)
DQ = _rand(1, 2, 8, 64, seed=39)  # decode query [1, B, NH, D]
DK = _rand(2, 2, 128, 64, seed=40)  # KV cache [B, NKV, S, D]
DV = _rand(2, 2, 128, 64, seed=41)
DMASK = torch.where(torch.arange(128) < 90, 0.0, -1e9).expand(2, 1, 8, 128).contiguous()
PAGED_K = _rand(8, 2, 32, 64, seed=43)  # [blocks, NKV, block_size, D]
PAGED_V = _rand(8, 2, 32, 64, seed=44)
PAGE_TABLE = torch.tensor([[3, 0, 6, 1], [7, 2, 5, 4]], dtype=torch.int32)
# all-gathered statistics of two devices' halves (A is one of them, a shifted copy the other)
STATS2 = torch.cat([_stats(A, True), _stats(A + 0.5, True)], dim=-1)
STATS1 = torch.cat([_stats(A, False), _stats(A * 2, False)], dim=-1)
FOLD_X = _rand(2, 6, 8, 16, seed=42)  # NHWC
NONZERO = torch.tensor([[[[0.0, 1.5, 0.0, -2.0, 3.0, 0.0, 0.0, 4.0] * 4]]])
RM = "ROW_MAJOR_LAYOUT"


def _unary(name: str, x: torch.Tensor = A) -> tuple[str, Spec, tuple[float, float]]:
    return name, lambda m, T: ((T(x),), {}), ELTWISE


def _binary(
    name: str, b: torch.Tensor = B, tol: tuple[float, float] = ELTWISE
) -> tuple[str, Spec, tuple[float, float]]:
    return name, lambda m, T: ((T(A), T(b)), {}), tol


def _bcast(op: str, dim: str) -> tuple[str, Spec, tuple[float, float]]:
    def spec(m: ModuleType, T: Maker) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (T(A), T(B), getattr(m.BcastOpMath, op), getattr(m.BcastOpDim, dim)), {}

    return f"bcast ({op} {dim})", spec, ELTWISE


# unary backward ops, each on inputs in its forward's domain (float32: the goldens run autograd in their
# input's dtype)
_UNARY_BW = {
    **{n: A for n in (
        "abs asinh atan ceil cos cosh deg2rad erf erfc exp2 exp expm1 floor frac hardsigmoid hardswish i0 "
        "log_sigmoid neg rad2deg relu6 relu round selu sigmoid sign silu sin sinh softsign square tanh tanhshrink trunc"
    ).split()},
    **{n: UNIT for n in ("acos", "asin", "atanh", "erfinv", "tan")},
    **{n: POS for n in ("digamma", "lgamma", "log10", "log1p", "log2", "log", "reciprocal", "rsqrt", "sqrt")},
    "acosh": POS + 1.0,
    "multigammaln": POS + 1.6,
    "logit": PROB,
}  # fmt: skip


def _backward(name: str) -> tuple[str, Spec, tuple[float, float]]:
    x = _UNARY_BW[name]
    return f"{name}_bw", lambda m, T: ((T(B, "float32"), T.grad(x)), {}), ELTWISE


# unary backward ops with parameters: (name, input, positional args, keyword args)
_PARAM_BW = [
    ("celu", A, (), {"alpha": 0.5}), ("elu", A, (), {}), ("hardshrink", A, (), {"lambd": 0.3}),
    ("softshrink", A, (), {}), ("hardtanh", A, (), {"min": -0.5, "max": 0.5}), ("leaky_relu", A, (), {}),
    ("softplus", A, (), {"beta": 2.0}), ("logiteps", PROB, (), {"eps": 0.1}), ("polygamma", POS, (1,), {}),
    ("pow", POS, (2.5,), {}), ("rpow", A, (2.0,), {}), ("rdiv", POS, (3.0,), {}), ("div_no_nan", A, (4.0,), {}),
    ("threshold", A, (0.2, -1.0), {}), ("clamp", A, (-0.5, 0.5), {}), ("clip", A, (-0.5, None), {}),
    ("fill_zero", A, (), {}), ("gelu", A, (), {}), ("prod", NEAR_ONE[:1, :1, :2, :8], (), {"dim": 3}),
]  # fmt: skip


def _backward_param(
    name: str, x: torch.Tensor, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str, Spec, tuple[float, float]]:
    width = 1 if name == "prod" else x.shape[-1]  # prod_bw's gradient is the reduced output's
    grad = B[: x.shape[0], : x.shape[1], : x.shape[-2], :width]
    return f"{name}_bw", lambda m, T: ((T(grad, "float32"), T.grad(x), *args), kwargs), ELTWISE


def _conv2d(m: ModuleType, T: Maker) -> tuple[tuple[Any, ...], dict[str, Any]]:
    kwargs = dict(
        input_tensor=T(CONV_X, layout=RM), weight_tensor=T.host(CONV_W), bias_tensor=T.host(CONV_B),
        device=T.device, in_channels=16, out_channels=32, batch_size=2, input_height=6, input_width=6,
        kernel_size=(3, 3), stride=(1, 1), padding=(1, 1),
    )  # fmt: skip
    return (), kwargs


def _group_norm(m: ModuleType, T: Maker) -> tuple[tuple[Any, ...], dict[str, Any]]:
    affine = {"weight": T(GN_W, layout=RM), "bias": T(-GN_W, layout=RM)}
    return (T(GN_X),), {"num_groups": 4, "epsilon": 1e-5, "inplace": False, **affine}


_UNARY_NEW = (
    "atan asinh cbrt ceil celu cosh deg2rad elu erfc exp2 expm1 floor frac gez geglu glu gtz hardmish hardshrink "
    "hardsigmoid hardswish hardtanh i0 i1 identity isfinite isinf isnan isneginf isposinf lez log_sigmoid "
    "logical_not ltz mish nez normalize_global normalize_hw rad2deg reglu relu6 round selu sigmoid_accurate sign "
    "signbit sinh softplus softshrink softsign std_hw swiglu swish tanhshrink tril triu trunc var_hw xielu eqz"
).split()
_BINARY_NEW = (
    "atan2 hypot nextafter squared_difference logaddexp logaddexp2 logical_and logical_or logical_xor "
    "bias_gelu mul sub"
).split()
_BINARY_POS = "div div_no_nan floor_div remainder fmod xlogy".split()
_INPLACE = (
    "mul_ multiply_ sub_ subtract_ rsub_ squared_difference_ logaddexp_ logaddexp2_ bias_gelu_ logical_and_ "
    "logical_or_ logical_xor_"
).split()
_INPLACE_COMPARE = "eq_ ne_ gt_ ge_ lt_ le_".split()

SPECS: list[tuple[str, Spec, tuple[float, float]]] = [
    *[_unary(n) for n in _UNARY_NEW],
    *[_unary(n, UNIT) for n in ("asin", "atanh", "erfinv", "tan")],
    *[_unary(n, POS) for n in ("digamma", "lgamma", "log10", "log1p", "log2")],
    _unary("multigammaln", POS + 1.6),
    _unary("acosh", POS + 1.0),
    # float32: the golden computes in its input's dtype, and bfloat16 arithmetic is a step off near 0.5
    ("logit", lambda m, T: ((T(PROB, "float32"),), {}), ELTWISE),
    _unary("acos", UNIT),
    *[
        (name, (lambda a: lambda m, T: ((T(A), *a), {}))(args), ELTWISE)
        for name, args in (
            ("leaky_relu", (0.1,)),
            ("threshold", (0.5, -1.0)),
            ("relu_max", (0.5,)),
            ("relu_min", (-0.5,)),
            ("rpow", (2.0,)),
            ("heaviside", (0.5,)),
            ("fill", (2.0,)),
            ("softcap", (2.0,)),
        )
    ],
    ("rdiv", lambda m, T: ((T(POS), 3.0), {}), ELTWISE),
    ("polygamma", lambda m, T: ((T(POS), 1), {}), ELTWISE),
    ("unary_chain", lambda m, T: ((T(A), [m.UnaryWithParam(m.UnaryOpType.RELU)]), {}), ELTWISE),
    ("logical_not_", lambda m, T: ((T(A),), {}), EXACT),
    *[_binary(n) for n in _BINARY_NEW],
    *[_binary(n, POS) for n in _BINARY_POS],
    _binary("ldexp", SMALL),
    _binary("ldexp_", SMALL),
    *[_binary(n) for n in _INPLACE],
    *[_binary(n, POS) for n in ("div_", "divide_")],
    *[_binary(n, B, EXACT) for n in _INPLACE_COMPARE],
    # half the elements equal, half a whole unit apart: no value sits on the tolerance boundary
    ("isclose", lambda m, T: ((T(A), T(A + (B > 0).float())), {"rtol": 1e-3, "atol": 1e-3}), EXACT),
    ("add_", lambda m, T: ((T(A), T(B)), {}), ELTWISE),
    ("addalpha", lambda m, T: ((T(A), T(B), 0.5), {}), ELTWISE),
    ("subalpha", lambda m, T: ((T(A), T(B), 0.5), {}), ELTWISE),
    ("polyval", lambda m, T: ((T(A), [2.0, -1.0, 3.0]), {}), ELTWISE),
    ("prelu", lambda m, T: ((T(A), 0.2), {}), ELTWISE),
    ("pow (scalar base)", lambda m, T: ((2.0, T(A)), {}), ELTWISE),
    ("scale_mask_softmax", lambda m, T: ((T(A), 0.5, T(MASK)), {}), ACCUM),
    ("scale_mask_softmax_in_place", lambda m, T: ((T(A), 0.5, T(MASK)), {}), ACCUM),
    ("softmax_in_place", lambda m, T: ((T(A),), {}), ACCUM),
    ("untilize_with_unpadding", lambda m, T: ((T(A), (1, 0, 20, 49)), {}), EXACT),
    ("fill_implicit_tile_padding", lambda m, T: ((T(A), 0.0), {}), EXACT),
    ("pearson_correlation_coefficient", lambda m, T: ((T.torch(A), T(A)), {}), ACCUM),
    ("conv2d", _conv2d, ACCUM),
    ("group_norm", _group_norm, ACCUM),
    ("addcmul", lambda m, T: ((T(A), T(B), T(B)), {"value": 0.5}), ELTWISE),
    ("addcdiv", lambda m, T: ((T(A), T(B), T(POS)), {"value": 0.5}), ELTWISE),
    ("lerp", lambda m, T: ((T(A), T(B), 0.3), {}), ELTWISE),
    ("mac", lambda m, T: ((T(A), T(B), T(POS)), {}), ELTWISE),
    ("clamp", lambda m, T: ((T(A), -0.5, 0.5), {}), EXACT),
    ("clip", lambda m, T: ((T(A), -0.5, 0.5), {}), EXACT),
    (
        "addmm",
        lambda m, T: (
            (T(B[0, 0, :, :32]), T(A[0, 0]), T(W[:, :32])),
            {"alpha": 0.5, "beta": 2.0},
        ),  # torch.addmm: 2-D
        ACCUM,
    ),
    *[
        (name, lambda m, T: ((T(IA, "int32"), T(IB, "int32")), {}), EXACT)
        for name in (
            "bitwise_and",
            "bitwise_or",
            "bitwise_xor",
            "bitwise_left_shift",
            "bitwise_right_shift",
            "logical_left_shift",
            "logical_right_shift",
        )
    ],
    ("bitwise_not", lambda m, T: ((T(IA, "int32"),), {}), EXACT),
    ("gcd", lambda m, T: ((T(IA.abs() + 1, "int32"), T(IB + 1, "int32")), {}), EXACT),
    ("lcm", lambda m, T: ((T(IA.abs() % 50 + 1, "int32"), T(IB + 1, "int32")), {}), EXACT),
    ("std", lambda m, T: ((T(A), 3), {}), ACCUM),
    ("var", lambda m, T: ((T(A), 3), {}), ACCUM),
    ("prod", lambda m, T: ((T(NEAR_ONE), 3), {}), ACCUM),
    ("cumprod", lambda m, T: ((T(NEAR_ONE), 3), {}), ACCUM),
    ("topk", lambda m, T: ((T(A, "float32"), 5), {}), EXACT),
    ("sort", lambda m, T: ((T(A, "float32"), -1), {}), EXACT),
    ("stack", lambda m, T: (([T(A), T(B)], 0), {}), EXACT),
    ("roll", lambda m, T: ((T(A), 3, 3), {}), EXACT),
    ("narrow", lambda m, T: ((T(A), 3, 4, 16), {}), EXACT),
    ("view", lambda m, T: ((T(A), [2, 32, 64]), {}), EXACT),
    ("gather", lambda m, T: ((T(A), 3, T(IDX, "uint32")), {}), EXACT),
    ("scatter", lambda m, T: ((T(A), 3, T(PERM, "uint32"), T(B)), {}), EXACT),
    ("nonzero", lambda m, T: ((T(NONZERO, layout=RM),), {}), EXACT),
    ("copy", lambda m, T: ((T(A), T(B)), {}), EXACT),
    ("assign", lambda m, T: ((T(A),), {"memory_config": m.L1_MEMORY_CONFIG}), EXACT),
    ("move", lambda m, T: ((T(A),), {}), EXACT),
    (
        "tilize_with_val_padding",
        lambda m, T: ((T(A[..., :20, :50], layout=RM), [2, 1, 32, 64], -1.0), {}),
        EXACT,
    ),
    ("tilize_with_zero_padding", lambda m, T: ((T(A[..., :20, :50], layout=RM),), {}), EXACT),
    ("to_dtype", lambda m, T: ((T.host(A), m.float32), {}), EXACT),
    ("unsqueeze_to_4D", lambda m, T: ((T(A[0, 0]),), {}), EXACT),
    ("l1_loss", lambda m, T: ((T(A), T(B)), {}), ELTWISE),
    ("mse_loss", lambda m, T: ((T(A), T(B)), {}), ELTWISE),
    ("mse_loss (mean)", lambda m, T: ((T(A), T(B)), {"reduction": m.LossReductionMode.MEAN}), ACCUM),
    ("global_avg_pool2d", lambda m, T: ((T(NHWC),), {}), ACCUM),
    ("upsample", lambda m, T: ((T(NHWC, layout=RM), 2), {}), EXACT),
    ("upsample (bilinear)", lambda m, T: ((T(NHWC, layout=RM), 2), {"mode": "bilinear"}), ACCUM),
    (
        "batch_norm",
        lambda m, T: (
            (T(BN_X),),
            {"running_mean": T(BN_MEAN), "running_var": T(BN_VAR), "weight": T(BN_MEAN), "bias": T(BN_VAR)},
        ),
        ACCUM,
    ),
    (
        "transformer.scaled_dot_product_attention_decode",
        lambda m, T: ((T(DQ), T(DK), T(DV)), {"cur_pos": [5, 100]}),
        ACCUM,
    ),
    (
        "transformer.scaled_dot_product_attention_decode (mask)",
        lambda m, T: ((T(DQ), T(DK), T(DV)), {"is_causal": False, "attn_mask": T(DMASK)}),
        ACCUM,
    ),
    (
        "transformer.scaled_dot_product_attention_decode (sliding window)",
        lambda m, T: ((T(DQ), T(DK), T(DV)), {"cur_pos": [60, 127], "sliding_window_size": 16}),
        ACCUM,
    ),
    ("fold", lambda m, T: ((T(FOLD_X, layout=RM), 2, 2), {"padding": [1, 1]}), EXACT),
    ("fold (collapse)", lambda m, T: ((T(FOLD_X, layout=RM), 2, 4), {"collapse_output": True}), EXACT),
    ("index_fill", lambda m, T: ((T(A), 3, T(torch.tensor([1, 5, 9]), "uint32", RM), 2.5), {}), EXACT),
    ("indexed_fill", lambda m, T: ((T(torch.tensor([1]), "uint32", RM), T(A), T(B[:1])), {}), EXACT),
    *[_bcast(op, dim) for op in ("ADD", "SUB", "MUL") for dim in ("H", "W", "HW")],
    # float32 inputs: the golden divides in its input's dtype, and bfloat16 division is a step off
    ("quantize", lambda m, T: ((T(A, "float32"), 0.05, 3), {}), EXACT),
    (
        "quantize (per axis)",
        lambda m, T: ((T(A, "float32"), T(POS[0, 0, 0], "float32"), 0), {"axis": 3}),
        EXACT,
    ),
    ("dequantize", lambda m, T: ((T(IA, "int32"), 0.05, 3), {}), ELTWISE),
    ("requantize", lambda m, T: ((T(IA, "int32"), 0.05, 3, 0.2, -1), {}), EXACT),
    (
        "transformer.paged_scaled_dot_product_attention_decode",
        lambda m, T: (
            (T(DQ), T(PAGED_K), T(PAGED_V), T(PAGE_TABLE, "int32", RM)),
            {"cur_pos_tensor": T(torch.tensor([40, 127], dtype=torch.int32), "int32", RM)},
        ),
        ACCUM,
    ),
    (
        "transformer.joint_scaled_dot_product_attention",
        lambda m, T: (
            (T(Q), T(K), T(V), T(Q[:, :, :32]), T(K[:, :, :32]), T(V[:, :, :32])),
            {
                "joint_strategy": "rear",
                "program_config": m.SDPAProgramConfig(
                    compute_with_storage_grid_size=m.CoreCoord(8, 8), q_chunk_size=32, k_chunk_size=32
                ),
                # the configuration tt_dit runs joint attention with (HiFi4, fp32 accumulation)
                "compute_kernel_config": m.WormholeComputeKernelConfig(
                    math_fidelity=m.MathFidelity.HiFi4, math_approx_mode=False, fp32_dest_acc_en=True
                ),
            },
        ),
        ACCUM,
    ),
    (
        "experimental.create_qkv_heads_from_separate_tensors",
        lambda m, T: (
            (_block_sharded(m, T, QSEP), _block_sharded(m, T, KVSEP)),
            {"num_heads": 2, "num_kv_heads": 2},
        ),
        EXACT,
    ),
    (
        "interleaved_to_sharded_partial",
        lambda m, T: (
            (
                T(A),
                m.CoreCoord(1, 1),
                [32, 64],
                2,
                1,
                m.TensorMemoryLayout.HEIGHT_SHARDED,
                m.ShardOrientation.ROW_MAJOR,
            ),
            {},
        ),
        EXACT,
    ),
    (
        "scale_causal_mask_hw_dims_softmax_in_place",
        lambda m, T: ((T(A), 0.125, T(CAUSAL)), {}),
        ACCUM,
    ),
    ("layer_norm_pre_all_gather", lambda m, T: ((T(A),), {}), ACCUM),
    ("rms_norm_pre_all_gather", lambda m, T: ((T(A),), {"residual_input_tensor": T(B)}), ACCUM),
    (
        "layer_norm_post_all_gather",
        lambda m, T: ((T(A), T(STATS2, "float32")), {"epsilon": 1e-5, "weight": T(GAMMA), "bias": T(BETA)}),
        ACCUM,
    ),
    (
        "rms_norm_post_all_gather",
        lambda m, T: ((T(A), T(STATS1, "float32")), {"epsilon": 1e-5, "weight": T(GAMMA)}),
        ACCUM,
    ),
    *[_backward(n) for n in _UNARY_BW],
    *[_backward_param(*case) for case in _PARAM_BW],
    *[
        (f"{n}_bw", lambda m, T: ((T(B, "float32"), T.grad(A), T.grad(POS)), {}), ELTWISE)
        for n in (
            "atan2",
            "fmod",
            "hypot",
            "ldexp",
            "logaddexp2",
            "logaddexp",
            "max",
            "min",
            "remainder",
            "squared_difference",
            "xlogy",
            "add",
            "sub",
            "mul",
            "div",
        )
    ],
    *[
        (f"{n}_bw", lambda m, T: ((T(B, "float32"), T.grad(A), T.grad(POS)), {}), ELTWISE)
        for n in ("addalpha", "subalpha", "rsub", "assign", "bias_gelu")
    ],
    ("addalpha_bw (alpha)", lambda m, T: ((T(B, "float32"), T.grad(A), T.grad(POS), 0.5), {}), ELTWISE),
    ("concat_bw", lambda m, T: ((T(torch.cat([A, B], 3), "float32"), T.grad(A), T.grad(B), 3), {}), EXACT),
    (
        "repeat_bw",
        lambda m, T: ((T(B, "float32"), T.grad(A[:1]), [2, 1, 1, 1]), {}),
        ELTWISE,
    ),
    ("fill_bw", lambda m, T: ((T(B, "float32"), T.grad(A)), {}), EXACT),
    *[
        (f"{n}_bw (scalar)", lambda m, T: ((T(B, "float32"), T.grad(A), 0.7), {}), ELTWISE)
        for n in ("add", "sub", "mul", "div")
    ],
    ("snake_beta", lambda m, T: ((T(A), T(POS[:1, :1, :1]), T(POS[:1, :1, :1] + 0.5)), {}), ELTWISE),
    (
        "scatter_add",
        lambda m, T: ((T(A, "float32"), 3, T(IDX, "uint32"), T(B[..., :16], "float32")), {}),
        ELTWISE,
    ),
    ("bitcast", lambda m, T: ((T(A, "float32"), m.int32), {}), EXACT),
    ("bitcast (int32 to float32)", lambda m, T: ((T(IA, "int32"), m.float32), {}), EXACT),
    ("transformer.split_query_key_value_and_split_heads", lambda m, T: ((T(QKV),), {"num_heads": 4}), EXACT),
    ("transformer.concatenate_heads", lambda m, T: ((T(Q),), {}), EXACT),
    ("experimental.concatenate_heads", lambda m, T: ((T(Q), m.CoreCoord(8, 8)), {}), EXACT),
    (
        "transformer.attention_softmax",
        lambda m, T: ((T(SCORES),), {"head_size": 32, "attention_mask": T(MASK)}),
        ACCUM,
    ),
    (
        "transformer.attention_softmax_",
        lambda m, T: ((T(SCORES),), {"head_size": 32, "attention_mask": T(MASK)}),
        ACCUM,
    ),
    (
        "max_pool2d",
        lambda m, T: ((T(POOL, layout=RM), 2, 8, 8, 32, (3, 3), (2, 2), (1, 1), (1, 1)), {}),
        EXACT,
    ),
    *[
        _unary(n)
        for n in (
            "abs",
            "cos",
            "erf",
            "exp",
            "gelu",
            "neg",
            "relu",
            "sigmoid",
            "silu",
            "sin",
            "square",
            "tanh",
        )
    ],
    *[_unary(n, POS) for n in ("log", "reciprocal", "rsqrt", "sqrt")],
    ("softplus", lambda m, T: ((T(A),), {"beta": 1.0, "threshold": 20.0}), ELTWISE),
    ("softplus (beta 2, threshold 1)", lambda m, T: ((T(A),), {"beta": 2.0, "threshold": 1.0}), ELTWISE),
    *[_binary(n) for n in ("add", "subtract", "multiply", "rsub", "maximum", "minimum")],
    _binary("divide", POS),
    ("add (row broadcast)", lambda m, T: ((T(A), T(ROW)), {}), ELTWISE),
    ("multiply (scalar)", lambda m, T: ((T(A), 0.37), {}), ELTWISE),
    *[_binary(n, B, EXACT) for n in ("eq", "ne", "gt", "ge", "lt", "le")],
    ("pow", lambda m, T: ((T(POS), 2.0), {}), ELTWISE),
    ("where", lambda m, T: ((T((A > 0).float()), T(A), T(B)), {}), EXACT),
    ("sum", lambda m, T: ((T(A), -1, True), {}), ACCUM),
    ("mean", lambda m, T: ((T(A), -1, True), {}), ACCUM),
    ("max", lambda m, T: ((T(A), -1, True), {}), EXACT),
    ("min", lambda m, T: ((T(A), -1, True), {}), EXACT),
    ("argmax", lambda m, T: ((T(A, layout=RM),), {"dim": -1}), EXACT),
    ("cumsum", lambda m, T: ((T(A), 2), {}), ACCUM),
    ("softmax", lambda m, T: ((T(A), -1), {}), ACCUM),
    ("layer_norm", lambda m, T: ((T(A),), {"weight": T(GAMMA), "bias": T(BETA), "epsilon": 1e-5}), ACCUM),
    ("rms_norm", lambda m, T: ((T(A),), {"weight": T(GAMMA), "epsilon": 1e-5}), ACCUM),
    ("matmul", lambda m, T: ((T(A), T(W)), {}), ACCUM),
    ("matmul (bfloat8_b weights)", lambda m, T: ((T(A), T(W, "bfloat8_b")), {}), ACCUM),
    ("matmul (float32)", lambda m, T: ((T(A, "float32"), T(W, "float32")), {}), ACCUM),
    ("add (float32)", lambda m, T: ((T(A, "float32"), T(B, "float32")), {}), ELTWISE),
    ("add (bfloat8_b)", lambda m, T: ((T(A, "bfloat8_b"), T(B, "bfloat8_b")), {}), ELTWISE),
    ("softmax (float32)", lambda m, T: ((T(A, "float32"), -1), {}), ACCUM),
    ("layer_norm (bfloat8_b)", lambda m, T: ((T(A, "bfloat8_b"),), {"epsilon": 1e-5}), ACCUM),
    (
        "linear",
        lambda m, T: ((T(A), T(W)), {"bias": T(ROW[..., :1].expand(1, 1, 1, 96).contiguous())}),
        ACCUM,
    ),
    ("embedding", lambda m, T: ((T(IDS, "uint32", RM), T(TABLE, layout=RM)), {}), EXACT),
    ("concat", lambda m, T: (([T(A), T(B)],), {"dim": 3}), EXACT),
    ("chunk", lambda m, T: ((T(A), 2, 3), {}), EXACT),
    ("split", lambda m, T: ((T(A), 32, 3), {}), EXACT),
    ("expand", lambda m, T: ((T(ROW), (2, 1, 32, 64)), {}), EXACT),
    ("pad", lambda m, T: ((T(A, layout=RM), [(0, 0), (0, 0), (0, 0), (0, 8)], 0.0), {}), EXACT),
    ("permute", lambda m, T: ((T(A), (0, 1, 3, 2)), {}), EXACT),
    ("transpose", lambda m, T: ((T(A), -2, -1), {}), EXACT),
    ("repeat", lambda m, T: ((T(A), (1, 2, 1, 1)), {}), EXACT),
    ("repeat_interleave", lambda m, T: ((T(A), 2, 1), {}), EXACT),
    ("reshape", lambda m, T: ((T(A), (2, 32, 64)), {}), EXACT),
    ("slice", lambda m, T: ((T(A), (0, 0, 0, 0), (2, 1, 32, 32), (1, 1, 1, 1)), {}), EXACT),
    ("squeeze", lambda m, T: ((T(A), 1), {}), EXACT),
    ("unsqueeze", lambda m, T: ((T(A), 0), {}), EXACT),
    ("tilize", lambda m, T: ((T(A, layout=RM),), {}), EXACT),
    ("untilize", lambda m, T: ((T(A),), {}), EXACT),
    ("to_layout", lambda m, T: ((T(A), m.ROW_MAJOR_LAYOUT), {}), EXACT),
    ("typecast", lambda m, T: ((T(A), m.float32), {}), EXACT),
    ("clone", lambda m, T: ((T(A),), {}), EXACT),
    ("reallocate", lambda m, T: ((T(A),), {}), EXACT),
    ("to_memory_config", lambda m, T: ((T(A), m.L1_MEMORY_CONFIG), {}), EXACT),
    ("from_device", lambda m, T: ((T(A),), {}), EXACT),
    ("to_torch", lambda m, T: ((T(A),), {}), EXACT),
    ("full", lambda m, T: (((2, 3), 1.7), {}), EXACT),
    ("zeros", lambda m, T: (((2, 3),), {}), EXACT),
    ("ones", lambda m, T: (((2, 3),), {}), EXACT),
    ("full_like", lambda m, T: ((T(A), 1.7), {}), EXACT),
    ("zeros_like", lambda m, T: ((T(A),), {}), EXACT),
    ("ones_like", lambda m, T: ((T(A),), {}), EXACT),
    ("arange", lambda m, T: ((0, 10, 1), {}), EXACT),
    (
        "transformer.scaled_dot_product_attention",
        lambda m, T: ((T(Q), T(K), T(V)), {"is_causal": True}),
        ACCUM,
    ),
    ("experimental.rotary_embedding", lambda m, T: ((T(X64), T(COS), T(SIN), 5), {}), ACCUM),
    ("fill_cache", lambda m, T: ((T(CACHE), T(K[:, :, :32]), 1), {}), EXACT),
    ("update_cache", lambda m, T: ((T(CACHE), T(STEP[:, :, :, :]), 7), {}), EXACT),
    ("kv_cache.fill_cache_for_user_", lambda m, T: ((T(CACHE), T(K[:, :, :32]), 1), {}), EXACT),
    ("kv_cache.update_cache_for_token_", lambda m, T: ((T(CACHE), T(STEP), 7), {}), EXACT),
    (
        "avg_pool2d",
        lambda m, T: ((T(POOL), 2, 8, 8, 32, (2, 2), (2, 2), (0, 0)), {}),
        ACCUM,
    ),
]

RANDOM = {"rand", "randn", "uniform"}  # goldens draw random values: only their shapes are compared

# Ops whose golden function cannot serve as a reference here, with the reason (checked to still hold).
NOT_COMPARABLE = {
    "from_torch": "takes a torch tensor and returns one: covered bit for bit by the formats check",
    "as_tensor": "a from_torch with caching: covered by the formats and errors checks",
    "to_device": "host -> device copy: no values to compare beyond the formats check",
    "load_tensor": "reads a file written by dump_tensor: the simulator's file format is its own",
    "sharded_to_interleaved": "a memory move; needs sharded inputs (values unchanged, like to_memory_config)",
    "interleaved_to_sharded": "a memory move (values unchanged, like to_memory_config)",
    "copy_host_to_device_tensor": "a host -> device copy into an existing tensor (values unchanged; tests/sim)",
    "copy_device_to_host_tensor": "a device -> host copy into an existing tensor (values unchanged; tests/sim)",
    "allocate_tensor_on_device": "an allocation: its values are whatever the buffer held",
    "reshard": "a memory move between sharded configs (values unchanged, like to_memory_config)",
    "rand": "random values: the simulator draws from torch's generator, not the device RNG (tests/sim checks range)",
    "randn": "random values: the simulator draws from torch's generator, not the device RNG (tests/sim checks moments)",
    "uniform": "random values: the simulator draws from torch's generator, not the device RNG (tests/sim checks range)",
    "experimental.split_query_key_value_and_split_heads": "real ttnn registers the transformer op's golden (3-D "
    "[B, S, hidden] input, kv tensor second), which cannot take this op's ([B, 1, S, 3 H D], grid) call: values "
    "checked against torch in tests/sim",
    "outer": "the golden's einsum returns [1, 1, 1, N, M] for ttnn's [1, 1, 1, N] x [1, 1, 1, M] operands, the op "
    "[1, 1, N, M]: values checked against torch.outer in tests/sim",
}


def _resolve(module: ModuleType, dotted: str) -> Any:
    for part in dotted.split(" ")[0].split("."):
        module = getattr(module, part)
    return module


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _compare(
    name: str, sim_out: list[torch.Tensor], gold_out: list[torch.Tensor], tol: tuple[float, float]
) -> str:
    if len(sim_out) != len(gold_out):
        return f"{len(sim_out)} outputs, golden {len(gold_out)}"
    for i, (s, g) in enumerate(zip(sim_out, gold_out, strict=True)):
        if list(s.shape) != list(g.shape):
            return f"output {i} shape {list(s.shape)}, golden {list(g.shape)}"
        if not s.is_floating_point() or not g.is_floating_point():
            if not torch.equal(s.to(torch.int64), g.to(torch.int64)):
                return (
                    f"output {i}: {int((s.to(torch.int64) != g.to(torch.int64)).sum())} integer values differ"
                )
            continue
        s32, g32 = s.to(torch.float32), g.to(torch.float32)
        rtol, atol_frac = tol
        scale = float(g32.abs().max()) if g32.numel() else 0.0
        err = (s32 - g32).abs()
        allowed = rtol * g32.abs() + atol_frac * scale
        if bool((err > allowed).any()):
            worst = float((err - allowed).max())
            return (
                f"output {i}: {int((err > allowed).sum())}/{err.numel()} values outside rtol={rtol:g} "
                f"atol={atol_frac:g}*max|golden| (max abs err {float(err.max()):.4g}, excess {worst:.3g})"
            )
    return ""


def run(real: ModuleType, sim: ModuleType) -> CheckResult:
    result = CheckResult("goldens: op vs golden function")
    device = sim.open_device(device_id=0)
    try:
        _run_specs(result, real, sim, device)
    finally:
        sim.close_device(device)
    _check_mesh_goldens(result, real, sim)
    _list_unchecked(result, real, sim)
    return result


def _run_specs(result: CheckResult, real: ModuleType, sim: ModuleType, device: Any) -> None:
    def t_sim(x: torch.Tensor, dtype: str = "bfloat16", layout: str = "TILE_LAYOUT") -> Any:
        return sim.from_torch(x, dtype=getattr(sim, dtype), layout=getattr(sim, layout), device=device)

    def t_gold(x: torch.Tensor, dtype: str = "bfloat16", layout: str = "TILE_LAYOUT") -> torch.Tensor:
        return sim.to_torch(sim.from_torch(x, dtype=getattr(sim, dtype), layout=getattr(sim, layout)))

    # Host tensors (conv weights), torch tensors both sides get (pearson's `expected`), the device (conv2d).
    t_sim.host = lambda x, dtype="bfloat16": sim.from_torch(x, dtype=getattr(sim, dtype))
    t_gold.host = lambda x, dtype="bfloat16": t_gold(x, dtype, RM)
    t_sim.torch = t_gold.torch = lambda x: t_gold(x)
    t_sim.device, t_gold.device = device, None
    # Backward goldens run autograd: their forward inputs must require grad (as tt-metal's tests set them).
    t_sim.grad = lambda x: t_sim(x, "float32")
    t_gold.grad = lambda x: t_gold(x, "float32").requires_grad_(True)

    for name, spec, tol in SPECS:
        golden = real.get_golden_function(_resolve(real, name))
        s_args, s_kwargs = spec(sim, t_sim)
        g_args, g_kwargs = spec(real, t_gold)
        try:
            gold = golden(*g_args, **g_kwargs)
        except Exception as exc:  # a golden that cannot run here is reported, not counted
            result.notes.append(
                f"{name}: golden function fails outside tt-metal's tree ({type(exc).__name__}: {exc})"
            )
            continue
        try:
            out = _resolve(sim, name)(*s_args, **s_kwargs)
        except Exception as exc:  # the simulator refusing a valid call is a mismatch
            result.case(False, f"{name}: simulator raised {type(exc).__name__}: {str(exc)[:200]}")
            continue
        outs = _flatten(out)
        sim_out = [_as_torch(sim, o) for o in outs]
        for o in outs:
            dtype_tol = DTYPE_TOLERANCE.get(getattr(getattr(o, "dtype", None), "name", ""), tol)
            tol = (max(tol[0], dtype_tol[0]), max(tol[1], dtype_tol[1]))
        gold_out = [_as_torch(sim, g) for g in _flatten(gold)]
        diff = _compare(name, sim_out, gold_out, tol)
        result.case(not diff, f"{name}: {diff}")
        # The simulator's own golden (what tests get from ttnn.get_golden_function) against real ttnn's.
        o_args, o_kwargs = spec(sim, t_gold)
        try:
            sim_golden = sim.get_golden_function(_resolve(sim, name))
            own = [_as_torch(sim, g) for g in _flatten(sim_golden(*o_args, **o_kwargs))]
        except Exception as exc:  # a golden that cannot take the call tt-metal's tests make is a mismatch
            result.case(False, f"{name}: simulator golden raised {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if name.split(" ")[0] in RANDOM:
            own, gold_out = [o.shape for o in own], [g.shape for g in gold_out]
            result.case(own == gold_out, f"{name}: simulator golden shapes {own}, real {gold_out}")
            continue
        diff = _compare(name, [o.detach() for o in own], [g.detach() for g in gold_out], tol)
        result.case(not diff, f"{name}: simulator golden vs real golden: {diff}")


def _as_torch(sim: ModuleType, value: Any) -> torch.Tensor:
    """An op's output as torch: ttnn tensors via to_torch, Python numbers (pearson's PCC) as 0-d tensors."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (bool, int, float)):
        return torch.tensor(float(value))
    return sim.to_torch(value)


#: Collective goldens take per-device torch inputs (row-major mesh order), the mesh shape and each mesh axis's
#: shard dim, and return the composed host tensor: compared golden against golden on these meshes / axes.
MESH_GOLDENS = ("all_gather", "all_reduce", "reduce_scatter", "mesh_partition")
MESH_CASES = [
    ((1, 2), None, (None, 3)),
    ((1, 8), 1, (None, None)),
    ((2, 4), None, (None, None)),
    ((2, 4), 0, (2, None)),
    ((2, 4), 1, (None, 3)),
]


def _check_mesh_goldens(result: CheckResult, real: ModuleType, sim: ModuleType) -> None:
    gen = torch.Generator().manual_seed(16)
    for name in MESH_GOLDENS:
        real_golden = real.get_golden_function(_resolve(real, name))
        sim_golden = sim.get_golden_function(_resolve(sim, name))
        for mesh_shape, axis, shard_dims in MESH_CASES:
            inputs = [torch.randn(1, 1, 32, 64, generator=gen) for _ in range(math.prod(mesh_shape))]
            kwargs = dict(
                cluster_axis=axis, _ttnn_golden_mesh_shape=mesh_shape, _ttnn_golden_mesh_shard_dims=shard_dims
            )
            gold, own = real_golden(inputs, 3, **kwargs), sim_golden(inputs, 3, **kwargs)
            case = f"{name} mesh {mesh_shape} cluster_axis {axis} shards {shard_dims}"
            if gold is None:
                result.notes.append(f"{case}: real golden declines to compare (None)")
                continue
            same = own is not None and own.shape == gold.shape and torch.allclose(own, gold, atol=1e-6)
            result.case(same, f"{case}: simulator golden {None if own is None else tuple(own.shape)} "
                        f"vs real {tuple(gold.shape)}")  # fmt: skip


def _list_unchecked(result: CheckResult, real: ModuleType, sim: ModuleType) -> None:
    """Every simulator op with a golden must have a spec (or a reason); ops without a golden are listed."""
    specced = {name.split(" ")[0] for name, _, _ in SPECS} | set(MESH_GOLDENS)
    without = []
    for prefix in ("", "transformer.", "experimental.", "kv_cache."):
        sim_mod = _resolve(sim, prefix[:-1]) if prefix else sim
        names = getattr(sim_mod, "__all__", None) or [n for n in vars(sim_mod) if not n.startswith("_")]
        for attr in sorted(names):
            if not inspect.isfunction(getattr(sim_mod, attr, None)):
                continue
            name = prefix + attr
            try:
                real.get_golden_function(_resolve(real, name))
            except Exception:  # get_golden_function raises when the op has none
                without.append(name)
                continue
            if name not in specced and name not in NOT_COMPARABLE:
                result.case(
                    False, f"{name}: real ttnn has a golden function but the parity suite has no spec"
                )
            # tt-metal's tests call ttnn.get_golden_function(ttnn.<op>): the simulated op must have one too
            try:
                sim.get_golden_function(_resolve(sim, name))
                has_own = True
            except RuntimeError:
                has_own = False
            result.case(has_own, f"{name}: real ttnn has a golden function, the simulator's op has none")
    result.notes.append(
        f"{len(without)} simulator ops have no golden function in real ttnn: {', '.join(without)}"
    )
    for name, reason in NOT_COMPARABLE.items():
        result.notes.append(f"{name}: golden not compared ({reason})")
