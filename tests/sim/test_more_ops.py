"""Ternary, integer, reduction, data-movement, loss, pooling, normalization and random ops added for ttnn
0.81.1's surface, against torch, with their rules."""

from __future__ import annotations

import pytest
import torch

from ttport import sim
from ttport.sim import ttnn
from ttport.sim.rules import TTFatal

G = torch.Generator().manual_seed(7)
X = torch.randn(1, 1, 32, 64, generator=G)
Y = torch.randn(1, 1, 32, 64, generator=G)
POS = torch.rand(1, 1, 32, 64, generator=G) + 0.5


def _dev(device, x: torch.Tensor, dtype=None, layout=None) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype or ttnn.float32, layout=layout or ttnn.TILE_LAYOUT, device=device)


def _host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t)


def test_ternary_ops(device):
    x, y, p = _dev(device, X), _dev(device, Y), _dev(device, POS)
    torch.testing.assert_close(_host(ttnn.addcmul(x, y, p, value=0.5)), X + 0.5 * Y * POS)
    torch.testing.assert_close(_host(ttnn.addcdiv(x, y, p, value=2.0)), X + 2.0 * Y / POS)
    torch.testing.assert_close(_host(ttnn.lerp(x, y, 0.25)), X + 0.25 * (Y - X))
    torch.testing.assert_close(_host(ttnn.lerp(x, y, p)), X + POS * (Y - X))
    torch.testing.assert_close(_host(ttnn.mac(x, 3.0, p)), X * 3.0 + POS)
    torch.testing.assert_close(
        _host(ttnn.clamp(x, -0.5, y)), torch.minimum(torch.maximum(X, torch.tensor(-0.5)), Y)
    )
    torch.testing.assert_close(_host(ttnn.clip(x, max=0.25)), X.clamp(max=0.25))
    with pytest.raises(TTFatal, match="Only one of 'min' or 'max' can be None"):
        ttnn.clamp(x)
    with pytest.raises(TTFatal, match="Broadcasting rule violation|Invalid subtile broadcast type"):
        ttnn.addcmul(x, y, _dev(device, torch.randn(1, 1, 16, 48)))


def test_integer_ops_wrap_like_the_device(device):
    a = torch.randint(-(2**31), 2**31 - 1, (1, 1, 32, 32), generator=G, dtype=torch.int32)
    s = torch.randint(0, 31, (1, 1, 32, 32), generator=G, dtype=torch.int32)
    ta, ts = _dev(device, a, ttnn.int32), _dev(device, s, ttnn.int32)
    assert torch.equal(_host(ttnn.bitwise_and(ta, ts)), a & s)
    assert torch.equal(_host(ttnn.bitwise_xor(ta, 0x5A5A)), a ^ 0x5A5A)
    assert torch.equal(_host(ttnn.bitwise_left_shift(ta, ts)), a << s)  # int32 wraparound
    assert torch.equal(_host(ttnn.bitwise_right_shift(ta, ts)), a >> s)
    logical = ((a.long() & 0xFFFFFFFF) >> s.long()).to(torch.int64)
    assert torch.equal(_host(ttnn.logical_right_shift(ta, ts)).long() & 0xFFFFFFFF, logical)
    assert torch.equal(_host(ttnn.bitwise_not(ta)), ~a)
    u = torch.randint(0, 2**16, (1, 1, 32, 32), generator=G, dtype=torch.int32)
    assert torch.equal(_host(ttnn.bitwise_not(_dev(device, u, ttnn.uint16))).long(), (~u.long()) & 0xFFFF)
    small = torch.randint(1, 60, (1, 1, 32, 32), generator=G, dtype=torch.int32)
    assert torch.equal(_host(ttnn.gcd(_dev(device, small, ttnn.int32), ts + 1)), torch.gcd(small, s + 1))
    with pytest.raises(TTFatal, match="bitwise_and: input tensors must be INT32, UINT32, UINT16 or UINT8"):
        ttnn.bitwise_and(_dev(device, X), _dev(device, X))


