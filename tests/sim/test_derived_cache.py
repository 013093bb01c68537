"""numerics/derived.py: values derived from a stored buffer are computed once while it lives unchanged, within
the cache's budget; a linear reads its weight's new values after any in-place write (widened-weight cache)."""

from __future__ import annotations

import gc

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import derived


def _counting(value: torch.Tensor) -> tuple[list[int], object]:
    calls: list[int] = []

    def make() -> torch.Tensor:
        calls.append(1)
        return value.float() * 2

    return calls, make


def test_value_is_made_once_and_remade_after_an_in_place_write() -> None:
    cache = derived.DerivedCache()
    stored = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)
    calls, make = _counting(stored)
    first = cache.get(stored, "x2", make)
    assert cache.get(stored, "x2", make) is first and len(calls) == 1
    assert cache.used_bytes == 6 * 4
    stored.add_(1)  # an in-place write bumps the version
    again = cache.get(stored, "x2", make)
    assert len(calls) == 2 and torch.equal(again, (stored.float() * 2))
    assert cache.used_bytes == 6 * 4  # the stale entry was replaced, not added to
    # one entry per stored tensor: a value made of something else replaces it
    other = cache.get(stored, "made of something else", make)
    assert len(calls) == 3 and other is not again and cache.value_of(stored) is other
    assert cache.used_bytes == 6 * 4 and stored in cache


def test_entry_goes_with_its_buffer() -> None:
    cache = derived.DerivedCache()
    stored = torch.ones(4, 4, dtype=torch.bfloat16)
    widened = stored.float()
    cache.get(stored, 0, lambda: widened)
    assert cache.used_bytes == 64
    key = id(stored)
    del stored
    gc.collect()
    assert cache.used_bytes == 0 and key not in cache


def test_budget_keeps_the_first_entries_and_computes_the_rest() -> None:
    cache = derived.DerivedCache(budget_bytes=100)
    a, b = torch.ones(5, 5), torch.ones(5, 5)  # 100 bytes each as float32
    calls_a, make_a = _counting(a)
    calls_b, make_b = _counting(b)
    kept = cache.get(a, 0, make_a)
    assert cache.get(a, 0, make_a) is kept and len(calls_a) == 1
    assert torch.equal(cache.get(b, 0, make_b), b * 2) and cache.get(b, 0, make_b) is not None
    assert len(calls_b) == 2 and cache.used_bytes == 100  # b was over the budget: computed every time


def test_meta_tensors_are_not_cached() -> None:
    cache = derived.DerivedCache()
    meta = torch.empty(3, 3, device="meta")
    cache.get(meta, 0, lambda: torch.empty(3, 3, device="meta"))
    assert meta not in cache and not cache.values()


def test_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(derived.WEIGHT_CACHE_ENV_VAR, "3")
    assert derived._weight_budget() == 3 * 2**20
    monkeypatch.setenv(derived.WEIGHT_CACHE_ENV_VAR, "lots")
    with pytest.raises(ValueError, match=r"^TTPORT_SIM_WEIGHT_CACHE_MB='lots': expected a size in MiB"):
        derived._weight_budget()


def _dev(device, x: torch.Tensor) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


@pytest.mark.parametrize("budget", [None, 0])
def test_linear_reads_its_weight_after_in_place_writes(device, monkeypatch, budget) -> None:
    """The widened-weight cache (budget None: everything cached; 0: nothing) never serves stale values."""
    monkeypatch.setattr(derived, "WIDENED_WEIGHTS", derived.DerivedCache(budget))
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    x = _dev(device, torch.randn(1, 1, 50, 64))
    host = torch.randn(64, 96)
    weight = _dev(device, host)

    def linear(w: ttnn.Tensor) -> torch.Tensor:
        return ttnn.to_torch(ttnn.linear(x, w, compute_kernel_config=cfg)).float()

    first = linear(weight)
    assert torch.equal(linear(weight), first)
    assert (derived.WIDENED_WEIGHTS.used_bytes > 0) == (budget is None)
    new_host = torch.randn(64, 96)
    ttnn.copy(_dev(device, new_host), weight)
    assert torch.equal(linear(weight), linear(_dev(device, new_host)))
    ttnn.multiply(_dev(device, new_host), 2.0, output_tensor=weight)
    assert torch.equal(linear(weight), linear(_dev(device, new_host * 2.0)))
    # a KV cache read as b: fill_cache writes its buffer in place
    q = _dev(device, torch.randn(1, 1, 32, 64))
    cache = _dev(device, torch.zeros(1, 1, 64, 64))
    assert torch.equal(
        ttnn.to_torch(ttnn.matmul(q, cache, transpose_b=True)).float(), torch.zeros(1, 1, 32, 64)
    )
    keys = torch.randn(1, 1, 32, 64)
    ttnn.fill_cache(cache, _dev(device, keys), 0)
    expected = ttnn.matmul(
        q, _dev(device, torch.cat([keys, torch.zeros(1, 1, 32, 64)], dim=2)), transpose_b=True
    )
    assert torch.equal(ttnn.to_torch(ttnn.matmul(q, cache, transpose_b=True)), ttnn.to_torch(expected))


def test_only_few_row_products_of_bfloat16_weights_widen_once() -> None:
    weight = torch.zeros(64, 96, dtype=torch.bfloat16)
    assert derived.widen_once(weight, 154) and derived.widen_once(weight[None, None], derived.WIDEN_ONCE_MAX_ROWS)
    assert not derived.widen_once(weight, derived.WIDEN_ONCE_MAX_ROWS + 1)  # the product dwarfs the widening
    assert not derived.widen_once(weight.float(), 154)  # nothing to widen
    assert not derived.widen_once(torch.zeros(2, 64, 96, dtype=torch.bfloat16), 154)  # batched: not a weight
