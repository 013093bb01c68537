"""Ops that declare their output shapes to device_op (no meta-tensor run) and the per-spec TensorInfo cache of
op records: the declared shapes are the computed ones (device_op raises on a mismatch), and records describe
each tensor as it is, whatever spec an earlier tensor had."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import tensor as sim_tensor
from ttport.sim import ttnn
from ttport.sim.ops import unary


def _dev(device, x: torch.Tensor, layout=ttnn.TILE_LAYOUT, mc=None):
    return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=layout, device=device, memory_config=mc)


@pytest.fixture
def no_meta(monkeypatch):
    """Fail any op that would infer its output shapes by running its computation on meta tensors."""
    real = sim_tensor._output_shapes

    def declared_only(compute, values, read, declared):
        assert declared is not None, "op ran on meta tensors: it should declare output_shapes"
        return real(compute, values, read, declared)

    monkeypatch.setattr(sim_tensor, "_output_shapes", declared_only)


def test_every_unary_spec_declares_its_shape(device, no_meta) -> None:
    x = torch.randn(2, 1, 64, 128).to(torch.bfloat16).float()
    for name, spec in unary.UNARY_FNS.items():
        expected = tuple(spec.fn(x, **dict(spec.positional + spec.keywords) | _required(spec)).shape)
        assert spec.output_shape(tuple(x.shape)) == expected, name
    torch.testing.assert_close(
        ttnn.to_torch(ttnn.softplus(_dev(device, x), beta=1.0, threshold=20.0)).float(),
        torch.nn.functional.softplus(x).to(torch.bfloat16).float(),
        atol=0.02,
        rtol=0.01,
    )
    assert tuple(ttnn.swiglu(_dev(device, x)).shape) == (2, 1, 64, 64)
    assert tuple(ttnn.var_hw(_dev(device, x)).shape) == (2, 1, 1, 1)


def _required(spec: unary.Unary) -> dict:
    values = {"fill_value": 1.5, "value": 2.0, "negative_slope": 0.1, "k": 1, "upper_limit": 3.0,
              "lower_limit": -1.0, "exponent": 2.0, "beta": 2.0, "threshold": 0.5}  # fmt: skip
    return {n: values[n] for n, d in spec.positional if d is unary.REQUIRED}


@pytest.mark.parametrize(
    "start, end, step",
    [
        ((0, 0, 3, 0), (1, 1, 35, 64), None),
        ((0, 0, 0, 1), (1, 1, 40, 64), (1, 1, 3, 2)),
        ((0, 0, 5, 0), (1, 1, 5, 64), None),
    ],
)
def test_slice_declares_its_shape(device, no_meta, start, end, step) -> None:
    x = torch.randn(1, 1, 40, 64).to(torch.bfloat16)
    for layout in (ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT):
        out = ttnn.slice(_dev(device, x, layout), start, end, step)
        index = tuple(slice(s, e, st) for s, e, st in zip(start, end, step or (1,) * 4, strict=True))
        assert torch.equal(ttnn.to_torch(out), x[index])


def test_records_follow_each_tensors_spec(device) -> None:
    """Two tensors of one shape in different memory (and a reshaped one) are each recorded as they are."""
    x = torch.randn(1, 1, 32, 64)
    dram, l1 = _dev(device, x), _dev(device, x, mc=ttnn.L1_MEMORY_CONFIG)
    sim.reset_stats(device)
    ttnn.add(dram, l1)
    ttnn.add(l1, dram, memory_config=ttnn.L1_MEMORY_CONFIG)
    first, second = sim.stats(device).op_records
    assert [i.buffer_type for i in first.inputs] == ["DRAM", "L1"]
    assert [i.buffer_type for i in second.inputs] == ["L1", "DRAM"]
    assert (first.outputs[0].buffer_type, second.outputs[0].buffer_type) == ("DRAM", "L1")
    assert first.inputs[0].buffer_id != first.inputs[1].buffer_id
    rm = _dev(device, torch.randn(1, 1, 20, 64), layout=ttnn.ROW_MAJOR_LAYOUT)
    sim.reset_stats(device)
    ttnn.add(rm, rm)
    (record,) = sim.stats(device).op_records
    assert record.inputs[0].padded_shape == (1, 1, 20, 64) and record.inputs[0].layout == "ROW_MAJOR"
    assert record.inputs[0].num_bytes == 20 * 64 * 2
