"""Host weights -> ttnn device tensors, with a per-weight dtype policy and a verified on-disk cache.

Policy: an ordered mapping of glob patterns (fnmatch on the state-dict name) to ttnn dtypes, first match
wins, e.g. ``{"*.mlp.*.weight": ttnn.bfloat8_b, "*": ttnn.bfloat16}`` -- the usual tt-metal choice of
block-float for the big matmul weights and bf16 for norms, biases and embeddings.

Cache (`TTPORT_CACHE=DIR`): converting to a device number format (bf16 rounding, bfloat8_b's shared
exponents, tile layout) is the slow host step of loading a large model, so every port uploads its weights
through `to_device`, which keeps the converted host tensor (`ttnn.dump_tensor`, the file `ttnn.as_tensor`'s
own cache writes) and loads it on the next run (`ttnn.load_tensor`, no conversion). An entry is keyed by
everything that decides its bytes: the full parameter path (scoped by the port), the sha256 of the source
values, their dtype and shape, the target dtype, layout and tile padding, the mesh mapping, this module's
CONVERSION_VERSION and the backend's conversion code (the simulator's number-format sources, or the ttnn
version). Entries are `<name>.<key digest>.tensorbin` plus a `.json` holding the key and the sha256 of the
tensor file; an entry is used only when both match, so a stale or corrupt entry is converted again.
Files are written with ttport.safe_write (atomically, temporary names carrying the pid, orphans of killed
runs removed when the cache is opened); only regular files are ever opened as entries.

A cache directory that cannot be used (a file, not creatable, not writable) is a CacheError (a UserError:
the CLI exits 2 before any work). A single unusable entry (a directory or FIFO named like one, a write
that fails) costs a warning and a conversion; the run goes on.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ttport import backend
from ttport.backend import ttnn
from ttport.errors import UserError
from ttport.safe_write import remove_orphans, replace_atomically, temp_path, write_data

CACHE_FORMAT = 2
#: bump when ttport's own conversion of a weight (what `to_device` does before ttnn) changes
CONVERSION_VERSION = 1
ENV_CACHE = "TTPORT_CACHE"
_META_LIMIT = 1 << 20  # an entry's .json is a few hundred bytes; refuse to read anything huge

Prepare = Callable[[str, torch.Tensor], torch.Tensor]
Warn = Callable[[str], None]


class CacheError(UserError):
    """TTPORT_CACHE names a directory that cannot be used."""


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


def tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of a tensor's bytes, read in place (no copy of a multi-GB weight)."""
    data = t.detach().cpu().contiguous()
    if data.dtype == torch.bfloat16:
        data = data.view(torch.int16)
    elif data.dtype == torch.bool:
        data = data.view(torch.uint8)
    return hashlib.sha256(memoryview(data.numpy()).cast("B")).hexdigest()


def _enum_name(x: Any) -> str:
    return str(getattr(x, "name", x)).split(".")[-1]


def _conversion_code() -> str:
    """What, besides this module, decides converted bytes: the simulator's host conversion sources (a
    change to its rounding invalidates every entry), or the real ttnn's version."""
    if backend.is_simulator():
        from ttport.sim.numerics import formats
        from ttport.sim.ops import core as sim_core

        digest = hashlib.sha256()
        for module in (formats, sim_core):
            digest.update(Path(module.__file__).read_bytes())
        return f"sim:{digest.hexdigest()[:16]}"
    return f"ttnn:{getattr(ttnn, '__version__', 'unknown')}"


def _mapping(mesh_mapper: Any) -> tuple[str, Any]:
    """(description for the key, mapper to convert with). A replicating mapper is converted unsharded
    (the upload replicates it), as ttnn.as_tensor caches replicated tensors (ttnn/operations/core.py)."""
    if mesh_mapper is None:
        return "none", None
    if type(mesh_mapper).__name__ == "ReplicateTensorToMeshWrapper":
        return "replicate", None
    config = getattr(mesh_mapper, "config", None)
    described = repr(config) if config is not None else re.sub(r" at 0x[0-9a-fA-F]+", "", repr(mesh_mapper))
    mesh = getattr(mesh_mapper, "mesh_device", None)
    chips = mesh.get_num_devices() if mesh is not None and hasattr(mesh, "get_num_devices") else "?"
    return f"{type(mesh_mapper).__name__}:{described}:{chips} chips", mesh_mapper


def _stderr_warning(message: str) -> None:
    print(f"ttport: warning: {message}", file=sys.stderr, flush=True)


