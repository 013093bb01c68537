"""A large weight is widened one block of columns at a time (numerics/fidelity.py _dst32_by_column_blocks):
the same values as the one-call product, and in-place writes to the weight are seen by the next call."""

from __future__ import annotations

import itertools

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import fidelity, mode
from ttport.sim.types import DataType, MathFidelity


@pytest.fixture
def blocks(monkeypatch: pytest.MonkeyPatch):
    """blocks(True): every fp32-Dst weight goes by column blocks of 2 x 32 columns for K = 64 (a partial last
    block where N is not a multiple); blocks(False): none does."""

    def select(on: bool) -> None:
        monkeypatch.setattr(fidelity, "_COLUMN_BLOCKS_MIN_BYTES", 0 if on else 1 << 62)
        monkeypatch.setattr(fidelity, "_COLUMN_BLOCK_BYTES", 64 * 64 * 4 // 2)

    return select


def _product(
    blocks, by_blocks: bool, cached: bool, a: torch.Tensor, stored: torch.Tensor, transposed: bool,
    b_dtype: DataType, numerics: fidelity.MatmulNumerics,
) -> torch.Tensor:  # fmt: skip
    """fidelity.matmul(a, b) for b = the stored weight (or its transpose), by column blocks or in one call, with
    or without the per-buffer cache (emptied first)."""
    blocks(by_blocks)
    fidelity._COLUMN_SCALES.clear()
    b = stored.T if transposed else stored
    assert fidelity.widens_by_column_blocks(b, numerics) == by_blocks
    args = (a, b if by_blocks else b.float(), DataType.BFLOAT16, b_dtype, numerics)
    first = fidelity.matmul(*args, b_stored=(stored, transposed) if cached else None)
    if cached:  # the second call takes the column noise factors from the cache
        assert torch.equal(fidelity.matmul(*args, b_stored=(stored, transposed)), first)
    return first


@pytest.mark.parametrize(
    "fid", [MathFidelity.LoFi, MathFidelity.HiFi2, MathFidelity.HiFi3, MathFidelity.HiFi4]
)
def test_column_blocks_give_the_one_call_product(blocks, fid: MathFidelity) -> None:
    numerics = fidelity.MatmulNumerics(fid, True)
    for (m, k, n), transposed, b_dtype in itertools.product(
        [(40, 64, 200), (1, 64, 96), (3, 96, 33)], [False, True], [DataType.BFLOAT16, DataType.FLOAT32]
    ):
        a = torch.randn(1, 1, m, k).to(torch.bfloat16).float()
        w = torch.randn(k, n)
        stored = (w.T if transposed else w).contiguous()
        if b_dtype == DataType.BFLOAT16:
            stored = stored.to(torch.bfloat16)
        case = (a, stored, transposed, b_dtype, numerics)
        one_call = _product(blocks, False, False, *case)
        assert one_call.shape == (1, 1, m, n)
        for cached in (False, True):
            assert torch.equal(_product(blocks, True, cached, *case), one_call), (
                m,
                k,
                n,
                transposed,
                b_dtype,
            )
        # and the product is the matmul's: within the fidelity's operand truncation of the exact one
        exact = a @ w
        tolerance = {MathFidelity.LoFi: 2**-3, MathFidelity.HiFi2: 2**-5}.get(fid, 2**-7)
        assert (one_call - exact).abs().max() <= tolerance * (a.abs() @ w.abs()).max()


def test_exact_mode_and_bfloat16_dst_never_take_stored_weights() -> None:
    big = torch.zeros(1, 1).expand(2**14, 2**12)  # 256 MiB as float32, no memory
    assert fidelity.widens_by_column_blocks(big, fidelity.MatmulNumerics(MathFidelity.HiFi4, True))
    assert not fidelity.widens_by_column_blocks(big, fidelity.MatmulNumerics(MathFidelity.HiFi4, False))
    batched = big[None].expand(2, -1, -1)  # not a weight
    assert not fidelity.widens_by_column_blocks(batched, fidelity.MatmulNumerics(MathFidelity.HiFi4, True))
    with mode.numerics_mode("exact"):
        assert not fidelity.widens_by_column_blocks(big, fidelity.MatmulNumerics(MathFidelity.HiFi4, True))


CONFIG = dict(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True, packer_l1_acc=True)


def _dev(device, x: torch.Tensor, dtype=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("transpose_b", [False, True])
def test_linear_by_column_blocks_equals_one_call_and_sees_in_place_writes(
    device, blocks, transpose_b
) -> None:
    cfg = ttnn.WormholeComputeKernelConfig(**CONFIG)
    x = _dev(device, torch.randn(1, 1, 50, 64))
    w_host = torch.randn(64, 130)
    stored_host = w_host.T if transpose_b else w_host
    weight = _dev(device, stored_host)
    bias = _dev(device, torch.randn(1, 130))

    def linear(w: ttnn.Tensor) -> torch.Tensor:
        out = ttnn.linear(x, w, bias=bias, transpose_b=transpose_b, compute_kernel_config=cfg)
        return ttnn.to_torch(out).float()

    blocks(False)
    one_call = linear(weight)
    blocks(True)
    assert torch.equal(linear(weight), one_call)
    assert torch.equal(linear(weight), one_call)  # cached column noise factors

    # ttnn.copy writes new values into the weight's buffer: the next linear reads them
    new_host = torch.randn_like(stored_host)
    ttnn.copy(_dev(device, new_host), weight)
    fresh = linear(_dev(device, new_host))
    assert torch.equal(linear(weight), fresh) and not torch.equal(fresh, one_call)
    # so does an op's output_tensor=
    ttnn.multiply(_dev(device, new_host), 2.0, output_tensor=weight)
    assert torch.equal(linear(weight), linear(_dev(device, new_host * 2.0)))
    blocks(False)
    assert torch.equal(linear(weight), linear(_dev(device, new_host * 2.0)))


def test_matmul_by_column_blocks_sees_fill_cache(device, blocks) -> None:
    """A KV cache read as b (scores = q k^T): fill_cache writes its buffer in place."""
    cfg = ttnn.WormholeComputeKernelConfig(**CONFIG)
    blocks(True)
    q = _dev(device, torch.randn(1, 1, 32, 64))
    cache = _dev(device, torch.zeros(1, 1, 96, 64))
    first = ttnn.to_torch(ttnn.matmul(q, cache, transpose_b=True, compute_kernel_config=cfg)).float()
    assert torch.equal(first, torch.zeros(1, 1, 32, 96))
    keys = torch.randn(1, 1, 64, 64)
    ttnn.fill_cache(cache, _dev(device, keys), 0)
    scores = ttnn.to_torch(ttnn.matmul(q, cache, transpose_b=True, compute_kernel_config=cfg)).float()
    expected = ttnn.matmul(q, _dev(device, torch.cat([keys, torch.zeros(1, 1, 32, 64)], dim=2)),
                           transpose_b=True, compute_kernel_config=cfg)  # fmt: skip
    assert torch.equal(scores, ttnn.to_torch(expected).float())
