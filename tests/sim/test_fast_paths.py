"""The simulator's fast paths give the same bits as the straightforward reference computations.

`_reference_round_bfloat16` and `_reference_block_float` are the int64 / float64 implementations that
formats.py used before its int32 rewrite, kept here verbatim as the oracle: the rewrite (and the bfloat16
storage of BFLOAT16 / BFLOAT8_B / BFLOAT4_B tensors) must not change a single computed bit. Inputs cover
every bfloat16 high half with tie / near-tie low halves (so every NaN class, infinities, denormals, ties and
overflow into infinity), random bit patterns, and block-float groups spanning tiny to huge magnitudes.
"""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import formats
from ttport.sim.ops import transformer as sdpa_module
from ttport.sim.tensor import compute_values, storage_values
from ttport.sim.types import DataType

BF16, BF8, BF4 = DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B


# -- the reference implementations (int64 / float64) ------------------------------------------------------


def _ref_bits(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32).contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF


def _ref_float(bits: torch.Tensor) -> torch.Tensor:
    bits = torch.where(bits >= 2**31, bits - 2**32, bits)
    return bits.to(torch.int32).view(torch.float32)


def _reference_round_bfloat16(x: torch.Tensor, mode: str) -> torch.Tensor:
    x = x.to(torch.float32)
    bits = _ref_bits(x)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1) if mode == formats.HOST else bits + 0x8000
    rounded = (rounded >> 16) << 16
    rounded = torch.where(torch.isinf(x), bits, rounded)
    rounded = torch.where(torch.isnan(x), torch.full_like(bits, 0x7FC00000), rounded)
    return _ref_float(rounded)


def _reference_block_float(x: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
    x = x.to(torch.float32)
    if x.numel() == 0:
        return x.clone()
    shape = x.shape
    last = shape[-1] if x.dim() else 1
    flat = x.reshape(-1, last)
    pad = (-last) % 16
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad))
    bits = _ref_bits(flat.reshape(flat.shape[0], -1, 16))
    sign = bits >> 31
    exp = (bits >> 23) & 0xFF
    shared = exp.amax(dim=-1, keepdim=True)
    sig = (bits & 0x7FFFFF) | 0x800000
    sig = sig >> (shared - exp).clamp(max=31)
    drop = 24 - mantissa_bits
    kept = sig >> drop
    rem = sig & ((1 << drop) - 1)
    tie = 1 << (drop - 1)
    kept = kept + ((rem > tie) | ((rem == tie) & ((kept & 1) == 1))).to(torch.int64)
    kept = kept.clamp(max=(1 << mantissa_bits) - 1)
    kept = torch.where(exp == 0, torch.zeros_like(kept), kept)
    lead = torch.floor(torch.log2(kept.clamp(min=1).to(torch.float64))).to(torch.int64)
    shift = (mantissa_bits - 1) - lead
    frac = (kept << (shift + 1)) & ((1 << mantissa_bits) - 1)
    out = (sign << 31) | ((shared - shift) << 23) | (frac << (23 - mantissa_bits))
    out = torch.where(kept == 0, torch.zeros_like(out), out)
    return _ref_float(out).reshape(flat.shape)[:, :last].reshape(shape)


# -- inputs ------------------------------------------------------------------------------------------------


def _from_bits(bits: torch.Tensor) -> torch.Tensor:
    return bits.to(torch.int32).view(torch.float32)


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    a32, b32 = a.to(torch.float32), b.to(torch.float32)
    return a32.shape == b32.shape and torch.equal(
        a32.contiguous().view(torch.int32), b32.contiguous().view(torch.int32)
    )


def _edge_floats() -> torch.Tensor:
    """Every bfloat16 high half with low halves 0, 1, 0x7FFF, 0x8000 (a tie), 0x8001 and 0xFFFF."""
    high = torch.arange(2**16, dtype=torch.int64) << 16
    low = torch.tensor([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], dtype=torch.int64)
    return _from_bits((high[:, None] | low[None, :]).reshape(-1))


