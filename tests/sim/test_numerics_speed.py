"""The simulator's speed paths give the values of the plain computations they replace."""

from __future__ import annotations

import torch

from ttport.sim.numerics import fidelity, formats
from ttport.sim.types import DataType, MathFidelity


def _shifted_bits(x: torch.Tensor) -> torch.Tensor:
    """The plain high-half extraction: shift the int32 view, narrow to int16."""
    return (x.to(torch.float32).contiguous().view(torch.int32) >> 16).to(torch.int16)


def test_bfloat16_bits_is_the_high_half_of_every_float32() -> None:
    torch.manual_seed(0)
    payload_nan = torch.tensor([0x7FC12345, -0x3E000001], dtype=torch.int32).view(torch.float32)
    cases = [
        torch.randn(5, 7),
        torch.randn(3, 64)[:, ::2],  # strided
        torch.randn(4, 1).expand(4, 16),  # broadcast along the last dim
        torch.randn(4, 1, 1).expand(4, 3, 1),  # size-1 last dim, stride 0 elsewhere
        torch.tensor(1.5),
        torch.empty(2, 0),
        torch.cat([payload_nan, torch.tensor([float("inf"), -0.0])]),
        torch.randn(2, 32, 32, dtype=torch.float64),
    ]
    for x in cases:
        got = formats.bfloat16_bits(x)
        assert got.dtype == torch.bfloat16 and got.shape == x.shape
        assert torch.equal(got.view(torch.int16), _shifted_bits(x))


def test_cached_column_noise_matches_the_uncached_matmul_and_follows_in_place_writes() -> None:
    torch.manual_seed(1)
    a = torch.randn(64, 96)
    stored = torch.randn(96, 128).to(torch.bfloat16)
    numerics = fidelity.MatmulNumerics(MathFidelity.HiFi2, True)

    def run(cached: bool) -> torch.Tensor:
        b_stored = (stored, False) if cached else None
        return fidelity.matmul(
            a, stored.float(), DataType.BFLOAT16, DataType.BFLOAT16, numerics, b_stored=b_stored
        )

    plain = run(False)
    assert torch.equal(run(True), plain)
    assert torch.equal(run(True), plain)  # from the cache
    stored.mul_(2.0)  # an in-place write to the buffer: the cached factor no longer holds
    assert torch.equal(run(True), run(False))
    # the transposed read of the same buffer is its own entry
    square = torch.randn(96, 96).to(torch.bfloat16)
    for transposed in (False, True, False):
        bv = square.float().T if transposed else square.float()
        with_cache = fidelity.matmul(
            a, bv, DataType.BFLOAT16, DataType.BFLOAT16, numerics, b_stored=(square, transposed)
        )
        assert torch.equal(with_cache, fidelity.matmul(a, bv, DataType.BFLOAT16, DataType.BFLOAT16, numerics))


def test_column_noise_cache_drops_entries_with_their_buffer() -> None:
    stored = torch.randn(32, 32).to(torch.bfloat16)
    numerics = fidelity.MatmulNumerics(MathFidelity.LoFi, True)
    fidelity.matmul(torch.randn(32, 32), stored.float(), DataType.BFLOAT16, DataType.BFLOAT16, numerics,
                    b_stored=(stored, False))  # fmt: skip
    key = id(stored)
    assert key in fidelity._COLUMN_SCALES
    del stored
    assert key not in fidelity._COLUMN_SCALES


def test_alignment_noise_in_row_blocks_matches_one_pass(monkeypatch) -> None:
    torch.manual_seed(2)
    cases = [
        (torch.randn(300, 70), torch.rand(300, 1), torch.rand(1, 70)),  # 2-D
        (torch.randn(3, 50, 40), torch.rand(3, 50, 1), torch.rand(3, 1, 40)),  # batched
        (torch.randn(3, 50, 40), torch.rand(50, 1), torch.rand(1, 40)),  # factors broadcast over the batch
        (torch.randn(3, 1, 40), torch.rand(3, 1, 1), torch.rand(1, 40)),  # one row
    ]
    whole = [fidelity._add_noise_(out.clone(), rows, columns) for out, rows, columns in cases]
    monkeypatch.setattr(fidelity, "_NOISE_BLOCK", 256)  # blocks of a few rows
    for (out, rows, columns), expected in zip(cases, whole, strict=True):
        assert not torch.equal(expected, out)  # the noise is there
        assert torch.equal(fidelity._add_noise_(out.clone(), rows, columns), expected)


