"""Simulator fixes found by running tt-metal's op unit tests unchanged (`ttport exec -- pytest`): the dtypes their
helper module lists, N-d sharded memory configs, and the rms_norm golden's positional weight."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.real_surface import NotSimulatedError


def test_int8_and_fp8_dtypes_have_real_ttnn_values() -> None:
    # tests/ttnn/utils_for_testing.py builds dicts keyed by ttnn.int8 and ttnn.fp8_e4m3 at import time.
    assert ttnn.int8 is ttnn.DataType.INT8 and ttnn.DataType.INT8.value == 9
    assert ttnn.fp8_e4m3 is ttnn.DataType.FP8_E4M3 and ttnn.DataType.FP8_E4M3.value == 8
    assert ttnn.Tile((32, 32)).get_tile_size(ttnn.int8) == 1024


@pytest.mark.parametrize("dtype", [ttnn.int8, ttnn.fp8_e4m3])
def test_tensors_of_unsimulated_dtypes_are_refused_by_name(dtype: ttnn.DataType) -> None:
    with pytest.raises(
        NotSimulatedError, match=f"tensors of dtype DataType::{dtype.name} are not simulated yet"
    ):
        ttnn.from_torch(torch.zeros(32, 32), dtype=dtype, layout=ttnn.TILE_LAYOUT)


def _nd_config(shard_shape: list[int]) -> ttnn.MemoryConfig:
    grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(2, 4))})
    return ttnn.MemoryConfig(
        buffer_type=ttnn.BufferType.L1, nd_shard_spec=ttnn.NdShardSpec(shard_shape, grid)
    )


def test_nd_sharded_memory_config_is_nd_sharded_without_a_legacy_shard_spec() -> None:
    # Probed on 0.81.1: memory_layout ND_SHARDED (value 5), is_sharded() True, shard_spec None.
    mc = _nd_config([2, 2, 64, 64])
    assert mc.memory_layout == ttnn.TensorMemoryLayout.ND_SHARDED
    assert ttnn.TensorMemoryLayout.ND_SHARDED.value == 5
    assert mc.is_sharded() and mc.shard_spec is None
    assert mc.nd_shard_spec.shard_shape == [2, 2, 64, 64]
    assert mc.buffer_type == ttnn.BufferType.L1


def test_sum_of_an_nd_sharded_tensor_matches_torch(device: ttnn.Device) -> None:
    x = torch.rand(4, 4, 128, 128)
    t = ttnn.from_torch(
        x,
        dtype=ttnn.float32,
        layout=ttnn.TILE_LAYOUT,
        device=device,
        memory_config=_nd_config([2, 2, 64, 64]),
    )
    assert t.memory_config().memory_layout == ttnn.TensorMemoryLayout.ND_SHARDED
    out = ttnn.to_torch(ttnn.sum(t, dim=-2, keepdim=True))
    torch.testing.assert_close(out, x.sum(-2, keepdim=True), rtol=1e-3, atol=0.2)


def test_a_sharded_config_without_any_shard_spec_is_still_refused() -> None:
    mc = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1)
    with pytest.raises(RuntimeError, match="Shard spec must not be None for sharded tensors"):
        ttnn.from_torch(torch.zeros(32, 32), layout=ttnn.TILE_LAYOUT, memory_config=mc)


def test_rms_norm_golden_takes_the_weight_positionally() -> None:
    # tt-metal's test_rms_norm.py: golden_function(torch_input_tensor, torch_weight); real ttnn's golden returns
    # the weight's 16-bit dtype.
    x = torch.rand(2, 32, 64, dtype=torch.bfloat16)
    w = torch.rand(64, dtype=torch.bfloat16)
    golden = ttnn.get_golden_function(ttnn.rms_norm)
    out = golden(x, w)
    xf = x.float()
    ref = (xf * torch.rsqrt(xf.square().mean(-1, keepdim=True) + 1e-12)).bfloat16() * w
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(golden(x, weight=w), out)
    # the residual is added first, and a float32 weight keeps float32
    r = torch.rand_like(x)
    w32 = w.float()
    out32 = golden(x, w32, residual_input_tensor=r)
    s = x.float() + r.float()
    torch.testing.assert_close(out32, s * torch.rsqrt(s.square().mean(-1, keepdim=True) + 1e-12) * w32)


def test_layer_norm_golden_keeps_its_keyword_only_weight() -> None:
    golden = ttnn.get_golden_function(ttnn.layer_norm)
    x = torch.rand(4, 64)
    w = torch.rand(64)
    torch.testing.assert_close(
        golden(x, weight=w, epsilon=1e-5), torch.nn.functional.layer_norm(x, (64,), w, eps=1e-5)
    )
    with pytest.raises(TypeError):
        golden(x, w)


def test_conv2d_slice_configs_mirror_ttnn() -> None:
    # ttnn 0.81.1: Conv2dSliceConfig is Op2DSliceConfig, keyword-only; the L1-full constants are two objects.
    assert ttnn.Conv2dSliceConfig is ttnn.Op2DSliceConfig
    assert ttnn.Conv2dL1FullSliceConfig is not ttnn.Op2DL1FullSliceConfig
    assert repr(ttnn.Conv2dL1FullSliceConfig) == "Op2DSliceConfig(slice_type=SliceType::L1_FULL,num_slices=0)"
    cfg = ttnn.Conv2dSliceConfig(slice_type=ttnn.Conv2dDRAMSliceWidth, num_slices=4)
    assert repr(cfg) == "Op2DSliceConfig(slice_type=SliceType::DRAM_WIDTH,num_slices=4)"
    assert cfg.slice_type is ttnn.Op2DDRAMSliceWidth and cfg.num_slices == 4
    assert ttnn.Conv2dDRAMSliceHeight is ttnn.Op2DSliceConfig.SliceTypeEnum.DRAMSliceHeight
    with pytest.raises(TypeError):
        ttnn.Conv2dSliceConfig(ttnn.Conv2dDRAMSliceHeight, 2)  # keyword-only, as the binding
    with pytest.raises(TypeError, match="slice_type must be a ttnn.Op2DSliceConfig.SliceTypeEnum"):
        ttnn.Conv2dSliceConfig(slice_type="L1Full")


@pytest.mark.parametrize("slice_config", [None, "full"])
def test_conv2d_takes_a_slice_config_and_values_do_not_change(
    device: ttnn.Device, slice_config: str | None
) -> None:
    x = torch.randn(1, 3, 8, 8)
    w = torch.randn(4, 3, 3, 3)
    ref = torch.nn.functional.conv2d(x.bfloat16().float(), w.bfloat16().float(), padding=1)
    tt_x = ttnn.from_torch(x.permute(0, 2, 3, 1).reshape(1, 1, 64, 3), dtype=ttnn.bfloat16, device=device)
    tt_w = ttnn.from_torch(w, dtype=ttnn.bfloat16)
    cfg = ttnn.Conv2dL1FullSliceConfig if slice_config else None
    out, [h, wd] = ttnn.conv2d(
        input_tensor=tt_x,
        weight_tensor=tt_w,
        device=device,
        in_channels=3,
        out_channels=4,
        batch_size=1,
        input_height=8,
        input_width=8,
        kernel_size=(3, 3),
        padding=(1, 1),
        slice_config=cfg,
        return_output_dim=True,
    )
    got = ttnn.to_torch(out).float().reshape(1, h, wd, 4).permute(0, 3, 1, 2)
    assert (h, wd) == (8, 8)
    assert torch.corrcoef(torch.stack([got.flatten(), ref.flatten()]))[0, 1] > 0.999


def test_conv2d_refuses_a_slice_config_of_the_wrong_type(device: ttnn.Device) -> None:
    tt_x = ttnn.from_torch(torch.randn(1, 1, 64, 3), dtype=ttnn.bfloat16, device=device)
    tt_w = ttnn.from_torch(torch.randn(4, 3, 3, 3), dtype=ttnn.bfloat16)
    with pytest.raises(TypeError, match=r"conv2d\(\): slice_config must be a ttnn.Conv2dSliceConfig or None"):
        ttnn.conv2d(
            input_tensor=tt_x,
            weight_tensor=tt_w,
            device=device,
            in_channels=3,
            out_channels=4,
            batch_size=1,
            input_height=8,
            input_width=8,
            kernel_size=(3, 3),
            slice_config={"num_slices": 2},
        )


def _ranges(crs: ttnn.CoreRangeSet) -> set[tuple[int, int, int, int]]:
    return {(r.start.x, r.start.y, r.end.x, r.end.y) for r in crs.ranges()}


@pytest.mark.parametrize(
    ("row_wise", "expected"),
    [(True, {(0, 0, 7, 0), (0, 1, 1, 1)}), (False, {(0, 0, 0, 7), (1, 0, 1, 1)})],
)
def test_num_cores_to_corerangeset_matches_ttnn(row_wise: bool, expected: set) -> None:
    # Probed on 0.81.1: 10 cores of an 8x8 grid -> {[0-0 - 7-0], [0-1 - 1-1]} row-wise, column-wise by default.
    crs = ttnn.num_cores_to_corerangeset(10, ttnn.CoreCoord(8, 8), row_wise)
    assert _ranges(crs) == expected and crs.num_cores() == 10
    assert _ranges(ttnn.num_cores_to_corerangeset(10, ttnn.CoreCoord(8, 8))) == {(0, 0, 0, 7), (1, 0, 1, 1)}
    with pytest.raises(
        RuntimeError, match="Target number of cores 65 is greater than total number of available"
    ):
        ttnn.num_cores_to_corerangeset(65, ttnn.CoreCoord(8, 8))


@pytest.mark.parametrize(
    ("n", "row_wise", "expected"),
    [
        (8, True, {(1, 0, 3, 1), (1, 2, 2, 2)}),
        (16, True, {(1, 0, 3, 4), (1, 5, 1, 5)}),
        (25, False, {(1, 0, 2, 9), (3, 0, 3, 4)}),
        (35, True, {(1, 0, 3, 9), (5, 0, 6, 1), (5, 2, 5, 2)}),
    ],
)
def test_num_cores_to_corerangeset_in_subcoregrids_matches_ttnn(
    n: int, row_wise: bool, expected: set
) -> None:
    # The first three probed on 0.81.1 with tt-metal's TG Llama sub core grids; the last fills the first range
    # (30 cores) and spills into the second.
    grids = ttnn.CoreRangeSet(
        [
            ttnn.CoreRange(ttnn.CoreCoord(1, 0), ttnn.CoreCoord(3, 9)),
            ttnn.CoreRange(ttnn.CoreCoord(5, 0), ttnn.CoreCoord(6, 9)),
        ]
    )
    crs = ttnn.num_cores_to_corerangeset_in_subcoregrids(ttnn.CoreCoord(1, 0), n, grids, row_wise=row_wise)
    assert _ranges(crs) == expected and crs.num_cores() == n
    with pytest.raises(RuntimeError, match="greater than the cores available in the sub core grids"):
        ttnn.num_cores_to_corerangeset_in_subcoregrids(ttnn.CoreCoord(1, 0), 51, grids)
    with pytest.raises(RuntimeError, match="is not in the sub core grids"):
        ttnn.num_cores_to_corerangeset_in_subcoregrids(ttnn.CoreCoord(4, 0), 2, grids)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_concat_with_groups_interleaves_channel_groups(device: ttnn.Device, groups: int) -> None:
    # ttnn's concat golden (ttnn/ttnn/operations/data_movement.py): groups > 1 interleaves the channel groups
    # of two [N, H, W, C] tensors; tt-metal's test_sharded_concat_with_groups compares the op with it.
    a = torch.randn(1, 1, 64, 64).bfloat16()
    b = torch.randn(1, 1, 64, 32).bfloat16()
    ga = a.reshape(1, 1, 64, groups, 64 // groups)
    gb = b.reshape(1, 1, 64, groups, 32 // groups)
    expected = torch.cat([ga, gb], dim=-1).reshape(1, 1, 64, 96)
    tt = [ttnn.from_torch(x, layout=ttnn.ROW_MAJOR_LAYOUT, device=device) for x in (a, b)]
    out = ttnn.to_torch(ttnn.concat(tt, dim=3, groups=groups))
    assert torch.equal(out, expected)
    assert torch.equal(ttnn.concat.golden_function([a, b], 3, groups), expected)


def test_concat_with_groups_refuses_what_it_cannot_interleave(device: ttnn.Device) -> None:
    a = ttnn.from_torch(torch.zeros(1, 1, 32, 64), dtype=ttnn.bfloat16, device=device)
    b = ttnn.from_torch(torch.zeros(1, 1, 32, 48), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(RuntimeError, match="channel count 48 must be divisible by the number of groups 32"):
        ttnn.concat([a, b], dim=3, groups=32)
    with pytest.raises(RuntimeError, match="groups > 1 takes exactly 2 tensors, got 3"):
        ttnn.concat([a, a, a], dim=3, groups=2)
    with pytest.raises(RuntimeError, match="groups > 1 concatenates the last dim, got dim=2"):
        ttnn.concat([a, a], dim=2, groups=2)


@pytest.mark.parametrize(
    ("activation", "ref"),
    [
        ("hardsigmoid", torch.nn.functional.hardsigmoid),
        ("mish", torch.nn.functional.mish),
        (ttnn.UnaryWithParam(ttnn.UnaryOpType.MISH), torch.nn.functional.mish),
    ],
)
def test_linear_fuses_hardsigmoid_and_mish(device: ttnn.Device, activation: object, ref: object) -> None:
    # tt-metal's test_linear_with_compound_activation fuses these by name; UnaryOpType values are 0.81.1's.
    assert ttnn.UnaryOpType.MISH.value == 93 and ttnn.UnaryOpType.HARDSIGMOID.value == 102
    a = torch.randn(1, 32, 64).bfloat16()
    b = torch.randn(64, 64).bfloat16()
    tt_a = ttnn.from_torch(a, layout=ttnn.TILE_LAYOUT, device=device)
    tt_b = ttnn.from_torch(b, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.to_torch(ttnn.linear(tt_a, tt_b, activation=activation)).float()
    expected = ref(a.float() @ b.float())
    assert torch.corrcoef(torch.stack([out.flatten(), expected.flatten()]))[0, 1] > 0.999


def test_an_unknown_fused_activation_is_still_refused(device: ttnn.Device) -> None:
    tt = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(RuntimeError, match="Unknown unary op: softsign"):
        ttnn.linear(tt, tt, activation="softsign")


def test_pad_shape_overload_with_the_value_as_keyword(device: ttnn.Device) -> None:
    # tests/ttnn/unit_tests/operations/data_movement/test_pad.py: ttnn.pad(t, padshape, [0, 0, 0, 0], value=0)
    x = torch.rand(1, 1, 18, 13).bfloat16()
    t = ttnn.from_torch(x, device=device, layout=ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.to_torch(ttnn.pad(t, [1, 1, 32, 32], [0, 0, 0, 0], value=0, use_multicore=False))
    assert torch.equal(out, torch.nn.functional.pad(x, [0, 19, 0, 14]))
    # the padding overload with the value positional still reads (before, after) pairs
    out = ttnn.to_torch(ttnn.pad(t, [(0, 0), (0, 0), (0, 14), (0, 19)], 2.0))
    assert torch.equal(out, torch.nn.functional.pad(x, [0, 19, 0, 14], value=2.0))


def test_program_cache_misses_can_be_forbidden(device: ttnn.Device) -> None:
    x = ttnn.from_torch(torch.rand(32, 32), device=device, layout=ttnn.TILE_LAYOUT)
    ttnn.relu(x)
    device.set_program_cache_misses_allowed(False)
    ttnn.relu(x)  # a cache hit runs
    with pytest.raises(
        RuntimeError, match="Program cache miss occurred, but program cache misses are not allowed"
    ):
        ttnn.exp(x)
    device.set_program_cache_misses_allowed(True)
    ttnn.exp(x)


def test_to_torch_of_unsigned_tensors_keeps_the_unsigned_torch_dtype() -> None:
    # probed on 0.81.1: uint16 / uint32 tensors come back as torch.uint16 / torch.uint32 (tt-metal's test_pad
    # compares them with int16 / int32 references, which torch refuses to promote on real ttnn as well)
    for dtype, torch_dtype in ((ttnn.uint16, torch.uint16), (ttnn.uint32, torch.uint32)):
        t = ttnn.from_torch(torch.arange(8, dtype=torch.int32).reshape(2, 4), dtype=dtype)
        assert ttnn.to_torch(t).dtype == torch_dtype


def test_set_printoptions_profiles_change_what_a_tensor_prints() -> None:
    t = ttnn.from_torch(torch.arange(6, dtype=torch.float32).reshape(2, 3), dtype=ttnn.bfloat16)
    try:
        assert repr(t).startswith("ttnn.Tensor([[0., 1., 2.],") and "shape=Shape([2, 3])" in repr(t)
        ttnn.set_printoptions(profile="empty")
        assert repr(t).startswith("ttnn.Tensor(..., shape=Shape([2, 3])")
        big = ttnn.from_torch(torch.zeros(2000), dtype=ttnn.float32)
        ttnn.set_printoptions(profile="short")
        assert "..." in repr(big)
        ttnn.set_printoptions(profile="full")
        assert "..." not in repr(big)
        with pytest.raises(RuntimeError, match="bad optional access"):  # 0.81.1's answer (probed)
            ttnn.set_printoptions(profile="bogus")
    finally:
        ttnn.set_printoptions(profile="short")
