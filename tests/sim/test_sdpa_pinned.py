"""scaled_dot_product_attention's values pinned bit for bit across its speed work.

The expected digests were computed by the simulator at commit 6d6cb87, before the SDPA loop was restructured
(operands prepared once per K chunk and query block, score buffers reused, zero head-dim columns left out of
the products, smaller query blocks). Every case below must give the same bits as then: the restructuring
changes the speed, never a value. The inputs cover what the fast paths special-case: zero-padded head dims
(Q/K columns dropped from Q K^T, V columns from P V) including NaN / inf inputs and a negative scale, rows
whose keys are all masked (NaN outputs), K not a multiple of the chunk, grouped-query heads, causal and
sliding-window masks, every fidelity with a 16- and a 32-bit Dst, the approximate exp, block-float inputs,
exact numerics.

The digests hold for torch 2.13.0's CPU build (MKL BLAS), the project's pinned torch: another BLAS may sum a
float32 product in another order, which moves last bits of the scores and so some outputs. Regenerate them
from commit 6d6cb87 (`_digests()` below) only for such a toolchain change.
"""

from __future__ import annotations

import hashlib
import zlib

import pytest
import torch

from ttport.sim import ttnn
from ttport.sim.numerics import mode

H2, H3, H4, LO = (
    ttnn.MathFidelity.HiFi2,
    ttnn.MathFidelity.HiFi3,
    ttnn.MathFidelity.HiFi4,
    ttnn.MathFidelity.LoFi,
)


def _program(chunk_q: int, chunk_k: int, exp_approx: bool) -> ttnn.SDPAProgramConfig:
    return ttnn.SDPAProgramConfig(
        compute_with_storage_grid_size=(8, 8),
        q_chunk_size=chunk_q,
        k_chunk_size=chunk_k,
        exp_approx_mode=exp_approx,
    )


def _compute(
    fidelity: ttnn.MathFidelity, fp32: bool, approx: bool = False
) -> ttnn.WormholeComputeKernelConfig:
    return ttnn.WormholeComputeKernelConfig(
        math_fidelity=fidelity, math_approx_mode=approx, fp32_dest_acc_en=fp32, packer_l1_acc=False
    )


def _nan_q(x: torch.Tensor) -> None:
    x[0, 0, 5, 3] = float("nan")


def _huge_k(x: torch.Tensor) -> None:
    x[0, 0, 7, :20] = 3e38


def _inf_k(x: torch.Tensor) -> None:
    x[0, 1, 9, 2] = float("inf")


