"""Hybrid preprocessing: the parts of a vision front-end that run on the host CPU in torch, then one
`ttnn.as_tensor` upload.

A patch-embedding Conv2d whose stride equals its kernel is a matmul over non-overlapping patches. The
device cannot unfold images efficiently, so (as tt-metal's vision ports do) the host unfolds the image into
patches, flattens each patch in the conv weight's (channel, row, column) order, pads the flattened length
to a tile multiple, and the device runs `ttnn.linear` against `conv_weight_as_linear(conv.weight)`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ttport.backend import ttnn

TILE = 32


def pad_to_multiple(x: torch.Tensor, multiple: int = TILE, dim: int = -1) -> torch.Tensor:
    """Zero-pad `dim` up to the next multiple (zeros add nothing to a matmul's reduction)."""
    size = x.shape[dim]
    extra = -size % multiple
    if extra == 0:
        return x
    pad = [0, 0] * (x.dim() - 1 - (dim % x.dim())) + [0, extra]
    return F.pad(x, pad)


def unfold_patches(pixel_values: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, num_patches, C * p * p], patches in row-major order, each flattened like the
    conv weight [out, C, p, p] so that `patches @ weight.reshape(out, -1).T == conv2d(...)`."""
    batch, channels, height, width = pixel_values.shape
    if height % patch_size or width % patch_size:
        raise ValueError(f"image {height}x{width} is not a multiple of the patch size {patch_size}")
    patches = F.unfold(pixel_values, kernel_size=patch_size, stride=patch_size)  # [B, C*p*p, N]
    return patches.permute(0, 2, 1).contiguous()


def conv_weight_as_linear(weight: torch.Tensor, multiple: int = TILE) -> torch.Tensor:
    """Conv2d weight [out, C, p, p] -> linear weight [C*p*p padded to `multiple`, out] for ttnn.linear."""
    out_channels = weight.shape[0]
    return pad_to_multiple(weight.reshape(out_channels, -1).T.contiguous(), multiple, dim=0)


def patchify(pixel_values: torch.Tensor, patch_size: int, multiple: int = TILE) -> torch.Tensor:
    """Host half of the patch embedding: unfold into patches, pad the patch length to `multiple`."""
    return pad_to_multiple(unfold_patches(pixel_values.float(), patch_size), multiple)


def to_device(
    x: torch.Tensor,
    device: Any,
    *,
    dtype: Any = None,
    layout: Any = None,
    memory_config: Any = None,
    mesh_mapper: Any = None,
) -> Any:
    """The single upload of preprocessed host data (bf16 TILE in DRAM unless told otherwise)."""
    return ttnn.as_tensor(
        x,
        dtype=dtype if dtype is not None else ttnn.bfloat16,
        layout=layout if layout is not None else ttnn.TILE_LAYOUT,
        device=device,
        memory_config=memory_config if memory_config is not None else ttnn.DRAM_MEMORY_CONFIG,
        mesh_mapper=mesh_mapper,
    )


def preprocess_patches(
    pixel_values: torch.Tensor,
    patch_size: int,
    device: Any,
    *,
    dtype: Any = None,
    layout: Any = None,
    memory_config: Any = None,
    mesh_mapper: Any = None,
) -> Any:
    """[B, C, H, W] torch image -> [B, num_patches, padded C*p*p] ttnn tensor, ready for ttnn.linear."""
    return to_device(
        patchify(pixel_values, patch_size),
        device,
        dtype=dtype,
        layout=layout,
        memory_config=memory_config,
        mesh_mapper=mesh_mapper,
    )
