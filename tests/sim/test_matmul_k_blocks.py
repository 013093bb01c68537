"""K blocks of the matmul kernel: partials spilled to L1 and reloaded, and packer L1 accumulation.

Kernel: ttnn/cpp/ttnn/operations/matmul/device/kernels/compute/bmm_large_block_zm_fused_bias_activation.cpp;
factories: packer_l1_acc_en = packer_l1_acc && num_blocks > 1, interm0_data_format (numerics/fidelity.py).
"""

from __future__ import annotations

import pytest
import torch

from parity.fpu_oracle import sample_operand
from ttport.sim import ttnn
from ttport.sim.numerics import fidelity, formats, fpu, mode
from ttport.sim.types import DataType, MathFidelity

BF16 = DataType.BFLOAT16
LOFI_BF16_DST = fidelity.MatmulNumerics(MathFidelity.LoFi, fp32_dest_acc_en=False)


def _blocks(**kw) -> fidelity.KBlocking | None:
    return fidelity.k_blocking(3, 1, **{"fp32_dest_acc_en": False, "output_dtype": BF16, **kw})


def test_k_blocking_follows_the_program_factories() -> None:
    # One block (Kt / in0_block_w == 1): nothing leaves Dst before the end.
    assert fidelity.k_blocking(4, 4, packer_l1_acc=True, fp32_dest_acc_en=True, output_dtype=BF16) is None
    # interm0_data_format: float32 with an fp32 Dst; else bfloat16 with L1 accumulation, the output's without.
    fp32 = fidelity.k_blocking(4, 2, packer_l1_acc=True, fp32_dest_acc_en=True, output_dtype=BF16)
    assert fp32 == fidelity.KBlocking(2, True, DataType.FLOAT32)
    assert _blocks(packer_l1_acc=True) == fidelity.KBlocking(1, True, BF16)
    spill = _blocks(packer_l1_acc=False, output_dtype=DataType.BFLOAT8_B)
    assert spill == fidelity.KBlocking(1, False, DataType.BFLOAT8_B)


@pytest.mark.parametrize("numerics_mode", ["exact", "default"])
def test_l1_accumulation_rounds_per_block_not_per_mvmul(numerics_mode: str) -> None:
    # K = 3 tiles of one block each, a row of ones. Tile 0: 256 + 31 ones -> the 16-bit Dst holds 288 (271
    # rounds half up to 272 on the first MVMUL, then + 16). Tiles 1 and 2: 32 x 2^-4, i.e. + 1 per MVMUL.
    a = torch.ones(1, 96)
    b = torch.full((96, 1), 2.0**-4)
    b[:32, 0] = 1.0
    b[0, 0] = 256.0
    with mode.numerics_mode(numerics_mode):

        def run(blocking: fidelity.KBlocking | None) -> float:
            return fidelity.matmul(a, b, BF16, BF16, LOFI_BF16_DST, blocking=blocking).item()

        # One Dst accumulation: every + 1 lands on an odd value at spacing 2 and rounds up: 288 + 4 x 2.
        assert run(None) == 296.0
        # Without L1 accumulation the bfloat16 partials reload exactly: the same sum.
        assert run(_blocks(packer_l1_acc=False)) == 296.0
        # With it, block 1 sums alone (1 + 1 = 2, exact) and the packer adds it in L1: 290; the last block
        # reloads 290 into Dst and adds 1 twice: 291 -> 292, 293 -> 294.
        assert run(_blocks(packer_l1_acc=True)) == 294.0
        # With a fused bias the last block is added in L1 too: 288 + 2 + 2.
        assert run(_blocks(packer_l1_acc=True, fused_bias=True)) == 292.0
        # A 32-bit Dst rounds nothing here: the exact 287 + 4 (in default mode too: no noise on a 9-bit sum).
        fp32 = fidelity.k_blocking(3, 1, packer_l1_acc=True, fp32_dest_acc_en=True, output_dtype=BF16)
        numerics = fidelity.MatmulNumerics(MathFidelity.LoFi, fp32_dest_acc_en=True)
        assert fidelity.matmul(a, b, BF16, BF16, numerics, blocking=fp32).item() == 291.0


@pytest.mark.parametrize("numerics_mode", ["exact", "default"])
def test_bf16_dst_spills_block_float_partials(numerics_mode: str) -> None:
    # bfloat8_b output, 16-bit Dst, no L1 accumulation: the partials CB has the output's format. Block 0
    # leaves 288, block 1 adds 1 (one face of 16 x 2^-4): 289 -> 290. 290 is a tie between bfloat8_b's 288
    # and 292 (spacing 4): the spill keeps 288; block 2 adds 1 again: 290. Kept in Dst: 291 -> 292.
    a = torch.ones(1, 96)
    b = torch.zeros(96, 1)
    b[:32, 0] = 1.0
    b[0, 0] = 256.0
    b[32:48, 0] = 2.0**-4
    b[64:80, 0] = 2.0**-4
    with mode.numerics_mode(numerics_mode):
        spill = _blocks(packer_l1_acc=False, output_dtype=DataType.BFLOAT8_B)
        assert fidelity.matmul(a, b, BF16, BF16, LOFI_BF16_DST, blocking=spill).item() == 290.0
        assert fidelity.matmul(a, b, BF16, BF16, LOFI_BF16_DST).item() == 292.0