# name -> (shape (b, heads, kv heads, sq, sk, head dim, zero columns at the end of the head dim),
#          mask (mask heads, kind) or None, (q, k, v) edits, keyword arguments of the op)
CASES = {
    "default_causal": ((1, 4, 4, 128, 128, 64, 0), None, None, {}),
    "default_gqa": ((2, 4, 2, 96, 96, 64, 0), None, None, {"is_causal": False}),
    "k_not_a_chunk_multiple": ((1, 2, 1, 50, 50, 32, 0), None, None, {}),
    "gemma3_like": (
        (1, 4, 4, 256, 256, 96, 24),
        None,
        None,
        {"is_causal": False, "program_config": (64, 64, False), "compute": (H4, True), "scale": 72**-0.5},
    ),
    "mask_one_head": (
        (2, 4, 4, 128, 128, 64, 0),
        (1, "pad+bias"),
        None,
        {"is_causal": False, "program_config": (32, 32, False), "compute": (H4, True)},
    ),
    "mask_every_head": (
        (2, 4, 4, 64, 128, 64, 0),
        (4, "pad+bias"),
        None,
        {"is_causal": False, "program_config": (32, 64, False), "compute": (H4, True)},
    ),
    "dead_rows_fp32": (
        (1, 2, 2, 64, 64, 64, 10),
        (1, "dead rows"),
        None,
        {"is_causal": False, "program_config": (32, 32, False), "compute": (H4, True)},
    ),
    "dead_rows_bf16_dst": ((1, 2, 2, 64, 64, 64, 10), (2, "dead rows"), None, {"is_causal": False}),
    "padded_bf16_dst": ((1, 4, 4, 64, 64, 96, 24), None, None, {"is_causal": False}),
    "padded_bf16_dst_huge": ((1, 4, 4, 64, 64, 96, 24), None, (None, _huge_k, None), {"is_causal": False}),
    "padded_hifi2_mask_nan": (
        (2, 4, 4, 64, 128, 96, 24),
        (1, "pad+bias"),
        (_nan_q, None, None),
        {"is_causal": False, "program_config": (32, 64, False), "compute": (H2, True)},
    ),
    "padded_hifi3_inf": (
        (1, 2, 2, 64, 64, 96, 30),
        None,
        (None, _inf_k, None),
        {"is_causal": False, "program_config": (32, 32, False), "compute": (H3, True)},
    ),
    "padded_lofi_approx": (
        (1, 2, 2, 64, 64, 96, 30),
        None,
        None,
        {"is_causal": False, "program_config": (32, 32, True), "compute": (LO, True, True)},
    ),
    "padded_negative_scale_inf": (
        (1, 2, 2, 64, 64, 64, 16),
        None,
        (None, _inf_k, None),
        {"is_causal": False, "scale": -0.2, "program_config": (32, 32, False), "compute": (H4, True)},
    ),
    "padded_nan_v": (
        (1, 4, 4, 256, 256, 96, 24),
        None,
        (None, None, _nan_q),
        {"is_causal": False, "program_config": (64, 64, False), "compute": (H4, True), "scale": 72**-0.5},
    ),
    "padded_gqa_sliding_causal": (
        (1, 8, 2, 128, 128, 64, 8),
        None,
        None,
        {"sliding_window_size": 40, "program_config": (32, 32, False), "compute": (H4, True)},
    ),
    "sliding_not_causal": (
        (1, 4, 4, 128, 128, 32, 0),
        None,
        None,
        {"is_causal": False, "sliding_window_size": 48},
    ),
    "bfloat8_b": ((1, 2, 2, 64, 64, 96, 24), None, None, {"is_causal": False, "dtype": "bfloat8_b"}),
}
EXACT_CASES = ("k_not_a_chunk_multiple", "dead_rows_fp32", "mask_every_head")

EXPECTED = {
    "default_causal": "9325ec80cb92c4b2ec2d",
    "default_gqa": "691c311171356a826d38",
    "k_not_a_chunk_multiple": "338783702940599e5c60",
    "gemma3_like": "dcff40eb50eaf745bdb1",
    "mask_one_head": "cb849a39126dfd5e5fe9",
    "mask_every_head": "5de0e4f5d113ccacda83",
    "dead_rows_fp32": "f0e3074b2cc94b558aaf",
    "dead_rows_bf16_dst": "808bff859d85df1d075e",
    "padded_bf16_dst": "39eba8254e117f0e5630",
    "padded_bf16_dst_huge": "dd9d08f1ecf39c3cd78d",
    "padded_hifi2_mask_nan": "19c9883179f336b953ff",
    "padded_hifi3_inf": "2cd74ee65b9d142eb34d",
    "padded_lofi_approx": "fc4b9fd49ad8b810c34c",
    "padded_negative_scale_inf": "fd669dfe7c526306d745",
    "padded_nan_v": "297eafa647f2b3870dff",
    "padded_gqa_sliding_causal": "8dffc8b014c8edbb835c",
    "sliding_not_causal": "6b594cd4fe8d063ab760",
    "bfloat8_b": "1aa2830901bd793f5690",
    "exact k_not_a_chunk_multiple": "b6b3124a1e8b9a2e0477",
    "exact dead_rows_fp32": "249fd9ea2bef485e89a9",
    "exact mask_every_head": "20fd8a71c98cdb3bc99f",
}


