"""Names tt-metal model code uses that the simulator lacked (issue 11): minimal_matmul and its config, the
(shape, padded_shape) reshape overload, ttnn.pow with a scalar base, the ttnn.device module. Values are
checked against torch."""

from __future__ import annotations

import pytest
import torch

from ttport.sim import ttnn


@pytest.fixture
def device():
    dev = ttnn.open_device(device_id=0)
    yield dev
    ttnn.close_device(dev)


def _tile(x: torch.Tensor, device, dtype=ttnn.bfloat16) -> ttnn.Tensor:
    return ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def test_minimal_matmul_matches_linear_with_fused_activation(device) -> None:
    x, w, b = torch.randn(1, 64, 96), torch.randn(96, 128), torch.randn(1, 128)
    config = ttnn.MinimalMatmulConfig(
        M_block_size=2, K_block_size=2, N_block_size=4, subblock_h=2, subblock_w=2,
        compute_with_storage_grid_size=device.compute_with_storage_grid_size(),
    )  # fmt: skip
    out = ttnn.experimental.minimal_matmul(
        input_tensor=_tile(x, device),
        weight_tensor=_tile(w, device),
        bias_tensor=_tile(b, device),
        config=config,
        fused_activation=(ttnn.UnaryOpType.GELU, False),
    )
    expected = ttnn.linear(_tile(x, device), _tile(w, device), bias=_tile(b, device), activation="gelu")
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(expected))
    reference = torch.nn.functional.gelu(x.bfloat16().float() @ w.bfloat16().float() + b.bfloat16().float())
    assert (
        torch.corrcoef(torch.stack([ttnn.to_torch(out).float().flatten(), reference.flatten()]))[0, 1] > 0.999
    )


def test_minimal_matmul_checks(device) -> None:
    x = _tile(torch.randn(32, 64), device)
    with pytest.raises(RuntimeError, match="weight must not be batched"):
        ttnn.experimental.minimal_matmul(x, _tile(torch.randn(2, 64, 32), device))
    with pytest.raises(RuntimeError, match="must match input dtype"):
        ttnn.experimental.minimal_matmul(x, _tile(torch.randn(64, 32), device, ttnn.float32))
    bad = ttnn.MinimalMatmulConfig(M_block_size=3, K_block_size=1, N_block_size=2, subblock_h=2, subblock_w=2)
    with pytest.raises(RuntimeError, match="M_block_size % subblock_h must be 0"):
        ttnn.experimental.minimal_matmul(x, _tile(torch.randn(64, 32), device), config=bad)
    with pytest.raises(NotImplementedError, match="fuse_swiglu=True\\) is not simulated yet"):
        ttnn.experimental.minimal_matmul(x, _tile(torch.randn(64, 32), device), fuse_swiglu=True)


def test_reshape_with_padded_shape(device) -> None:
    x = torch.randn(1, 2, 77, 64)
    t = _tile(x, device)
    out = ttnn.reshape(t, (2, 77, 64), (2, 96, 64))
    assert tuple(out.shape) == (2, 77, 64) and torch.equal(
        ttnn.to_torch(out), x.bfloat16().reshape(2, 77, 64)
    )
    with pytest.raises(RuntimeError, match="does not cover logical shape"):
        ttnn.reshape(t, (2, 77, 64), (2, 64, 64))


def test_pow_with_scalar_base(device) -> None:
    exponents = torch.linspace(0, 1, 32 * 32, dtype=torch.float32).reshape(32, 32)
    out = ttnn.pow(10000.0, _tile(exponents, device, ttnn.float32))
    assert torch.allclose(ttnn.to_torch(out), torch.pow(10000.0, exponents), rtol=1e-6)


def test_device_module() -> None:
    assert ttnn.device.Arch is ttnn.Arch
    assert ttnn.device.is_wormhole_b0() and not ttnn.device.is_blackhole()
