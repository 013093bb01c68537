"""The SSM kernels' fast paths (core/sim/ops/ssm.py) give the bits of the general path.

The general path is what every other device op does with a float32 result for a bfloat16 output: the packer's
rounding (formats.round_bfloat16(..., PACKER): ties away from zero, NaN -> 0x7FC0) and the high halves as
storage. The fast paths round blocks of products with fewer passes, choosing by the block's contents; these
tests feed every branch (finite, infinities without NaN, NaN) with ties, denormals and overflow.
"""

from __future__ import annotations

import pytest
import torch

from ttport.sim.numerics import formats
from ttport.sim.ops import ssm

INF, NAN = float("inf"), float("nan")


def _general(values: torch.Tensor) -> torch.Tensor:
    """The general path's storage bits (int16) of float32 values."""
    return formats.bfloat16_bits(formats.round_bfloat16(values, formats.PACKER)).view(torch.int16)


def _from_bits(bits: list[int] | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(bits, dtype=torch.int64).to(torch.int32).view(torch.float32)


def _edge_floats() -> torch.Tensor:
    """Every bfloat16 high half with low halves 0, 1, 0x7FFF, 0x8000 (a tie), 0x8001 and 0xFFFF: every NaN
    class, infinities, denormals, ties and overflow into infinity."""
    high = torch.arange(2**16, dtype=torch.int64) << 16
    low = torch.tensor([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], dtype=torch.int64)
    return _from_bits((high[:, None] | low[None, :]).reshape(-1))


def _pack_block(values: torch.Tensor) -> torch.Tensor:
    out = torch.empty(values.shape, dtype=torch.bfloat16)
    ssm._pack_block_(values.clone(), out)
    return out.view(torch.int16)


@pytest.mark.parametrize("kind", ["finite", "+inf", "-inf", "nan"])
def test_pack_block_matches_the_general_path_on_every_branch(kind: str) -> None:
    """Infinities of one sign (their sum is infinite, not NaN: Mamba's A x delta holds -inf) take the
    bit-rounding branch; both signs sum to NaN and take the general path, as NaNs do."""
    x = _edge_floats()
    if kind == "finite":
        x = x[torch.isfinite(x)]
    elif kind in ("+inf", "-inf"):
        x = x[~torch.isnan(x) & ((x.view(torch.int32) < 0) == (kind == "-inf"))]
        assert torch.isinf(x.sum()) and not torch.isnan(x.sum())
    else:
        assert torch.isnan(x).any()
    assert torch.equal(_pack_block(x), _general(x))


def test_pack_block_edge_values_by_hand() -> None:
    """Worked out by hand: ties away from zero for normals and denormals, overflow into infinity, the
    canonical NaN; with and without an infinity in the block (the finite and the bit-rounding branch)."""
    cases = {
        0x3F808000: 0x3F81, 0xBF808000: 0xBF81,  # ties, even kept bit: up in magnitude
        0x3F818000: 0x3F82, 0x3F807FFF: 0x3F80,  # tie with odd kept bit; just below the tie
        0x00008000: 0x0001, 0x80008000: 0x8001, 0x00007FFF: 0x0000,  # denormal ties / below half
        0x807FFFFF: 0x8080,  # largest negative denormal rounds into the smallest normal
        0x7F7F8000: 0x7F80, 0xFF7FFFFF: 0xFF80,  # round into +-inf
        0x80000000: 0x8000,  # -0.0 keeps its sign
    }  # fmt: skip
    x = _from_bits(list(cases))
    expected = torch.tensor(list(cases.values()), dtype=torch.int64).to(torch.int16)
    assert torch.equal(_pack_block(x), expected)  # finite branch (no sum overflow: largest 3.4e38 alone)
    for inf in (0xFF800000, 0x7F800000):  # infinities of one sign: the bit-rounding branch
        got = _pack_block(torch.cat([x, _from_bits([inf, inf])]))
        assert torch.equal(got[: len(cases)], expected)
        assert (got[len(cases) :].to(torch.int64) & 0xFFFF).tolist() == [inf >> 16] * 2
    with_nan = torch.cat([x, _from_bits([0xFFC00000, 0x7F800001])])
    got = _pack_block(with_nan)
    assert torch.equal(got[: len(cases)], expected)
    assert (got[len(cases) :].to(torch.int64) & 0xFFFF).tolist() == [0x7FC0, 0x7FC0]


def _operands(rows: int, groups_x: int, groups_y: int) -> tuple[torch.Tensor, torch.Tensor]:
    """bfloat16 operands [rows, groups_x | 1, 32] and [rows, E, 1 | 32] whose products hold ties (87 x 3,
    1.0078125 x 1.0078125 ...), denormals (tiny x tiny), overflow into -inf and -inf itself in rows 0-2
    (as Mamba's A x delta), +inf in row 7, 0 x inf (NaN) in row 5, and random values elsewhere."""
    e = ssm.HIDDEN_SIZE
    x = torch.randn(rows, groups_x, ssm.TILE)
    y = torch.randn(rows, e, groups_y)
    x[0, 0, :4] = torch.tensor([87.0, 1.0078125, 1e-20, -3e38])
    y[0] = y[0].abs() + 0.5  # -3e38 times positive values: overflow into -inf only
    y[0, :3, 0] = torch.tensor([3.0, 1.0078125, 1e-20])
    x[1, 0, :3] = torch.tensor([-INF, -INF, 2.0**-70])
    y[1] = y[1].abs() + 0.5  # -inf times positive values only
    y[2, 7, 0] = 2.0**-70
    x[7, 0, 1] = INF
    y[7] = y[7].abs() + 0.5
    x[3] = x[3].abs() * 1e-30  # a row of denormal products
    y[3] = y[3].abs() * 1e-10
    x[5, 0, 0], y[5, 0, 0] = INF, 0.0
    return x.to(torch.bfloat16), y.to(torch.bfloat16)


@pytest.mark.parametrize("block_values", [ssm.BLOCK_VALUES, 3 * ssm.HIDDEN_SIZE * ssm.TILE])
@pytest.mark.parametrize("wide", ["none", "x", "y"])
def test_packed_products_match_the_general_path(
    monkeypatch: pytest.MonkeyPatch, block_values: int, wide: str
) -> None:
    """Rows in blocks (3 rows per block: finite, infinity and NaN blocks side by side), a bfloat16 operand
    widened per block or both float32, against the float32 product rounded by the general path."""
    monkeypatch.setattr(ssm, "BLOCK_VALUES", block_values)
    e, rows = ssm.HIDDEN_SIZE, 10
    x, y = _operands(rows, e if wide == "x" else 1, ssm.TILE if wide == "y" else 1)
    expected = _general(torch.mul(x.float(), y.float()))
    values = expected.view(torch.bfloat16)
    assert torch.isnan(values[5]).any() and not torch.isnan(values[torch.arange(rows) != 5]).any()
    assert (values[:3] == -INF).any() and (values[7] == INF).any()
    if block_values == 3 * e * ssm.TILE:  # blocks of 3 rows: each branch of _pack_block_ taken
        sums = [torch.mul(x[i : i + 3].float(), y[i : i + 3].float()).sum() for i in range(0, rows, 3)]
        assert [bool(t.isfinite()) for t in sums] == [False, False, False, True]
        assert [bool(t.isnan()) for t in sums] == [False, True, False, False]
    xs = x if wide == "x" else x.float()
    ys = y if wide == "y" else y.float()
    out = torch.empty((rows, e, ssm.TILE), dtype=torch.bfloat16)
    ssm._packed_products(xs, ys, out)
    assert torch.equal(out.view(torch.int16), expected)


# -- through the ops: hc_sum_reduce in blocks of rows, prefix_scan's packed states -------------------------


def _on_device(device, x: torch.Tensor, dtype=None, **kwargs):
    from ttport.sim import ttnn

    return ttnn.from_torch(
        x,
        dtype=dtype or ttnn.bfloat16,
        layout=kwargs.pop("layout", ttnn.TILE_LAYOUT),
        device=device,
        **kwargs,
    )


@pytest.mark.parametrize("dtype", ["bfloat16", "bfloat8_b"])
def test_hc_sum_reduce_in_blocks_matches_one_float32_sum(
    device, monkeypatch: pytest.MonkeyPatch, dtype
) -> None:
    """Blocks of 3 rows (the last one partial), stored values widened per block: the bits of one float32
    sum over all rows of the widened input, packed to a bfloat16 output; with NaN, inf, denormal and
    tie-producing groups."""
    from ttport.sim import ttnn

    width = 1024 * 2
    monkeypatch.setattr(ssm, "BLOCK_VALUES", 3 * width)
    x = torch.randn(1, 1, 20, width)
    x[0, 0, 0, :3] = torch.tensor([NAN, 1.0, 2.0])
    x[0, 0, 4, 32:35] = torch.tensor([INF, 1.0, 2.0])
    x[0, 0, 7, 64:96] = 2.0**-130  # denormal group sum
    x[0, 0, 9, 96:128] = 0.0
    x[0, 0, 9, 96:98] = torch.tensor([256.0, 1.5])  # 257.5: rounds (ties away) to 258
    tx = _on_device(device, x, getattr(ttnn, dtype))
    out = ssm.hc_sum_reduce(tx, dtype=ttnn.bfloat16)
    stored = ttnn.to_torch(tx).float()
    sums = torch.nn.functional.pad(stored.reshape(1, 1, 20, width // 32, 32).sum(-1), [0, 0, 0, 12])
    expected = _general(sums)
    got = ttnn.to_torch(out)
    assert got.shape == (1, 1, 32, width // 32)
    assert torch.equal(got.view(torch.int16), expected)
    if dtype == "bfloat16":
        assert got[0, 0, 9, 3] == 258.0 and torch.isnan(got[0, 0, 0, 0]) and torch.isinf(got[0, 0, 4, 1])


def test_prefix_scan_packs_denormal_and_tie_states_like_the_general_path(device) -> None:
    """States that are denormal or whose steps round ties: the fast path's cast of the packed float32 states
    gives the bits of the per-step general rounding."""
    from ttport.sim import ttnn

    width, seq = 2048, 32
    a = torch.full((1, 1, seq, width), 0.5)
    bx = torch.zeros(1, 1, seq, width)
    h0 = torch.full((1, 1, 1, width), 2.0**-120)
    h0[..., 1::2] = 1.0078125  # 1 + 2^-7: halving keeps it exact, adding 1.5 makes ties
    bx[..., 1::2] = 1.5
    a[..., 7, :] = 0.75
    mc = ttnn.create_sharded_memory_config(
        shape=(1, 1, 32, width), core_grid=ttnn.CoreGrid(y=8, x=8), strategy=ttnn.ShardStrategy.WIDTH
    )
    h_mc = ttnn.create_sharded_memory_config(
        shape=(1, 1, 1, width), core_grid=ttnn.CoreGrid(y=8, x=8), strategy=ttnn.ShardStrategy.WIDTH
    )
    ta, tbx = _on_device(device, a, memory_config=mc), _on_device(device, bx, memory_config=mc)
    th = _on_device(device, h0, layout=ttnn.ROW_MAJOR_LAYOUT, memory_config=h_mc)
    got = ttnn.to_torch(ssm.prefix_scan(ta, tbx, th))[0, 0]
    h, expected = h0[0, 0, 0].to(torch.bfloat16).float(), []
    for t in range(seq):
        decayed = formats.round_bfloat16(a[0, 0, t].to(torch.bfloat16).float() * h, formats.PACKER)
        h = formats.round_bfloat16(decayed + bx[0, 0, t].to(torch.bfloat16).float(), formats.PACKER)
        expected.append(h)
    expected = _general(torch.stack(expected))
    assert torch.equal(got.view(torch.int16), expected)
    denormal = got.float()[:, 0::2].abs()
    assert ((denormal > 0) & (denormal < 2.0**-126)).any()