def _inputs(device, name: str):
    (b, nh, nkv, sq, sk, d, pad), mask_spec, edits, kwargs = CASES[name]
    kwargs = dict(kwargs)
    dtype = getattr(ttnn, kwargs.pop("dtype", "bfloat16"))
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    tensors = []
    for heads, seq, edit in zip((nh, nkv, nkv), (sq, sk, sk), edits or (None, None, None), strict=True):
        x = torch.randn(b, heads, seq, d, generator=generator) * 1.5
        if pad:
            x[..., d - pad :] = 0
        if edit is not None:
            edit(x)
        tensors.append(ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device))
    if mask_spec is not None:
        heads, kind = mask_spec
        mask = torch.zeros(b, heads, sq, sk)
        if kind == "pad+bias":
            mask[..., sk - sk // 5 :] = float("-inf")
            mask += torch.randn(b, heads, sq, sk, generator=generator) * 2
        else:  # dead rows: every key masked
            mask[..., :3, :] = float("-inf")
            mask[..., 5:9, : sk // 2] = -1e9
        kwargs["attn_mask"] = ttnn.from_torch(
            mask, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
        )
    if "program_config" in kwargs:
        kwargs["program_config"] = _program(*kwargs["program_config"])
    if "compute" in kwargs:
        kwargs["compute_kernel_config"] = _compute(*kwargs.pop("compute"))
    return tensors, kwargs


def _digest(device, name: str) -> str:
    (q, k, v), kwargs = _inputs(device, name)
    out = ttnn.to_torch(ttnn.transformer.scaled_dot_product_attention(q, k, v, **kwargs)).float()
    return hashlib.sha256(out.contiguous().view(torch.int32).numpy().tobytes()).hexdigest()[:20]


def _digests(device) -> dict[str, str]:
    """Every case's digest under the current code (how EXPECTED was made, at commit 6d6cb87)."""
    digests = {name: _digest(device, name) for name in CASES}
    with mode.numerics_mode("exact"):
        digests.update({f"exact {name}": _digest(device, name) for name in EXACT_CASES})
    return digests


@pytest.mark.parametrize("name", list(CASES))
def test_sdpa_values_are_pinned(device, name):
    assert _digest(device, name) == EXPECTED[name]


@pytest.mark.parametrize("name", EXACT_CASES)
def test_sdpa_values_are_pinned_in_exact_mode(device, name):
    with mode.numerics_mode("exact"):
        assert _digest(device, name) == EXPECTED[f"exact {name}"]


@pytest.mark.parametrize("fp32_dest", [False, True])
def test_scores_plus_mask_are_rounded_to_bfloat16(device, fp32_dest):
    """Every score is exactly 64.0; the second half of the keys (the second K chunk) gets a mask of 0.2421875,
    under half a bfloat16 ULP at 64 (0.5). Scores + mask go to Dst and are packed to bfloat16 before the
    softmax, so they are all 64.0 again and the output equals the unmasked one (0.5, the mean of V), with a
    16-bit Dst as with a 32-bit one. Left unrounded, the first chunk would be rescaled by exp(-0.242) = 0.785
    and the output would be 0.56."""
    sq, sk, d = 32, 64, 32
    q, k = torch.zeros(1, 1, sq, d), torch.zeros(1, 1, sk, d)
    q[..., 0], k[..., 0] = 8.0, 8.0
    v = torch.zeros(1, 1, sk, d)
    v[..., sk // 2 :, :] = 1.0
    mask = torch.zeros(1, 1, sq, sk)
    mask[..., sk // 2 :] = 0.2421875

    def sdpa(attn_mask: torch.Tensor | None) -> torch.Tensor:
        args = [
            ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device) for x in (q, k, v)
        ]
        if attn_mask is not None:
            attn_mask = ttnn.from_torch(
                attn_mask, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
            )
        out = ttnn.transformer.scaled_dot_product_attention(
            *args,
            is_causal=False,
            attn_mask=attn_mask,
            scale=1.0,
            compute_kernel_config=_compute(H4, fp32_dest),
        )
        return ttnn.to_torch(out).float()

    unmasked = sdpa(None)
    assert torch.equal(unmasked, torch.full_like(unmasked, 0.5))
    assert torch.equal(sdpa(mask), unmasked)


@pytest.mark.parametrize(("board", "arch"), [("n150", "wormhole_b0"), ("p150", "blackhole")])
def test_exact_mode_products_use_the_board_fpu(open_board, monkeypatch, board, arch):
    """Exact mode's MVMUL model differs by architecture (Wormhole's -1 normalisation quirk): SDPA's Q K^T and
    P V products run the model of the device's own chip."""
    from ttport.sim.numerics import fpu

    device = open_board(board)
    seen: list[str] = []
    real = fpu.matmul_dst

    def spy(*args, **kwargs):
        seen.append(kwargs.get("arch", "wormhole_b0"))
        return real(*args, **kwargs)

    monkeypatch.setattr(fpu, "matmul_dst", spy)
    q, k, v = (
        ttnn.from_torch(torch.randn(1, 1, 32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        for _ in range(3)
    )
    with mode.numerics_mode(mode.EXACT):
        ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert len(seen) == 2 and set(seen) == {arch}
