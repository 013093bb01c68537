"""ttport.patterns.tensor_parallel: head layouts, weight placement, and column/row-parallel layers on 1x2 and
1x8 meshes against torch (and against the same layer on one chip)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from ttport.backend import is_simulator, ttnn
from ttport.compare import comp_pcc, to_torch
from ttport.device import board_for, open_for
from ttport.errors import UserError
from ttport.patterns.tensor_parallel import HeadLayout, TensorParallel

pytestmark = pytest.mark.skipif(not is_simulator(), reason="meshes of 2 and 8 chips are simulated")


@pytest.fixture(params=[None, (1, 2), (1, 8)], ids=["1 chip", "1x2", "1x8"])
def tp(request: pytest.FixtureRequest) -> Iterator[TensorParallel]:
    with board_for(request.param), open_for(request.param) as device:
        yield TensorParallel(device)


def _rows(n: int, width: int) -> torch.Tensor:
    """A [n, width] tensor whose row r is all r: which rows went where is readable in the result."""
    return torch.arange(n, dtype=torch.float32)[:, None].expand(n, width).clone()


def test_head_layout_gives_each_chip_its_query_heads_and_replicates_one_kv_head() -> None:
    d, hidden = 2, 3
    q, k, v = _rows(8 * d, hidden), 100 + _rows(d, hidden), 200 + _rows(d, hidden)
    layout = HeadLayout(num_heads=8, num_kv_heads=1, head_dim=d, factor=2)
    assert (layout.local_heads, layout.local_kv_heads, layout.kv_replicated) == (4, 1, True)
    fused = layout.fused_qkv(q, k, v)[:, 0]
    per_chip = fused.reshape(2, -1)
    assert per_chip[0].tolist() == [*range(0, 8), 100, 101, 200, 201]
    assert per_chip[1].tolist() == [*range(8, 16), 100, 101, 200, 201]


def test_head_layout_splits_kv_heads_when_there_are_enough() -> None:
    d = 1
    q, k, v = _rows(8, 1), 100 + _rows(4, 1), 200 + _rows(4, 1)
    layout = HeadLayout(num_heads=8, num_kv_heads=4, head_dim=d, factor=2)
    assert (layout.local_kv_heads, layout.kv_replicated) == (2, False)
    assert layout.kv_heads_of(1) == [2, 3]
    per_chip = layout.fused_qkv(q, k, v)[:, 0].reshape(2, -1)
    assert per_chip[1].tolist() == [4, 5, 6, 7, 102, 103, 202, 203]
    # a bias [out] is laid out the same way
    assert layout.fused_qkv(q[:, 0], k[:, 0], v[:, 0]).reshape(2, -1)[1].tolist() == per_chip[1].tolist()


def test_head_layout_on_one_chip_is_the_plain_concatenation() -> None:
    q, k, v = torch.randn(8, 4), torch.randn(2, 4), torch.randn(2, 4)
    assert torch.equal(HeadLayout(4, 1, 2, 1).fused_qkv(q, k, v), torch.cat([q, k, v]))


@pytest.mark.parametrize(
    "heads,kv,factor,message",
    [
        (12, 1, 8, "12 attention heads cannot be split evenly over 8 chips"),
        (8, 6, 4, "6 key/value heads cannot be split evenly over 4 chips"),
        (8, 3, 1, "8 query heads do not group over 3 KV heads"),
    ],
)
def test_head_layout_refuses_uneven_splits(heads: int, kv: int, factor: int, message: str) -> None:
    with pytest.raises(UserError, match=message):
        HeadLayout(heads, kv, 64, factor)


def test_a_two_dimensional_mesh_is_refused() -> None:
    with board_for((2, 4)), open_for((2, 4)) as device, pytest.raises(UserError, match="2x4 mesh"):
        TensorParallel(device)


@pytest.mark.parametrize("mesh", [(1, 2), (1, 8)], ids=["1x2", "1x8"])
def test_uneven_weight_split_is_refused(mesh: tuple[int, int]) -> None:
    with board_for(mesh), open_for(mesh) as device:
        tp = TensorParallel(device)
        with pytest.raises(
            UserError, match=rf"w: dim -1 of size 35 does not split evenly over {mesh[1]} chips"
        ):
            tp.column_weight("w", torch.randn(35, 64))


def _mlp(
    tp: TensorParallel, x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: Any
) -> Any:
    """fc2(gelu(fc1(x))): fc1 column-parallel (bias split), fc2 row-parallel (bias once), all-reduced."""
    h = ttnn.linear(tp.replicated("x", x), tp.column_weight("w1", w1), bias=tp.column_bias("b1", b1))
    h = ttnn.gelu(h)
    partial = ttnn.linear(h, tp.row_weight("w2", w2), bias=tp.row_bias("b2", b2))
    return tp.all_reduce(partial)


def test_column_then_row_parallel_mlp_matches_torch(tp: TensorParallel) -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 64, 128)
    w1, b1 = torch.randn(512, 128) * 0.08, torch.randn(512) * 0.1
    w2, b2 = torch.randn(128, 512) * 0.05, torch.randn(128)
    expected = torch.nn.functional.gelu(x @ w1.T + b1) @ w2.T + b2
    out = _mlp(tp, x, w1, b1, w2, b2)
    assert tuple(out.shape) == (1, 1, 64, 128)
    chips = [to_torch(t).float() for t in ttnn.get_device_tensors(out)] if tp.factor > 1 else [to_torch(out)]
    for chip in chips[1:]:
        assert torch.equal(chip, chips[0])  # the all-reduce leaves the same sum on every chip
    passed, pcc = comp_pcc(expected, chips[0].float(), 0.9999)
    assert passed, pcc
    # the bias is added once, not once per chip
    error = (chips[0].float() - expected).abs().max()
    assert error < (chips[0].float() - (expected + b2)).abs().max() / 10


def test_head_sharded_attention_matches_torch(tp: TensorParallel) -> None:
    """q/k/v column-parallel with whole heads per chip (one KV head, replicated), SDPA on each chip's heads,
    o_proj row-parallel + all-reduce: the grouped-query attention of one chip."""
    torch.manual_seed(1)
    heads, d, hidden, seq = 8, 64, 128, 64
    x = torch.randn(1, 1, seq, hidden)
    q_w, k_w, v_w = (torch.randn(n * d, hidden) * hidden**-0.5 for n in (heads, 1, 1))
    o_w = torch.randn(hidden, heads * d) * (heads * d) ** -0.5
    layout = tp.heads(heads, 1, d)
    fused = ttnn.linear(tp.replicated("x", x), tp.qkv_weight("qkv", layout, q_w, k_w, v_w))
    q, k, v = ttnn.experimental.nlp_create_qkv_heads(
        fused, num_heads=layout.local_heads, num_kv_heads=layout.local_kv_heads, transpose_k_heads=False
    )
    attn = ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=True, scale=d**-0.5)
    out = tp.all_reduce(ttnn.linear(ttnn.experimental.nlp_concat_heads(attn), tp.row_weight("o", o_w)))
    qh = (x[0, 0] @ q_w.T).reshape(seq, heads, d).transpose(0, 1)
    kh = (x[0, 0] @ k_w.T).reshape(seq, 1, d).transpose(0, 1)
    vh = (x[0, 0] @ v_w.T).reshape(seq, 1, d).transpose(0, 1)
    ref = torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
    expected = ref.transpose(0, 1).reshape(seq, heads * d) @ o_w.T
    passed, pcc = comp_pcc(expected, to_torch(out).float()[0, 0], 0.999)
    assert passed, pcc


def test_sharded_table_lookup_all_gathered_is_the_whole_row(tp: TensorParallel) -> None:
    """An embedding table split along its width (as PI0's Gemma table) gives the whole row after the
    all-gather, in chip order."""
    table = torch.randn(64, 256).to(torch.bfloat16)
    ids = torch.tensor([[3, 7, 63, 0]], dtype=torch.int32)
    weight = tp.sharded("table", table, -1, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT)
    device_ids = ttnn.from_torch(ids, dtype=ttnn.uint32, layout=ttnn.ROW_MAJOR_LAYOUT, device=tp.device)
    rows = tp.all_gather(ttnn.embedding(device_ids, weight, layout=ttnn.TILE_LAYOUT), -1)
    assert torch.equal(to_torch(rows).float(), table[ids.long()].float())


def test_reduce_scatter_gives_each_chip_its_slice_of_the_sum(tp: TensorParallel) -> None:
    if tp.factor == 1:
        assert (
            tp.reduce_scatter("x", -1) == "x" and tp.all_reduce("x") == "x" and tp.all_gather("x", 0) == "x"
        )
        return
    parts = [torch.randn(1, 1, 32, 64 * tp.factor) for _ in range(tp.factor)]
    stacked = torch.cat(parts, dim=0)  # chip c holds parts[c]
    x = ttnn.from_torch(
        stacked,
        dtype=ttnn.float32,
        layout=ttnn.TILE_LAYOUT,
        device=tp.device,
        mesh_mapper=ttnn.ShardTensorToMesh(tp.device, dim=0),
    )
    out = tp.reduce_scatter(x, -1)
    expected = sum(parts)
    got = to_torch(out, mesh_dim=-1)
    assert torch.allclose(got, expected, atol=1e-5)
