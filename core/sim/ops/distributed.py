"""Mesh mappers / composers and per-chip views (ttnn/ttnn/distributed/distributed.py and the C++
distributed_tensor API of tt-metal).

A mapper turns one torch tensor into one torch tensor per chip (row-major over the mesh); a composer does the
reverse. Tensors on a mesh hold one value per chip (`Tensor._chips`) and every op runs once per chip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .. import rules
from ..runtime import Device, MeshDevice, chips
from ..tensor import Tensor
from ..types import MeshShape, positional_init

__all__ = [
    "ConcatMesh2dToTensor",
    "ConcatMeshToTensor",
    "CppMeshToTensor",
    "CppTensorToMesh",
    "MeshComposerConfig",
    "MeshMapperConfig",
    "MeshToTensor",
    "PlacementReplicate",
    "PlacementShard",
    "ReplicateTensorToMesh",
    "ReplicateTensorToMeshWrapper",
    "ShardTensor2dMesh",
    "ShardTensorToMesh",
    "TensorToMesh",
    "concat_mesh_to_tensor_composer",
    "create_mesh_composer",
    "create_mesh_mapper",
    "get_device_tensors",
    "replicate_tensor_to_mesh_mapper",
    "shard_tensor_to_mesh_mapper",
]


@dataclass(frozen=True)
class PlacementReplicate:
    """ttnn.PlacementReplicate(): the same tensor on every chip along one mesh dimension."""


@positional_init
@dataclass(frozen=True)
class PlacementShard:
    """ttnn.PlacementShard(dim): tensor dim `dim` split evenly along one mesh dimension."""

    dim: int


@dataclass
class MeshMapperConfig:
    """ttnn.MeshMapperConfig([placement per mesh dim], mesh_shape_override=None)."""

    placements: Sequence[PlacementReplicate | PlacementShard]
    mesh_shape_override: MeshShape | None = None


@dataclass
class MeshComposerConfig:
    """ttnn.MeshComposerConfig([tensor dim per mesh dim], mesh_shape_override=None)."""

    dims: Sequence[int]
    mesh_shape_override: MeshShape | None = None


def _grid(mesh_device: MeshDevice, override: MeshShape | None) -> tuple[int, int]:
    shape = override or mesh_device.shape
    rules.require(
        shape.num_devices == mesh_device.get_num_devices(),
        f"mesh shape {tuple(shape)} does not cover the {mesh_device.get_num_devices()} devices of the mesh",
    )
    return shape[0], shape[1]


class CppTensorToMesh:
    """A mapper: one torch tensor -> one torch tensor per chip, chips in row-major mesh order."""

    def __init__(self, mesh_device: MeshDevice, config: MeshMapperConfig):
        self.mesh_device = mesh_device
        self.config = config
        rules.require(len(config.placements) == 2, "MeshMapperConfig needs one placement per mesh dimension")

    def map(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        rows, cols = _grid(self.mesh_device, self.config.mesh_shape_override)
        per_row = _split(tensor, self.config.placements[0], rows)
        pieces = [_split(row, self.config.placements[1], cols) for row in per_row]
        return [p for row in pieces for p in row]


def _split(
    tensor: torch.Tensor, placement: PlacementReplicate | PlacementShard, parts: int
) -> list[torch.Tensor]:
    if isinstance(placement, PlacementReplicate):
        return [tensor] * parts
    size = tensor.shape[placement.dim]
    rules.require(
        size % parts == 0,
        f"shard_tensor_to_mesh_mapper: dim {placement.dim} of size {size} does not split evenly over {parts} devices",
    )
    return [c.contiguous() for c in torch.chunk(tensor, parts, dim=placement.dim)]


class CppMeshToTensor:
    """A composer: per-chip torch tensors -> one torch tensor, concatenated along the configured dims."""

    def __init__(self, mesh_device: MeshDevice, config: MeshComposerConfig):
        self.mesh_device = mesh_device
        self.config = config

    def compose(self, shards: Sequence[torch.Tensor]) -> torch.Tensor:
        dims = list(self.config.dims)
        if len(dims) == 1:
            return torch.cat(list(shards), dim=dims[0])
        rows, cols = _grid(self.mesh_device, self.config.mesh_shape_override)
        row_tensors = [torch.cat(list(shards[r * cols : (r + 1) * cols]), dim=dims[1]) for r in range(rows)]
        return torch.cat(row_tensors, dim=dims[0])


TensorToMesh = CppTensorToMesh
MeshToTensor = CppMeshToTensor


class ReplicateTensorToMeshWrapper:
    """Marks a replicating mapper made by ReplicateTensorToMesh (as_tensor caches those unsharded)."""

    def __init__(self, mapper: CppTensorToMesh):
        self._mapper = mapper

    def unwrap(self) -> CppTensorToMesh:
        return self._mapper


def create_mesh_mapper(mesh_device: MeshDevice, config: MeshMapperConfig) -> CppTensorToMesh:
    return CppTensorToMesh(mesh_device, config)


def create_mesh_composer(mesh_device: MeshDevice, config: MeshComposerConfig) -> CppMeshToTensor:
    return CppMeshToTensor(mesh_device, config)


def replicate_tensor_to_mesh_mapper(mesh_device: MeshDevice) -> CppTensorToMesh:
    return create_mesh_mapper(mesh_device, MeshMapperConfig([PlacementReplicate(), PlacementReplicate()]))


def shard_tensor_to_mesh_mapper(mesh_device: MeshDevice, dim: int) -> CppTensorToMesh:
    """Split `dim` over all chips of the mesh (seen as one row of chips)."""
    n = mesh_device.get_num_devices()
    return create_mesh_mapper(
        mesh_device, MeshMapperConfig([PlacementReplicate(), PlacementShard(dim)], MeshShape(1, n))
    )


def concat_mesh_to_tensor_composer(mesh_device: MeshDevice, dim: int) -> CppMeshToTensor:
    return create_mesh_composer(mesh_device, MeshComposerConfig([dim]))


def ReplicateTensorToMesh(mesh_device: MeshDevice) -> ReplicateTensorToMeshWrapper:  # noqa: N802 (ttnn's name)
    return ReplicateTensorToMeshWrapper(replicate_tensor_to_mesh_mapper(mesh_device))


def ShardTensorToMesh(mesh_device: MeshDevice, dim: int) -> CppTensorToMesh:  # noqa: N802
    return shard_tensor_to_mesh_mapper(mesh_device, dim)


def ConcatMeshToTensor(mesh_device: MeshDevice, dim: int) -> CppMeshToTensor:  # noqa: N802
    return concat_mesh_to_tensor_composer(mesh_device, dim)


def ShardTensor2dMesh(  # noqa: N802
    mesh_device: MeshDevice, mesh_shape: tuple[int, int], dims: tuple[int | None, int | None]
) -> CppTensorToMesh:
    placements = [PlacementReplicate() if d is None else PlacementShard(d) for d in dims]
    return create_mesh_mapper(mesh_device, MeshMapperConfig(placements, MeshShape(*mesh_shape)))


def ConcatMesh2dToTensor(  # noqa: N802
    mesh_device: MeshDevice, mesh_shape: tuple[int, int], dims: tuple[int, int]
) -> CppMeshToTensor:
    return create_mesh_composer(mesh_device, MeshComposerConfig(list(dims), MeshShape(*mesh_shape)))


def get_device_tensors(tensor: Tensor) -> list[Tensor]:
    """One tensor per chip. On device they are views on the chip's buffer (freed with the mesh tensor)."""
    device = tensor.device()
    if device is None:
        return [Tensor([v], tensor.dtype, tensor.layout, None, tensor._memory_config) for v in tensor._chips]
    rules.require_allocated(tensor, "get_device_tensors")
    targets: list[Device] = chips(device)
    return [
        Tensor([v], tensor.dtype, tensor.layout, chip, tensor.memory_config(), [b])
        for v, chip, b in zip(tensor._chips, targets, tensor._buffers, strict=True)
    ]
