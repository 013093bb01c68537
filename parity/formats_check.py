"""Check 1: from_torch -> to_torch round trips, bit for bit, simulator vs real ttnn.

Sweeps target dtype x layout x shape x value family x torch input dtype; for each case compares the ttnn
tensor's dtype, layout, shape and padded_shape, the torch dtype and shape to_torch returns, and every
element's bits (NaN payloads and signed zeros included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import torch

from .result import CheckResult

SHAPES: list[tuple[int, ...]] = [
    (),
    (1,),
    (7,),
    (33,),
    (1, 1),
    (3, 5),
    (16, 16),
    (32, 32),
    (31, 33),
    (50, 70),
    (1, 1, 50, 70),
    (2, 3, 40, 33),
    (2, 1, 3, 17, 65),
    (1, 1, 1, 1, 1),
    (4, 32, 16),
    (3, 96, 160),
    (0, 5),
    (64, 1),
]

FLOAT_TARGETS = ["bfloat16", "float32", "bfloat8_b", "bfloat4_b"]
INT_TARGETS = ["uint32", "int32", "uint16", "uint8"]
BLOCK_FLOATS = ("bfloat8_b", "bfloat4_b")


def _randbits(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    bits = torch.randint(-(2**31), 2**31, shape, generator=gen, dtype=torch.int64).to(torch.int32)
    return bits.view(torch.float32)


def _mixed(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Each value with its own magnitude between 2^-40 and 2^40: blocks that mix scales."""
    exps = torch.randint(-40, 41, shape, generator=gen).to(torch.float32)
    return torch.randn(shape, generator=gen) * torch.pow(2.0, exps)


