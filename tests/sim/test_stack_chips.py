"""A data-parallel linear on a mesh runs one product for all chips (tensor.py _compute_chips, `stack_chips`):
the same values on every chip as one product per chip, in every numerics mode; weights that differ per chip,
transposed or batched operands keep the per-chip path."""

from __future__ import annotations

import itertools

import pytest
import torch

from ttport.sim import tensor, ttnn
from ttport.sim.numerics import mode


@pytest.fixture
def stacked(monkeypatch: pytest.MonkeyPatch):
    """stacked(on) -> a list that counts the ops that ran stacked; `on=False` forces the per-chip path."""

    real = tensor._stackable

    def select(on: bool) -> list[int]:
        calls: list[int] = []

        def spy(in_values, n_chips, stack_chips):
            result = on and real(in_values, n_chips, stack_chips)
            calls.extend([1] if result else [])
            return result

        monkeypatch.setattr(tensor, "_stackable", spy)
        return calls

    return select


def _to_mesh(mesh: ttnn.MeshDevice, x: torch.Tensor, dtype, shard_dim: int | None) -> ttnn.Tensor:
    mapper = (
        ttnn.ReplicateTensorToMesh(mesh) if shard_dim is None else ttnn.ShardTensorToMesh(mesh, dim=shard_dim)
    )
    return ttnn.from_torch(x, dtype, layout=ttnn.TILE_LAYOUT, device=mesh, mesh_mapper=mapper)


def _per_chip(t: ttnn.Tensor) -> list[torch.Tensor]:
    return [ttnn.to_torch(c) for c in ttnn.get_device_tensors(t)]


def _pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


def _activation(k: int) -> torch.Tensor:
    """Two batches of 77 rows: Gaussian, with a row of zeros and a few exact small integers (noise-free sums)."""
    x = torch.randn(2, 1, 77, k)
    x[1, 0, 5] = 0.0
    x[0, 0, 9] = torch.randint(-3, 4, (k,)).float()
    return x


CONFIGS = [
    (fidelity, fp32)
    for fidelity, fp32 in itertools.product(
        [ttnn.MathFidelity.LoFi, ttnn.MathFidelity.HiFi2, ttnn.MathFidelity.HiFi4], [False, True]
    )
]


@pytest.mark.parametrize("numerics_mode", [mode.DEFAULT, mode.EXACT])
@pytest.mark.parametrize(("fidelity", "fp32"), CONFIGS)
def test_replicated_linear_runs_once_with_the_per_chip_values(
    mesh_device, stacked, numerics_mode, fidelity, fp32
):
    k, n = (64, 96) if numerics_mode == mode.EXACT else (320, 480)
    x, w, bias = _activation(k), torch.randn(k, n) / k**0.5, torch.randn(1, n)
    cfg = ttnn.WormholeComputeKernelConfig(math_fidelity=fidelity, fp32_dest_acc_en=fp32)
    results = []
    with mode.numerics_mode(numerics_mode):
        for on in (False, True):
            calls = stacked(on)
            a = _to_mesh(mesh_device, x, ttnn.bfloat16, 0)
            out = ttnn.linear(
                a,
                _to_mesh(mesh_device, w, ttnn.bfloat16, None),
                bias=_to_mesh(mesh_device, bias, ttnn.bfloat16, None),
                compute_kernel_config=cfg,
                dtype=ttnn.float32,
                activation="gelu",
            )
            assert len(calls) == (2 if on else 0)  # the linear and its gelu (a separate op)
            results.append(_per_chip(out))
    for per_chip, stacked_chip in zip(*results, strict=True):
        assert per_chip.shape == (1, 1, 77, n)
        assert torch.equal(per_chip, stacked_chip)
    # and the values are those of a linear on the chip's rows alone (LoFi with a 16-bit Dst is coarse)
    single = x[1:].to(torch.bfloat16).float() @ w.to(torch.bfloat16).float() + bias.to(torch.bfloat16).float()
    assert _pcc(results[1][1], torch.nn.functional.gelu(single)) > 0.999


