"""A bfloat16 -> bfloat16 SFPU unary op looks its packed result up by the input's stored bits
(sfpu.apply_packed_bfloat16): the same bits as the general path (apply on the widened values, then the
packer's rounding), on every bfloat16 pattern."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import formats, sfpu
from ttport.sim.ops import eltwise

#: every bfloat16 bit pattern (NaN payloads, infinities, denormals, -0.0 included), as a [2, 32768] tensor
ALL = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).reshape(2, -1)


def _general_path(name: str, approx: bool, arch: str, stored: torch.Tensor = ALL) -> torch.Tensor:
    """The packed output of the unary op on bfloat16 storage `stored` as the general path computes it."""
    mode = sfpu.Mode(approx=approx, fp32_dest=False, arch=arch)
    values = sfpu.apply(eltwise._SFPU_KERNELS[name], stored.to(torch.float32), mode)
    return formats.bfloat16_bits(formats.quantize(values, ttnn.bfloat16, formats.PACKER))


@pytest.mark.parametrize("arch", [sfpu.WORMHOLE_B0, sfpu.BLACKHOLE])
@pytest.mark.parametrize("approx", [False, True])
@pytest.mark.parametrize("name", sorted(eltwise._SFPU_KERNELS))
def test_lookup_gives_the_general_paths_bits_on_every_pattern(name: str, approx: bool, arch: str) -> None:
    mode = sfpu.Mode(approx=approx, fp32_dest=False, arch=arch)
    got = sfpu.apply_packed_bfloat16(eltwise._SFPU_KERNELS[name], ALL, mode)
    assert got.dtype == torch.bfloat16 and got.shape == ALL.shape
    assert torch.equal(got.view(torch.int16), _general_path(name, approx, arch).view(torch.int16))


@pytest.mark.parametrize("op", ["exp", "silu", "gelu", "sigmoid", "log"])
def test_bfloat16_unary_ops_take_the_lookup(device, op: str) -> None:
    x = ttnn.from_torch(ALL.float(), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = getattr(ttnn, op)(x)
    assert out.dtype == ttnn.bfloat16 and list(out.shape) == list(ALL.shape)
    # (from_torch stores every NaN as 0x7FC0: the stored bits are the input)
    expected = _general_path(op, False, sfpu.arch_name(device.arch()), x._chips[0])
    assert torch.equal(out._chips[0].view(torch.int16), expected.view(torch.int16))
    # into a preallocated output (output_tensor=) too
    target = ttnn.from_torch(
        torch.zeros(ALL.shape), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )
    getattr(ttnn, op)(x, output_tensor=target)
    assert torch.equal(target._chips[0].view(torch.int16), expected.view(torch.int16))


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "broadcast"])
def test_lookup_in_blocks_gives_the_general_paths_bits(monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    """Blocks of 1000 values (not dividing the 65536 patterns, the last block partial) over contiguous,
    transposed and broadcast (expanded) storage: every pattern's bits as the general path gives them."""
    monkeypatch.setattr(sfpu, "LOOKUP_BLOCK", 1000)
    stored = {
        "contiguous": ALL,
        "transposed": ALL.reshape(256, 256).t(),
        "broadcast": ALL.reshape(1, -1)[:, :4096].expand(3, 4096),
    }[layout]
    mode = sfpu.Mode(approx=False, fp32_dest=False, arch=sfpu.WORMHOLE_B0)
    got = sfpu.apply_packed_bfloat16(eltwise._SFPU_KERNELS["exp"], stored, mode)
    assert got.shape == stored.shape
    expected = _general_path("exp", False, sfpu.WORMHOLE_B0, stored)
    assert torch.equal(got.view(torch.int16), expected.view(torch.int16))
