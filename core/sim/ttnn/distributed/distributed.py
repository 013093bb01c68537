"""ttnn.distributed.distributed on the simulator (ttnn/ttnn/distributed/distributed.py): model code imports
the mesh mapper / composer classes from here (`from ttnn.distributed.distributed import ConcatMeshToTensor`)."""

# ruff: noqa: F401 (every import here is a re-export)

from ...ops.device import (
    close_mesh_device,
    create_mesh_device,
    get_num_devices,
    get_num_pcie_devices,
    open_mesh_device,
)
from ...ops.distributed import (
    ConcatMesh2dToTensor,
    ConcatMeshToTensor,
    MeshToTensor,
    ReplicateTensorToMesh,
    ReplicateTensorToMeshWrapper,
    ShardTensor2dMesh,
    ShardTensorToMesh,
    TensorToMesh,
)
from ...runtime import MeshDevice
from ...types import DispatchCoreType
