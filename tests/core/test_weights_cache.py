"""Weights: the dtype policy picks formats by name; the weight cache (issue 10, section 5) is keyed by the
full parameter path and everything that decides the converted bytes, is used by every port, reports its
hits and misses, rebuilds stale or corrupt entries, and never opens anything but a regular file."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ttport import device as devices
from ttport import weights
from ttport.backend import ttnn
from ttport.compare import to_torch
from ttport.weights import (
    CacheError,
    DtypePolicy,
    WeightCache,
    convert_state_dict,
    linear_bias,
    linear_weight,
    quantize,
    to_device,
    use_cache,
)


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
    with use_cache(None):
        out = convert_state_dict(sd, device, policy=POLICY, prepare=_prepare)
    fc1 = out["layers.0.mlp.fc1.weight"]
    assert fc1.dtype == ttnn.bfloat8_b and list(fc1.shape) == [32, 64] and fc1.layout == ttnn.TILE_LAYOUT
    assert out["layers.0.norm.weight"].dtype == ttnn.bfloat16
    assert list(out["layers.0.norm.weight"].shape) == [1, 32]
    expected = quantize(sd["layers.0.mlp.fc1.weight"].T.contiguous(), ttnn.bfloat8_b, ttnn.TILE_LAYOUT)
    assert torch.equal(to_torch(fc1).float(), expected)
    assert not torch.equal(expected, sd["layers.0.mlp.fc1.weight"].T)  # bfloat8_b really rounded


@pytest.fixture
def warnings_seen() -> list[str]:
    return []


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _cache(cache_dir: Path, warnings_seen: list[str] | None = None) -> WeightCache:
    return WeightCache.open(cache_dir, warn=(warnings_seen.append if warnings_seen is not None else None))


def _convert(device, cache: WeightCache, sd=None, policy=POLICY, prefix: str = "", **kw) -> dict:
    with use_cache(cache):
        return convert_state_dict(
            sd or _state_dict(), device, policy=policy, prepare=_prepare, prefix=prefix, **kw
        )


def _counts(device, cache_dir: Path, **kw) -> tuple[int, int]:
    cache = _cache(cache_dir)
    _convert(device, cache, **kw)
    return cache.hits, cache.misses


def _expected(name: str, sd=None, policy=POLICY) -> torch.Tensor:
    sd = sd or _state_dict()
    return quantize(_prepare(name, sd[name].float()), policy.dtype_for(name), ttnn.TILE_LAYOUT)


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.tensorbin"))


def test_second_load_hits_with_the_same_values(device, cache_dir: Path) -> None:
    cold_cache = _cache(cache_dir)
    cold = _convert(device, cold_cache)
    assert (cold_cache.hits, cold_cache.misses) == (0, 3) and len(_entries(cache_dir)) == 3
    warm_cache = _cache(cache_dir)
    warm = _convert(device, warm_cache)
    assert (warm_cache.hits, warm_cache.misses) == (3, 0)
    for name in cold:
        assert torch.equal(to_torch(cold[name]), to_torch(warm[name])), name
        assert torch.equal(to_torch(warm[name]).float(), _expected(name)), name
        assert warm[name].dtype == cold[name].dtype and warm[name].layout == ttnn.TILE_LAYOUT


def test_entries_are_keyed_by_the_full_path(device, cache_dir: Path) -> None:
    """Keys were local names: clip tiny's 65 weights shared 11 files and a warm run rebuilt every matmul
    weight. Two layers with the same local names are two sets of entries, and both hit when warm."""
    first, second = _state_dict(0), _state_dict(1)
    cache = _cache(cache_dir)
    _convert(device, cache, sd=first, prefix="encoder.layers.0.")
    _convert(device, cache, sd=second, prefix="encoder.layers.1.")
    assert cache.misses == 6 and len(_entries(cache_dir)) == 6
    names = {json.loads(p.with_suffix(".json").read_text())["key"]["name"] for p in _entries(cache_dir)}
    assert "encoder.layers.1.layers.0.mlp.fc1.weight" in names and len(names) == 6
    warm = _cache(cache_dir)
    out0 = _convert(device, warm, sd=first, prefix="encoder.layers.0.")
    out1 = _convert(device, warm, sd=second, prefix="encoder.layers.1.")
    assert (warm.hits, warm.misses) == (6, 0)
    assert torch.equal(
        to_torch(out1["layers.0.norm.weight"]).float(), _expected("layers.0.norm.weight", second)
    )
    assert not torch.equal(to_torch(out0["layers.0.norm.weight"]), to_torch(out1["layers.0.norm.weight"]))


def test_what_decides_the_bytes_is_in_the_key(device, cache_dir: Path, monkeypatch) -> None:
    assert _counts(device, cache_dir) == (0, 3)
    changed = _state_dict()
    changed["layers.0.norm.weight"] = changed["layers.0.norm.weight"] + 1.0  # source content
    assert _counts(device, cache_dir, sd=changed) == (2, 1)
    assert _counts(device, cache_dir, policy=DtypePolicy()) == (2, 1)  # fc1 weight dtype bf16 now
    assert _counts(device, cache_dir, layout=ttnn.ROW_MAJOR_LAYOUT, policy=DtypePolicy()) == (0, 3)
    monkeypatch.setattr(weights, "CONVERSION_VERSION", weights.CONVERSION_VERSION + 1)
    assert _counts(device, cache_dir) == (0, 3)


def test_simulator_conversion_code_is_in_the_key(device, cache_dir: Path, monkeypatch) -> None:
    """A change to the simulator's number formats must not serve bytes rounded the old way."""
    assert _counts(device, cache_dir) == (0, 3)
    monkeypatch.setattr(weights, "_conversion_code", lambda: "sim:rounding-changed")
    assert _counts(device, cache_dir) == (0, 3)