def _specials(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(shape, generator=gen) * 4
    pick = torch.randint(0, 12, shape, generator=gen)
    table = {0: float("nan"), 1: float("inf"), 2: float("-inf"), 3: -0.0, 4: 0.0, 5: 3.3e38, 6: -1e-40}
    for code, value in table.items():
        x = torch.where(pick == code, torch.full_like(x, value), x)
    return x


def _ties(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Values sitting exactly on a rounding boundary of bf16 / bfp8 / bfp4 (and one bit either side)."""
    base = torch.randint(0, 2**7, shape, generator=gen).to(torch.float32)
    step = torch.pow(2.0, -torch.randint(2, 9, shape, generator=gen).to(torch.float32))
    nudge = torch.randint(-1, 2, shape, generator=gen).to(torch.float32) * 2.0**-20
    sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
    return sign * (1.0 + base * 2.0**-7 + step * 0.5 + nudge)


FLOAT_FAMILIES: dict[str, Callable[[tuple[int, ...], torch.Generator], torch.Tensor]] = {
    "zeros": lambda s, g: torch.zeros(s),
    "normal_1e-3": lambda s, g: torch.randn(s, generator=g) * 1e-3,
    "normal_1": lambda s, g: torch.randn(s, generator=g),
    "normal_1e3": lambda s, g: torch.randn(s, generator=g) * 1e3,
    "tiny": lambda s, g: torch.randn(s, generator=g) * 1e-37,
    "denormal": lambda s, g: torch.randn(s, generator=g) * 1e-39,
    "huge": lambda s, g: (torch.rand(s, generator=g) * 2 - 1) * 3.4e38,
    "mixed": _mixed,
    "specials": _specials,
    "ties": _ties,
    "randbits": _randbits,
}

INT_FAMILIES: dict[str, Callable[[tuple[int, ...], torch.Generator], torch.Tensor]] = {
    "int64_wide": lambda s, g: torch.randint(-(2**40), 2**40, s, generator=g),
    "int64_small": lambda s, g: torch.randint(-300, 70000, s, generator=g),
    "int32_full": lambda s, g: torch.randint(-(2**31), 2**31, s, generator=g, dtype=torch.int64).to(
        torch.int32
    ),
    "uint8": lambda s, g: torch.randint(0, 256, s, generator=g).to(torch.uint8),
    "bool": lambda s, g: torch.randint(0, 2, s, generator=g).to(torch.bool),
}

INT_FROM_FLOAT_FAMILIES = ["zeros", "normal_1e3", "huge", "specials", "randbits", "ties"]


def _float_view(t: torch.Tensor) -> torch.Tensor:
    if t.dtype == torch.float32:
        return t.contiguous().view(torch.int32).to(torch.int64)
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.contiguous().view(torch.int16).to(torch.int64)
    return t.to(torch.int64)


def _describe_diff(real: torch.Tensor, sim: torch.Tensor) -> str:
    rb, sb = _float_view(real).flatten(), _float_view(sim).flatten()
    idx = (rb != sb).nonzero().flatten()[:3].tolist()
    parts = [
        f"[{i}] real={real.flatten()[i].item()!r}/{rb[i].item():#x} sim={sim.flatten()[i].item()!r}/{sb[i].item():#x}"
        for i in idx
    ]
    return f"{int((rb != sb).sum())} elements differ: " + "; ".join(parts)


def _run(module: ModuleType, x: torch.Tensor, dtype: str | None, layout: str | None, **extra: Any) -> Any:
    """(tensor facts, to_torch result) or ('error', exception type name)."""
    kwargs: dict[str, Any] = dict(extra)
    if dtype is not None:
        kwargs["dtype"] = getattr(module, dtype)
    if layout is not None:
        kwargs["layout"] = getattr(module, layout)
    try:
        t = module.from_torch(x, **kwargs)
        out = module.to_torch(t)
    except Exception as exc:  # compared with the other side's outcome
        return ("error", type(exc).__name__, str(exc).splitlines()[0][:120])
    facts = (
        t.dtype.name,
        t.layout.name,
        list(t.shape),
        list(t.padded_shape),
        str(out.dtype),
        list(out.shape),
    )
    return facts, out


def compare_case(
    real: ModuleType, sim: ModuleType, x: torch.Tensor, dtype: str | None, layout: str | None, **extra: Any
) -> str:
    """'' when simulator and real ttnn agree on this conversion (from_torch keywords `extra`), else what
    differs."""
    r, s = _run(real, x, dtype, layout, **extra), _run(sim, x, dtype, layout, **extra)
    if r[0] == "error" or s[0] == "error":
        if r[0] == "error" and s[0] == "error":
            return ""
        return f"real={r if r[0] == 'error' else 'ok'} sim={s if s[0] == 'error' else 'ok'}"
    if r[0] != s[0]:
        return f"tensor facts differ: real={r[0]} sim={s[0]}"
    if not torch.equal(_float_view(r[1]), _float_view(s[1])):
        return _describe_diff(r[1], s[1])
    return ""


def _cases() -> Iterator[tuple[str, torch.Tensor, str | None, str | None]]:
    gen = torch.Generator().manual_seed(0)
    for shape in SHAPES:
        for target in FLOAT_TARGETS:
            layouts = ["TILE_LAYOUT"] if target in BLOCK_FLOATS else ["ROW_MAJOR_LAYOUT", "TILE_LAYOUT"]
            for layout in layouts:
                for family, make in FLOAT_FAMILIES.items():
                    x = make(shape, gen)
                    yield f"{target}/{layout}/{shape}/{family}/float32", x, target, layout
                    if family in ("normal_1", "specials", "randbits", "ties"):
                        yield (
                            f"{target}/{layout}/{shape}/{family}/bfloat16",
                            x.to(torch.bfloat16),
                            target,
                            layout,
                        )
                    if family in ("normal_1", "ties"):
                        yield (
                            f"{target}/{layout}/{shape}/{family}/float16",
                            x.to(torch.float16),
                            target,
                            layout,
                        )
                        yield (
                            f"{target}/{layout}/{shape}/{family}/float64",
                            x.to(torch.float64),
                            target,
                            layout,
                        )
                yield (
                    f"{target}/{layout}/{shape}/int64_small",
                    INT_FAMILIES["int64_small"](shape, gen),
                    target,
                    layout,
                )
        for target in INT_TARGETS:
            layouts = (
                ["ROW_MAJOR_LAYOUT", "TILE_LAYOUT"] if target in ("uint32", "int32") else ["ROW_MAJOR_LAYOUT"]
            )
            for layout in layouts:
                for family in INT_FROM_FLOAT_FAMILIES:
                    x = FLOAT_FAMILIES[family](shape, gen)
                    yield f"{target}/{layout}/{shape}/{family}/float32", x, target, layout
                    if family in ("normal_1e3", "specials"):
                        yield (
                            f"{target}/{layout}/{shape}/{family}/bfloat16",
                            x.to(torch.bfloat16),
                            target,
                            layout,
                        )
                for family, make in INT_FAMILIES.items():
                    yield f"{target}/{layout}/{shape}/{family}", make(shape, gen), target, layout
        # dtype inferred from the torch dtype; layout left to its default.
        for family, make in {**INT_FAMILIES, "normal_1": FLOAT_FAMILIES["normal_1"]}.items():
            x = make(shape, gen)
            xs = [x] if family != "normal_1" else [x, x.to(torch.bfloat16), x.to(torch.float16)]
            for xi in xs:
                for layout in (None, "TILE_LAYOUT"):
                    yield f"inferred/{layout}/{shape}/{family}/{xi.dtype}", xi, None, layout
        for target in BLOCK_FLOATS:
            yield f"{target}/default layout/{shape}", FLOAT_FAMILIES["normal_1"](shape, gen), target, None


def _pad_value_cases() -> Iterator[tuple[str, torch.Tensor, str, float]]:
    """Block floats whose last 16-value group of a row is completed by TILE padding: the pad value shares
    that group's exponent."""
    gen = torch.Generator().manual_seed(1)
    for shape in [(1, 5), (3, 21), (2, 40), (4, 33, 7), (70,)]:
        for target in BLOCK_FLOATS:
            for pad_value in (8.0, -3.0, 1e6, 2.0**-130, float("inf")):
                x = torch.randn(shape, generator=gen)
                yield f"{target}/TILE/{shape}/pad_value={pad_value}", x, target, pad_value


def run(real: ModuleType, sim: ModuleType) -> CheckResult:
    result = CheckResult("formats: from_torch/to_torch bits")
    for name, x, dtype, layout in _cases():
        diff = compare_case(real, sim, x, dtype, layout)
        result.case(not diff, f"{name}: {diff}")
    for name, x, dtype, pad_value in _pad_value_cases():
        diff = compare_case(real, sim, x, dtype, "TILE_LAYOUT", pad_value=pad_value)
        result.case(not diff, f"{name}: {diff}")
    return result
