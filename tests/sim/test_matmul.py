"""ttnn.matmul / ttnn.linear on the simulator: values, numerics knobs, and the rules of matmul.cpp /
matmul_device_operation.cpp by message."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import sfpu

X = 1.9921875  # full bfloat16 mantissa; see test_fidelity.py for the per-fidelity products


def _dev(device, x: torch.Tensor, dtype=None, layout=None, memory_config=None) -> ttnn.Tensor:
    return ttnn.from_torch(
        x,
        dtype=dtype or ttnn.bfloat16,
        layout=layout or ttnn.TILE_LAYOUT,
        device=device,
        memory_config=memory_config,
    )


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def _small_ints(*shape: int) -> torch.Tensor:
    """Operands whose products and sums are exact at every fidelity and in a bfloat16 Dst."""
    return torch.randint(-2, 3, shape).float()


def test_matmul_values_shapes_and_defaults(device):
    a, b = _small_ints(2, 50, 70), _small_ints(70, 40)
    out = ttnn.matmul(_dev(device, a), _dev(device, b))
    assert out.shape == [2, 50, 40] and out.padded_shape == [2, 64, 64]
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
    assert out.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    assert torch.equal(_host(out), a @ b)


def test_matmul_random_values_within_bfloat16_rounding(device):
    a, b = _dev(device, torch.randn(64, 96)), _dev(device, torch.randn(96, 64))
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    out = _host(ttnn.matmul(a, b, compute_kernel_config=cfg))
    ref = _host(a) @ _host(b)
    torch.testing.assert_close(out, ref, rtol=2**-8, atol=2**-8 * ref.abs().max().item())


@pytest.mark.parametrize(
    ("fidelity", "expected"),
    [
        (ttnn.MathFidelity.LoFi, 3.8447265625),
        (ttnn.MathFidelity.HiFi2, 3.9532470703125),
        (ttnn.MathFidelity.HiFi4, 3.96881103515625),
    ],
)
def test_compute_kernel_config_sets_the_fidelity(device, fidelity, expected):
    a = torch.zeros(32, 32)
    a[0, 0] = X
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=fidelity, fp32_dest_acc_en=True)
    out = ttnn.matmul(_dev(device, a), _dev(device, a), dtype=ttnn.float32, compute_kernel_config=cfg)
    assert _host(out)[0, 0].item() == expected


def test_default_fidelity_is_hifi2_and_lofi_with_a_core_grid(device):
    a = torch.zeros(32, 32)
    a[0, 0] = X
    ta = _dev(device, a)
    assert _host(ttnn.matmul(ta, ta, dtype=ttnn.float32))[0, 0].item() == 3.9532470703125
    lofi = ttnn.matmul(ta, ta, dtype=ttnn.float32, core_grid=ttnn.CoreGrid(y=1, x=1))
    assert _host(lofi)[0, 0].item() == 3.8447265625


def test_bfloat16_dst_unless_fp32_dest_acc_en(device):
    # K = 64: tile sums 256 and 1. A bf16 Dst (default for a bf16 output) rounds 257 to 256 (nearest even);
    # an fp32 Dst keeps 257, which a float32 output shows and a bf16 output packs to 258 (ties away).
    a = _dev(device, torch.ones(32, 64))
    b = _dev(device, torch.cat([torch.full((32, 32), 8.0), torch.full((32, 32), 1 / 32)]))
    assert _host(ttnn.matmul(a, b))[0, 0].item() == 256.0
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    assert _host(ttnn.matmul(a, b, compute_kernel_config=cfg))[0, 0].item() == 258.0
    assert _host(ttnn.matmul(a, b, dtype=ttnn.float32))[0, 0].item() == 257.0  # fp32 output: fp32 Dst


def test_transposes(device):
    a, b = _small_ints(3, 40, 64), _small_ints(3, 96, 64)
    out = ttnn.matmul(_dev(device, a), _dev(device, b), transpose_b=True)
    assert torch.equal(_host(out), a @ b.transpose(-1, -2))
    out = ttnn.matmul(_dev(device, a.transpose(-1, -2)), _dev(device, b), transpose_a=True, transpose_b=True)
    assert torch.equal(_host(out), a @ b.transpose(-1, -2))


def test_batch_of_b_may_broadcast_but_not_that_of_a(device):
    a, b = _small_ints(2, 3, 32, 64), _small_ints(1, 1, 64, 32)
    assert torch.equal(_host(ttnn.matmul(_dev(device, a), _dev(device, b))), a @ b)
    same = _small_ints(2, 3, 64, 32)
    assert torch.equal(_host(ttnn.matmul(_dev(device, a), _dev(device, same))), a @ same)
    with pytest.raises(RuntimeError, match=r"batch dimension 0 mismatch: a=1 vs b=2"):
        ttnn.matmul(_dev(device, _small_ints(1, 32, 64)), _dev(device, _small_ints(2, 64, 32)))
    with pytest.raises(
        RuntimeError, match=r"Input tensors must have the same rank, got a_shape rank: 2 vs b_shape rank: 3"
    ):
        ttnn.matmul(_dev(device, _small_ints(32, 64)), _dev(device, _small_ints(2, 64, 32)))


def test_inner_dimension_mismatch(device):
    with pytest.raises(
        RuntimeError,
        match=r"^The width of the first tensor must be equal to the height of the second tensor\. "
        r"Mismatch: width=64 height=96$",
    ):
        ttnn.matmul(_dev(device, torch.randn(32, 64)), _dev(device, torch.randn(96, 32)))


def test_inputs_must_be_tilized_and_on_device(device):
    rm = _dev(device, torch.randn(32, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    tile = _dev(device, torch.randn(32, 32))
    with pytest.raises(RuntimeError, match="^Inputs to matmul must be tilized$"):
        ttnn.matmul(rm, tile)
    host = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(RuntimeError, match="Input tensor B must be on device"):
        ttnn.matmul(tile, host)


def test_output_dtype_and_block_float_operands(device):
    a = _dev(device, torch.randn(64, 64), ttnn.bfloat8_b)
    b = _dev(device, torch.randn(64, 64), ttnn.bfloat4_b)
    out = ttnn.matmul(a, b)
    assert out.dtype == ttnn.bfloat8_b  # A's dtype by default
    out = ttnn.matmul(a, b, dtype=ttnn.bfloat16, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert out.dtype == ttnn.bfloat16 and out.memory_config() == ttnn.L1_MEMORY_CONFIG
    # bfp8 x bfp4 runs LoFi by default, which is exact for those formats.
    ref = _host(a) @ _host(b)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, fp32_dest_acc_en=True)
    exact = ttnn.matmul(a, b, dtype=ttnn.float32, compute_kernel_config=cfg)
    torch.testing.assert_close(_host(exact), ref, rtol=1e-6, atol=1e-5)


def test_linear_adds_the_bias_row(device):
    a, w, bias = _small_ints(1, 50, 64), _small_ints(64, 96), _small_ints(1, 96)
    out = ttnn.linear(_dev(device, a), _dev(device, w), bias=_dev(device, bias))
    assert out.shape == [1, 50, 96]
    assert torch.equal(_host(out), a @ w + bias)
    device.stats.reset()
    ttnn.linear(_dev(device, a), _dev(device, w), bias=_dev(device, bias))
    assert device.stats.ops_by_name == {"linear": 1}  # DRAM interleaved: the bias is fused


def test_linear_bias_is_a_separate_add_for_l1_output(device):
    a, w, bias = _small_ints(32, 64), _small_ints(64, 32), _small_ints(1, 32)
    device.stats.reset()
    out = ttnn.linear(
        _dev(device, a), _dev(device, w), bias=_dev(device, bias), memory_config=ttnn.L1_MEMORY_CONFIG
    )
    assert device.stats.ops_by_name == {"linear": 1, "add": 1}  # matmul.cpp get_post_process_bias
    assert torch.equal(_host(out), a @ w + bias)


def test_linear_bias_rules(device):
    a, w = _dev(device, torch.randn(32, 64)), _dev(device, torch.randn(64, 96))
    with pytest.raises(
        RuntimeError, match=r"^Unsupported bias shape: padded last dimension of bias, 64, not equal"
    ):
        ttnn.linear(a, w, bias=_dev(device, torch.randn(1, 64)))
    with pytest.raises(
        RuntimeError, match=r"^Unsupported bias shape: padded second last dimension of bias, 64"
    ):
        ttnn.linear(a, w, bias=_dev(device, torch.randn(40, 96)))
    with pytest.raises(RuntimeError, match=r"^Unsupported bias shape: batch size not equal to 1\.$"):
        ttnn.linear(a, w, bias=_dev(device, torch.randn(2, 1, 96)))
    with pytest.raises(RuntimeError, match=r"^Unsupported input layout$"):
        ttnn.linear(a, w, bias=_dev(device, torch.randn(1, 96), layout=ttnn.ROW_MAJOR_LAYOUT))
    batched = _dev(device, torch.randn(2, 64, 96))
    with pytest.raises(
        RuntimeError, match=r"^Batched input not supported when bias exists \(linear operation\)\.$"
    ):
        ttnn.linear(_dev(device, torch.randn(2, 32, 64)), batched, bias=_dev(device, torch.randn(1, 96)))


@pytest.mark.parametrize(
    ("activation", "ref"),
    [
        ("relu", torch.relu),
        ("silu", torch.nn.functional.silu),
        ("gelu", torch.nn.functional.gelu),
        # (GELU, True): the kernel's table approximation (numerics/sfpu.py), on the fp32 Dst of a float32 output.
        ((ttnn.UnaryOpType.GELU, True), lambda v: sfpu.gelu(v, sfpu.Mode(approx=True, fp32_dest=True))),
        (ttnn.UnaryWithParam(ttnn.UnaryOpType.SIGMOID), torch.sigmoid),
    ],
)
def test_activation_runs_after_the_matmul(device, activation, ref):
    a, w = _small_ints(32, 64) / 4, _small_ints(64, 32) / 4
    device.stats.reset()
    out = ttnn.linear(_dev(device, a), _dev(device, w), activation=activation, dtype=ttnn.float32)
    assert len(device.stats.ops_by_name) == 2  # an unfused unary op after the matmul (matmul.cpp)
    torch.testing.assert_close(_host(out), ref(a @ w), rtol=1e-6, atol=1e-6)


def test_activation_is_fused_with_a_core_grid(device):
    a, w = _small_ints(32, 64), _small_ints(64, 32)
    device.stats.reset()
    out = ttnn.matmul(_dev(device, a), _dev(device, w), activation="relu", core_grid=ttnn.CoreGrid(y=2, x=2))
    assert device.stats.ops_by_name == {"matmul": 1}
    assert torch.equal(_host(out), torch.relu(a @ w))


def test_unknown_activation_string(device):
    a = _dev(device, torch.randn(32, 32))
    with pytest.raises(RuntimeError, match="^Unknown unary op: swish$"):
        ttnn.matmul(a, a, activation="swish")


def _two_d(**overrides) -> ttnn.MatmulMultiCoreReuseMultiCastProgramConfig:
    """A 2D multicast config valid for a [64, 128] @ [128, 64] product on a 2x2 grid, with `overrides`."""
    kw = dict(
        compute_with_storage_grid_size=(2, 2),
        in0_block_w=2,
        out_subblock_h=1,
        out_subblock_w=1,
        per_core_M=1,
        per_core_N=1,
        transpose_mcast=False,
    )
    kw.update(overrides)
    return ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(**kw)


def test_two_d_program_config_defaults_and_fused_activation(device):
    a, w = _small_ints(64, 128), _small_ints(128, 64)
    cfg = _two_d(fused_activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU))
    assert cfg.out_block_h == 1 and cfg.compute_with_storage_grid_size == ttnn.CoreCoord(2, 2)
    out = ttnn.matmul(_dev(device, a), _dev(device, w), program_config=cfg)
    assert torch.equal(_host(out), torch.relu(a @ w))


@pytest.mark.parametrize(
    "config",
    [
        ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
            compute_with_storage_grid_size=ttnn.CoreCoord(8, 8),
            in0_block_w=4,
            out_subblock_h=1,
            out_subblock_w=2,
            per_core_M=2,
            per_core_N=2,
            fuse_batch=True,
            mcast_in0=True,
        ),
        ttnn.MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig(in0_block_w=4, per_core_M=2, per_core_N=1),
        ttnn.MatmulMultiCoreReuseProgramConfig(
            compute_with_storage_grid_size=(8, 8),
            in0_block_w=4,
            out_subblock_h=1,
            out_subblock_w=1,
            per_core_M=1,
            per_core_N=1,
        ),
    ],
    ids=lambda config: type(config).__name__,
)
def test_program_configs_are_accepted(device, config):
    a, w = _small_ints(64, 128), _small_ints(128, 64)
    assert torch.equal(_host(ttnn.matmul(_dev(device, a), _dev(device, w), program_config=config)), a @ w)


def test_program_config_rules(device):
    a, w = _dev(device, torch.randn(64, 128)), _dev(device, torch.randn(128, 64))

    with pytest.raises(RuntimeError, match=r"needs to be at most 8 to fit in hardware"):
        ttnn.matmul(
            a, w, program_config=_two_d(out_subblock_h=3, out_subblock_w=3, per_core_M=3, per_core_N=3)
        )
    with pytest.raises(RuntimeError, match=r"must fit within device grid \(8, 8\)"):
        ttnn.matmul(a, w, program_config=_two_d(compute_with_storage_grid_size=(9, 1)))
    with pytest.raises(RuntimeError, match=r"Num output blocks along y \(2\) must be smaller than or equal"):
        ttnn.matmul(a, w, program_config=_two_d(compute_with_storage_grid_size=(2, 1)))
    with pytest.raises(
        RuntimeError, match=r"^Cannot use both user core grid/coordinates and a program config$"
    ):
        ttnn.matmul(a, w, program_config=_two_d(), core_grid=ttnn.CoreGrid(y=2, x=2))
    with pytest.raises(
        RuntimeError, match=r"^Matmul with fused batch requires input tensors of shapes BCMK\*11KN"
    ):
        ttnn.matmul(
            _dev(device, torch.randn(2, 64, 128)),
            _dev(device, torch.randn(2, 128, 64)),
            program_config=_two_d(),
        )
