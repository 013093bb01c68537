"""Regression tests for the simulator mismatches the parity suite (parity/) found against real ttnn 0.81.1.

Each expectation is real ttnn's behaviour, recorded here as data so the normal test run (no real ttnn)
keeps the simulator from drifting back.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch

from ttport.sim import ttnn

# -- shapes and conversions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "layout", "padded"),
    [
        ((7,), "TILE_LAYOUT", [32, 32]),  # rank < 2 gains leading dims in TILE
        ((), "TILE_LAYOUT", [32, 32]),
        ((), "ROW_MAJOR_LAYOUT", [1]),
        ((0, 5), "TILE_LAYOUT", [0, 32]),  # a 0 dim stays 0
        ((3, 0), "TILE_LAYOUT", [32, 0]),
        ((2, 3, 40, 33), "TILE_LAYOUT", [2, 3, 64, 64]),
    ],
)
def test_padded_shape(shape: tuple[int, ...], layout: str, padded: list[int]) -> None:
    t = ttnn.from_torch(torch.zeros(shape), dtype=ttnn.bfloat16, layout=getattr(ttnn, layout))
    assert list(t.shape) == list(shape)
    assert list(t.padded_shape) == padded


def test_block_float_from_torch_defaults_to_tile() -> None:
    t = ttnn.from_torch(torch.ones(3, 4), dtype=ttnn.bfloat8_b)
    assert t.layout == ttnn.TILE_LAYOUT


def test_to_torch_dtypes_and_nan_bits() -> None:
    nan = ttnn.to_torch(ttnn.from_torch(torch.tensor([float("nan"), 2.0]), dtype=ttnn.bfloat16))
    assert nan.view(torch.int16).tolist() == [0x7FC0, 0x4000]
    payload = torch.tensor([-1, 0x4000], dtype=torch.int16).view(torch.bfloat16)  # bf16 -> bf16 copies bits
    assert ttnn.to_torch(ttnn.from_torch(payload, dtype=ttnn.bfloat16)).view(torch.int16).tolist() == [
        -1,
        0x4000,
    ]
    assert ttnn.to_torch(ttnn.from_torch(torch.tensor([7]), dtype=ttnn.uint32)).dtype == torch.uint32
    assert ttnn.to_torch(ttnn.from_torch(torch.tensor([7]), dtype=ttnn.uint16)).dtype == torch.uint16


def test_block_float_from_float64_goes_through_bfloat16() -> None:
    x = torch.zeros(1, 16, dtype=torch.float64)
    x[0, 0] = 1 + 2**-7 + 2**-12  # bfloat16 1 + 2^-7, then an exact bf8 tie -> 1.0 (float32 input: 1.015625)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT)
    assert ttnn.to_torch(t)[0, 0].item() == 1.0


def test_from_torch_pad_value_reaches_block_float_exponents() -> None:
    x = torch.tensor([[1.03125, 0.3, 0.1, -0.4, 0.0234]])
    t = ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, pad_value=1e6)
    assert ttnn.to_torch(t).tolist() == [[0.0] * 5]  # the padding's exponent flushes the row


def test_row_major_int_conversion_scalar_tail() -> None:
    t = ttnn.from_torch(torch.full((9,), 362.7), dtype=ttnn.uint8)
    assert ttnn.to_torch(t).tolist() == [255] * 8 + [106]
    t = ttnn.from_torch(torch.full((9,), 362.7), dtype=ttnn.uint8, layout=ttnn.TILE_LAYOUT)
    assert ttnn.to_torch(t).tolist() == [255] * 9


# -- host-side errors and host ops ----------------------------------------------------------------------

_X = torch.randn(3, 40)
_ALIGNED = torch.randn(32, 64)


def _host(x: torch.Tensor, dtype: Any = ttnn.bfloat16, layout: Any = ttnn.ROW_MAJOR_LAYOUT) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype, layout=layout)


ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "col_tilize bfloat16",
        lambda: ttnn.from_torch(_X, dtype=ttnn.bfloat16, col_tilize=True),
        "ttnn.from_torch: col_tilize=True requires BFP dtype (bfloat8_b or bfloat4_b)",
    ),
    (
        "col_tilize rank 1",
        lambda: ttnn.from_torch(torch.ones(5), dtype=ttnn.bfloat8_b, col_tilize=True),
        "ttnn.from_torch: col_tilize=True requires tensor.ndim >= 2",
    ),
    (
        "col_tilize ROW_MAJOR",
        lambda: ttnn.from_torch(_X, dtype=ttnn.bfloat8_b, layout=ttnn.ROW_MAJOR_LAYOUT, col_tilize=True),
        "ttnn.from_torch: col_tilize=True requires layout to be None or ttnn.TILE_LAYOUT",
    ),
    (
        "complex64",
        lambda: ttnn.from_torch(torch.ones(2, dtype=torch.complex64)),
        "get_ttnn_datatype_from_dtype: got unexpected dlpack dtype. code: 5, bits: 64",
    ),
    (
        "to_layout host unaligned bfloat8_b -> ROW_MAJOR",
        lambda: ttnn.to_layout(_host(_X, ttnn.bfloat8_b, ttnn.TILE_LAYOUT), ttnn.ROW_MAJOR_LAYOUT),
        "Tensor layout must be ROW_MAJOR for unpadding",
    ),
    (
        "typecast host unaligned ROW_MAJOR -> bfloat8_b",
        lambda: ttnn.typecast(_host(_X), ttnn.bfloat8_b),
        "to_dtype: Converting layout to Layout::TILE implicitly changed physical shape from (3, 40) to (32, 64) "
        "due to alignment constraints. This is currently unsupported. Please pad the tensor explicitly before "
        "conversion.",
    ),
    (
        "full bfloat8_b ROW_MAJOR",
        lambda: ttnn.full((3, 4), 1.0, dtype=ttnn.bfloat8_b, layout=ttnn.ROW_MAJOR_LAYOUT),
        "Only TILE layout is supported for BFLOAT8_B dtype!",
    ),
    ("arange bfloat8_b", lambda: ttnn.arange(0, 10, 1, dtype=ttnn.bfloat8_b), "Unsupported dtype"),
    ("permute host", lambda: ttnn.permute(_host(_X), (1, 0)), "Tensor must already be on device"),
    (
        "transpose host",
        lambda: ttnn.transpose(_host(_X), 0, 1),
        "Device Operations expect device tensors as inputs",
    ),
]


@pytest.mark.parametrize(("call", "message"), [(c, m) for _, c, m in ERRORS], ids=[n for n, _, _ in ERRORS])
def test_host_errors(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(RuntimeError) as info:
        call()
    assert message in str(info.value)


def test_host_block_float_layout_rules() -> None:
    aligned = _host(_ALIGNED, ttnn.bfloat8_b, ttnn.TILE_LAYOUT)
    same = ttnn.to_layout(aligned, ttnn.ROW_MAJOR_LAYOUT)  # tile-aligned: returned as is, still TILE
    assert (same.layout, same.dtype) == (ttnn.TILE_LAYOUT, ttnn.bfloat8_b)
    cast = ttnn.typecast(_host(_ALIGNED), ttnn.bfloat8_b)  # tiled implicitly when no padding is needed
    assert (cast.layout, cast.dtype) == (ttnn.TILE_LAYOUT, ttnn.bfloat8_b)
    assert ttnn.zeros((3, 4), dtype=ttnn.bfloat8_b).layout == ttnn.TILE_LAYOUT
    assert ttnn.ones((3, 4), dtype=ttnn.bfloat4_b).layout == ttnn.TILE_LAYOUT


# -- API surface: keywords as real ttnn's signatures have them ------------------------------------------

# Keywords real ttnn accepts that the simulator once spelled differently.
REAL_KEYWORDS = {
    "clone": ["input"],
    "cumsum": ["input"],
    "where": ["predicate", "true_value", "false_value"],
    "experimental.nlp_concat_heads": ["input_tensor"],
    "CoreRangeSet": ["core_ranges"],
    "ShardSpec": ["grid", "shard_shape", "shard_orientation"],
    "MeshShape": ["s0", "s1"],
    "Shape": ["shape"],
}
# Keywords the simulator once accepted that real ttnn refuses.
NOT_REAL_KEYWORDS = {
    "argmax": ["use_multicore"],
    "permute": ["sub_core_grids"],
    "repeat": ["implementation"],
    "repeat_interleave": ["implementation"],
    "untilize": ["use_pack_untilize"],
    "sharded_to_interleaved": ["is_l1_aligned"],
    "experimental.nlp_create_qkv_heads": ["head_split"],
    "get_memory_config": ["tensor"],  # positional-only in real ttnn
    "CoreCoord": ["x", "y"],  # nanobind constructors taking positional arguments only
    "UnaryWithParam": ["op_type", "params"],
    "PlacementShard": ["dim"],
    "Tensor": ["chip_values", "dtype", "shared_buffers"],
}


def _resolve(name: str) -> Any:
    obj: Any = ttnn
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _keywords(obj: Any) -> set[str]:
    params = inspect.signature(obj).parameters.values()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@pytest.mark.parametrize("name", sorted(REAL_KEYWORDS))
def test_keywords_real_ttnn_accepts(name: str) -> None:
    assert set(REAL_KEYWORDS[name]) <= _keywords(_resolve(name))


@pytest.mark.parametrize("name", sorted(NOT_REAL_KEYWORDS))
def test_keywords_real_ttnn_refuses(name: str) -> None:
    assert not set(NOT_REAL_KEYWORDS[name]) & _keywords(_resolve(name))


def test_value_types_still_construct_positionally() -> None:
    assert ttnn.CoreCoord(1, 2).x == 1
    with pytest.raises(TypeError):
        ttnn.CoreCoord(x=1, y=2)
    spec = ttnn.ShardSpec(
        ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 1))}),
        shard_shape=(32, 64),
        shard_orientation=ttnn.ShardOrientation.ROW_MAJOR,
    )
    assert spec.shape == (32, 64)
    assert list(ttnn.MeshShape(s0=2, s1=4)) == [2, 4]
    assert list(ttnn.MeshShape((1, 2))) == [1, 2]
    assert ttnn.Shape(shape=[1, 2]) == [1, 2]


def test_arch_has_no_grayskull() -> None:
    assert "GRAYSKULL" not in ttnn.Arch.__members__


# -- importing real ttnn --------------------------------------------------------------------------------
