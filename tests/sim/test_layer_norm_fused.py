"""layer_norm's fused path (normalization._layer_norm_fp32_dst: 32-bit Dst, HiFi4, bfloat16-based operands)
gives the general path's bits: the same float32 operations without the passes that cannot change a value.

The general path is _norm_rows then tile_math's gamma multiply and beta add, as _norm's compute runs them
when the fused path does not apply. Inputs include edge values (NaN, infinities, -0.0, denormals, values
whose truncations to 10 and 9 mantissa bits differ) and every affine combination."""

from __future__ import annotations

import itertools

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import formats, tile_math
from ttport.sim.ops import normalization
from ttport.sim.types import DataType, MathFidelity

BF16, BF8, BF4, F32 = DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B, DataType.FLOAT32


def _general(
    v: torch.Tensor,
    x_dtype: DataType,
    eps: float,
    k: tile_math.KernelConfig,
    gamma: torch.Tensor | None,
    beta: torch.Tensor | None,
    affine_dtype: DataType,
) -> torch.Tensor:
    y, y_dtype = normalization._norm_rows(v, x_dtype, False, eps, k)
    if gamma is not None:
        y = tile_math.mul(tile_math.pack_im(y, k), gamma, y_dtype, affine_dtype, k)
    if beta is not None:
        y = tile_math.add(tile_math.pack_im(y, k), beta, y_dtype, affine_dtype, k)
    return y


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


def _inputs(width: int, dtype: DataType) -> torch.Tensor:
    torch.manual_seed(width)
    x = torch.randn(6, width) * torch.logspace(-3, 3, width)
    x[1] = x[1] * 1e-38  # denormal-range rows
    x[2, 0], x[2, -1] = 0.0, -0.0
    x[3, width // 2] = float("nan")
    x[4, 0] = float("inf")
    x[5] = 1.0 + torch.arange(width) * 2.0**-7  # values whose 10- and 9-bit truncations differ after centering
    return formats.quantize(x, dtype)


@pytest.mark.parametrize(
    ("width", "dtype", "approx"),
    [(64, BF16, False), (1280, BF16, True), (96, BF8, False), (32, BF4, False), (1, BF16, False), (45, BF16, False)],
)
def test_fused_layer_norm_matches_general_path(width: int, dtype: DataType, approx: bool) -> None:
    k = tile_math.KernelConfig(MathFidelity.HiFi4, approx, True)
    v = _inputs(width, dtype)
    torch.manual_seed(1)
    affine = formats.quantize(torch.randn(width), BF16)
    affine[0] = -0.0
    for with_gamma, with_beta in itertools.product((False, True), repeat=2):
        gamma = affine if with_gamma else None
        beta = affine.flip(0) if with_beta else None
        for eps in (1e-5, 1e-12, 0.0):
            want = _general(v.clone(), dtype, eps, k, gamma, beta, BF16)
            got = normalization._layer_norm_fp32_dst(v.clone(), eps, k, gamma, beta)
            assert torch.equal(_bits(got), _bits(want)), (width, dtype, with_gamma, with_beta, eps)


def test_fused_path_applies_only_where_it_is_exact() -> None:
    applies = normalization._fused_layer_norm_applies
    fp32_hifi4 = tile_math.KernelConfig(MathFidelity.HiFi4, False, True)
    assert applies(BF16, fp32_hifi4, BF16, BF16)
    assert applies(BF8, fp32_hifi4, None, None)
    assert not applies(F32, fp32_hifi4, None, None)  # float32 input: TF32 in the source registers
    assert not applies(BF16, fp32_hifi4, F32, None)
    assert not applies(BF16, tile_math.KernelConfig(MathFidelity.HiFi2, False, True), None, None)
    assert not applies(BF16, tile_math.KernelConfig(MathFidelity.HiFi4, False, False), None, None)


@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_op_same_with_and_without_the_fused_path(monkeypatch: pytest.MonkeyPatch, affine: bool) -> None:
    """ttnn.layer_norm end to end (compute config of the CLIP port, and the op default): packed outputs equal."""
    device = ttnn.open_device(device_id=0)
    try:
        torch.manual_seed(3)
        x = torch.randn(2, 1, 77, 256) * 3 + 0.5
        x[0, 0, 5, 7] = float("nan")
        tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        w = ttnn.from_torch(torch.randn(256), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        b = ttnn.from_torch(torch.randn(256), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        config = ttnn.WormholeComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=False, fp32_dest_acc_en=True
        )
        kwargs = {"weight": w, "bias": b} if affine else {}
        outs = []
        for fused in (True, False):
            if not fused:
                monkeypatch.setattr(normalization, "_fused_layer_norm_applies", lambda *a: False)
            for cfg in (config, None):
                out = ttnn.layer_norm(tx, epsilon=1e-5, compute_kernel_config=cfg, **kwargs)
                outs.append(ttnn.to_torch(out))
        assert torch.equal(outs[0].view(torch.int16), outs[2].view(torch.int16))
        assert torch.equal(outs[1].view(torch.int16), outs[3].view(torch.int16))
    finally:
        ttnn.close_device(device)
