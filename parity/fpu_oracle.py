"""`python -m parity.fpu_oracle`: the simulator's exact matrix-engine mode against wolfpine's MatrixUnit.

wolfpine 2.2 (PyPI, BSD-3-Clause) ports ttsim's FPU datapath to Python. This driver issues the MVMULs of a
ttnn matmul the way the kernel does (core/sim/numerics/fpu.py: per K tile, per fidelity phase, per 16-deep K
face) through wolfpine's `MatrixUnit._fpu_group_sums_batch` and `_fpu_accumulate_batch`, starting from a
zeroed Dst, and compares the Dst bit patterns with `ttport.sim.numerics.fpu.matmul_dst` - and, for the full op,
with ttnn.matmul run on the simulator in exact mode (Dst packed to the output dtype). Exit status 1 on any
mismatch. Run by `nox -s numerics` (CI).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
import torch

from ttport.sim.numerics import fpu, mode
from ttport.sim.types import DataType, MathFidelity

from .result import CheckResult

FIDELITIES = (MathFidelity.LoFi, MathFidelity.HiFi2, MathFidelity.HiFi3, MathFidelity.HiFi4)
DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B, DataType.FLOAT32)
# (batch of in0, M, K, N, batch of in1): K not a multiple of 32 is zero-padded like TILE padding.
SHAPES = (
    ((), 32, 64, 32, ()),
    ((), 19, 45, 33, ()),
    ((2,), 32, 96, 64, ()),
    ((2,), 8, 40, 16, (2,)),
    ((), 64, 288, 32, ()),
)


def _matrix_unit():  # imported lazily: wolfpine is only installed by the numerics session
    from framework.pe.tensix.backends.matrix import MatrixUnit

    return MatrixUnit


def sample_operand(shape: tuple[int, ...], dtype: DataType, gen: torch.Generator) -> torch.Tensor:
    """Values of `dtype` with a wide exponent spread, exact zeros and sign mixes (as stored by the simulator)."""
    from ttport.sim.numerics import formats

    x = torch.randn(shape, generator=gen) * torch.exp2(torch.randint(-6, 7, shape, generator=gen).float())
    x = torch.where(torch.rand(shape, generator=gen) < 0.05, torch.zeros(()), x)
    return formats.quantize(x, dtype)


def wolfpine_dst(
    a: torch.Tensor,
    b: torch.Tensor,
    a_dtype: DataType,
    b_dtype: DataType,
    fidelity: MathFidelity,
    dst32: bool,
    arch: str,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Dst bit patterns (uint32) of a @ b, every MVMUL through wolfpine's MatrixUnit, starting from the Dst
    bit patterns `init` (output shape; zeros by default)."""
    unit = _matrix_unit()
    a3, b3, out_shape = fpu._batched(a, b)
    left = fpu.source_bits(a3, a_dtype).numpy().astype(np.int64) & 0xFFFFFFFF
    right = fpu.source_bits(b3, b_dtype).numpy().astype(np.int64) & 0xFFFFFFFF
    k = left.shape[-1]
    pad = (-k) % fpu.K_TILE
    left = np.pad(left, ((0, 0), (0, 0), (0, pad)))
    right = np.pad(right, ((0, 0), (0, pad), (0, 0)))
    batch, m, n = left.shape[0], left.shape[1], right.shape[-1]
    dst = np.zeros((batch, m, n), dtype=np.int64)
    if init is not None:
        dst[:] = np.broadcast_to(init.astype(np.int64), (*out_shape[:-2], m, n)).reshape(batch, m, n)
    for kt in range((k + pad) // fpu.K_TILE):
        for phase in fpu.PHASES[fidelity]:
            for face in range(fpu.K_TILE // fpu.MVMUL_DEPTH):
                k0 = kt * fpu.K_TILE + face * fpu.MVMUL_DEPTH
                for i in range(batch):
                    src_a = right[min(i, right.shape[0] - 1), k0 : k0 + 16, :]  # (16 lanes, N)
                    src_b = left[i, :, k0 : k0 + 16].T  # (16 lanes, M)
                    sums = unit._fpu_group_sums_batch(
                        src_a[:, np.newaxis, :], src_b[:, :, np.newaxis], phase, fpu.exponent_adjust(phase)
                    )
                    dst[i] = unit._fpu_accumulate_batch(sums, dst[i], dst32, arch != "blackhole")
    return dst.reshape(out_shape).astype(np.uint32)


def run_sweep(quick: bool = False) -> CheckResult:
    result = CheckResult("fpu (exact mode vs wolfpine MatrixUnit)")
    gen = torch.Generator().manual_seed(12)
    shapes = SHAPES[:3] if quick else SHAPES
    for (a_batch, m, k, n, b_batch), fidelity, dst32, (a_dtype, b_dtype) in itertools.product(
        shapes,
        FIDELITIES,
        (False, True),
        [(d, d) for d in DTYPES] + [(DataType.BFLOAT16, DataType.BFLOAT8_B)],
    ):
        a = sample_operand((*a_batch, m, k), a_dtype, gen)
        b = sample_operand((*b_batch, k, n), b_dtype, gen)
        for arch in ("wormhole_b0", "blackhole") if (m, k) == (32, 64) else ("wormhole_b0",):
            ours = fpu.matmul_dst(a, b, a_dtype, b_dtype, fidelity, dst32, arch=arch)
            theirs = wolfpine_dst(a, b, a_dtype, b_dtype, fidelity, dst32, arch)
            ours_bits = ours.contiguous().view(torch.int32).numpy().astype(np.uint32)
            diff = int((ours_bits != theirs).sum())
            result.case(
                diff == 0,
                f"{a_dtype.name}x{b_dtype.name} {fidelity.name} dst32={dst32} {arch} "
                f"a{(*a_batch, m, k)} b{(*b_batch, k, n)}: {diff} of {theirs.size} Dst values differ",
            )
    return result


def _packed_blocks(
    a: torch.Tensor, b: torch.Tensor, dtype: DataType, fidelity: MathFidelity, dst32: bool, arch: str
) -> torch.Tensor:
    """The packed output of the matmul kernel over K = 70 (3 tiles): ttnn's generated program configs take
    in0_block_w = 1 for an odd tile count (matmul_program_config.cpp), so three K blocks. With a 16-bit Dst and
    a block-float output the partials between blocks are stored in the output's format
    (interm0_data_format) and reloaded into Dst (bmm_large_block_zm_fused_bias_activation.cpp); otherwise
    they reload exactly and the blocks are one accumulation."""
    from ttport.sim.numerics import formats

    def pack(dst: np.ndarray) -> torch.Tensor:
        values = torch.from_numpy(dst.astype(np.int64)).to(torch.int32).view(torch.float32)
        return formats.quantize(values, dtype, formats.PACKER)

    if dst32 or dtype not in formats.BLOCK_FLOAT_DTYPES:
        return pack(wolfpine_dst(a, b, dtype, dtype, fidelity, dst32, arch))
    dst = None
    for k0 in range(0, a.shape[-1], fpu.K_TILE):
        block = slice(k0, k0 + fpu.K_TILE)
        dst = wolfpine_dst(a[..., block], b[block], dtype, dtype, fidelity, dst32, arch, init=dst)
        if k0 + fpu.K_TILE < a.shape[-1]:
            dst = pack(dst).contiguous().view(torch.int32).numpy().astype(np.uint32)
    return pack(dst)


def run_op_cases() -> CheckResult:
    """ttnn.matmul / ttnn.linear on the simulator in exact mode: the packed output equals wolfpine's Dst packed
    by the simulator's packer rounding (the packer is outside MatrixUnit)."""
    from ttport.sim import ttnn

    result = CheckResult("ttnn.matmul exact mode (packed)")
    gen = torch.Generator().manual_seed(7)
    device = ttnn.open_device(device_id=0)
    try:
        for fidelity, dst32, dtype in itertools.product(FIDELITIES, (False, True), DTYPES):
            a = sample_operand((2, 40, 70), dtype, gen)
            b = sample_operand((70, 48), dtype, gen)
            config = ttnn.WormholeComputeKernelConfig(math_fidelity=fidelity, fp32_dest_acc_en=dst32)
            ta = ttnn.from_torch(a, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)
            tb = ttnn.from_torch(b, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)
            with mode.numerics_mode(mode.EXACT):
                out = ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=config)).to(torch.float32)
            expected = _packed_blocks(a, b, dtype, fidelity, dst32, device.arch())
            same = torch.equal(out.view(torch.int32), expected.view(torch.int32))
            result.case(same, f"matmul {dtype.name} {fidelity.name} dst32={dst32}: packed output differs")
    finally:
        ttnn.close_device(device)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity.fpu_oracle", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the first three shapes only")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every mismatch")
    args = parser.parse_args(argv)
    failed = False
    for run in (lambda: run_sweep(args.quick), run_op_cases):
        start = time.perf_counter()
        res = run()
        seconds = time.perf_counter() - start
        bad = len(res.mismatches)
        print(
            f"{res.name}: {res.cases} cases, {res.cases - bad} bit-identical, {bad} differ ({seconds:.1f} s)"
        )
        for line in res.mismatches if args.verbose else res.mismatches[:10]:
            print(f"  MISMATCH {line}")
        failed |= bad > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
