"""The per-op record: what one device op was, on one chip, in the terms that numerics, cost projection and
reports all need (shapes, dtypes, layouts, memory, fidelity, cores, the component it ran under).

One record per op per chip, appended by `ttport.sim.tensor.device_op` to the chip's `Stats.op_records`. The
record describes the op; consumers add what they derive (the projection fills `projected_ns`). Simulator-only
(real ttnn has the op profiler's CSV for this, which `ttport.sim` can write from these records).

Layering: this module depends on `types` only, so runtime, tensor and ops can all import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import MathFidelity


@dataclass(frozen=True)
class TensorInfo:
    """One operand or result as the device holds it."""

    shape: tuple[int, ...]  # logical
    padded_shape: tuple[int, ...]  # with TILE padding: what the buffer holds
    dtype: str  # DataType name: "BFLOAT16", "BFLOAT8_B", "FLOAT32", "UINT32" ...
    layout: str  # "TILE" / "ROW_MAJOR"
    buffer_type: str  # "DRAM" / "L1"
    memory_layout: str  # "INTERLEAVED", "HEIGHT_SHARDED", "WIDTH_SHARDED", "BLOCK_SHARDED"
    shard_shape: tuple[int, int] | None = None  # per-core shard for sharded tensors
    num_bytes: int = 0  # bytes of this chip's buffer (padded pages)
    address: int | None = None  # buffer address when the allocator assigns one
    buffer_id: int | None = None  # the chip's buffer holding it (the same tensor in every record it is in)


@dataclass(frozen=True)
class OpConfig:
    """How an op was asked to compute, beyond its tensors. None means "not applicable / ttnn's default"; the
    op fills what it resolved (e.g. matmul's default fidelity for its dtypes), so consumers need not guess."""

    math_fidelity: str | None = None  # "LoFi" / "HiFi2" / "HiFi3" / "HiFi4"
    fp32_dest_acc_en: bool | None = None
    math_approx_mode: bool | None = None
    packer_l1_acc: bool | None = None
    program_config: str | None = None  # the program config's class name (its fields go in attributes)
    cores: int | None = None  # worker cores the op runs on, when the op (or its program config) fixes it
    attributes: Mapping[str, Any] = field(default_factory=dict)  # op-specific: transpose_b, dim, ...

    @classmethod
    def from_kernel_config(cls, kernel_config: Any, **kwargs: Any) -> OpConfig:
        """From a ttnn compute kernel config (Wormhole/Blackhole); keyword overrides win."""
        values: dict[str, Any] = {}
        if kernel_config is not None:
            fid = getattr(kernel_config, "math_fidelity", None)
            values = {
                "math_fidelity": fidelity_name(fid) if fid is not None else None,
                "fp32_dest_acc_en": getattr(kernel_config, "fp32_dest_acc_en", None),
                "math_approx_mode": getattr(kernel_config, "math_approx_mode", None),
                "packer_l1_acc": getattr(kernel_config, "packer_l1_acc", None),
            }
        values.update(kwargs)
        return cls(**values)


def fidelity_name(fidelity: MathFidelity | str) -> str:
    """ "HiFi2" for MathFidelity.HiFi2 (the op profiler's spelling)."""
    return fidelity if isinstance(fidelity, str) else fidelity.name


@dataclass(frozen=True)
class Projection:
    """What the cost projection (core/sim/projection) derived for one op record."""

    device_ns: float  # device kernel duration: fixed cost + the compute and data terms combined
    compute_ns: float  # math on the cores used
    data_ns: float  # bytes over DRAM / NoC for where each operand lives
    fixed_ns: float  # per-op kernel launch and setup
    cores: int  # worker cores the op runs on
    ideal_ns: float  # the same work on the whole grid at peak math / bandwidth (utilisation = ideal / device)
    host_ns: float  # host dispatch of this op without trace (the device may run ahead of it)

    @property
    def bound(self) -> str:
        """ "compute" or "memory": which term dominates."""
        return "compute" if self.compute_ns >= self.data_ns else "memory"

    @property
    def utilisation(self) -> float:
        return self.ideal_ns / self.device_ns if self.device_ns > 0 else 0.0


@dataclass(frozen=True)
class TransferRecord:
    """One host <-> device transfer to or from one chip (from_torch / to_torch / to_device / from_device)."""

    direction: str  # "host_to_device" / "device_to_host"
    num_bytes: int
    chip: int
    signpost: str | None


@dataclass
class OpRecord:
    """One device op on one chip."""

    index: int  # position among this chip's op records since it was opened (or its stats reset)
    name: str  # ttnn op name: "matmul", "add", "scaled_dot_product_attention" ...
    chip: int  # device id
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    config: OpConfig
    signpost: str | None  # innermost active signpost (the runner marks each component)
    dram_bytes: int  # DRAM allocated on the chip once the op's outputs exist
    l1_bytes: int
    projected_ns: float | None = None  # projected device kernel time, filled by the cost projection
    projection: Projection | None = None  # the projection's terms (core/sim/projection)


_SIGNPOSTS: list[str] = []


@contextlib.contextmanager
def signpost(name: str) -> Iterator[None]:
    """Mark the ops run inside as belonging to `name` (as tt-metal's `tracy.signpost` marks the profiler's
    log); nested signposts record the innermost."""
    _SIGNPOSTS.append(name)
    try:
        yield
    finally:
        _SIGNPOSTS.pop()


def current_signpost() -> str | None:
    return _SIGNPOSTS[-1] if _SIGNPOSTS else None