def test_ttnn_linear_with_packer_l1_acc_follows_the_blocks(device) -> None:
    """ttnn.linear with a program config of in0_block_w = 1 over K = 3 tiles, exact mode: the op's output is
    the blocks composed from single-block Dst results (fpu.matmul_dst) and bfloat16 L1 sums."""
    gen = torch.Generator().manual_seed(7)
    a = sample_operand((64, 96), BF16, gen)
    b = sample_operand((96, 64), BF16, gen)
    ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    tb = ttnn.from_torch(b, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    program = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(2, 2), in0_block_w=1, out_subblock_h=1, out_subblock_w=1,
        per_core_M=1, per_core_N=1, transpose_mcast=False,
    )  # fmt: skip

    def run(l1_acc: bool) -> torch.Tensor:
        config = ttnn.WormholeComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.HiFi2, fp32_dest_acc_en=False, packer_l1_acc=l1_acc
        )
        out = ttnn.linear(ta, tb, program_config=program, compute_kernel_config=config)
        return ttnn.to_torch(out).float()

    def dst(k0: int, k1: int, init: torch.Tensor | None = None) -> torch.Tensor:
        return fpu.matmul_dst(a[:, k0:k1], b[k0:k1], BF16, BF16, MathFidelity.HiFi2, False, dst=init)

    with mode.numerics_mode(mode.EXACT):
        partial = formats.round_bfloat16(dst(0, 32) + dst(32, 64), formats.PACKER)
        assert torch.equal(run(True), dst(64, 96, partial))
        assert torch.equal(run(False), dst(0, 96))
        assert not torch.equal(run(True), run(False))


def test_ttnn_matmul_without_program_config_blocks_like_ttnn(device) -> None:
    """No program config: the blocks are those of the config ttnn generates (the projection's blocking,
    2D multicast: in0_block_w = Kt / grid_x when it divides). K = 16 tiles on an 8-wide grid: 2 tiles a
    block, 8 blocks; default mode, 16-bit Dst: L1 accumulation lowers the half-up rounding bias."""
    gen = torch.Generator().manual_seed(1)
    a = formats.quantize(torch.randn(64, 512, generator=gen), BF16)
    b = formats.quantize(torch.randn(512, 64, generator=gen) * 0.02, BF16)
    ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    tb = ttnn.from_torch(b, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    ref = a.double() @ b.double()

    def ratio(l1_acc: bool) -> float:
        config = ttnn.WormholeComputeKernelConfig(
            math_fidelity=ttnn.MathFidelity.HiFi2, fp32_dest_acc_en=False, packer_l1_acc=l1_acc
        )
        out = ttnn.to_torch(ttnn.matmul(ta, tb, compute_kernel_config=config)).double()
        return (out.norm() / ref.norm()).item()

    plain, l1 = ratio(False), ratio(True)
    assert plain > l1 > 1.0
    assert plain - 1.0 > 1.5 * (l1 - 1.0)


@pytest.mark.parametrize("l1_acc", [False, True])
def test_norm_bias_of_bf16_dst_matches_the_hardware_measurement(l1_acc: bool) -> None:
    """bfloat8_b x bfloat4_b, 16-bit Dst, K = 2048 in blocks of 8 tiles: the output norm over the float64
    product's. Measured on hardware with plain ttnn.matmul (public notes of a tt-metal kernel project,
    test_dest_gain_probe.py): 1.0230 without packer L1 accumulation, 1.0079 with it. Both modes agree."""
    gen = torch.Generator().manual_seed(0)
    a = formats.quantize(torch.randn(16, 2048, generator=gen), DataType.BFLOAT8_B)
    b = formats.quantize(torch.randn(2048, 32, generator=gen) * 0.02, DataType.BFLOAT4_B)
    ref = a.double() @ b.double()
    blocking = fidelity.k_blocking(64, 8, packer_l1_acc=l1_acc, fp32_dest_acc_en=False, output_dtype=BF16)
    ratios = {}
    for which in ("default", "exact"):
        with mode.numerics_mode(which):
            out = fidelity.matmul(
                a, b, DataType.BFLOAT8_B, DataType.BFLOAT4_B, LOFI_BF16_DST, blocking=blocking
            )
        ratios[which] = (out.double().norm() / ref.norm()).item()
    expected = 1.0079 if l1_acc else 1.0230
    for which, value in ratios.items():
        assert value == pytest.approx(expected, abs=0.004), which
    assert ratios["default"] == pytest.approx(ratios["exact"], abs=0.001)