def _random_floats(n: int = 1 << 20) -> torch.Tensor:
    return _from_bits(torch.randint(-(2**31), 2**31, (n,), dtype=torch.int64))


# -- bfloat16 rounding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [formats.HOST, formats.PACKER])
@pytest.mark.parametrize("make", [_edge_floats, _random_floats], ids=["edges", "random"])
def test_round_bfloat16_matches_reference(mode: str, make) -> None:
    x = make()
    before = x.clone()
    assert _same_bits(formats.round_bfloat16(x, mode), _reference_round_bfloat16(x, mode))
    assert _same_bits(x, before)  # the input is left alone
    in_place = x.clone()
    assert formats.round_bfloat16_(in_place, mode) is in_place
    assert _same_bits(in_place, _reference_round_bfloat16(x, mode))


def test_round_bfloat16_finite_input_without_nan_takes_the_same_values() -> None:
    """The NaN fix-up is skipped for inputs whose sum is finite: check a NaN-free input, and one whose sum
    overflows (the mask is then built although there is no NaN)."""
    x = torch.randn(4096) * 1e3
    huge = torch.full((8,), 3e38)
    for values in (x, huge, torch.cat([x, torch.tensor([float("inf"), float("-inf")])])):
        for mode in (formats.HOST, formats.PACKER):
            assert _same_bits(formats.round_bfloat16(values, mode), _reference_round_bfloat16(values, mode))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16, torch.int64])
def test_round_bfloat16_other_input_dtypes(dtype: torch.dtype) -> None:
    x = (torch.randn(3, 50) * 300).to(dtype)
    for mode in (formats.HOST, formats.PACKER):
        assert _same_bits(formats.round_bfloat16(x, mode), _reference_round_bfloat16(x, mode))


def test_round_bfloat16_shapes_and_strides() -> None:
    x = torch.randn(6, 40)
    for values in (x.t(), x[:, ::3], x[0, 0], torch.empty(0, 5), x.expand(2, 6, 40)):
        for mode in (formats.HOST, formats.PACKER):
            got = formats.round_bfloat16(values, mode)
            assert got.shape == values.shape
            assert _same_bits(got, _reference_round_bfloat16(values, mode))


def test_sdpa_rounding_is_the_formats_one() -> None:
    x = _edge_floats()
    assert _same_bits(sdpa_module._pack_bf16_(x.clone()), _reference_round_bfloat16(x, formats.PACKER))


# -- the packer's bfloat16 output (formats.pack_bfloat16) ----------------------------------------------------


def _reference_pack(x: torch.Tensor) -> torch.Tensor:
    """What a bfloat16 device-op output stores: the packer's rounding, high halves of the float32 bits."""
    bits = _ref_bits(_reference_round_bfloat16(x, formats.PACKER)) >> 16
    return torch.where(bits >= 2**15, bits - 2**16, bits).to(torch.int16).view(torch.bfloat16)


def _same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (
        a.dtype == b.dtype == torch.bfloat16
        and a.shape == b.shape
        and torch.equal(a.view(torch.int16), b.view(torch.int16))
    )


@pytest.mark.parametrize("make", [_edge_floats, _random_floats], ids=["edges", "random"])
def test_pack_bfloat16_matches_reference(make) -> None:
    """NaN / inf in the values: the general path; their finite values alone: the two-pass path (called
    directly, since a finite input's sum may still overflow and take the general path)."""
    x = make()
    before = x.clone()
    assert _same_storage(formats.pack_bfloat16(x), _reference_pack(x))
    finite = x[torch.isfinite(x)].contiguous()
    assert finite.numel() > 0.9 * x.numel()
    assert _same_storage(formats._pack_finite_bfloat16(finite), _reference_pack(finite))
    assert _same_bits(x, before)  # the op's result is left alone


