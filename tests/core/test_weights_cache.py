"""Weights: the dtype policy picks formats by name; the cache is atomic, verified, and rebuilt when
corrupt or stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from core.backend import ttnn
from core.compare import to_torch
from core.weights import DtypePolicy, WeightCache, convert_state_dict, linear_bias, linear_weight, quantize


def _state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "layers.0.mlp.fc1.weight": torch.randn(64, 32, generator=g),
        "layers.0.mlp.fc1.bias": torch.randn(64, generator=g),
        "layers.0.norm.weight": torch.randn(32, generator=g),
    }


POLICY = DtypePolicy({"*.mlp.*.weight": ttnn.bfloat8_b})


def _prepare(name: str, t: torch.Tensor) -> torch.Tensor:
    if name.endswith("fc1.weight"):
        return linear_weight(t)
    return linear_bias(t)


def test_policy_first_match_wins_and_default() -> None:
    policy = DtypePolicy({"*.mlp.*.weight": ttnn.bfloat8_b, "*.weight": ttnn.bfloat4_b}, default=ttnn.float32)
    assert policy.dtype_for("layers.3.mlp.fc2.weight") == ttnn.bfloat8_b
    assert policy.dtype_for("layers.3.norm.weight") == ttnn.bfloat4_b
    assert policy.dtype_for("layers.3.norm.bias") == ttnn.float32
    assert DtypePolicy().dtype_for("anything") == ttnn.bfloat16


def test_convert_applies_policy_and_prepare(device) -> None:
    sd = _state_dict()
    out = convert_state_dict(sd, device, policy=POLICY, prepare=_prepare)
    fc1 = out["layers.0.mlp.fc1.weight"]
    assert fc1.dtype == ttnn.bfloat8_b and list(fc1.shape) == [32, 64] and fc1.layout == ttnn.TILE_LAYOUT
    assert out["layers.0.norm.weight"].dtype == ttnn.bfloat16 and list(out["layers.0.norm.weight"].shape) == [
        1,
        32,
    ]
    expected = quantize(sd["layers.0.mlp.fc1.weight"].T.contiguous(), ttnn.bfloat8_b, ttnn.TILE_LAYOUT)
    assert torch.equal(to_torch(fc1).float(), expected)
    assert not torch.equal(expected, sd["layers.0.mlp.fc1.weight"].T)  # bfloat8_b really rounded


def _convert(device, cache_dir: Path, sd=None, policy=POLICY) -> dict:
    return convert_state_dict(
        sd or _state_dict(), device, policy=policy, prepare=_prepare, cache_dir=cache_dir
    )


def test_cache_roundtrip_gives_the_same_tensors(device, tmp_path: Path) -> None:
    first = _convert(device, tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [
        "layers.0.mlp.fc1.bias.BFLOAT16.TILE.safetensors",
        "layers.0.mlp.fc1.weight.BFLOAT8_B.TILE.safetensors",
        "layers.0.norm.weight.BFLOAT16.TILE.safetensors",
    ]
    second = _convert(device, tmp_path)
    for name in first:
        assert torch.equal(to_torch(first[name]), to_torch(second[name])), name


def _cache_counts(tmp_path: Path, device, sd=None, policy=POLICY) -> tuple[int, int]:
    cache = WeightCache(tmp_path)
    for name, t in (sd or _state_dict()).items():
        cache.converted(name, _prepare(name, t.float()), policy.dtype_for(name), ttnn.TILE_LAYOUT)
    return cache.hits, cache.rebuilds


def test_second_load_hits(device, tmp_path: Path) -> None:
    assert _cache_counts(tmp_path, device) == (0, 3)
    assert _cache_counts(tmp_path, device) == (3, 0)


@pytest.mark.parametrize("damage", ["truncate", "flip_payload", "garbage"])
def test_corrupt_file_is_rebuilt(device, tmp_path: Path, damage: str) -> None:
    _cache_counts(tmp_path, device)
    path = tmp_path / "layers.0.mlp.fc1.weight.BFLOAT8_B.TILE.safetensors"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip_payload":
        data[-5] ^= 0xFF  # inside the tensor bytes: header still parses, payload hash does not match
    else:
        data = bytearray(b"not a safetensors file")
    path.write_bytes(bytes(data))
    assert _cache_counts(tmp_path, device) == (2, 1)
    assert _cache_counts(tmp_path, device) == (3, 0)  # the rebuilt file is good again
    out = _convert(device, tmp_path)["layers.0.mlp.fc1.weight"]
    expected = quantize(
        _state_dict()["layers.0.mlp.fc1.weight"].T.contiguous(), ttnn.bfloat8_b, ttnn.TILE_LAYOUT
    )
    assert torch.equal(to_torch(out).float(), expected)


def test_stale_file_is_rebuilt_when_weights_change(device, tmp_path: Path) -> None:
    _cache_counts(tmp_path, device)
    changed = _state_dict()
    changed["layers.0.norm.weight"] = changed["layers.0.norm.weight"] + 1.0
    assert _cache_counts(tmp_path, device, sd=changed) == (2, 1)
    out = _convert(device, tmp_path, sd=changed)["layers.0.norm.weight"]
    expected = quantize(changed["layers.0.norm.weight"].reshape(1, -1), ttnn.bfloat16, ttnn.TILE_LAYOUT)
    assert torch.equal(to_torch(out).float(), expected)


def test_policy_change_uses_a_different_file(device, tmp_path: Path) -> None:
    _cache_counts(tmp_path, device)
    bf16_everywhere = DtypePolicy()
    assert _cache_counts(tmp_path, device, policy=bf16_everywhere) == (2, 1)


def test_store_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while writing leaves neither a partial file under the real name nor a stray temp file."""
    cache = WeightCache(tmp_path)
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"previous good content")

    def crash(src: str, dst: str) -> None:
        assert Path(src).parent == tmp_path and Path(src).name.startswith("w.safetensors.")
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.store(path, torch.ones(4), {"name": "w"})
    assert path.read_bytes() == b"previous good content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


def test_cache_dir_from_env(device, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTPORT_CACHE", str(tmp_path / "env-cache"))
    convert_state_dict({"x.weight": torch.ones(2, 2)}, device)
    assert [p.name for p in (tmp_path / "env-cache").iterdir()] == ["x.weight.BFLOAT16.TILE.safetensors"]
