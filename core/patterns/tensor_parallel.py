"""Tensor parallelism over one axis of a mesh: column / row-parallel linears and head-sharded attention, the
way tt-metal's model code splits a transformer (models/tt_transformers/tt/{mlp.py,attention.py},
models/tt_dit/layers/linear.py).

- Column-parallel linear: the weight [in, out] is split along `out`; a replicated input gives every chip
  its slice of the output features (no communication).
- Row-parallel linear: the weight is split along `in`; the input is the column-parallel output, already
  split; every chip holds a partial sum of the full output, reduced by `all_reduce` (or reduce-scattered).
  A bias goes on the first chip only, zeros elsewhere, so the reduction adds it once (tt_dit's
  RowParallelLinear._prepare_torch_state).
- Head sharding: the fused q/k/v weight is laid out chip by chip, each chip holding its `num_heads / N` query
  heads and their key/value heads. With fewer key/value heads than chips (PI0's Gemmas have one), the KV
  heads are replicated: chip c takes KV head c * KV // N, as tt_transformers' attention.py does for
  n_kv_heads < num_devices.

The residual stream stays replicated: a row-parallel output is all-reduced. tt_transformers' 1xN path keeps
it fractured instead (reduce_scatter after the row-parallel matmul, all_gather before the next norm); an
all-reduce is that reduce-scatter plus that all-gather, so the bytes on the links are the same.

On one chip (`factor == 1`) every helper is the plain single-chip operation: no mapper, no collective, so a
port written against `TensorParallel` runs unchanged on a single device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.errors import UserError
from ttport.weights import to_device


def _num_devices(device: Any) -> int:
    return int(device.get_num_devices()) if hasattr(device, "get_num_devices") else 1


@dataclass(frozen=True)
class HeadLayout:
    """How a fused q/k/v projection is split over `factor` chips."""

    num_heads: int
    num_kv_heads: int
    head_dim: int
    factor: int

    def __post_init__(self) -> None:
        if self.num_heads % self.factor:
            raise UserError(
                f"{self.num_heads} attention heads cannot be split evenly over {self.factor} chips"
            )
        if self.num_kv_heads >= self.factor and self.num_kv_heads % self.factor:
            raise UserError(
                f"{self.num_kv_heads} key/value heads cannot be split evenly over {self.factor} chips"
            )
        if self.num_heads % self.num_kv_heads:
            raise UserError(f"{self.num_heads} query heads do not group over {self.num_kv_heads} KV heads")

    @property
    def local_heads(self) -> int:
        return self.num_heads // self.factor

    @property
    def local_kv_heads(self) -> int:
        """KV heads per chip: a share of them, or one replicated head when there are fewer than chips."""
        return max(1, self.num_kv_heads // self.factor)

    @property
    def kv_replicated(self) -> bool:
        return self.num_kv_heads < self.factor

    def kv_heads_of(self, chip: int) -> list[int]:
        """The reference's KV head indices chip `chip` holds."""
        if self.kv_replicated:
            return [chip * self.num_kv_heads // self.factor]
        return list(range(chip * self.local_kv_heads, (chip + 1) * self.local_kv_heads))

    def fused_qkv(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """nn.Linear weights (or biases) of q [H * d, ...], k and v [KV * d, ...] -> one [out, ...] tensor
        whose N equal row blocks are the chips' [q heads; k heads; v heads], the layout
        nlp_create_qkv_heads splits on each chip."""
        d = self.head_dim
        q_heads = q.reshape(self.num_heads, d, *q.shape[1:])
        k_heads = k.reshape(self.num_kv_heads, d, *k.shape[1:])
        v_heads = v.reshape(self.num_kv_heads, d, *v.shape[1:])
        blocks = []
        for chip in range(self.factor):
            kv = self.kv_heads_of(chip)
            local = q_heads[chip * self.local_heads : (chip + 1) * self.local_heads]
            blocks += [local.flatten(0, 1), k_heads[kv].flatten(0, 1), v_heads[kv].flatten(0, 1)]
        return torch.cat(blocks, dim=0)


class TensorParallel:
    """Places weights and runs the collectives of a model split along the line of chips of `device`'s mesh
    (1 x N or N x 1). `factor` is the number of chips one layer is split over: every chip of the mesh, or 1
    with `split=False` (data parallel: every weight replicated, no collective) and on a single device."""

    def __init__(self, device: Any, *, split: bool = True, topology: Any = None, num_links: int = 1):
        self.device = device
        self.chips = _num_devices(device)
        self.cluster_axis = 1
        if self.chips > 1 and split:
            shape = tuple(device.shape)
            if self.chips not in shape:
                raise UserError(
                    f"tensor parallelism splits a layer over one line of chips; a {shape[0]}x{shape[1]} mesh "
                    "would need a second (data-parallel) axis"
                )
            self.cluster_axis = shape.index(self.chips)
        self.factor = self.chips if split else 1
        self.topology = topology if topology is not None else _default_topology(self.factor)
        self.num_links = num_links

    # -- weights ------------------------------------------------------------------------------------
    def _mapper(self, dim: int | None) -> Any:
        if self.chips == 1:
            return None
        if dim is None or self.factor == 1:
            return ttnn.ReplicateTensorToMesh(self.device)
        return ttnn.ShardTensorToMesh(self.device, dim=dim)

    def replicated(self, name: str, tensor: torch.Tensor, dtype: Any = None, layout: Any = None) -> Any:
        """The same tensor on every chip (`dtype` default bfloat16, `layout` TILE, in DRAM)."""
        mapper = self._mapper(None)
        return to_device(name, tensor, self.device, dtype=dtype, layout=layout, mesh_mapper=mapper)

    def sharded(
        self, name: str, tensor: torch.Tensor, dim: int, dtype: Any = None, layout: Any = None
    ) -> Any:
        """`tensor` split evenly along `dim`, chip c holding the c-th slice."""
        if tensor.shape[dim] % self.factor:
            raise UserError(
                f"{name}: dim {dim} of size {tensor.shape[dim]} does not split evenly over {self.factor} chips"
            )
        mapper = self._mapper(dim)
        source = tensor.contiguous()
        return to_device(name, source, self.device, dtype=dtype, layout=layout, mesh_mapper=mapper)

    def column_weight(self, name: str, weight: torch.Tensor, dtype: Any = None) -> Any:
        """nn.Linear weight [out, in] -> ttnn.linear's [in, out / N] on each chip."""
        return self.sharded(name, weight.t(), -1, dtype)

    def column_bias(self, name: str, bias: torch.Tensor) -> Any:
        """[out] -> [1, out / N] on each chip (the bias of a column-parallel linear)."""
        return self.sharded(name, bias.reshape(1, -1), -1)

    def row_weight(self, name: str, weight: torch.Tensor, dtype: Any = None) -> Any:
        """nn.Linear weight [out, in] -> ttnn.linear's [in / N, out] on each chip."""
        return self.sharded(name, weight.t(), -2, dtype)

    def row_bias(self, name: str, bias: torch.Tensor) -> Any:
        """[out] -> [1, out]: the bias on chip 0 and zeros on the others, so the reduction adds it once."""
        row = bias.reshape(1, -1).float()
        if self.factor == 1:
            return self.replicated(name, row)
        padded = torch.cat([row, torch.zeros(self.factor - 1, row.shape[1])], dim=0)
        return self.sharded(f"{name}[chip 0, zeros elsewhere]", padded, 0)

    def heads(self, num_heads: int, num_kv_heads: int, head_dim: int) -> HeadLayout:
        return HeadLayout(num_heads, num_kv_heads, head_dim, self.factor)

    def qkv_weight(
        self,
        name: str,
        layout: HeadLayout,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        dtype: Any = None,
    ) -> Any:
        """The fused q/k/v projection, column-parallel with whole heads per chip (see HeadLayout)."""
        return self.column_weight(self._split_name(name), layout.fused_qkv(q, k, v), dtype)

    def qkv_bias(
        self, name: str, layout: HeadLayout, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> Any:
        return self.column_bias(self._split_name(name), layout.fused_qkv(q, k, v))

    def _split_name(self, name: str) -> str:
        """A fused q/k/v tensor's name: its chip-by-chip layout differs from one chip's when split."""
        return f"{name}[heads over {self.factor} chips]" if self.factor > 1 else name

    # -- collectives ----------------------------------------------------------------------------------
    def all_reduce(self, x: Any, *, keep_input: bool = False) -> Any:
        """Sum of the chips' partial outputs of a row-parallel linear, on every chip. Frees `x` unless
        `keep_input` (on one chip `x` itself is returned)."""
        if self.factor == 1:
            return x
        out = ttnn.all_reduce(
            x, cluster_axis=self.cluster_axis, num_links=self.num_links, topology=self.topology
        )
        if not keep_input:
            ttnn.deallocate(x)
        return out

    def all_gather(self, x: Any, dim: int, *, keep_input: bool = False) -> Any:
        """The chips' slices along `dim` concatenated in chip order, on every chip."""
        if self.factor == 1:
            return x
        out = ttnn.all_gather(
            x, dim, cluster_axis=self.cluster_axis, num_links=self.num_links, topology=self.topology
        )
        if not keep_input:
            ttnn.deallocate(x)
        return out

    def reduce_scatter(self, x: Any, dim: int, *, keep_input: bool = False) -> Any:
        """Chip c gets slice c (along `dim`) of the sum of the chips' partial outputs."""
        if self.factor == 1:
            return x
        out = ttnn.reduce_scatter(
            x, dim, cluster_axis=self.cluster_axis, num_links=self.num_links, topology=self.topology
        )
        if not keep_input:
            ttnn.deallocate(x)
        return out


def _default_topology(chips: int) -> Any:
    """Linear: what tt_transformers' ccl_topology() picks for every mesh but an 8-chip ring (which needs the
    fabric configured as a ring, ttnn.set_fabric_config(FABRIC_1D_RING), before the mesh is opened)."""
    return ttnn.Topology.Linear if chips > 1 else None
