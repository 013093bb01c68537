"""A weight's zero columns are left out of the default-mode product (numerics/fidelity.py _kept_columns): the
same bits as the product over every column, for every fidelity and Dst mode, with NaN / inf activations, and
after in-place writes to the weight."""

from __future__ import annotations

import itertools

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import fidelity, mode
from ttport.sim.types import DataType, MathFidelity

FIDELITIES = [MathFidelity.LoFi, MathFidelity.HiFi2, MathFidelity.HiFi3, MathFidelity.HiFi4]


@pytest.fixture
def skipping(monkeypatch: pytest.MonkeyPatch):
    """skipping(False): no weight has its zero columns left out; skipping(True): the module's threshold.
    Either empties the cache of kept columns."""
    threshold = fidelity._ZERO_COLUMNS_MIN_SHARE

    def select(on: bool) -> None:
        monkeypatch.setattr(fidelity, "_ZERO_COLUMNS_MIN_SHARE", threshold if on else 2.0)
        fidelity._KEPT_COLUMNS.clear()  # (the answers found under the other setting)

    return select


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


def _padded_heads(k: int, heads: int, head_dim: int, padded: int) -> torch.Tensor:
    """[K, heads * padded] with every head's last padded - head_dim columns 0 (SigLIP's q/k/v weight)."""
    w = torch.randn(k, heads, padded)
    w[..., head_dim:] = 0
    return w.reshape(k, heads * padded)


