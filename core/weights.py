"""state_dict -> ttnn tensors, with a per-weight dtype policy and a verified on-disk cache.

Policy: an ordered mapping of glob patterns (fnmatch on the state-dict name) to ttnn dtypes, first match
wins, e.g. ``{"*.mlp.*.weight": ttnn.bfloat8_b, "*": ttnn.bfloat16}`` -- the usual tt-metal choice of
block-float for the big matmul weights and bf16 for norms, biases and embeddings.

Cache: converting to a device number format (bfloat8_b's shared exponents) is the slow host step of
loading a large model, so the converted values are kept in one safetensors file per weight. Each file
records what it was made from (name, dtype, layout, shape, sha256 of the source values, format version)
and the sha256 of its own payload. A file is used only if all of that matches; a stale one (weights or
policy changed) or a corrupt one (unreadable, truncated, payload hash wrong) is rebuilt. Files are written
to a temporary name and moved into place with os.replace, so a crash never leaves a half-written file
under the real name.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from core.backend import ttnn

CACHE_FORMAT = 1
ENV_CACHE = "TTPORT_CACHE"

Prepare = Callable[[str, torch.Tensor], torch.Tensor]


def linear_weight(weight: torch.Tensor) -> torch.Tensor:
    """torch Linear [out, in] -> ttnn.linear's [in, out]."""
    return weight.T.contiguous()


def linear_bias(bias: torch.Tensor) -> torch.Tensor:
    """[out] -> the [1, out] row ttnn.linear requires of a bias."""
    return bias.reshape(1, -1)


class DtypePolicy:
    """Which ttnn dtype each weight gets: the first glob pattern matching its name, else `default`."""

    def __init__(self, rules: Mapping[str, Any] | None = None, default: Any = None):
        self.rules = dict(rules or {})
        self.default = default

    def dtype_for(self, name: str) -> Any:
        for pattern, dtype in self.rules.items():
            if fnmatch.fnmatchcase(name, pattern):
                return dtype
        return self.default if self.default is not None else ttnn.bfloat16


def _sha256(t: torch.Tensor) -> str:
    data = t.detach().contiguous().cpu()
    if data.dtype == torch.bfloat16:
        data = data.view(torch.int16)
    return hashlib.sha256(data.numpy().tobytes()).hexdigest()


def _enum_name(x: Any) -> str:
    return str(getattr(x, "name", x))


class WeightCache:
    """Converted weight values on disk, one verified safetensors file per (name, dtype, layout)."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.hits = 0
        self.rebuilds = 0

    def path_for(self, name: str, dtype: Any, layout: Any) -> Path:
        safe = name.replace("/", "_")
        return self.directory / f"{safe}.{_enum_name(dtype)}.{_enum_name(layout)}.safetensors"

    def load(self, path: Path, expected: dict[str, str]) -> torch.Tensor | None:
        """The cached values if the file exists, is intact and was made from `expected`; else None."""
        if not path.exists():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                values = f.get_tensor("values")
        except (SafetensorError, OSError, KeyError, ValueError, RuntimeError):
            return None
        recorded = {k: meta.get(k) for k in expected}
        if recorded != expected or meta.get("payload_sha256") != _sha256(values):
            return None
        return values

    def store(self, path: Path, values: torch.Tensor, meta: dict[str, str]) -> None:
        """Write atomically: temp file in the same directory, then os.replace."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            save_file(
                {"values": values.contiguous()}, tmp, metadata={**meta, "payload_sha256": _sha256(values)}
            )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def converted(self, name: str, source: torch.Tensor, dtype: Any, layout: Any) -> torch.Tensor:
        """`source` rounded to `dtype` as the device stores it, from the cache when valid."""
        path = self.path_for(name, dtype, layout)
        expected = {
            "format": str(CACHE_FORMAT),
            "name": name,
            "dtype": _enum_name(dtype),
            "layout": _enum_name(layout),
            "shape": json.dumps(list(source.shape)),
            "source_sha256": _sha256(source),
        }
        values = self.load(path, expected)
        if values is not None:
            self.hits += 1
            return values
        self.rebuilds += 1
        values = quantize(source, dtype, layout)
        self.store(path, values, expected)
        return values


def quantize(source: torch.Tensor, dtype: Any, layout: Any) -> torch.Tensor:
    """The values `source` takes in `dtype` (host conversion through ttnn, so both backends agree)."""
    values = ttnn.to_torch(ttnn.from_torch(source, dtype=dtype, layout=layout))
    return values.float() if values.is_floating_point() else values


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    device: Any,
    *,
    policy: DtypePolicy | None = None,
    prepare: Prepare | None = None,
    layout: Any = None,
    memory_config: Any = None,
    mesh_mapper: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Every tensor of `state_dict` as a device tensor named like its key.

    `prepare(name, tensor)` reshapes/transposes before conversion (e.g. `linear_weight`); `cache_dir`
    (default: TTPORT_CACHE if set, else no cache) keeps the converted values between runs.
    """
    policy = policy or DtypePolicy()
    layout = layout if layout is not None else ttnn.TILE_LAYOUT
    memory_config = memory_config if memory_config is not None else ttnn.DRAM_MEMORY_CONFIG
    cache_dir = cache_dir if cache_dir is not None else os.environ.get(ENV_CACHE)
    cache = WeightCache(cache_dir) if cache_dir else None
    out: dict[str, Any] = {}
    for name, tensor in state_dict.items():
        source = tensor.detach().float() if tensor.is_floating_point() else tensor.detach()
        if prepare is not None:
            source = prepare(name, source)
        dtype = policy.dtype_for(name)
        values = cache.converted(name, source, dtype, layout) if cache else source
        out[name] = ttnn.from_torch(
            values,
            dtype=dtype,
            layout=layout,
            device=device,
            memory_config=memory_config,
            mesh_mapper=mesh_mapper,
        )
    return out