def _plain_noise(out: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """The alignment noise with its dither written out plainly: the sign-extended low 11 bits of out as an
    int32 tensor, converted to float32, times the row factor, then added times the column factor by the same
    addcmul_ (which may fuse its multiply-add)."""
    dither = ((out.view(torch.int32) & 0x7FF) ^ 0x400) - 0x400
    return out.addcmul_(dither.to(torch.float32) * rows, columns)


def test_alignment_noise_dither_matches_the_plain_formula(monkeypatch) -> None:
    """The reused-buffer dither (2^23 + bits, minus 2^23 + 0x400) is the int32 sign extension, on every low-11-bit
    pattern and on NaN, infinities, -0.0, denormals and the largest finite values; also when the output is
    too large for the reused buffer."""
    torch.manual_seed(5)
    patterns = (torch.arange(4096, dtype=torch.int32) | 0x3F800000).view(
        torch.float32
    )  # every low-11 pattern
    edges = torch.tensor(
        [float("nan"), -float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e-45, -1e-45, 1e-39, -3e-39,
         3.4028235e38, -3.4028235e38, 1.0, -1.0]
    )  # fmt: skip
    payload = torch.tensor([0x7F8007FF, 0x7FC00400, -0x0001, 0x000007FF], dtype=torch.int32).view(
        torch.float32
    )
    values = torch.cat([patterns, edges, payload, torch.randn(2000)])
    out = values[: values.numel() // 32 * 32].reshape(-1, 32)
    rows, columns = torch.rand(out.shape[0], 1) + 0.5, torch.rand(1, 32) + 0.5
    expected = _plain_noise(out.clone(), rows, columns)
    got = fidelity._add_noise_(out.clone(), rows, columns)
    assert torch.equal(got.view(torch.int32), expected.view(torch.int32))  # NaNs too, bit for bit
    monkeypatch.setattr(fidelity, "_SCRATCH_MAX", 64)  # a fresh buffer per call
    got = fidelity._add_noise_(out.clone(), rows, columns)
    assert torch.equal(got.view(torch.int32), expected.view(torch.int32))
    batched = out[:96].reshape(3, 32, 32)
    expected = _plain_noise(batched.clone(), rows[:32], columns)
    got = fidelity._add_noise_(batched.transpose(-1, -2).clone().transpose(-1, -2), rows[:32], columns)
    assert torch.equal(got.view(torch.int32), expected.view(torch.int32))  # a non-contiguous output


def test_nan_free_rounding_matches_the_checked_rounding() -> None:
    """round_bfloat16_(nan_free=True) skips only the NaN test: the same bits on NaN-free values with
    infinities, -0.0, denormals, ties and values that round into infinity."""
    torch.manual_seed(8)
    x = torch.cat(
        [
            torch.randn(500) * 1e3,
            torch.tensor([float("inf"), -float("inf"), -0.0, 0.0, 1e-45, -1e-45, 3.3961776e38, -3.4e38]),
            torch.tensor([0x3F808000, 0x3F818000, -0x40808000], dtype=torch.int32).view(
                torch.float32
            ),  # ties
        ]
    )
    for mode in (formats.PACKER, formats.HOST):
        expected = formats.round_bfloat16_(x.clone(), mode)
        got = formats.round_bfloat16_(x.clone(), mode, nan_free=True)
        assert torch.equal(got.view(torch.int32), expected.view(torch.int32))


def test_row_counts_agree_with_counting_every_row() -> None:
    """_nonzeros_per_row (dense test, then only the rows with a zero or NaN) is the full count of a != 0: -0.0
    is zero; NaN, infinities and denormals are not; a NaN in a row with a zero does not hide the zero."""
    torch.manual_seed(7)
    sparse = torch.randn(3, 64, 40)
    sparse[0, 5, 7], sparse[1, 9, 0], sparse[2, 63, 39] = 0.0, -0.0, 0.0
    sparse[0, 5, 8] = float("nan")  # beside a zero
    sparse[1, 10, 3] = float("nan")  # a NaN row without a zero
    sparse[2, 1, 2], sparse[2, 2, 2] = 1e-45, -1e-45  # denormals are not zero
    sparse[0, 0, 0] = float("-inf")
    many = torch.randn(64, 96)
    many[:, 72:] = 0.0  # every row has zeros (zero-padded heads)
    cases = [
        sparse,
        sparse.transpose(0, 1),  # non-contiguous
        many,
        torch.zeros(4, 8),
        torch.full((4, 8), -0.0),
    ]
    for a in cases:
        assert torch.equal(fidelity._nonzeros_per_row(a), a.ne(0).sum(-1, keepdim=True, dtype=torch.float32))


def test_dense_test_agrees_with_counting() -> None:
    cases = [
        torch.rand(4, 5) + 0.1,  # positive
        -(torch.rand(4, 5) + 0.1),  # negative
        torch.randn(4, 5).clamp(min=0.01) * torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0]),  # mixed, no zero
        torch.tensor([1.0, 0.0, 2.0]),
        torch.tensor([1.0, -0.0, 2.0]),
        torch.tensor([float("nan"), 1.0]),
        torch.tensor([float("nan"), 0.0]),
        torch.tensor([float("inf"), -float("inf")]),
        torch.empty(0, 3),
        # the whole-tensor test is tried on the first value's side only
        torch.tensor([[2.0, 3.0], [1.0, -1.0]]),  # positive first, a negative later
        torch.tensor([[-2.0, -3.0], [-1.0, 1.0]]),  # negative first, a positive later
        torch.tensor([[2.0, 3.0], [1.0, 0.0]]),  # positive first, a zero later
        torch.tensor([[-2.0, -3.0], [-0.0, -1.0]]),  # negative first, -0.0 later
        torch.tensor([[0.0, 3.0], [1.0, 2.0]]),  # zero first
        torch.tensor([[-0.0, -3.0], [-1.0, -2.0]]),  # -0.0 first
        torch.tensor([[float("nan"), 3.0], [1.0, 2.0]]),  # NaN first
        torch.tensor([[float("nan"), 0.0], [1.0, 2.0]]),
        torch.tensor([[1e-45, 3.0], [1.0, 2.0]]),  # denormal first
        torch.tensor([[float("inf"), 3.0], [1.0, 0.0]]),
        (torch.rand(4, 6) + 0.1).t(),  # non-contiguous, positive
        torch.tensor([5.0]),
        # a zero or NaN in the first or last row: every row counted at once (a.bool() sums)
        torch.rand(3, 9, 9).tril(),  # causal P: zeros in every row but the last
        torch.cat([torch.randn(2, 7, 5), torch.zeros(2, 2, 5)], dim=1),  # zero-padded rows of Q
        torch.tensor([[1.0, -0.0, 1e-45], [2.0, 3.0, -1e-45]]),  # -0.0 is zero, denormals are not
        torch.tensor([[float("nan"), 1.0], [0.0, 2.0], [3.0, 4.0]]),
        torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, -0.0]]),  # -0.0 in the last row
        torch.tensor([[1.0, 2.0], [3.0, 4.0], [float("inf"), float("nan")]]),
        torch.rand(3, 9, 9).tril().transpose(-1, -2),  # non-contiguous
    ]
    for a in cases:
        expected = a.ne(0).sum(-1, keepdim=True, dtype=torch.float32)
        assert torch.equal(fidelity._nonzeros_per_row(a), expected)