def _scattered(k: int, n: int) -> torch.Tensor:
    """[K, N] with zero columns in no regular pattern (a third of them)."""
    w = torch.randn(k, n)
    w[:, torch.randperm(n)[: n // 3]] = 0
    return w


def _product(a, stored, transposed, b_dtype, numerics, blocking=None) -> torch.Tensor:
    b = stored.float().transpose(-1, -2) if transposed else stored.float()
    return fidelity.matmul(
        a, b, DataType.BFLOAT16, b_dtype, numerics, blocking=blocking, b_stored=(stored, transposed)
    )


def _both(
    skipping, a, stored, transposed, b_dtype, numerics, blocking=None, *, fast_path: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the product over every column, the product with the zero columns left out), each from an empty cache;
    asserts whether the second found the zero columns (`fast_path`) or never looked for them."""
    results = []
    for on in (False, True):
        skipping(on)
        fidelity._KEPT_COLUMNS.clear()
        fidelity._COLUMN_SCALES.clear()
        results.append(_product(a, stored, transposed, b_dtype, numerics, blocking))
        if fast_path:
            assert (fidelity._KEPT_COLUMNS.value_of(stored) is not None) == on
        else:
            assert stored not in fidelity._KEPT_COLUMNS
    return results[0], results[1]


@pytest.mark.parametrize("fid", FIDELITIES)
@pytest.mark.parametrize("dst32", [False, True])
def test_zero_columns_left_out_give_the_full_product(skipping, fid: MathFidelity, dst32: bool) -> None:
    numerics = fidelity.MatmulNumerics(fid, dst32)
    torch.manual_seed(3)
    weights = [
        ("heads", _padded_heads(96, 4, 24, 32)),  # a strided gather and scatter
        ("scattered", _scattered(64, 90)),  # index_select / index_copy
        ("all zero", torch.zeros(64, 64)),
    ]
    for (name, w), transposed, b_dtype, a_shape in itertools.product(
        weights, [False, True], [DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B], [(50,), (2, 1, 33)]
    ):
        k = w.shape[0]
        a = torch.randn(*a_shape, k).to(torch.bfloat16).float()
        stored = (w.T if transposed else w).contiguous()
        if b_dtype != DataType.FLOAT32:
            stored = stored.to(torch.bfloat16)
        full, fast = _both(skipping, a, stored, transposed, b_dtype, numerics)
        case = (name, transposed, b_dtype, a_shape)
        assert full.shape == (*a_shape, w.shape[1])
        assert torch.equal(_bits(fast), _bits(full)), case
        # the zero columns are +0 and the others are the product's
        zero = (w == 0).all(dim=0)
        assert torch.equal(_bits(full[..., zero]), torch.zeros_like(_bits(full[..., zero]))), case
        if not bool(zero.all()):  # (within the fidelity's operand truncation)
            assert (full[..., ~zero] - a @ w[:, ~zero]).abs().max() <= 2**-3 * (a.abs() @ w.abs()).max(), case


@pytest.mark.parametrize("dst32", [False, True])
def test_k_blocks_with_zero_columns(skipping, dst32: bool) -> None:
    """_run_blocks around the kept columns: packer L1 accumulation into bfloat16 / float32 partials. Partials in
    a block float (a 16-bit Dst spilling into a bfloat8_b output) share an exponent between neighbouring
    columns: there the zero columns stay in the product."""
    numerics = fidelity.MatmulNumerics(MathFidelity.HiFi2, dst32)
    a = torch.randn(40, 128).to(torch.bfloat16).float()
    stored = _padded_heads(128, 3, 20, 32).to(torch.bfloat16)
    partials = DataType.FLOAT32 if dst32 else DataType.BFLOAT16
    cases = [(True, partials, True), (False, DataType.BFLOAT8_B, dst32), (False, DataType.BFLOAT4_B, dst32)]
    for l1_acc, partials, fast_path in cases:
        blocking = fidelity.KBlocking(1, l1_acc, partials)
        full, fast = _both(
            skipping, a, stored, False, DataType.BFLOAT16, numerics, blocking, fast_path=fast_path
        )
        assert torch.equal(_bits(fast), _bits(full)), (l1_acc, partials)
        if not dst32:  # (the blocks change a 16-bit Dst's values: the case is not the one-block product)
            assert not torch.equal(full, _product(a, stored, False, DataType.BFLOAT16, numerics))


@pytest.mark.parametrize("fid", FIDELITIES)
@pytest.mark.parametrize("dst32", [False, True])
def test_non_finite_activations_take_the_full_product(skipping, fid: MathFidelity, dst32: bool) -> None:
    """A NaN or inf in a row makes that row's zero columns NaN (0 x inf): the product over every column."""
    numerics = fidelity.MatmulNumerics(fid, dst32)
    stored = _padded_heads(64, 2, 20, 32).to(torch.bfloat16)
    zero = (stored == 0).all(dim=0)
    a = torch.randn(6, 64).to(torch.bfloat16).float()
    a[1, 3] = float("nan")
    a[3, 0] = float("inf")
    a[4, 5] = -float("inf")
    full, fast = _both(skipping, a, stored, False, DataType.BFLOAT16, numerics)
    assert torch.equal(_bits(fast), _bits(full))
    assert bool(full[[1, 3, 4]][:, zero].isnan().all())
    assert torch.equal(full[[0, 2, 5]][:, zero], torch.zeros(3, int(zero.sum())))
    # finite activations whose fp32-Dst noise factor overflows (inf x a 0 dither is NaN): the full product too
    huge = torch.full((2, 64), 2.0**100)
    full, fast = _both(skipping, huge, stored, False, DataType.BFLOAT16, numerics)
    assert torch.equal(_bits(fast), _bits(full))
    if dst32:
        assert bool(full[:, zero].isnan().all())


def test_in_place_writes_to_the_weight_are_seen(skipping) -> None:
    numerics = fidelity.MatmulNumerics(MathFidelity.HiFi4, True)
    a = torch.randn(20, 64).to(torch.bfloat16).float()
    stored = _padded_heads(64, 2, 20, 32).to(torch.bfloat16)
    skipping(True)
    first = _product(a, stored, False, DataType.BFLOAT16, numerics)
    assert fidelity._KEPT_COLUMNS.value_of(stored).period == (32, 20)
    # fill the padded columns: the cached kept columns no longer hold
    stored.copy_(torch.randn(64, 64).to(torch.bfloat16))
    after = _product(a, stored, False, DataType.BFLOAT16, numerics)
    assert fidelity._KEPT_COLUMNS.value_of(stored) is None
    skipping(False)
    fidelity._COLUMN_SCALES.clear()
    assert torch.equal(_bits(after), _bits(_product(a, stored, False, DataType.BFLOAT16, numerics)))
    assert not torch.equal(after, first)
    # and zero them again: a new set of kept columns (now irregular)
    skipping(True)
    stored[:, ::3] = 0
    again = _product(a, stored, False, DataType.BFLOAT16, numerics)
    assert fidelity._KEPT_COLUMNS.value_of(stored).period is None
    skipping(False)
    assert torch.equal(_bits(again), _bits(_product(a, stored, False, DataType.BFLOAT16, numerics)))


def test_cache_entry_goes_with_the_buffer_and_dense_weights_are_remembered(skipping) -> None:
    skipping(True)
    numerics = fidelity.MatmulNumerics(MathFidelity.LoFi, True)
    dense = torch.randn(32, 64).to(torch.bfloat16)
    dense[:, :7] = 0  # under an eighth
    _product(torch.randn(4, 32), dense, False, DataType.BFLOAT16, numerics)
    assert fidelity._KEPT_COLUMNS.value_of(dense) is None
    key = id(dense)
    del dense
    assert key not in fidelity._KEPT_COLUMNS


def test_period() -> None:
    pattern = torch.tensor([True] * 3 + [False] * 2)
    assert fidelity._period(pattern.repeat(4)) == (5, 3)
    assert fidelity._period(torch.tensor([True, False, False, True, True, False])) is None
    assert fidelity._period(torch.tensor([False, True, True, False])) is None
    assert fidelity._period(torch.tensor([True, True, False, False, False])) == (5, 2)
    assert fidelity._period(torch.tensor([True, False, True])) is None  # 2 does not divide 3


def test_exact_mode_is_unchanged(skipping) -> None:
    numerics = fidelity.MatmulNumerics(MathFidelity.HiFi2, False)
    a = torch.randn(8, 64).to(torch.bfloat16).float()
    stored = _padded_heads(64, 2, 20, 32).to(torch.bfloat16)
    skipping(True)
    fidelity._KEPT_COLUMNS.clear()
    with mode.numerics_mode("exact"):
        got = _product(a, stored, False, DataType.BFLOAT16, numerics)
        assert stored not in fidelity._KEPT_COLUMNS
        from ttport.sim.numerics import fpu

        expected = fpu.matmul_dst(
            a, stored.float(), DataType.BFLOAT16, DataType.BFLOAT16, numerics.math_fidelity, False
        )
    assert torch.equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("fp32_dest_acc_en", [False, True])
def test_linear_with_padded_heads_and_weight_writes(
    device, skipping, transpose_b: bool, fp32_dest_acc_en: bool
) -> None:
    """ttnn.linear as the SigLIP port calls it (bias, program config); ttnn.copy and output_tensor= write the
    weight in place."""
    cfg = ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=fp32_dest_acc_en, packer_l1_acc=True
    )
    w_host = _padded_heads(64, 3, 24, 32)

    def dev(x: torch.Tensor) -> ttnn.Tensor:
        return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)

    x = dev(torch.randn(1, 1, 70, 64))
    bias = dev(torch.randn(1, 96))
    weight = dev(w_host.T if transpose_b else w_host)
    program_config = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(3, 3), in0_block_w=1, out_subblock_h=1, out_subblock_w=1,
        per_core_M=1, per_core_N=1, transpose_mcast=False,
    )  # fmt: skip

    def linear(w: ttnn.Tensor) -> torch.Tensor:
        out = ttnn.linear(x, w, bias=bias, transpose_b=transpose_b, program_config=program_config,
                          compute_kernel_config=cfg)  # fmt: skip
        return ttnn.to_torch(out).float()

    def both(w: ttnn.Tensor) -> torch.Tensor:
        skipping(False)
        full = linear(w)
        skipping(True)
        fast = linear(w)
        assert torch.equal(_bits(fast), _bits(full))
        return fast

    first = both(weight)
    assert any(value is not None for value in fidelity._KEPT_COLUMNS.values())
    new_host = torch.randn(64, 96)
    ttnn.copy(dev(new_host.T if transpose_b else new_host), weight)
    fresh = both(weight)
    assert torch.equal(fresh, linear(dev(new_host.T if transpose_b else new_host)))
    assert not torch.equal(fresh, first)
    ttnn.multiply(dev(w_host.T if transpose_b else w_host), 2.0, output_tensor=weight)
    assert torch.equal(both(weight), linear(dev(2.0 * (w_host.T if transpose_b else w_host))))


