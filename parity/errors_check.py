"""Check 2: host-side calls, simulator vs real ttnn - what they raise, and what they return.

Each case runs the same call on both modules. Both must fail or both succeed. On failure the simulator's
exception must be an instance of real ttnn's exception class and its message must contain real ttnn's
message (the `info:` line of a TT_FATAL, else the first line). On success, tensors must agree on dtype,
layout, shape, padded_shape and every bit of their values.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

from .formats_check import _float_view
from .result import CheckResult

_X = torch.randn(3, 40, generator=torch.Generator().manual_seed(1))
_ALIGNED = torch.randn(32, 64, generator=torch.Generator().manual_seed(2))


def _host(m: ModuleType, dtype: str = "bfloat16", layout: str = "ROW_MAJOR_LAYOUT", x: Any = None) -> Any:
    return m.from_torch(_X if x is None else x, dtype=getattr(m, dtype), layout=getattr(m, layout))


def _sharded(m: ModuleType) -> Any:
    return m.MemoryConfig(m.TensorMemoryLayout.HEIGHT_SHARDED, m.BufferType.L1)


CASES: dict[str, Callable[[ModuleType], Any]] = {
    "from_torch bfloat8_b ROW_MAJOR": lambda m: _host(m, "bfloat8_b"),
    "from_torch bfloat4_b ROW_MAJOR": lambda m: _host(m, "bfloat4_b"),
    "as_tensor bfloat8_b ROW_MAJOR": lambda m: m.as_tensor(_X, dtype=m.bfloat8_b, layout=m.ROW_MAJOR_LAYOUT),
    "as_tensor bfloat8_b TILE": lambda m: m.as_tensor(_X, dtype=m.bfloat8_b, layout=m.TILE_LAYOUT),
    "from_torch sharded without shard spec": lambda m: m.from_torch(
        _X, dtype=m.bfloat16, memory_config=_sharded(m)
    ),
    "from_torch col_tilize bfloat16": lambda m: m.from_torch(_X, dtype=m.bfloat16, col_tilize=True),
    "from_torch col_tilize rank 1": lambda m: m.from_torch(torch.ones(5), dtype=m.bfloat8_b, col_tilize=True),
    "from_torch col_tilize ROW_MAJOR": lambda m: m.from_torch(
        _X, dtype=m.bfloat8_b, layout=m.ROW_MAJOR_LAYOUT, col_tilize=True
    ),
    "from_torch complex64": lambda m: m.from_torch(torch.ones(2, dtype=torch.complex64)),
    "from_torch rank 9": lambda m: _host(m, x=torch.ones([1] * 9)),
    "from_torch rank 9 TILE": lambda m: _host(m, layout="TILE_LAYOUT", x=torch.ones([1] * 9)),
    "from_torch uint8 -> uint32": lambda m: m.from_torch(torch.ones(2, dtype=torch.uint8), dtype=m.uint32),
    "to_torch torch_rank too small": lambda m: m.to_torch(_host(m), torch_rank=1),
    "to_torch torch_rank squeeze": lambda m: m.to_torch(_host(m, x=torch.ones(1, 1, 3)), torch_rank=1),
    "to_torch dtype float32": lambda m: m.to_torch(_host(m), dtype=torch.float32),
    "reshape host": lambda m: m.reshape(_host(m), (40, 3)),
    "reshape host volume mismatch": lambda m: m.reshape(_host(m), (41, 3)),
    "Tensor.reshape host": lambda m: _host(m).reshape([40, 3]),
    "to_layout host ROW_MAJOR -> TILE": lambda m: m.to_layout(_host(m), m.TILE_LAYOUT),
    "to_layout host TILE -> ROW_MAJOR": lambda m: m.to_layout(
        _host(m, layout="TILE_LAYOUT"), m.ROW_MAJOR_LAYOUT
    ),
    "to_layout host bfloat8_b -> ROW_MAJOR": lambda m: m.to_layout(
        _host(m, "bfloat8_b", "TILE_LAYOUT"), m.ROW_MAJOR_LAYOUT
    ),
    "Tensor.to(TILE) host": lambda m: _host(m).to(m.TILE_LAYOUT),
    "typecast host bfloat16 -> float32": lambda m: m.typecast(_host(m), m.float32),
    "typecast host TILE bfloat16 -> bfloat8_b": lambda m: m.typecast(
        _host(m, layout="TILE_LAYOUT"), m.bfloat8_b
    ),
    "typecast host ROW_MAJOR -> bfloat8_b": lambda m: m.typecast(_host(m), m.bfloat8_b),
    "typecast host float32 -> uint32": lambda m: m.typecast(_host(m, "float32", x=_X * 100), m.uint32),
    "pad host": lambda m: m.pad(_host(m), [(0, 0), (0, 8)], 0.0),
    "slice host": lambda m: _host(m)[0:1, 0:4],
    "squeeze host": lambda m: m.squeeze(_host(m, x=torch.ones(1, 3)), 0),
    "unsqueeze host": lambda m: m.unsqueeze(_host(m), 0),
    "permute host": lambda m: m.permute(_host(m), (1, 0)),
    "add host tensors": lambda m: m.add(_host(m), _host(m)),
    "zeros host": lambda m: m.zeros((3, 4), dtype=m.bfloat16),
    "zeros host bfloat8_b": lambda m: m.zeros((3, 4), dtype=m.bfloat8_b),
    "full host": lambda m: m.full((3, 4), 2.5, dtype=m.bfloat16),
    "arange host": lambda m: m.arange(0, 10, 1),
    "arange host bfloat8_b": lambda m: m.arange(0, 10, 1, dtype=m.bfloat8_b),
    "ones host bfloat4_b": lambda m: m.ones((3, 4), dtype=m.bfloat4_b),
    "full host bfloat8_b ROW_MAJOR": lambda m: m.full(
        (3, 4), 1.0, dtype=m.bfloat8_b, layout=m.ROW_MAJOR_LAYOUT
    ),
    "to_layout host aligned bfloat8_b -> ROW_MAJOR": lambda m: m.to_layout(
        _host(m, "bfloat8_b", "TILE_LAYOUT", x=_ALIGNED), m.ROW_MAJOR_LAYOUT
    ),
    "typecast host aligned ROW_MAJOR -> bfloat8_b": lambda m: m.typecast(_host(m, x=_ALIGNED), m.bfloat8_b),
    "typecast host TILE bfloat8_b -> bfloat16": lambda m: m.typecast(
        _host(m, "bfloat8_b", "TILE_LAYOUT", x=_ALIGNED), m.bfloat16
    ),
    "transpose host": lambda m: m.transpose(_host(m), 0, 1),
}


def _outcome(m: ModuleType, call: Callable[[ModuleType], Any]) -> tuple[str, Any]:
    try:
        return "ok", call(m)
    except Exception as exc:  # the exception is what is compared
        return "error", exc


def _core_message(exc: BaseException) -> str:
    text = str(exc)
    if "info:" in text:
        return text.split("info:", 1)[1].strip().splitlines()[0].strip()
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def _facts(m: ModuleType, value: Any) -> tuple[Any, Any]:
    """(comparable facts, bits) of a tensor result (ttnn or torch)."""
    if isinstance(value, torch.Tensor):
        return (str(value.dtype), list(value.shape)), _float_view(value)
    if isinstance(value, list):
        return ("list", len(value)), None
    out = m.to_torch(value)
    facts = (value.dtype.name, value.layout.name, list(value.shape), list(value.padded_shape), str(out.dtype))
    return facts, _float_view(out)


def compare(real: ModuleType, sim: ModuleType, call: Callable[[ModuleType], Any]) -> str:
    (rk, rv), (sk, sv) = _outcome(real, call), _outcome(sim, call)
    if rk != sk:
        return f"real {rk} ({rv!r:.200}) but sim {sk} ({sv!r:.200})"
    if rk == "error":
        if not isinstance(sv, type(rv)):
            return f"exception class: real {type(rv).__name__}, sim {type(sv).__name__}"
        core = _core_message(rv)
        if core not in str(sv):
            return f"message: real {core!r}, sim {str(sv)[:200]!r}"
        return ""
    (rf, rb), (sf, sb) = _facts(real, rv), _facts(sim, sv)
    if rf != sf:
        return f"result facts: real {rf}, sim {sf}"
    if rb is not None and not torch.equal(rb, sb):
        return "values differ"
    return ""


def run(real: ModuleType, sim: ModuleType) -> CheckResult:
    result = CheckResult("errors + host ops")
    for name, call in CASES.items():
        diff = compare(real, sim, call)
        result.case(not diff, f"{name}: {diff}")
    return result