def _reference_row_scale(a: torch.Tensor) -> torch.Tensor:
    """fidelity._row_scale as written before its dense shortcut: every row's share computed from its count."""
    k = a.shape[-1]
    rows = torch.linalg.vector_norm(a, dim=-1, keepdim=True).square_()
    products = a.ne(0).sum(-1, keepdim=True, dtype=torch.float32)
    groups = float(-(-k // 8))
    share = (products - products.clamp(max=groups)).div_(products.clamp(min=1.0)).mul_(8.0 / 7.0)
    share.masked_fill_(products < 16, 0.0)
    return (rows * share).mul_(12.0 * fidelity._ALIGNMENT_VARIANCE * 2.0**-22).sqrt_()


def test_row_scale_dense_shortcut_gives_the_per_row_bits() -> None:
    """Dense rows take one cached share (fidelity._dense_share): the same bits as the per-row computation, for
    every K (below one MVMUL, not a multiple of 8, long) and with zeros, NaN, inf and denormals present."""
    torch.manual_seed(11)
    cases = []
    for k in (1, 8, 15, 16, 17, 45, 77, 1280, 5120):
        cases += [torch.randn(7, k), torch.rand(3, 5, k) + 0.5, -(torch.rand(4, k) + 0.5)]
    sparse = torch.randn(9, 300)
    sparse[2, 4], sparse[5, 0] = 0.0, -0.0
    sparse[3, 3] = float("nan")
    sparse[6, 9] = float("inf")
    sparse[7, 1] = 1e-45
    cases += [sparse, sparse.t(), torch.zeros(3, 40), torch.empty(0, 64), torch.randn(5)]
    for a in cases:
        got, want = fidelity._row_scale(a), _reference_row_scale(a)
        assert got.shape == want.shape
        assert torch.equal(got.view(torch.int32), want.view(torch.int32)), tuple(a.shape)