@pytest.mark.parametrize("dst32", [False, True])
def test_rows_do_not_depend_on_the_rows_stacked_with_them(skipping, dst32: bool) -> None:
    """One product for the chips of a mesh stacks their rows (device_op stack_chips): a chip's rows come out
    the same whether its product takes the fast path alone or the full one because another chip's rows hold a
    NaN."""
    skipping(True)
    numerics = fidelity.MatmulNumerics(MathFidelity.HiFi2, dst32)
    stored = _padded_heads(64, 2, 20, 32).to(torch.bfloat16)
    mine = torch.randn(1, 1, 16, 64).to(torch.bfloat16).float()
    other = torch.randn(1, 1, 16, 64).to(torch.bfloat16).float()
    other[..., 5, 7] = float("nan")
    alone = _product(mine, stored, False, DataType.BFLOAT16, numerics)
    assert fidelity._KEPT_COLUMNS.value_of(stored) is not None
    stacked = _product(torch.cat([mine, other]), stored, False, DataType.BFLOAT16, numerics)
    assert torch.equal(_bits(stacked[:1]), _bits(alone))
    assert bool(stacked[1, 0, 5].isnan().all())


@pytest.mark.parametrize("rows", [1, 7, 256])
def test_siglip_so400m_qkv_shape(skipping, rows: int) -> None:
    """The ports' case at full width (BLAS may pick other kernels for large N than for the small shapes above):
    [rows, 1152] @ [1152, 4608] with 16 x 3 heads padded 72 -> 96, HiFi4 / HiFi2, 32-bit Dst."""
    stored = (_padded_heads(1152, 48, 72, 96) * 0.02).to(torch.bfloat16)
    a = torch.randn(rows, 1152).to(torch.bfloat16).float()
    for fid in (MathFidelity.HiFi4, MathFidelity.HiFi2):
        full, fast = _both(skipping, a, stored, False, DataType.BFLOAT16, fidelity.MatmulNumerics(fid, True))
        assert torch.equal(_bits(fast), _bits(full)), fid