def test_pack_bfloat16_edge_values_by_hand() -> None:
    """Expected bit patterns worked out by hand (independent of any implementation): ties go away from zero,
    whatever the kept bit, for normals and denormals; +-0 keep their sign; the largest finite value and the
    ties above it round into infinity; NaNs of any sign or payload become 0x7FC0."""
    cases = {
        0x00000000: 0x0000, 0x80000000: 0x8000,  # +-0
        0x3F800000: 0x3F80, 0xBF800000: 0xBF80,  # +-1 (exact)
        0x3F808000: 0x3F81, 0xBF808000: 0xBF81,  # ties, even kept bit: up in magnitude (nearest-even: down)
        0x3F818000: 0x3F82, 0xBF818000: 0xBF82,  # ties, odd kept bit
        0x3F807FFF: 0x3F80, 0x3F808001: 0x3F81,  # just below / above the tie
        0x00008000: 0x0001, 0x80008000: 0x8001,  # denormal ties
        0x00007FFF: 0x0000, 0x00000001: 0x0000,  # denormals below half: to +0
        0x807FFFFF: 0x8080,  # largest negative denormal rounds up into the smallest normal
        0x7F7F0000: 0x7F7F, 0x7F7F7FFF: 0x7F7F,  # largest finite bfloat16
        0x7F7F8000: 0x7F80, 0x7F7FFFFF: 0x7F80, 0xFF7FFFFF: 0xFF80,  # round into +-inf
        0x7F800000: 0x7F80, 0xFF800000: 0xFF80,  # +-inf
        0x7FC00000: 0x7FC0, 0xFFC00001: 0x7FC0, 0x7F800001: 0x7FC0, 0xFFFFFFFF: 0x7FC0,  # NaNs
    }  # fmt: skip
    x = _from_bits(torch.tensor(list(cases), dtype=torch.int64))
    expected = torch.tensor(list(cases.values()), dtype=torch.int64)
    got = formats.pack_bfloat16(x).view(torch.int16).to(torch.int64) & 0xFFFF
    assert got.tolist() == expected.tolist()
    finite = torch.isfinite(x)
    fast = formats._pack_finite_bfloat16(x[finite].contiguous()).view(torch.int16).to(torch.int64) & 0xFFFF
    assert fast.tolist() == expected[finite].tolist()


def test_pack_bfloat16_finite_values_take_the_two_pass_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def general_path(*_args, **_kwargs):
        raise AssertionError("the general path ran on finite values")

    x = torch.randn(64, 96) * 1e30
    expected = _reference_pack(x)
    monkeypatch.setattr(formats, "round_bfloat16", general_path)
    assert _same_storage(formats.pack_bfloat16(x), expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16, torch.int64])
def test_pack_bfloat16_other_input_dtypes(dtype: torch.dtype) -> None:
    x = (torch.randn(3, 50) * 300).to(dtype)
    assert _same_storage(formats.pack_bfloat16(x), _reference_pack(x))


def test_pack_bfloat16_shapes_and_strides() -> None:
    x = torch.randn(6, 40)
    for values in (x.t(), x[:, ::3], x[0, 0], torch.empty(0, 5), x.expand(2, 6, 40)):
        got = formats.pack_bfloat16(values)
        assert got.is_contiguous()
        assert _same_storage(got, _reference_pack(values))