def _open_regular(path: Path) -> int | None:
    """A read-only descriptor of `path` if it is a regular file (symlinks followed), else None; a FIFO is
    never opened for real (O_NONBLOCK), so it cannot hang the run. Raises NotRegular for a non-file."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(st.st_mode):
        raise NotRegular(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between stat and open
        os.close(fd)
        raise NotRegular(path)
    return fd


class NotRegular(OSError):
    """A cache path that exists but is not a regular file (a directory, FIFO, device...)."""


def _file_sha256(fd: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(1 << 24)
    view = memoryview(buffer)
    with os.fdopen(fd, "rb", buffering=0, closefd=True) as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


class WeightCache:
    """Converted weights on disk (see the module docstring); counts hits, misses and where time went."""

    def __init__(self, directory: str | os.PathLike[str], *, warn: Warn | None = None):
        self.directory = Path(directory)
        self.warn = warn or _stderr_warning
        self.hits = 0
        self.misses = 0
        self.hash_seconds = 0.0
        self.load_seconds = 0.0
        self.convert_seconds = 0.0
        self.store_seconds = 0.0
        self.store_disabled: str | None = None
        self._conversion: str | None = None

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, warn: Warn | None = None) -> WeightCache:
        """A cache in `directory` (created if missing), after checking files can be created in it and
        removing the temporary files of killed runs. An unusable directory is a CacheError."""
        path = Path(directory)
        shown = f"{ENV_CACHE}={os.fspath(directory)}"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:
            raise CacheError(f"{shown}: not a directory") from exc
        except OSError as exc:
            raise CacheError(f"{shown}: cannot create the directory: {exc.strerror}") from exc
        if not path.is_dir():
            raise CacheError(f"{shown}: not a directory")
        probe = temp_path(path / ".ttport-probe")
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            probe.unlink()
        except OSError as exc:
            raise CacheError(f"{shown}: cannot write in the directory: {exc.strerror}") from exc
        remove_orphans(path)
        return cls(path, warn=warn)

    # -- keys --------------------------------------------------------------------------------------

    def key(self, name: str, source: torch.Tensor, dtype: Any, layout: Any, mapping: str) -> dict[str, Any]:
        if self._conversion is None:
            self._conversion = _conversion_code()
        start = time.perf_counter()
        source_sha = tensor_sha256(source)
        self.hash_seconds += time.perf_counter() - start
        layout_name = _enum_name(layout)
        return {
            "format": CACHE_FORMAT,
            "conversion": f"{CONVERSION_VERSION}/{self._conversion}",
            "name": name,
            "source_dtype": str(source.dtype),
            "shape": list(source.shape),
            "source_sha256": source_sha,
            "dtype": _enum_name(dtype),
            "layout": layout_name,
            "padding": "tile 32x32, pad value 0" if layout_name == "TILE" else "none",
            "mesh_mapping": mapping,
        }

    def paths(self, key: dict[str, Any]) -> tuple[Path, Path]:
        """(tensor file, metadata file) of an entry: readable name + digest of the whole key."""
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", key["name"])[:150]
        return (
            self.directory / f"{stem}.{digest}.tensorbin",
            self.directory / f"{stem}.{digest}.json",
        )

    # -- entries -----------------------------------------------------------------------------------

    def _load(self, key: dict[str, Any]) -> Any | None:
        """The cached host tensor of `key`, or None (absent, stale, corrupt, not a regular file)."""
        tensor_path, meta_path = self.paths(key)
        try:
            fd = _open_regular(meta_path)
            if fd is None:
                return None
            with os.fdopen(fd, "rb") as f:
                meta = json.loads(f.read(_META_LIMIT))
            if not isinstance(meta, dict) or meta.get("key") != key:
                return None
            fd = _open_regular(tensor_path)
            if fd is None:
                return None
            digest, size = _file_sha256(fd)
            if (digest, size) != (meta.get("sha256"), meta.get("size")):
                return None
            host = ttnn.load_tensor(str(tensor_path))
        except NotRegular as exc:
            self.warn(f"weight cache: {exc.args[0]} is not a regular file; ignored (converting instead)")
            return None
        except (OSError, ValueError, RuntimeError, UnicodeDecodeError):
            return None
        if _enum_name(host.dtype) != key["dtype"] or _enum_name(host.layout) != key["layout"]:
            return None
        return host

    def _store(self, key: dict[str, Any], host: Any) -> None:
        if self.store_disabled:
            return
        tensor_path, meta_path = self.paths(key)
        written: dict[str, Any] = {}

        def dump(tmp: Path) -> None:
            ttnn.dump_tensor(str(tmp), host)
            written["sha256"], written["size"] = _file_sha256(os.open(tmp, os.O_RDONLY))

        try:
            replace_atomically(tensor_path, dump, suffix=".tensorbin")
            meta = {"key": key, **written}
            replace_atomically(meta_path, write_data(json.dumps(meta, indent=1).encode()))
        except OSError as exc:
            if exc.errno in (errno.EISDIR, errno.EEXIST):  # something else holds this entry's name
                self.warn(f"weight cache: cannot store {key['name']}: {exc.strerror or exc}; not cached")
                return
            self.store_disabled = str(exc.strerror or exc)
            self.warn(
                f"weight cache: cannot write in {self.directory}: {self.store_disabled}; "
                "the rest of this run is not cached"
            )
        except RuntimeError as exc:  # the backend's dump_tensor failed
            self.warn(f"weight cache: cannot store {key['name']}: {exc}; not cached")

    def host_tensor(self, name: str, source: torch.Tensor, dtype: Any, layout: Any, mesh_mapper: Any) -> Any:
        """The converted host tensor of `source`, from the cache when a valid entry exists."""
        mapping, mapper = _mapping(mesh_mapper)
        key = self.key(name, source, dtype, layout, mapping)
        start = time.perf_counter()
        host = self._load(key)
        if host is not None:
            self.hits += 1
            self.load_seconds += time.perf_counter() - start
            return host
        self.misses += 1
        start = time.perf_counter()
        host = ttnn.from_torch(source, dtype=dtype, layout=layout, mesh_mapper=mapper)
        self.convert_seconds += time.perf_counter() - start
        start = time.perf_counter()
        self._store(key, host)
        self.store_seconds += time.perf_counter() - start
        return host

    def summary(self) -> dict[str, Any]:
        """What the run report records about the cache."""
        return {
            "directory": str(self.directory),
            "hits": self.hits,
            "misses": self.misses,
            "hash_seconds": round(self.hash_seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "convert_seconds": round(self.convert_seconds, 3),
            "store_seconds": round(self.store_seconds, 3),
            "store_disabled": self.store_disabled,
        }


# -- the cache of the current run --------------------------------------------------------------------

_active: list[tuple[WeightCache | None, str]] = []
_from_env: dict[str, WeightCache] = {}


@contextmanager
def use_cache(cache: WeightCache | None, scope: str = "") -> Iterator[WeightCache | None]:
    """Within the block, `to_device` uses `cache` (None: no cache, whatever TTPORT_CACHE says) and
    prefixes every weight name with `scope` (the runner passes the port's name)."""
    _active.append((cache, scope))
    try:
        yield cache
    finally:
        _active.pop()


def cache_from_env(warn: Warn | None = None) -> WeightCache | None:
    """WeightCache.open($TTPORT_CACHE), or None when it is unset or empty."""
    directory = os.environ.get(ENV_CACHE)
    return WeightCache.open(directory, warn=warn) if directory else None


def active_cache() -> tuple[WeightCache | None, str]:
    """(cache, scope) for `to_device`: the innermost `use_cache`, else one cache per TTPORT_CACHE value
    for this process (library use outside the runner), else (None, "")."""
    if _active:
        return _active[-1]
    directory = os.environ.get(ENV_CACHE)
    if not directory:
        return None, ""
    if directory not in _from_env:
        _from_env[directory] = WeightCache.open(directory)
    return _from_env[directory], ""


def to_device(
    name: str,
    source: torch.Tensor,
    device: Any,
    *,
    dtype: Any = None,
    layout: Any = None,
    memory_config: Any = None,
    mesh_mapper: Any = None,
) -> Any:
    """`source` as a ttnn tensor of `dtype` (default bfloat16) and `layout` (default TILE) in
    `memory_config` (default DRAM) on `device` (None: stays on the host). `name` is the weight's full
    parameter path in the reference (for a derived tensor, e.g. fused q/k/v, a name saying so): with a
    cache the converted tensor is kept under it."""
    dtype = dtype if dtype is not None else ttnn.bfloat16
    layout = layout if layout is not None else ttnn.TILE_LAYOUT
    memory_config = memory_config if memory_config is not None else ttnn.DRAM_MEMORY_CONFIG
    source = source.detach()
    cache, scope = active_cache()
    if cache is None:
        return ttnn.from_torch(
            source,
            dtype=dtype,
            layout=layout,
            device=device,
            memory_config=memory_config,
            mesh_mapper=mesh_mapper,
        )
    host = cache.host_tensor(f"{scope}/{name}" if scope else name, source, dtype, layout, mesh_mapper)
    return ttnn.to_device(host, device, memory_config=memory_config) if device is not None else host


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
    prefix: str = "",
) -> dict[str, Any]:
    """Every tensor of `state_dict` as a device tensor named like its key (see `to_device`).

    `prepare(name, tensor)` reshapes/transposes before conversion (e.g. `linear_weight`); `prefix` is the
    state dict's path in the reference (e.g. "text_model.encoder.layers.3.mlp."), so cache entries are
    keyed by full parameter paths."""
    policy = policy or DtypePolicy()
    out: dict[str, Any] = {}
    for name, tensor in state_dict.items():
        source = tensor.detach().float() if tensor.is_floating_point() else tensor.detach()
        if prepare is not None:
            source = prepare(name, source)
        out[name] = to_device(
            f"{prefix}{name}",
            source,
            device,
            dtype=policy.dtype_for(name),
            layout=layout,
            memory_config=memory_config,
            mesh_mapper=mesh_mapper,
        )
    return out
