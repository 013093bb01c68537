"""ttnn.distributed on the simulator: the names ttnn/ttnn/distributed/__init__.py re-exports from its
`distributed` module (mesh devices, mappers and composers)."""

# ruff: noqa: F401 (every import here is a re-export)

from .distributed import (
    ConcatMesh2dToTensor,
    ConcatMeshToTensor,
    DispatchCoreType,
    MeshDevice,
    MeshToTensor,
    ReplicateTensorToMesh,
    ReplicateTensorToMeshWrapper,
    ShardTensor2dMesh,
    ShardTensorToMesh,
    TensorToMesh,
    close_mesh_device,
    create_mesh_device,
    get_num_devices,
    get_num_pcie_devices,
    open_mesh_device,
)
