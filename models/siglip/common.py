"""What the SigLIP modules share: compute-kernel configs, the token-sequence plan (tile padding and SDPA
chunking) and the conversion of reference weights to device tensors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.errors import UserError
from ttport.weights import linear_bias, to_device
from ttport.weights import linear_weight as transposed_linear_weight

TILE = 32


class ImageInputError(UserError, ValueError):
    """Images the tower cannot take (rank, channels, size, dtype): a user error, raised before device work."""


def validate_images(pixel_values: Any, num_channels: int, image_size: int) -> None:
    """[B, C, H, W] floating-point torch images of the configured size, else ImageInputError."""
    if not isinstance(pixel_values, torch.Tensor):
        raise ImageInputError(f"pixel_values must be a torch.Tensor, got {type(pixel_values).__name__}")
    if not pixel_values.is_floating_point():
        raise ImageInputError(f"pixel_values must be a floating-point tensor, got dtype {pixel_values.dtype}")
    if pixel_values.dim() != 4:
        raise ImageInputError(
            f"pixel_values must have rank 4 [batch, channels, height, width], got shape {list(pixel_values.shape)}"
        )
    _, channels, height, width = pixel_values.shape
    if channels != num_channels:
        raise ImageInputError(
            f"pixel_values has {channels} channels, the vision tower expects {num_channels}"
        )
    if (height, width) != (image_size, image_size):
        raise ImageInputError(
            f"pixel_values images are {height}x{width}, the vision tower expects {image_size}x{image_size}"
        )
    if pixel_values.shape[0] == 0:
        raise ImageInputError("pixel_values holds no image (batch size 0)")


@dataclass(frozen=True)
class SequencePlan:
    """Token sequence on device: `num_tokens` real tokens padded to `padded_len`, a multiple of both SDPA
    chunk sizes (sdpa_device_operation.cpp: the sequence length must be divisible by q/k_chunk_size, and
    the chunks by the tile width). Padded keys are masked; padded rows are dropped at the tower's end."""

    num_tokens: int
    padded_len: int
    q_chunk_size: int
    k_chunk_size: int

    @property
    def is_padded(self) -> bool:
        return self.padded_len != self.num_tokens


def plan_sequence(
    num_tokens: int, q_chunk_size: int | None = None, k_chunk_size: int | None = None
) -> SequencePlan:
    """Chunk sizes chosen from the sequence length unless given: the tt_transformers prefill bands (256 from
    2048 tokens, 128 keys from 512, else 64), halved until they divide the tile-padded length so that no
    padding beyond the tile is added (256 tokens -> 64/64, Gemma3's 4096 -> 256/256)."""
    if q_chunk_size is None or k_chunk_size is None:
        tiled = math.ceil(num_tokens / TILE) * TILE
        base_q, base_k = (256, 256) if tiled >= 2048 else (64, 128) if tiled >= 512 else (64, 64)
        q_chunk_size = q_chunk_size or _largest_dividing_chunk(base_q, tiled)
        k_chunk_size = k_chunk_size or _largest_dividing_chunk(base_k, tiled)
    for name, chunk in (("q_chunk_size", q_chunk_size), ("k_chunk_size", k_chunk_size)):
        if chunk <= 0 or chunk % TILE:
            raise ValueError(f"{name} must be a positive multiple of {TILE}, got {chunk}")
    step = math.lcm(q_chunk_size, k_chunk_size)
    return SequencePlan(num_tokens, math.ceil(num_tokens / step) * step, q_chunk_size, k_chunk_size)


def _largest_dividing_chunk(base: int, length: int) -> int:
    chunk = base
    while chunk > TILE and length % chunk:
        chunk //= 2
    return chunk


def matmul_compute_config(weights_dtype: Any) -> Any:
    """HiFi4 for bfloat16 weights (all four multiplier phases: exact bf16 products), HiFi2 for bfloat8_b
    weights (their 7-bit mantissas need only phases 0-1, TTNN_FACTS §4); fp32 accumulation in Dst."""
    fidelity = ttnn.MathFidelity.HiFi2 if weights_dtype == ttnn.bfloat8_b else ttnn.MathFidelity.HiFi4
    return ttnn.WormholeComputeKernelConfig(
        math_fidelity=fidelity, math_approx_mode=False, fp32_dest_acc_en=True, packer_l1_acc=True
    )


def precise_compute_config() -> Any:
    """Layer norm and SDPA: HiFi4, exact exp/reciprocal, fp32 accumulation."""
    return ttnn.WormholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi4,
        math_approx_mode=False,
        fp32_dest_acc_en=True,
        packer_l1_acc=False,
    )


def to_device_weight(name: str, tensor: torch.Tensor, device: Any, dtype: Any = None) -> Any:
    """A prepared host tensor -> TILE tensor in DRAM (bfloat16 unless `dtype`), through the weight cache
    under `name`, its full parameter path (ttport.weights.to_device)."""
    return to_device(name, tensor.detach().float().contiguous(), device, dtype=dtype)


def row_vector(name: str, vector: torch.Tensor, device: Any) -> Any:
    """A bias or norm parameter [N] as the [1, N] bfloat16 row ttnn.linear / layer_norm take."""
    return to_device_weight(name, linear_bias(vector), device)


def linear_weight(name: str, weight: torch.Tensor, device: Any, dtype: Any = None) -> Any:
    """nn.Linear weight [out, in] -> the [in, out] operand of ttnn.linear."""
    return to_device_weight(name, transposed_linear_weight(weight), device, dtype)
