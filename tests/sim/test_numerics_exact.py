"""Exact numerics mode (the matrix engine MVMUL by MVMUL) and the two tt-metal op tests it must keep passing.

The full bit-for-bit sweep against wolfpine's MatrixUnit runs in `nox -s numerics` (parity/fpu_oracle.py);
here the mode switch, hand-derived Dst arithmetic and checksums of wolfpine's Dst for fixed inputs are pinned.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from parity.fpu_oracle import sample_operand
from ttport.sim import numerics, ttnn
from ttport.sim.numerics import fpu, mode
from ttport.sim.types import DataType, MathFidelity


@pytest.fixture
def exact():
    with mode.numerics_mode(mode.EXACT):
        yield


def test_mode_switch_and_env_var() -> None:
    assert numerics.get_mode() == "default"
    with numerics.numerics_mode("exact"):
        assert numerics.get_mode() == "exact"
    assert numerics.get_mode() == "default"
    with pytest.raises(ValueError, match="numerics mode 'fast': expected one of default, exact"):
        numerics.set_mode("fast")
    probe = "from ttport.sim import numerics; print(numerics.get_mode())"
    env = {"TTPORT_NUMERICS": "exact", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "exact"
    bad = subprocess.run(
        [sys.executable, "-c", probe], env={"TTPORT_NUMERICS": "bogus"}, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "TTPORT_NUMERICS='bogus': expected one of default, exact" in bad.stderr


def test_bf16_dst_rounds_every_mvmul_half_up() -> None:
    # Row of ones times [256, 1 x 31]: the first MVMUL's groups sum to 263 and 8, exact; Dst rounds 271 to
    # bfloat16 half up (272, where nearest-even would also give 272 but float32 keeps 271); the second MVMUL
    # adds 16 exactly: 288. With a 32-bit Dst nothing rounds: 287.
    a = torch.ones(1, 32)
    b = torch.ones(32, 1)
    b[0, 0] = 256.0
    bf16 = DataType.BFLOAT16
    assert fpu.matmul_dst(a, b, bf16, bf16, MathFidelity.LoFi, False).item() == 288.0
    assert fpu.matmul_dst(a, b, bf16, bf16, MathFidelity.LoFi, True).item() == 287.0
    # Half up where nearest-even would round down: 1 + 2^-8 (a tie in bfloat16) becomes 1 + 2^-7.
    a = torch.tensor([[1.0, 2.0**-8] + [0.0] * 30])
    b = torch.ones(32, 1)
    assert fpu.matmul_dst(a, b, bf16, bf16, MathFidelity.HiFi4, False).item() == 1.0 + 2.0**-7


def test_fidelity_slices_operands() -> None:
    # srcB (in0) = 1 + 2^-7 needs its low slice; srcA (in1) = 1 + 2^-5 needs its low slice (phase 1).
    a = torch.tensor([[1.0 + 2.0**-7]])
    b = torch.tensor([[1.0 + 2.0**-5]])
    got = {
        f: fpu.matmul_dst(a, b, DataType.BFLOAT16, DataType.BFLOAT16, f, True).item() for f in MathFidelity
    }
    assert got[MathFidelity.LoFi] == 1.0
    assert got[MathFidelity.HiFi2] == 1.0 + 2.0**-5
    assert got[MathFidelity.HiFi3] == 1.0 + 2.0**-5 + 2.0**-7
    assert got[MathFidelity.HiFi4] == (1.0 + 2.0**-7) * (1.0 + 2.0**-5)


def test_wormhole_negative_one_unit_renormalisation() -> None:
    # Dst = -(1 + 2^-23) plus 1 * 1 leaves a negative magnitude of exactly one unit (-2^-23). Wormhole's
    # renormaliser counts leading sign bits and gets the shift 27 wrong: -2^4; Blackhole fixed it.
    one = torch.ones(1, 1)
    dst = torch.tensor([[-(1.0 + 2.0**-23)]])
    args = (one, one, DataType.FLOAT32, DataType.FLOAT32, MathFidelity.LoFi, True)
    assert fpu.matmul_dst(*args, arch="blackhole", dst=dst).item() == -(2.0**-23)
    assert fpu.matmul_dst(*args, arch="wormhole_b0", dst=dst).item() == -16.0


# (fidelity, fp32_dest_acc_en, dtype) -> (sum of the Dst bit patterns mod 2^32, xor of them) that wolfpine's
# MatrixUnit produced for sample_operand((8, 40)) @ sample_operand((40, 8)), generator seeded 5, Wormhole.
WOLFPINE_CHECKSUMS = {
    ("LoFi", False, "BFLOAT16"): (1836384256, 2276917248),
    ("LoFi", False, "FLOAT32"): (1826947072, 2162491392),
    ("LoFi", True, "BFLOAT16"): (1835704562, 2277125462),
    ("LoFi", True, "FLOAT32"): (1826497268, 2163530064),
    ("HiFi2", False, "BFLOAT16"): (1857093632, 2269708288),
    ("HiFi2", False, "FLOAT32"): (1851588608, 2266955776),
    ("HiFi2", True, "BFLOAT16"): (1855937423, 2271982539),
    ("HiFi2", True, "FLOAT32"): (1850380870, 2265008920),
    ("HiFi3", False, "BFLOAT16"): (1858732032, 2268856320),
    ("HiFi3", False, "FLOAT32"): (1857224704, 2269184000),
    ("HiFi3", True, "BFLOAT16"): (1857310711, 2271796195),
    ("HiFi3", True, "FLOAT32"): (1856217214, 2272768788),
    ("HiFi4", False, "BFLOAT16"): (1858797568, 2267217920),
    ("HiFi4", False, "FLOAT32"): (1857290240, 2269118464),
    ("HiFi4", True, "BFLOAT16"): (1857359551, 2271769941),
    ("HiFi4", True, "FLOAT32"): (1856387737, 2272598323),
}


@pytest.mark.parametrize("key", list(WOLFPINE_CHECKSUMS), ids=lambda k: "-".join(map(str, k)))
def test_dst_matches_wolfpine_checksums(key: tuple[str, bool, str]) -> None:
    fidelity, dst32, dtype = MathFidelity[key[0]], key[1], DataType[key[2]]
    gen = torch.Generator().manual_seed(5)
    a = sample_operand((8, 40), dtype, gen)
    b = sample_operand((40, 8), dtype, gen)
    bits = fpu.matmul_dst(a, b, dtype, dtype, fidelity, dst32).contiguous().view(torch.int32).to(torch.int64)
    bits &= 0xFFFFFFFF
    xor = 0
    for v in bits.flatten().tolist():
        xor ^= v
    assert (int(bits.sum()) % 2**32, xor) == WOLFPINE_CHECKSUMS[key]


def test_ttnn_matmul_and_linear_follow_exact_mode(device, exact) -> None:
    gen = torch.Generator().manual_seed(3)
    a = sample_operand((2, 40, 70), DataType.BFLOAT16, gen)
    b = sample_operand((70, 48), DataType.BFLOAT16, gen)
    ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    tb = ttnn.from_torch(b, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    config = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, fp32_dest_acc_en=False)
    out = ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=config)).float()
    dst = fpu.matmul_dst(a, b, DataType.BFLOAT16, DataType.BFLOAT16, MathFidelity.HiFi2, False)
    assert torch.equal(out, dst)  # a 16-bit Dst already holds bfloat16: packing is exact
    lin = ttnn.to_torch(ttnn.linear(ta, tb, compute_kernel_config=config)).float()
    assert torch.equal(lin, out)
    with mode.numerics_mode(mode.DEFAULT):
        default = ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=config)).float()
    assert not torch.equal(default, out)  # default mode rounds differently (statistically equivalent)


# --- tt-metal op tests that pass on hardware -------------------------------------------------------------


@pytest.mark.parametrize("numerics_mode", ["default", "exact"])
def test_multiply_by_scalar_rounds_nearest_even(device, numerics_mode: str) -> None:
    # tests/ttnn/unit_tests/operations/eltwise/test_mul.py: bfloat16 multiply asserts 0 ULP against torch.
    with mode.numerics_mode(numerics_mode):
        x = torch.arange(-300, 300, dtype=torch.float32).to(torch.bfloat16).reshape(1, 1, 20, 30)
        t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        out = ttnn.to_torch(ttnn.multiply(t, 3.0))
        assert torch.equal(out, x * 3.0)
        assert out[0, 0, 12, 27].item() == 260.0 and x[0, 0, 12, 27].item() == 87.0  # 261 is a tie
        y = torch.randn(2, 3, 50, 70, dtype=torch.bfloat16) * 50
        z = torch.randn(2, 3, 50, 70, dtype=torch.bfloat16)
        ty = ttnn.from_torch(y, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        tz = ttnn.from_torch(z, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        assert torch.equal(ttnn.to_torch(ttnn.multiply(ty, tz)), y * z)
        assert torch.equal(ttnn.to_torch(ty * tz), y * z)


def test_multiply_zero_times_inf_is_zero_in_bfloat16(device) -> None:
    x = torch.tensor([[0.0, float("inf"), 2.0, -0.0]], dtype=torch.bfloat16)
    y = torch.tensor([[float("inf"), 0.0, 3.0, float("nan")]], dtype=torch.bfloat16)
    tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    ty = ttnn.from_torch(y, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.to_torch(ttnn.multiply(tx, ty)).float()
    assert out.tolist() == [[0.0, 0.0, 6.0, 0.0]]


def _frobenius(expected: torch.Tensor, actual: torch.Tensor) -> float:
    """Relative Frobenius error as tests/ttnn/utils_for_testing.py assert_numeric_metrics computes it."""
    expected, actual = expected.double().flatten(), actual.double().flatten()
    return float(torch.linalg.norm(actual - expected) / torch.linalg.norm(expected))


@pytest.mark.parametrize("numerics_mode", ["default", "exact"])
@pytest.mark.parametrize("shape", [(16, 41, 64), (16, 41, 63)])
@pytest.mark.parametrize("dim", [None, -1])
def test_sum_bfloat8_b_within_tt_metal_tolerance(device, numerics_mode: str, shape, dim) -> None:
    # tests/ttnn/unit_tests/operations/reduce/test_sum.py::test_sum_global (bfloat8_b) and
    # test_reduce_family.py::test_reduce_family_bfp8: frobenius <= 0.068, pcc >= 0.999, rtol 0.1, atol 230.
    torch.manual_seed(0)
    x = torch.zeros(shape).uniform_(-100, 100).to(torch.bfloat16)
    expected = torch.sum(x, dtype=torch.float32) if dim is None else torch.sum(x, dim=dim)
    with mode.numerics_mode(numerics_mode):
        t = ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device)
        out = ttnn.to_torch(ttnn.from_device(ttnn.sum(t, dim=dim))).float().reshape(expected.shape)
    assert _frobenius(expected, out) <= 0.068
    assert torch.allclose(out, expected.float(), rtol=0.1, atol=230.0)


@pytest.mark.parametrize(
    ("fidelity", "dst32"),
    [
        (MathFidelity.LoFi, False),
        (MathFidelity.HiFi2, False),
        (MathFidelity.HiFi4, False),
        (MathFidelity.HiFi4, True),
    ],
)
def test_default_mode_error_statistics_match_exact_mode(fidelity: MathFidelity, dst32: bool) -> None:
    # benchmarks/bench_matmul_numerics.py on the ports' shapes, here on a small one: 1 - PCC and relative RMS
    # error against float64 of the default mode within 20% of exact mode's (30% on 1 - PCC for the fp32
    # Dst, whose alignment noise is a calibrated estimate).
    from ttport.sim.numerics import fidelity as fid_module
    from ttport.sim.numerics import formats

    gen = torch.Generator().manual_seed(11)
    a = formats.quantize(torch.randn(32, 768, generator=gen), DataType.BFLOAT16)
    b = formats.quantize(torch.randn(768, 64, generator=gen) * 0.02, DataType.BFLOAT16)
    ref = a.double() @ b.double()

    def stats(out: torch.Tensor) -> tuple[float, float]:
        o = out.double().flatten()
        pcc = torch.corrcoef(torch.stack([o, ref.flatten()]))[0, 1].item()
        return 1.0 - pcc, (torch.linalg.norm(o - ref.flatten()) / torch.linalg.norm(ref)).item()

    numerics_config = fid_module.MatmulNumerics(fidelity, dst32)
    default = stats(fid_module.matmul(a, b, DataType.BFLOAT16, DataType.BFLOAT16, numerics_config))
    exact = stats(fpu.matmul_dst(a, b, DataType.BFLOAT16, DataType.BFLOAT16, fidelity, dst32))
    pcc_tolerance = 0.3 if dst32 else 0.2
    assert abs(default[0] / exact[0] - 1.0) <= pcc_tolerance, (default, exact)
    assert abs(default[1] / exact[1] - 1.0) <= 0.2, (default, exact)