def test_nan_rows_stay_on_their_chip(mesh_device, stacked):
    x = torch.randn(2, 1, 32, 64)
    x[0, 0, 3, 7] = float("nan")
    w = torch.randn(64, 64)
    calls = stacked(True)
    out = _per_chip(
        ttnn.linear(_to_mesh(mesh_device, x, ttnn.bfloat16, 0), _to_mesh(mesh_device, w, ttnn.bfloat16, None))
    )
    assert calls == [1]
    assert torch.isnan(out[0][0, 0, 3]).all() and not torch.isnan(out[0][0, 0, :3]).any()
    assert not torch.isnan(out[1]).any()


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "b_shard", "transpose_a"),
    [
        ((2, 1, 32, 64), (64, 96), 1, False),  # a weight that differs per chip (sharded by columns)
        ((2, 1, 64, 32), (64, 96), None, True),  # transposed a: dim 0 is not the output's rows
        ((2, 1, 32, 64), (2, 1, 64, 96), 0, False),  # a batched b (one per chip)
    ],
)
def test_other_operands_keep_the_per_chip_path(mesh_device, stacked, a_shape, b_shape, b_shard, transpose_a):
    x, w = torch.randn(a_shape), torch.randn(b_shape)
    calls = stacked(True)
    a, b = _to_mesh(mesh_device, x, ttnn.bfloat16, 0), _to_mesh(mesh_device, w, ttnn.bfloat16, b_shard)
    out = _per_chip(ttnn.matmul(a, b, transpose_a=transpose_a))
    assert calls == []
    w_chips = [w, w] if b_shard is None else w.chunk(2, dim=b_shard)
    for chip, (xs, ws) in enumerate(zip(x.chunk(2), w_chips, strict=True)):
        xs = xs.transpose(-1, -2) if transpose_a else xs
        expected = xs.to(torch.bfloat16).float() @ ws.to(torch.bfloat16).float()
        assert out[chip].shape == expected.shape and _pcc(out[chip].float(), expected) > 0.9999


def test_traced_linear_replays_stacked(monkeypatch, stacked) -> None:
    """A captured op recomputes at execute_trace through the same path: stacked, the chips' new inputs."""
    monkeypatch.setenv("TTPORT_BOARD", "n300")
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2), trace_region_size=1 << 20)
    try:
        calls = stacked(True)
        x = _to_mesh(mesh, torch.randn(2, 1, 32, 64), ttnn.bfloat16, 0)
        w = _to_mesh(mesh, torch.randn(64, 96), ttnn.bfloat16, None)
        ttnn.linear(x, w)
        tid = ttnn.begin_trace_capture(mesh, cq_id=0)
        out = ttnn.linear(x, w)
        ttnn.end_trace_capture(mesh, tid, cq_id=0)
        x2 = torch.randn(2, 1, 32, 64)
        host = ttnn.from_torch(
            x2, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0)
        )
        ttnn.copy_host_to_device_tensor(host, x)
        ttnn.execute_trace(mesh, tid)
        assert len(calls) == 3  # warm-up, capture (its values are discarded), replay
        stacked(False)
        expected = _per_chip(ttnn.linear(x, w))
        assert all(torch.equal(g, e) for g, e in zip(_per_chip(out), expected, strict=True))
    finally:
        ttnn.close_mesh_device(mesh)


def test_global_statistic_stays_per_chip(mesh_device, stacked) -> None:
    """normalize_global normalises over each chip's whole tensor: never over the chips' tensors stacked."""
    calls = stacked(True)
    x = torch.randn(2, 1, 32, 64) * torch.tensor([1.0, 5.0]).view(2, 1, 1, 1) + torch.tensor([0.0, 3.0]).view(
        2, 1, 1, 1
    )
    out = _per_chip(ttnn.normalize_global(_to_mesh(mesh_device, x, ttnn.bfloat16, 0)))
    assert calls == []
    for chip, xs in zip(out, x.chunk(2), strict=True):
        xs = xs.to(torch.bfloat16).float()
        expected = (xs - xs.mean()) / (xs - xs.mean()).square().mean().sqrt()
        assert _pcc(chip.float(), expected) > 0.9999 and abs(float(chip.float().mean())) < 0.02
    calls.clear()
    ttnn.relu(_to_mesh(mesh_device, x, ttnn.bfloat16, 0))
    assert calls == [1]