def test_reductions(device):
    x = _dev(device, X)
    torch.testing.assert_close(_host(ttnn.std(x, 3)), X.std(3))
    torch.testing.assert_close(
        _host(ttnn.var(x, 3, keepdim=True, correction=False)), X.var(3, keepdim=True, correction=0)
    )
    near_one = 1 + X / 50
    torch.testing.assert_close(_host(ttnn.prod(_dev(device, near_one), 3)), near_one.prod(3))
    torch.testing.assert_close(_host(ttnn.cumprod(_dev(device, near_one), 3)), near_one.cumprod(3))
    values, indices = ttnn.topk(x, 8, dim=-1, largest=False)
    ref = torch.topk(X, 8, dim=-1, largest=False)
    assert indices.dtype == ttnn.uint16 and torch.equal(_host(values), ref.values)
    assert torch.equal(_host(indices).long(), ref.indices)
    with pytest.raises(TTFatal, match=r"topk: k \(65\) must be in \[1, 64\]"):
        ttnn.topk(x, 65)


def test_data_movement(device):
    x, y = _dev(device, X), _dev(device, Y)
    assert torch.equal(_host(ttnn.stack([x, y], 1)), torch.stack([X, Y], 1))
    assert torch.equal(_host(ttnn.roll(x, [2, -3], [2, 3])), torch.roll(X, [2, -3], [2, 3]))
    assert torch.equal(_host(ttnn.narrow(x, 2, 4, 8)), X[:, :, 4:12])
    assert torch.equal(_host(ttnn.view(x, [1, 32, 64])), X.reshape(1, 32, 64))
    idx = torch.randint(0, 64, (1, 1, 32, 5), generator=G)
    assert torch.equal(_host(ttnn.gather(x, 3, _dev(device, idx, ttnn.uint32))), torch.gather(X, 3, idx))
    perm = torch.argsort(torch.rand(1, 1, 32, 64, generator=G), -1)
    scattered = ttnn.scatter(x, 3, _dev(device, perm, ttnn.uint32), y)
    assert torch.equal(_host(scattered), torch.scatter(X, 3, perm, Y))
    values, order = ttnn.sort(x, -1, descending=True)
    assert torch.equal(_host(values), torch.sort(X, -1, descending=True).values)
    assert torch.equal(_host(order).long(), torch.sort(X, -1, descending=True).indices)
    with pytest.raises(
        TTFatal, match="Changing the last two dimensions of a TILE tensor is not supported by view"
    ):
        ttnn.view(x, [1, 1, 64, 32])
    with pytest.raises(TTFatal, match="narrow: start"):
        ttnn.narrow(x, 3, 60, 8)