def test_bfloat16_device_op_outputs_store_the_packer_bits(device: ttnn.Device) -> None:
    """device_op's bfloat16 outputs (finite, and with NaN / inf) hold the reference packer bits, and the
    op's own result is not written to (it may be an input's values or a cached tensor)."""
    from ttport.sim.tensor import device_op

    edges = _edge_floats()
    finite = edges[torch.isfinite(edges)][: 64 * 1024].reshape(64, 1024)
    for values in (finite, edges[: 64 * 1024].reshape(64, 1024), torch.randn(64, 1024)):
        before = values.clone()
        source = ttnn.from_torch(torch.zeros(64, 1024), ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
        out = device_op(
            "probe", [source], lambda _v, r=values: r, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT
        )
        assert _same_storage(out._chips[0], _reference_pack(values))
        assert _same_bits(values, before)


# -- block floats ------------------------------------------------------------------------------------------


def _block_inputs() -> list[torch.Tensor]:
    torch.manual_seed(0)
    groups = []
    # Exponents spread over the whole range inside each 16-value group (tiny next to huge).
    signs = torch.randint(0, 2, (4096, 16), dtype=torch.int64) << 31
    exps = torch.randint(0, 256, (4096, 16), dtype=torch.int64) << 23
    mants = torch.randint(0, 2**23, (4096, 16), dtype=torch.int64)
    groups.append(_from_bits(signs | exps | mants))
    # Narrow exponent spreads at the bottom of the range: denormals, exponent fields 1..8, and zeros.
    exps = torch.randint(0, 9, (4096, 16), dtype=torch.int64) << 23
    groups.append(_from_bits(signs | exps | mants))
    # Near-ties of the 7-bit and 3-bit roundings, typical magnitudes.
    base = torch.randint(0, 2**7, (4096, 16), dtype=torch.int64) << 16
    low = torch.tensor(
        [0x8000, 0x7FFF, 0x8001, 0x0, 0x80000, 0xFFFFF, 0x100000, 0x7FFFF] * 2, dtype=torch.int64
    )
    groups.append(_from_bits((127 << 23) | base | low))
    groups.append(torch.randn(4096, 16) * 10.0 ** torch.randint(-30, 30, (4096, 1)).float())
    # Whole NaN / inf / edge rows, plus a ragged last dim (padded group) and a 0-d value.
    groups.append(_edge_floats()[: 2**16 * 6 // 48 * 48].reshape(-1, 48))
    groups.append(torch.randn(7, 21))
    groups.append(torch.tensor(-3.25))
    return groups


@pytest.mark.parametrize("mantissa_bits", [7, 3])
def test_block_float_matches_reference(mantissa_bits: int) -> None:
    for x in _block_inputs():
        before = x.clone()
        got = formats._block_float(x, mantissa_bits)
        assert _same_bits(got, _reference_block_float(x, mantissa_bits))
        assert _same_bits(x, before)


@pytest.mark.parametrize("dtype", [BF8, BF4])
def test_block_float_values_are_bfloat16_exact(dtype: DataType) -> None:
    """What makes bfloat16 storage of block floats lossless: their float32 bits have zero low halves,
    down to the tiniest magnitudes and for NaN / inf."""
    for x in _block_inputs():
        for mode in (formats.HOST, formats.PACKER):
            bits = formats.round_block_float(x, dtype, mode).contiguous().view(torch.int32)
            assert torch.all((bits & 0xFFFF) == 0)


# -- bfloat16 storage --------------------------------------------------------------------------------------


def test_bfloat16_storage_round_trip_is_exact_for_every_pattern() -> None:
    """All 65536 bfloat16 patterns (signalling and quiet NaNs with payloads, denormals, infinities)
    survive float32 -> storage -> float32 bit for bit."""
    patterns = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    as_float = _from_bits(patterns.view(torch.int16).to(torch.int64) << 16)
    stored = storage_values(as_float, BF16)
    assert stored.dtype == torch.bfloat16
    assert torch.equal(stored.view(torch.int16), patterns.view(torch.int16))
    assert _same_bits(compute_values(stored), as_float)
    assert _same_bits(patterns.to(torch.float32), as_float)  # the widening torch does is a bit copy


def test_storage_keeps_broadcast_views_compact() -> None:
    scalar = torch.tensor(1.5)
    stored = storage_values(scalar.expand(1024, 4096), BF16)
    assert stored.dtype == torch.bfloat16 and 0 in stored.stride()
    widened = compute_values(stored)
    assert widened.dtype == torch.float32 and 0 in widened.stride() and widened[7, 9] == 1.5


@pytest.mark.parametrize("dtype", [BF16, BF8, BF4])
def test_tensors_store_bfloat16_and_read_back_the_reference_values(
    device: ttnn.Device, dtype: DataType
) -> None:
    source = torch.cat([torch.randn(8, 64) * 100, _edge_floats()[:2048].reshape(32, 64)])
    expected = (
        _reference_round_bfloat16(source, formats.HOST)
        if dtype == BF16
        else _reference_block_float(source, 7 if dtype == BF8 else 3)
    )
    host = ttnn.from_torch(source, dtype=dtype, layout=ttnn.TILE_LAYOUT)
    assert host._chips[0].dtype == torch.bfloat16
    on_device = ttnn.to_device(host, device)
    back = ttnn.to_torch(on_device)
    assert back.dtype == formats.ttnn_dtype_to_torch(dtype)
    assert _same_bits(back, expected)
    back.zero_()  # what to_torch returns is the caller's, not the simulator's storage
    assert _same_bits(ttnn.to_torch(on_device), expected)


def test_bfloat16_source_is_stored_without_a_float32_copy() -> None:
    source = _edge_floats()[::7].to(torch.float32)
    bf16 = formats.bfloat16_bits(formats.round_bfloat16(source))
    host = ttnn.from_torch(bf16, dtype=ttnn.bfloat16)
    assert host._chips[0].dtype == torch.bfloat16
    assert host._chips[0].data_ptr() != bf16.data_ptr()
    assert torch.equal(ttnn.to_torch(host).view(torch.int16), bf16.view(torch.int16))  # NaN payloads kept


def test_device_ops_on_bfloat16_storage_compute_in_float32(device: ttnn.Device) -> None:
    a, b = torch.randn(64, 64), torch.randn(64, 64)
    ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    tb = ttnn.from_torch(b, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device)
    ra = _reference_round_bfloat16(a, formats.HOST)
    rb = _reference_block_float(b, 7)
    got = ttnn.to_torch(ttnn.add(ta, tb))
    assert _same_bits(got, _reference_round_bfloat16(ra + rb, formats.PACKER))
    bf8_out = ttnn.to_torch(ttnn.multiply(ta, tb, dtype=ttnn.bfloat8_b))
    # bfloat16 multiply rounds its product nearest-even into Dst (ckernel_sfpu_binary.h), the packer then
    # converts to bfloat8_b.
    expected = _reference_block_float(_reference_round_bfloat16(ra * rb, formats.HOST), 7)
    assert _same_bits(bf8_out, expected)


def test_embedding_reads_rows_of_a_bfloat16_table(device: ttnn.Device) -> None:
    table = torch.randn(1000, 64)
    ids = torch.tensor([[3, 999, 0, 3]])
    t_table = ttnn.from_torch(table, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    t_ids = ttnn.from_torch(ids, dtype=ttnn.uint32, device=device)
    got = ttnn.to_torch(ttnn.embedding(t_ids, t_table))
    assert _same_bits(got, _reference_round_bfloat16(table, formats.HOST)[ids])


def test_update_cache_writes_nan_bits_into_bfloat16_storage(device: ttnn.Device) -> None:
    cache = ttnn.zeros([1, 1, 64, 32], ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    row = torch.zeros(1, 1, 32, 32)
    row[0, 0, 0, :3] = torch.tensor([float("nan"), float("inf"), 1.0 + 2**-8])
    update = ttnn.from_torch(row, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    ttnn.update_cache(cache, update, 5)
    written = ttnn.to_torch(cache)[0, 0, 5, :3].view(torch.int16).tolist()
    assert [w & 0xFFFF for w in written] == [0x7FC0, 0x7F80, 0x3F80]


def test_large_bfloat16_conversion_in_chunks_matches_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_torch rounds big tensors to bfloat16 slice by slice (ops/core.py _bfloat16_in_chunks); a small
    chunk size makes a test-sized tensor take that path, with a ragged last slice."""
    from ttport.sim.ops import core as core_ops

    monkeypatch.setattr(core_ops, "_CHUNK", 1000)
    mixed = torch.cat([_edge_floats()[::13][:30000], torch.randn(1234) * 1e5])
    source = mixed.reshape(-1, 7).t()  # non-contiguous
    for torch_dtype in (torch.float32, torch.float64):
        values = source.to(torch_dtype)
        host = ttnn.from_torch(values, dtype=ttnn.bfloat16)
        assert host._chips[0].dtype == torch.bfloat16 and host.shape == list(values.shape)
        assert _same_bits(ttnn.to_torch(host), _reference_round_bfloat16(values, formats.HOST))


def test_bfloat16_results_are_stored_as_computed(device: ttnn.Device) -> None:
    """device_op keeps an op's bfloat16 result as the stored values (no float32 round trip): an exact copy
    shares the input's immutable values, a slice is copied out so it does not keep the whole input alive."""
    source = ttnn.from_torch(torch.randn(1, 1, 64, 1024), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    big = ttnn.to_device(source, device)
    row = ttnn.slice(big, (0, 0, 3, 0), (1, 1, 4, 1024))
    assert row._chips[0].dtype == torch.bfloat16
    assert row._chips[0].untyped_storage().nbytes() == 1024 * 2
    copy = ttnn.to_memory_config(big, ttnn.L1_MEMORY_CONFIG)
    expected = ttnn.to_torch(big)
    ttnn.deallocate(big)
    assert torch.equal(ttnn.to_torch(row), expected[:, :, 3:4])
    assert torch.equal(ttnn.to_torch(copy), expected)


def test_row_scale_counts_non_zeros_as_the_ord0_norm_does() -> None:
    """fidelity._row_scale's per-row product count (a float32 sum of a != 0) is the ord-0 norm it replaced:
    -0.0 is zero, NaN / inf / denormals are not."""
    from ttport.sim.numerics import fidelity

    a = torch.randn(6, 40, 333)
    a[a.abs() < 0.7] = 0.0
    a[0, :, ::5] = -0.0
    a[1, 3, 7], a[1, 4, 8], a[2, 5, 9] = float("nan"), float("-inf"), 1e-45
    a[3] = 0.0
    expected = torch.linalg.vector_norm(a, ord=0, dim=-1, keepdim=True).float()
    assert torch.equal(a.ne(0).sum(-1, keepdim=True, dtype=torch.float32), expected)
    groups = float(-(-a.shape[-1] // 8))
    rows = torch.linalg.vector_norm(a, dim=-1, keepdim=True).square_()
    share = (expected - expected.clamp(max=groups)).div_(expected.clamp(min=1.0)).mul_(8.0 / 7.0)
    share.masked_fill_(expected < 16, 0.0)
    reference = (rows * share).mul_(12.0 * fidelity._ALIGNMENT_VARIANCE * 2.0**-22).sqrt_()
    got = fidelity._row_scale(a)
    assert torch.equal(got.isnan(), reference.isnan())
    assert torch.equal(got.nan_to_num(), reference.nan_to_num())


def test_sdpa_live_prefix_edges() -> None:
    """_live_prefix: leading head-dim columns with a non-zero (NaN counts, -0.0 does not) in any tensor."""
    x = torch.zeros(2, 3, 5, 8)
    assert sdpa_module._live_prefix(x) == 0
    x[1, 2, 4, 5] = 1.0
    y = torch.zeros_like(x)
    y[0, 0, 0, 7] = -0.0
    assert sdpa_module._live_prefix(x, y) == 6
    y[0, 0, 0, 7] = 1e-45
    assert sdpa_module._live_prefix(x, y) == 8
    x[..., -1] = float("nan")
    assert sdpa_module._live_prefix(x) == 8