@pytest.fixture
def mesh_1x2() -> Iterator[object]:
    with devices.board_for((1, 2)), devices.open_mesh_device((1, 2)) as mesh:
        yield mesh


def test_mesh_mapping_is_in_the_key(mesh_1x2, cache_dir: Path) -> None:
    mesh_device = mesh_1x2
    source = torch.randn(64, 32)
    shard = ttnn.ShardTensorToMesh(mesh_device, dim=0)
    replicate = ttnn.ReplicateTensorToMesh(mesh_device)
    for _ in range(2):
        cache = _cache(cache_dir)
        with use_cache(cache):
            sharded = to_device("w", source, mesh_device, mesh_mapper=shard)
            replicated = to_device("w", source, mesh_device, mesh_mapper=replicate)
        chips_s = [ttnn.to_torch(t).float() for t in ttnn.get_device_tensors(sharded)]
        chips_r = [ttnn.to_torch(t).float() for t in ttnn.get_device_tensors(replicated)]
        rounded = source.to(torch.bfloat16).float()
        assert [c.shape[0] for c in chips_s] == [32, 32] and torch.equal(torch.cat(chips_s), rounded)
        assert all(torch.equal(c, rounded) for c in chips_r)
    assert (cache.hits, cache.misses) == (2, 0) and len(_entries(cache_dir)) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip_payload", "garbage", "bad_meta", "no_meta"])
def test_corrupt_entry_is_rebuilt(device, cache_dir: Path, damage: str) -> None:
    _counts(device, cache_dir)
    path = next(p for p in _entries(cache_dir) if "fc1.weight" in p.name)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "flip_payload":
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "garbage":
        path.write_bytes(b"not a tensor file")
    elif damage == "bad_meta":
        path.with_suffix(".json").write_text("{not json")
    else:
        path.with_suffix(".json").unlink()
    assert _counts(device, cache_dir) == (2, 1)
    assert _counts(device, cache_dir) == (3, 0)  # the rebuilt entry is good again
    out = _convert(device, _cache(cache_dir))["layers.0.mlp.fc1.weight"]
    assert torch.equal(to_torch(out).float(), _expected("layers.0.mlp.fc1.weight"))


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail (instead of hanging the suite) if a test blocks for 60 s, e.g. in open() on a FIFO."""

    def timeout(signum, frame):
        raise TimeoutError("blocked for 60 s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("what", ["fifo", "directory"])
@pytest.mark.parametrize("part", ["tensorbin", "json"])
def test_entry_that_is_not_a_file_is_skipped(
    device, cache_dir: Path, warnings_seen: list[str], alarm, what: str, part: str
) -> None:
    """A FIFO named like an entry hung the run; a directory named like one crashed it. Now: one warning,
    that weight converted (not cached), the thing left as it was, the run goes on."""
    _counts(device, cache_dir)
    entry = next(p for p in _entries(cache_dir) if "norm.weight" in p.name).with_suffix(f".{part}")
    entry.unlink()
    os.mkfifo(entry) if what == "fifo" else entry.mkdir()
    cache = _cache(cache_dir, warnings_seen)
    out = _convert(device, cache)
    assert (cache.hits, cache.misses) == (2, 1)
    assert torch.equal(to_torch(out["layers.0.norm.weight"]).float(), _expected("layers.0.norm.weight"))
    kind = stat.S_ISFIFO if what == "fifo" else stat.S_ISDIR
    assert kind(os.lstat(entry).st_mode)
    assert warnings_seen and all(len(w.splitlines()) == 1 for w in warnings_seen)
    assert any(entry.name in w for w in warnings_seen), warnings_seen


def test_unusable_cache_directory_is_a_user_error(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(CacheError, match=f"^TTPORT_CACHE={a_file}: not a directory$"):
        WeightCache.open(a_file)
    with pytest.raises(CacheError, match=f"^TTPORT_CACHE={a_file / 'sub'}: cannot create the directory: "):
        WeightCache.open(a_file / "sub")
    read_only = Path("/sys") if os.geteuid() == 0 else tmp_path / "ro"
    if os.geteuid() != 0:
        read_only.mkdir()
        read_only.chmod(0o555)
    with pytest.raises(CacheError, match=f"^TTPORT_CACHE={read_only}: cannot write in the directory: "):
        WeightCache.open(read_only)


def test_store_failure_warns_once_and_the_run_goes_on(device, cache_dir: Path, warnings_seen, monkeypatch):
    cache = _cache(cache_dir, warnings_seen)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights, "replace_atomically", full)
    out = _convert(device, cache)
    assert cache.misses == 3 and cache.store_disabled == "No space left on device"
    assert len(warnings_seen) == 1 and "the rest of this run is not cached" in warnings_seen[0]
    assert torch.equal(to_torch(out["layers.0.mlp.fc1.weight"]).float(), _expected("layers.0.mlp.fc1.weight"))
    assert _entries(cache_dir) == []


def test_orphans_are_removed_when_the_cache_opens(device, cache_dir: Path) -> None:
    cache_dir.mkdir()
    orphan = cache_dir / "w.0123456789abcdef01234567.tensorbin.somehost.4194303.0123abcd.tmp.tensorbin"
    orphan.write_bytes(b"half")
    old = 0.0
    os.utime(orphan, (old, old))
    WeightCache.open(cache_dir)
    assert not orphan.exists()


def test_cache_dir_from_env(device, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTPORT_CACHE", str(tmp_path / "env-cache"))
    monkeypatch.setattr(weights, "_from_env", {})
    convert_state_dict({"x.weight": torch.ones(2, 2)}, device)
    assert [p.name.split(".")[:2] for p in _entries(tmp_path / "env-cache")] == [["x", "weight"]]