def test_tilize_with_padding_keeps_the_logical_shape(device):
    x = torch.randn(1, 1, 20, 50)
    rm = _dev(device, x, ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.tilize_with_val_padding(rm, [1, 1, 32, 64], -1.0)
    assert (
        out.layout == ttnn.TILE_LAYOUT and out.shape == [1, 1, 20, 50] and out.padded_shape == [1, 1, 32, 64]
    )
    assert torch.equal(_host(out).float(), x.bfloat16().float())
    assert ttnn.tilize_with_zero_padding(rm).padded_shape == [1, 1, 32, 64]
    with pytest.raises(NotImplementedError, match=r"padded shape \[1, 1, 64, 64\] is not modelled"):
        ttnn.tilize_with_val_padding(rm, [1, 1, 64, 64], 0.0)
    with pytest.raises(TTFatal, match="Output shape must be tilizable"):
        ttnn.tilize_with_val_padding(rm, [1, 1, 20, 64], 0.0)


def test_copy_assign_move_and_nonzero(device):
    x, y = _dev(device, X), _dev(device, Y)
    assert ttnn.copy(x, y) is y and torch.equal(_host(y), X)
    l1 = ttnn.assign(x, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert l1.memory_config().buffer_type == ttnn.BufferType.L1 and torch.equal(_host(l1), X)
    moved = ttnn.move(x)
    assert not x.is_allocated() and torch.equal(_host(moved), X)
    data = torch.zeros(1, 1, 2, 4)
    data[0, 0, 0, 1], data[0, 0, 1, 3] = 5.0, -1.0
    count, indices = ttnn.nonzero(_dev(device, data, layout=ttnn.ROW_MAJOR_LAYOUT))
    assert list(count.shape) == [1, 1, 1, 8] and int(_host(count)[0, 0, 0, 0]) == 2
    assert _host(indices).reshape(-1)[:8].tolist() == [0, 0, 0, 1, 0, 0, 1, 3]


def test_losses(device):
    x, y = _dev(device, X), _dev(device, Y)
    torch.testing.assert_close(_host(ttnn.l1_loss(x, y)), (X - Y).abs())
    mean = ttnn.mse_loss(x, y, reduction=ttnn.LossReductionMode.MEAN)
    assert list(mean.shape) == [] and float(_host(mean)) == pytest.approx(
        float(((X - Y) ** 2).mean()), rel=1e-5
    )
    total = ttnn.l1_loss(x, y, reduction=ttnn.LossReductionMode.SUM)
    assert float(_host(total)) == pytest.approx(float((X - Y).abs().sum()), rel=1e-5)


def test_pooling_and_upsample(device):
    nhwc = torch.randn(2, 4, 6, 32)
    pooled = ttnn.global_avg_pool2d(_dev(device, nhwc))
    assert pooled.shape == [2, 1, 1, 32] and pooled.dtype == ttnn.bfloat16
    torch.testing.assert_close(_host(pooled).float(), nhwc.mean((1, 2), keepdim=True), rtol=2**-7, atol=2**-9)
    rm = _dev(device, nhwc, layout=ttnn.ROW_MAJOR_LAYOUT)
    up = ttnn.upsample(rm, (2, 3))
    ref = torch.nn.functional.interpolate(nhwc.permute(0, 3, 1, 2), scale_factor=(2, 3)).permute(0, 2, 3, 1)
    assert up.shape == [2, 8, 18, 32] and torch.equal(_host(up), ref)
    bilinear = ttnn.upsample(rm, 2, mode="bilinear")
    ref = torch.nn.functional.interpolate(nhwc.permute(0, 3, 1, 2), scale_factor=2, mode="bilinear").permute(
        0, 2, 3, 1
    )
    torch.testing.assert_close(_host(bilinear), ref)
    with pytest.raises(TTFatal, match="Upsample only supports nearest and bilinear mode"):
        ttnn.upsample(rm, 2, mode="bicubic")


def test_batch_norm_eval_and_training(device):
    x = torch.randn(2, 3, 32, 32)
    mean, var = torch.randn(1, 3, 1, 1), torch.rand(1, 3, 1, 1) + 0.5
    w, b = torch.randn(1, 3, 1, 1), torch.randn(1, 3, 1, 1)
    out = ttnn.batch_norm(
        _dev(device, x), running_mean=_dev(device, mean), running_var=_dev(device, var), weight=_dev(device, w),
        bias=_dev(device, b), eps=1e-5,
    )  # fmt: skip
    ref = torch.nn.functional.batch_norm(x, mean.flatten(), var.flatten(), w.flatten(), b.flatten(), eps=1e-5)
    torch.testing.assert_close(_host(out), ref, rtol=1e-5, atol=1e-5)
    rm, rv = _dev(device, mean), _dev(device, var)
    trained = ttnn.batch_norm(_dev(device, x), running_mean=rm, running_var=rv, training=True, momentum=0.2)
    ref_mean, ref_var = mean.flatten().clone(), var.flatten().clone()
    ref = torch.nn.functional.batch_norm(x, ref_mean, ref_var, training=True, momentum=0.2)
    torch.testing.assert_close(_host(trained), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_host(rm).flatten(), ref_mean)
    torch.testing.assert_close(_host(rv).flatten(), ref_var)
    with pytest.raises(TTFatal, match="running_mean and running_var must be defined in evaluation mode"):
        ttnn.batch_norm(_dev(device, x))


def test_addmm_and_head_helpers(device):
    a, m1, m2 = torch.randn(1, 1, 32, 64), torch.randn(1, 1, 32, 32), torch.randn(1, 1, 32, 64)
    out = ttnn.addmm(
        _dev(device, a, ttnn.bfloat16),
        _dev(device, m1, ttnn.bfloat16),
        _dev(device, m2, ttnn.bfloat16),
        alpha=0.5,
        beta=2.0,
    )
    ref = 2.0 * a.bfloat16().float() + 0.5 * (m1.bfloat16().float() @ m2.bfloat16().float())
    assert ttnn.pearson_correlation_coefficient(ref, out) > 0.999
    fused = torch.randn(2, 32, (4 + 2 * 2) * 32)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        _dev(device, fused, ttnn.bfloat16), num_heads=4, num_kv_heads=2
    )
    b = fused.bfloat16().float()
    assert torch.equal(_host(q).float(), b[..., :128].reshape(2, 32, 4, 32).permute(0, 2, 1, 3))
    assert torch.equal(_host(k).float(), b[..., 128:192].reshape(2, 32, 2, 32).permute(0, 2, 3, 1))
    assert torch.equal(_host(v).float(), b[..., 192:].reshape(2, 32, 2, 32).permute(0, 2, 1, 3))
    merged = ttnn.transformer.concatenate_heads(q)
    assert torch.equal(_host(merged).float(), b[..., :128])
    scores = torch.randn(2, 4, 32, 64)
    probs = ttnn.transformer.attention_softmax(_dev(device, scores), head_size=64)
    torch.testing.assert_close(_host(probs), torch.softmax(scores / 8.0, -1), rtol=1e-5, atol=1e-6)


def test_random_ops_draw_from_their_distribution(device):
    r = ttnn.rand([1, 1, 64, 64], device, low=-2.0, high=3.0, seed=11, dtype=ttnn.float32)
    values = _host(r)
    assert values.min() >= -2.0 and values.max() < 3.0 and abs(float(values.mean()) - 0.5) < 0.1
    assert torch.equal(
        _host(ttnn.rand([1, 1, 64, 64], device, low=-2.0, high=3.0, seed=11, dtype=ttnn.float32)), values
    )
    n = _host(ttnn.randn([1, 1, 128, 128], device, seed=5, dtype=ttnn.float32))
    assert abs(float(n.mean())) < 0.05 and abs(float(n.std()) - 1.0) < 0.05
    t = _dev(device, torch.zeros(1, 1, 32, 32))
    assert ttnn.uniform(t, 4.0, 5.0) is t
    assert float(_host(t).min()) >= 4.0 and float(_host(t).max()) < 5.0
    assert sim.stats(device).ops_by_name["uniform"] == 1


def test_host_helpers():
    assert ttnn.element_size(ttnn.bfloat16) == 2 and ttnn.element_size(ttnn.float32) == 4
    assert ttnn.tile_size(ttnn.bfloat8_b) == 1088 and ttnn.tile_size(ttnn.bfloat16) == 2048
    with pytest.raises(ValueError, match="datum for bfp2, bfp4, bfp8 is invalid"):
        ttnn.element_size(ttnn.bfloat8_b)
    t = ttnn.from_torch(torch.randn(1, 2, 3, 5), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    assert ttnn.has_tile_padding(t) and not ttnn.has_tile_padding(t, dim=1)
    assert ttnn.unsqueeze_to_4D(ttnn.from_torch(torch.randn(3, 5))).shape == [1, 1, 3, 5]
    converted = ttnn.to_dtype(ttnn.from_torch(torch.randn(2, 3), dtype=ttnn.bfloat16), ttnn.float32)
    assert converted.dtype == ttnn.float32 and converted.layout == ttnn.ROW_MAJOR_LAYOUT
    assert repr(ttnn.QueueId(1)) == "QueueId(1)" and ttnn.GeluVariant.Tanh.name == "Tanh"


def test_fold_is_space_to_depth(device):
    x = torch.randn(2, 6, 8, 16)
    rm = _dev(device, x, layout=ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.fold(rm, 2, 2, padding=[1, 0])
    padded = torch.nn.functional.pad(x, (0, 0, 0, 0, 1, 1))
    ref = padded.reshape(2, 4, 2, 4, 2, 16).permute(0, 1, 3, 2, 4, 5).reshape(2, 4, 4, 64)
    assert torch.equal(_host(out), ref)
    flat = ttnn.fold(rm, 2, 4, collapse_output=True)
    assert flat.shape == [1, 1, 2 * 3 * 2, 128]
    with pytest.raises(
        TTFatal, match=r"fold: padded height 6 and width 8 must be divisible by stride \(4, 2\)"
    ):
        ttnn.fold(rm, 4, 2)


def test_index_fill_indexed_fill_and_bcast(device):
    x = _dev(device, X)
    idx = ttnn.from_torch(torch.tensor([0, 7, 63]), dtype=ttnn.uint32, device=device)
    assert torch.equal(
        _host(ttnn.index_fill(x, 3, idx, -4.0)), torch.index_fill(X, 3, torch.tensor([0, 7, 63]), -4.0)
    )
    a, b = torch.randn(3, 1, 32, 32), torch.randn(2, 1, 32, 32)
    ids = ttnn.from_torch(torch.tensor([2, 0]), dtype=ttnn.uint32, device=device)
    filled = _host(ttnn.indexed_fill(ids, _dev(device, a), _dev(device, b)))
    assert torch.equal(filled[2], b[0]) and torch.equal(filled[0], b[1]) and torch.equal(filled[1], a[1])
    y = _dev(device, Y)
    assert torch.equal(_host(ttnn.bcast(x, y, ttnn.BcastOpMath.ADD, ttnn.BcastOpDim.H)), X + Y[..., :1, :])
    assert torch.equal(_host(ttnn.bcast(x, y, ttnn.BcastOpMath.MUL, ttnn.BcastOpDim.W)), X * Y[..., :1])
    assert torch.equal(_host(ttnn.bcast(x, y, ttnn.BcastOpMath.SUB, ttnn.BcastOpDim.HW)), X - Y[..., :1, :1])


def test_quantization_round_trip(device):
    x = _dev(device, X)
    q = ttnn.quantize(x, 0.05, 3)
    assert q.dtype == ttnn.int32 and torch.equal(_host(q), torch.round(X / 0.05 + 3).to(torch.int32))
    d = ttnn.dequantize(q, 0.05, 3)
    assert d.dtype == ttnn.bfloat16
    expected_d = ((torch.round(X / 0.05 + 3) - 3) * 0.05).to(torch.bfloat16)
    assert torch.equal(_host(d), expected_d)  # (q - zero_point) * scale, rounded once to bfloat16
    r = ttnn.requantize(q, 0.05, 3, 0.1, -2)
    expected = torch.round((torch.round(X / 0.05 + 3) - 3) * 0.5 - 2).to(torch.int32)
    assert torch.equal(_host(r), expected)
    scales = POS[0, 0, 0]
    per_axis = ttnn.quantize(x, _dev(device, scales), 0, axis=3)
    assert torch.equal(_host(per_axis), torch.round(X / scales).to(torch.int32))
    with pytest.raises(
        TTFatal, match=r"quantize: a per-axis scale / zero point needs 64 values \(axis 3\), got 32"
    ):
        ttnn.quantize(x, _dev(device, scales[:32]), 0, axis=3)


def test_reshard_needs_sharded_tensors(device):
    x = _dev(device, X)
    with pytest.raises(TTFatal, match="reshard: input tensor must be sharded"):
        ttnn.reshard(x, ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


@pytest.mark.parametrize("rms", [False, True])
def test_distributed_norm_over_two_halves_equals_the_whole_norm(device, rms):
    x = torch.randn(1, 1, 32, 128)
    gamma = torch.randn(1, 1, 1, 128)
    halves = [_dev(device, h) for h in x.chunk(2, dim=-1)]
    pre = ttnn.rms_norm_pre_all_gather if rms else ttnn.layer_norm_pre_all_gather
    post = ttnn.rms_norm_post_all_gather if rms else ttnn.layer_norm_post_all_gather
    stats = [pre(h, dtype=ttnn.float32) for h in halves]
    assert stats[0].shape == [1, 1, 32, 32 if rms else 64]
    gathered = ttnn.concat(stats, dim=-1)  # what the all-gather between the two devices delivers
    outs = [
        post(h, gathered, epsilon=1e-5, weight=_dev(device, g))
        for h, g in zip(halves, gamma.chunk(2, -1), strict=True)
    ]
    whole = torch.cat([_host(o) for o in outs], dim=-1)
    if rms:
        ref = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-5) * gamma
    else:
        ref = torch.nn.functional.layer_norm(x, (128,), eps=1e-5) * gamma
    torch.testing.assert_close(whole, ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(TTFatal, match="stats width"):
        post(halves[0], _dev(device, torch.zeros(1, 1, 32, 48)))


def test_bitcast_snake_beta_scatter_add_and_norm_configs(device):
    x = _dev(device, X)
    as_int = ttnn.bitcast(x, ttnn.int32)
    assert as_int.dtype == ttnn.int32 and torch.equal(_host(as_int), X.view(torch.int32))
    assert torch.equal(_host(ttnn.bitcast(as_int, ttnn.float32)), X)
    with pytest.raises(TTFatal, match="bitcast: input and output dtypes must have the same bit width"):
        ttnn.bitcast(x, ttnn.uint16)
    alpha, beta = torch.rand(1, 1, 1, 64) + 0.5, torch.rand(1, 1, 1, 64) + 0.5
    out = ttnn.snake_beta(x, _dev(device, alpha), _dev(device, beta))
    torch.testing.assert_close(_host(out), X + torch.sin(alpha * X) ** 2 / beta)
    idx = torch.randint(0, 64, (1, 1, 32, 16), generator=G)
    src = torch.randn(1, 1, 32, 16, generator=G)
    added = ttnn.scatter_add(x, 3, _dev(device, idx, ttnn.uint32), _dev(device, src))
    torch.testing.assert_close(_host(added), torch.scatter_add(X, 3, idx, src))
    config = ttnn.layernorm_default_compute_config(ttnn.Arch.WORMHOLE_B0)  # probed on ttnn 0.81.1
    assert (
        config.math_fidelity == ttnn.MathFidelity.HiFi4
        and config.fp32_dest_acc_en
        and not config.math_approx_mode
    )
    rms = ttnn.rmsnorm_default_compute_config(ttnn.Arch.BLACKHOLE)
    assert rms.math_approx_mode and not rms.fp32_dest_acc_en
    with pytest.raises(TTFatal, match="padding_mode Replicate is not modelled"):
        ttnn.conv2d(
            input_tensor=_dev(device, torch.randn(1, 1, 16, 32), ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT),
            weight_tensor=ttnn.from_torch(torch.randn(32, 32, 3, 3), dtype=ttnn.bfloat16), device=device,
            in_channels=32, out_channels=32, batch_size=1, input_height=4, input_width=4, kernel_size=(3, 3),
            conv_config=ttnn.Conv2dConfig(padding_mode=ttnn.PaddingMode.Replicate),
        )  # fmt: skip
