"""ttnn.Tensor on the simulator, and `device_op`, the one path every device op runs through.

A tensor holds, per chip, a torch tensor of its *logical* values, already rounded to its dtype: torch.bfloat16
storage for BFLOAT16 / BFLOAT8_B / BFLOAT4_B (their values are bfloat16-representable: half the host memory
of float32), float32 for FLOAT32, int64 for integer dtypes. Ops compute in float32: `device_op` widens the
inputs (exactly) before calling `compute`, and narrows float32 outputs when the tensor is built. Layout and padding are metadata: TILE pads the last
two dims to 32 (page_config.cpp) and that padded size is what the allocator reserves. Device tensors own
one buffer per chip, freed by `deallocate` or when the Python object dies (as ttnn's Tensor destructor).
Per-chip values are never written in place (they may be shared with other tensors, chips or broadcast views);
an in-place op writes through `Tensor.writable_chip`.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch

from . import rules
from .numerics import formats, threads
from .records import OpConfig, OpRecord, TensorInfo, current_signpost
from .runtime import Buffer, Device, MeshDevice, chips
from .types import DRAM_MEMORY_CONFIG, DataType, Layout, MemoryConfig, StorageType

TILE_SIZE = 32

_STRICT = [os.environ.get("TTPORT_SIM_STRICT", "") not in ("", "0")]


def set_strict(enabled: bool) -> None:
    """Strict mode: Python operators (+ - * @ ...) on device tensors raise, so port code must spell out
    ttnn.add / ttnn.multiply / ttnn.matmul (the seed's rule). Also enabled by TTPORT_SIM_STRICT=1."""
    _STRICT[0] = enabled


def is_strict() -> bool:
    return _STRICT[0]


class Shape(tuple):
    """ttnn.Shape: a tuple of ints that also compares equal to lists."""

    def __new__(cls, shape: Sequence[int] = ()):
        return super().__new__(cls, (int(d) for d in shape))

    @property
    def rank(self) -> int:
        return len(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, torch.Size)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"Shape({list(self)})"


def padded_shape_of(
    shape: Sequence[int], layout: Layout, tile_hw: tuple[int, int] = (TILE_SIZE, TILE_SIZE)
) -> Shape:
    """Probed on ttnn 0.81.1 (parity suite): TILE pads the last two dims up to multiples of the tile's
    height / width (32 x 32 unless a ttnn.Tile says otherwise: a [16, 32] tile pads [.., 20, 64] to
    [.., 32, 64]) and ranks below 2 gain leading dims ([7] -> [32, 32], [] -> [32, 32]); a 0 dim stays 0;
    a ROW_MAJOR scalar is [1]."""
    if layout != Layout.TILE:
        return Shape(shape if len(shape) else [1])
    dims = [1] * max(0, 2 - len(shape)) + list(shape)
    for i, size in ((-2, tile_hw[0]), (-1, tile_hw[1])):
        dims[i] = math.ceil(dims[i] / size) * size
    return Shape(dims)


def _pages(padded: Shape, dtype: DataType, layout: Layout) -> tuple[int, int]:
    """(number of pages, page size in bytes): a tile per page in TILE, a row per page in ROW_MAJOR."""
    volume = math.prod(padded) if len(padded) else 1
    if layout == Layout.TILE:
        return max(1, volume // (TILE_SIZE * TILE_SIZE)), formats.tile_bytes(dtype)
    width = padded[-1] if len(padded) else 1
    return max(1, volume // max(width, 1)), max(1, int(width * formats.element_size(dtype)))


# Float dtypes stored as torch.bfloat16: every value they hold has zero low 16 float32 bits (bf16 rounding, or
# block floats' <= 7-bit magnitudes), so the narrowing and widening are exact bit copies.
_BFLOAT16_STORED = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B)


def _broadcast_base(v: torch.Tensor) -> torch.Tensor | None:
    """The distinct elements of a broadcast view (stride 0 along a dim of size > 1, as ttnn.full makes), so
    a dtype conversion need not materialise the broadcast; None for ordinary tensors."""
    pairs = zip(v.stride(), v.shape, strict=True)
    index = tuple(slice(0, 1) if st == 0 and n > 1 else slice(None) for st, n in pairs)
    return v[index] if any(i.stop == 1 for i in index) else None


def storage_values(v: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """How a tensor of `dtype` stores values already rounded to it (bfloat16 for bfloat16-based dtypes)."""
    if dtype not in _BFLOAT16_STORED or v.dtype != torch.float32:
        return v
    base = _broadcast_base(v)
    if base is not None:
        return formats.bfloat16_bits(base).expand(v.shape)
    return formats.bfloat16_bits(v)


def _stored_per_chip(chip_values: Sequence[torch.Tensor], dtype: DataType) -> list[torch.Tensor]:
    """`storage_values` of each chip's value; a value several chips share (replicated) is converted once and
    stays shared."""
    stored: dict[int, torch.Tensor] = {}
    out = []
    for v in chip_values:
        if id(v) not in stored:
            stored[id(v)] = storage_values(v, dtype)
        out.append(stored[id(v)])
    return out


# ttnn.set_printoptions (ops/core.py) sets these; Tensor.__repr__ reads them.
PRINT_OPTIONS: dict[str, Any] = {"profile": "short", "sci_mode": None, "precision": None}


def _values_text(values: torch.Tensor, indent: int) -> str:
    """Tensor values laid out as torch prints them (4 decimals unless a precision is set; "short" summarizes
    large tensors, "full" prints every value), continuation lines indented under the first."""
    options = torch._tensor_str.PRINT_OPTS
    saved = (options.precision, options.threshold, options.edgeitems, options.sci_mode)
    full = PRINT_OPTIONS["profile"] == "full"
    sci = PRINT_OPTIONS["sci_mode"]
    try:
        torch.set_printoptions(
            precision=PRINT_OPTIONS["precision"] if PRINT_OPTIONS["precision"] is not None else 4,
            threshold=math.inf if full else 1000,
            sci_mode=None if sci in (None, "default") else bool(sci),
        )
        return torch._tensor_str._tensor_str(values.detach().cpu(), indent)
    finally:
        torch.set_printoptions(precision=saved[0], threshold=saved[1], edgeitems=saved[2], sci_mode=saved[3])


def compute_values(v: torch.Tensor) -> torch.Tensor:
    """Stored values as ops compute on them: bfloat16 storage widened (exactly) to float32."""
    if v.dtype != torch.bfloat16:
        return v
    base = _broadcast_base(v)
    if base is not None:
        return base.to(torch.float32).expand(v.shape)
    return v.to(torch.float32)


def _free_all(buffers: list[Buffer]) -> None:
    for b in buffers:
        b.free()


def allocate_buffers(
    shape: Sequence[int], dtype: DataType, layout: Layout, device: Device | MeshDevice, mc: MemoryConfig
) -> list[Buffer]:
    """One buffer per chip for a tensor of logical `shape`, or the allocator's out-of-memory error (then
    nothing stays allocated)."""
    num_pages, page_size = _pages(padded_shape_of(shape, layout), dtype, layout)
    pages_per_bank = None
    if mc.is_sharded() and mc.shard_spec is not None:
        # A sharded buffer holds one shard per core at the same address in every bank (buffer.cpp).
        shard_h, shard_w = mc.shard_spec.shape
        if layout == Layout.TILE:
            pages_per_bank = math.ceil(shard_h / TILE_SIZE) * math.ceil(shard_w / TILE_SIZE)
        else:
            pages_per_bank = shard_h
            page_size = max(1, int(shard_w * formats.element_size(dtype)))
    buffers: list[Buffer] = []
    try:
        for chip in chips(device):
            buffers.append(chip.allocate(mc.buffer_type, num_pages, page_size, pages_per_bank))
    except BaseException:
        _free_all(buffers)
        raise
    return buffers


#: _common_info's results by (shape, tile, dtype, layout, id of the memory config); each entry keeps its memory
#: config alive (so the id is not reused while the entry exists) and checks it is the same object
_COMMON_INFO: dict[tuple, tuple[MemoryConfig, dict[str, Any]]] = {}
_COMMON_INFO_MAX = 4096


def _common_info(t: Tensor) -> dict[str, Any]:
    """The TensorInfo fields every chip of `t` shares (padded shape, dtype, layout, memory, bytes). Every op
    describes each operand and result (records.py): they are computed once per tensor spec, not per op."""
    mc = t.memory_config()
    tile = tuple(t._tile.tile_shape) if t._tile is not None else None
    key = (tuple(t._chips[0].shape), tile, t._dtype, t._layout, id(mc))
    hit = _COMMON_INFO.get(key)
    if hit is not None and hit[0] is mc:
        return hit[1]
    shard = mc.shard_spec.shape if mc.is_sharded() and mc.shard_spec is not None else None
    padded = t.padded_shape
    num_pages, page_size = _pages(padded, t._dtype, t._layout)
    common = dict(
        padded_shape=tuple(padded),
        dtype=t._dtype.name,
        layout=t._layout.name,
        buffer_type=mc.buffer_type.name,
        memory_layout=mc.memory_layout.name,
        shard_shape=tuple(shard) if shard is not None else None,
        num_bytes=num_pages * page_size,
    )
    if len(_COMMON_INFO) >= _COMMON_INFO_MAX:
        _COMMON_INFO.clear()
    _COMMON_INFO[key] = (mc, common)
    return common


class Tensor:
    """ttnn.Tensor. Construct through ttnn.from_torch / ops; `ttnn.Tensor(torch_tensor, data_type, device,
    layout, mem_config, tile, ...)` works as real ttnn's torch constructor does (a from_torch)."""

    def __init__(
        self,
        chip_values: list[torch.Tensor] | torch.Tensor,
        dtype: Any = None,
        layout: Any = None,
        device: Any = None,
        memory_config: Any = None,
        shared_buffers: Any = None,
        /,
        **torch_options: Any,
    ):
        # The simulator's own constructor is positional-only (per-chip values, dtype, layout, device, memory
        # config, shared buffers); real ttnn.Tensor's torch constructor takes (tensor, data_type, device,
        # layout, mem_config, tile) positionally or by those keywords.
        self._tile = None
        if isinstance(chip_values, torch.Tensor):
            positional = dict(
                data_type=dtype, device=layout, layout=device, mem_config=memory_config, tile=shared_buffers
            )
            # a from_torch: bound with the other op-backed methods by ops/tensor_methods.py
            self._init_from_torch(
                chip_values, {**{k: v for k, v in positional.items() if v is not None}, **torch_options}
            )
            return
        if torch_options:
            raise TypeError(f"Tensor() got unexpected keyword arguments {sorted(torch_options)}")
        self._chips = _stored_per_chip(chip_values, dtype)
        self._dtype = dtype
        self._layout = layout
        self._device = device
        # Host tensors keep the memory config they were made with (as ttnn's TensorSpec does): it is where
        # to_device / load_tensor put them.
        self._memory_config = memory_config
        self._buffers: list[Buffer] = []
        self._finalizer = None
        self._owned: set[int] = set()  # chips whose values this tensor may write in place (writable_chip)
        if shared_buffers is not None:
            # A view on buffers owned by another tensor (ttnn.get_device_tensors): freed with its owner.
            self._memory_config = memory_config or DRAM_MEMORY_CONFIG
            self._buffers = shared_buffers
        elif device is not None:
            self._allocate()

    # -- allocation ------------------------------------------------------------------------------
    def _allocate(self) -> None:
        self._memory_config = self._memory_config or DRAM_MEMORY_CONFIG
        self._own(
            allocate_buffers(
                self._chips[0].shape, self._dtype, self._layout, self._device, self._memory_config
            )
        )

    def _own(self, buffers: list[Buffer]) -> None:
        self._buffers = buffers
        self._finalizer = weakref.finalize(self, _free_all, self._buffers)

    @classmethod
    def _on_buffers(
        cls,
        chip_values: list[torch.Tensor],
        dtype: DataType,
        layout: Layout,
        device: Device | MeshDevice,
        memory_config: MemoryConfig,
        buffers: list[Buffer],
    ) -> Tensor:
        """A device tensor owning `buffers`, allocated (by `allocate_buffers`) before its values existed."""
        tensor = cls(chip_values, dtype, layout, None, memory_config)
        tensor._device = device
        tensor._own(buffers)
        return tensor

    def _nbytes(self) -> int:
        """Bytes of one chip's buffer (what a transfer of this tensor to or from one chip moves)."""
        num_pages, page_size = _pages(self.padded_shape, self._dtype, self._layout)
        return num_pages * page_size

    def info(self, chip: int = 0) -> TensorInfo:
        """This tensor as chip `chip` holds it, for op records (core/sim/records.py)."""
        return self.infos((chip,))[0]

    def infos(self, chip_ids: Sequence[int]) -> list[TensorInfo]:
        """`info` of each of `chip_ids`, sharing what all chips have in common (every op records every
        operand on every chip)."""
        common = _common_info(self)
        last = len(self._chips) - 1
        infos = []
        for chip in chip_ids:
            buffer = self._buffers[chip] if chip < len(self._buffers) else None
            infos.append(
                TensorInfo(
                    shape=tuple(self._chips[min(chip, last)].shape),
                    address=getattr(buffer, "address", None),
                    buffer_id=getattr(buffer, "buffer_id", None),
                    **common,
                )
            )
        return infos

    def writable_chip(self, i: int) -> torch.Tensor:
        """Chip `i`'s values for an in-place op (kv-cache updates). Values are otherwise immutable and may be
        shared between tensors, chips or broadcast views, so the first write makes a private copy."""
        if i not in self._owned:
            self._chips[i] = self._chips[i].clone(memory_format=torch.contiguous_format)
            self._owned.add(i)
        return self._chips[i]

    @property
    def num_chips(self) -> int:
        """How many per-chip values this tensor holds (> 1 for mesh tensors, on device or on host)."""
        return len(self._chips)

    # -- ttnn.Tensor API ---------------------------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return Shape(self._chips[0].shape)

    @property
    def logical_shape(self) -> Shape:
        return self.shape

    @property
    def padded_shape(self) -> Shape:
        hw = tuple(self._tile.tile_shape) if self._tile is not None else (TILE_SIZE, TILE_SIZE)
        return padded_shape_of(self._chips[0].shape, self._layout, hw)

    @property
    def tile(self) -> Any:
        """The tile shape of a TILE tensor (ttnn.Tile, 32x32 unless made with tile=)."""
        from .types import Tile

        return self._tile or Tile([TILE_SIZE, TILE_SIZE])

    @property
    def dtype(self) -> DataType:
        return self._dtype

    @property
    def layout(self) -> Layout:
        return self._layout

    def get_dtype(self) -> DataType:
        return self._dtype

    def get_layout(self) -> Layout:
        return self._layout

    def storage_type(self) -> StorageType:
        return StorageType.HOST if self._device is None else StorageType.DEVICE

    def device(self) -> Device | MeshDevice | None:
        return self._device

    def memory_config(self) -> MemoryConfig:
        return self._memory_config or DRAM_MEMORY_CONFIG

    def is_allocated(self) -> bool:
        return self._device is None or all(b.allocated for b in self._buffers)

    def is_sharded(self) -> bool:
        return self._memory_config is not None and self._memory_config.is_sharded()

    def deallocate(self, force: bool = True) -> None:
        _free_all(self._buffers)

    def volume(self) -> int:
        return math.prod(self.shape) if len(self.shape) else 1

    def logical_volume(self) -> int:
        return self.volume()

    def element_size(self) -> float:
        return formats.element_size(self._dtype)

    def __repr__(self) -> str:
        """ttnn's form: ttnn.Tensor(<values>, shape=..., dtype=..., layout=...), the values as
        ttnn.set_printoptions says ("short": summarized, "full": all, "empty": "..."); chip 0's on a mesh."""
        prefix = "ttnn.Tensor("
        body = "..." if PRINT_OPTIONS["profile"] == "empty" else _values_text(self._chips[0], len(prefix))
        return f"{prefix}{body}, shape=Shape({list(self.shape)}), dtype={self._dtype!r}, layout={self._layout!r})"

    # Methods that are ops (to_torch, to, reshape, the Python operators, [], the torch constructor) are bound
    # by ops/tensor_methods.py, as ttnn/__init__.py binds them: the tensor layer does not import the ops layer.
    __hash__ = object.__hash__  # identity, although == is bound to ttnn.eq

    def item(self) -> float | int:
        """The value of a one-element tensor, as a Python number (read from the device if needed)."""
        values = self.to_torch()
        if values.numel() != 1:
            raise RuntimeError(f"item() needs a tensor with one element, got shape {list(self.shape)}")
        return values.reshape(()).item()

    def to_list(self) -> list[Any]:
        """The values as nested Python lists (read from the device if needed)."""
        return self.to_torch().float().tolist() if formats.is_float(self._dtype) else self.to_torch().tolist()

    def get_tile(self) -> Any:
        return self.tile

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes the class lacks: real ttnn.Tensor members get "not simulated yet"
        from .real_surface import missing

        raise missing("ttnn.Tensor", name, "'Tensor' object")


def read_values(tensor: Tensor, op: str) -> list[torch.Tensor]:
    """Per-chip values of an input as ops compute on them (float32 for float dtypes), after checking it has
    not been deallocated."""
    rules.require_allocated(tensor, op)
    return [compute_values(v) for v in tensor._chips]


def _spec(t: Tensor) -> tuple:
    mc = t._memory_config
    return (
        tuple(t._chips[0].shape),
        t._dtype,
        t._layout,
        None if mc is None else (mc.memory_layout, mc.buffer_type),
    )


def program_key(name: str, inputs: Sequence[Tensor], *extra: Any) -> tuple:
    """What the program cache keys an op by here: its name, its inputs' specs and its output attributes."""
    hashable = (tuple(e) if isinstance(e, list) else e for e in extra)  # multi-output ops pass dtype lists
    return (name, tuple(_spec(t) for t in inputs), *hashable)


def _garbage(v: torch.Tensor) -> torch.Tensor:
    """What a buffer allocated during trace capture holds before the trace runs (NaN for floats)."""
    fill = float("nan") if v.is_floating_point() else 0
    return torch.full((), fill, dtype=v.dtype).expand(v.shape)


def run_or_capture(device: Device | MeshDevice, key: tuple, step: Callable[[], None]) -> bool:
    """Run `step` now, or record it when `device` is capturing a trace (then it runs at execute_trace).
    Returns True when it was captured. For ops that write existing buffers in place (kv-cache updates)."""
    dispatch = device.dispatch
    if dispatch.before_op(key):
        dispatch.record(step)
        return True
    step()
    return False


Shapes = tuple[tuple[int, ...], ...]


def same_shape(first: tuple[int, ...], *_: tuple[int, ...]) -> tuple[int, ...]:
    """`output_shapes` of an op whose result has its first input's shape (unary, norms, copies)."""
    return first


def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    """`output_shapes` of an elementwise op over broadcast inputs: torch.broadcast_shapes, in plain Python
    (torch's costs ~30 us, more than some ops; shapes that do not broadcast get torch's own error)."""
    ndim = max(map(len, shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for i, d in enumerate(shape, ndim - len(shape)):
            if d != 1:
                if out[i] not in (1, d):
                    return tuple(torch.broadcast_shapes(*shapes))
                out[i] = d
    return tuple(out)


def _meta(v: torch.Tensor) -> torch.Tensor:
    """A data-less stand-in for `v` (same shape, strides and dtype) on torch's "meta" device."""
    return torch.empty_strided(v.shape, v.stride(), dtype=v.dtype, device="meta")


def _output_shapes(
    compute: Callable[..., Any],
    values: Sequence[torch.Tensor],
    read: Callable[[torch.Tensor], torch.Tensor],
    declared: Callable[..., Any] | None,
) -> Shapes | None:
    """The shapes `compute` will return for chip values `values`, known without computing: from the op's
    declaration (`output_shapes(*input_shapes)`) or from running `compute` on meta tensors; None if the
    computation cannot run on meta tensors (it reads values: `.item()`, data-dependent shapes). Frequent ops
    declare their shapes: torch's meta kernels cost about a millisecond per op, more than small ops do."""
    if declared is not None:
        shapes = declared(*(tuple(v.shape) for v in values))
        single = not shapes or isinstance(shapes[0], int)
        return (tuple(shapes),) if single else tuple(tuple(sh) for sh in shapes)
    try:
        with torch.device("meta"):  # what compute creates itself (torch.zeros, arange ...) is meta too
            out = compute(*(read(_meta(v)) for v in values))
    except Exception:  # it reads values: compute first, allocate after (device_op)
        return None
    return tuple(tuple(o.shape) for o in out) if isinstance(out, tuple) else (tuple(out.shape),)


def device_op(
    name: str,
    inputs: Sequence[Tensor],
    compute: Callable[..., torch.Tensor | tuple[torch.Tensor, ...]],
    *,
    dtype: DataType | Sequence[DataType],
    layout: Layout | Sequence[Layout],
    memory_config: MemoryConfig | None = None,
    rounding: str = formats.PACKER,
    stored_inputs: bool = False,
    config: OpConfig | None = None,
    output_shapes: Callable[..., Any] | None = None,
    stack_chips: Sequence[int] = (),
) -> Any:
    """Run one device op: check inputs (on device, same device, allocated), allocate the outputs, call
    `compute` once per chip on the inputs' per-chip values, round each output to its dtype the way the
    packer does. `stack_chips`: inputs along whose dim 0 the op may run once for all chips (_compute_chips).

    The outputs are allocated *before* anything is computed, as on the device (the program's buffers exist
    before it runs): an output that does not fit fails with the allocator's out-of-memory error without the
    host computing a result it has no room for. Their shapes come from running `compute` on torch "meta"
    tensors (no data, no work), or from `output_shapes(*input_shapes)` where an op declares them; if neither
    is possible the op computes first and allocates after.

    `compute(*values)` returns a torch tensor or a tuple of them (then `dtype`/`layout` may be sequences).
    It gets float32 values for float inputs; with `stored_inputs` it gets the stored ones (bfloat16 for
    bfloat16-based dtypes) and widens what it reads itself (embedding: a few rows of a large table).
    `config` says how the op computes (fidelity, Dst mode, program config, cores): it goes into the op's
    record on every chip (core/sim/records.py) with the operands' and results' shapes and memory. Only ops
    that complete are counted.

    While the device captures a trace (ttport.sim.dispatch) the op is recorded instead: its outputs are
    allocated holding garbage and `execute_trace` recomputes them in place from the inputs' values then
    (and counts the op each time).
    """
    for t in inputs:
        if t.device() is not None:
            rules.require_open(t.device(), name)
    device = rules.require_same_device(name, inputs)
    mc = memory_config or DRAM_MEMORY_CONFIG
    dispatch = device.dispatch
    captured = dispatch.before_op(program_key(name, inputs, dtype, layout, mc.memory_layout, mc.buffer_type))
    read = (lambda v: v) if stored_inputs else compute_values
    n_chips = len(chips(device))
    op_config = config or OpConfig()
    in_values = [t._chips for t in inputs]  # the lists themselves: a replayed trace reads them when it runs

    def run() -> tuple[list[list[torch.Tensor]], bool]:
        return _compute_chips(compute, in_values, read, n_chips, stack_chips)

    shapes = _output_shapes(compute, [t._chips[0] for t in inputs], read, output_shapes)
    per_output: list[list[Buffer]] = []  # per output, one buffer per chip
    try:
        if shapes is not None:
            per_output = _allocate_outputs(shapes, dtype, layout, device, mc)
        results, multi = run()
        computed = tuple(tuple(v.shape) for v in results[0])
        if shapes != computed and output_shapes is not None:
            raise RuntimeError(f"simulator bug: {name} declared output shapes {shapes}, computed {computed}")
        if shapes != computed:  # not runnable on meta tensors (or mispredicted): allocate for the result
            _free_all([b for buffers in per_output for b in buffers])
            per_output = []
            per_output = _allocate_outputs(computed, dtype, layout, device, mc)
        dtypes, layouts = _per_output(dtype, layout, len(computed))
        outs = []
        for j, (dt, lay) in enumerate(zip(dtypes, layouts, strict=True)):
            with threads.device_op_threads():  # the packer's rounding is part of the op's work
                values = [_output_values(chip_results[j], dt, rounding) for chip_results in results]
            if captured:  # recorded, not run: the buffer holds garbage until the trace executes
                values = [_garbage(storage_values(v, dt)) for v in values]
            outs.append(Tensor._on_buffers(values, dt, lay, device, mc, per_output[j]))
    except BaseException:
        _free_all([b for buffers in per_output for b in buffers])
        raise
    if not captured:
        _record(name, device, inputs, outs, op_config)
        return tuple(outs) if multi else outs[0]
    external = [weakref.ref(t) for t in inputs if not dispatch.produced_by_trace(t._chips)]
    out_values = [o._chips for o in outs]
    out_refs = [weakref.ref(o) for o in outs]
    in_infos = _per_chip_infos(inputs, n_chips)
    out_infos = _per_chip_infos(outs, n_chips)

    def step() -> None:
        # Inputs made by the trace itself may have been deallocated during capture (their addresses are
        # reused on every replay, as on the card); inputs from outside the trace must still be allocated.
        for ref in external:
            t = ref()
            rules.require(t is not None, f"{name}: an input of this traced op was destroyed after capture")
            rules.require_allocated(t, name)
        results = run()[0]
        for j, values in enumerate(out_values):
            values[:] = [
                storage_values(_output_values(r[j], dtypes[j], rounding), dtypes[j]) for r in results
            ]
            out = out_refs[j]()
            if out is not None:
                out._owned = set()
        _record_infos(name, device, in_infos, out_infos, op_config)

    dispatch.record(step, out_values)
    return tuple(outs) if multi else outs[0]


def _compute_chips(
    compute: Callable[..., torch.Tensor | tuple[torch.Tensor, ...]],
    in_values: Sequence[Sequence[torch.Tensor]],
    read: Callable[[torch.Tensor], torch.Tensor],
    n_chips: int,
    stack_chips: Sequence[int],
) -> tuple[list[list[torch.Tensor]], bool]:
    """`compute`'s outputs per chip (each a list), and whether it returns a tuple.

    `stack_chips`: the inputs along whose dim 0 the op is independent (its outputs' dim 0 indexes theirs, each
    output row computed from the same rows of those inputs alone). When every other input holds the same
    values on every chip (replicated: one stored tensor the chips share) and the stacked inputs agree in rank
    and dim 0, compute runs once on the chips' values concatenated along dim 0 and its outputs are split back
    per chip: a data-parallel linear is one BLAS product over the whole batch, as its reference runs it, and a
    small op pays its per-call cost once. The values come out the same (tests/sim/test_stack_chips.py: a
    float32 product's rows do not depend on the other rows)."""
    with threads.device_op_threads():
        if stack_chips and n_chips > 1 and _stackable(in_values, n_chips, stack_chips):
            args = [
                read(torch.cat(list(v[:n_chips])) if i in stack_chips else v[0])
                for i, v in enumerate(in_values)
            ]
            out = compute(*args)
            sizes = [v.shape[0] for v in in_values[stack_chips[0]][:n_chips]]
            outs = list(out) if isinstance(out, tuple) else [out]
            split = [o.split(sizes) for o in outs]
            return [[parts[i] for parts in split] for i in range(n_chips)], isinstance(out, tuple)
        per_chip = [compute(*(read(v[i]) for v in in_values)) for i in range(n_chips)]
    multi = isinstance(per_chip[0], tuple)
    return [list(out) if multi else [out] for out in per_chip], multi


def _stackable(in_values: Sequence[Sequence[torch.Tensor]], n_chips: int, stack_chips: Sequence[int]) -> bool:
    """Whether _compute_chips can stack the inputs `stack_chips`: on each chip they have one rank and one dim 0
    size, each has one shape past dim 0 and one dtype over the chips, and every other input is one shared
    value."""
    stacked = [in_values[i][:n_chips] for i in stack_chips]
    head = stacked[0][0]
    if head.dim() == 0:
        return False
    for values in stacked:
        first = values[0]
        if any(v.dim() != head.dim() or v.shape[0] != head.shape[0] for v in values):
            return False
        if any(v.shape[1:] != first.shape[1:] or v.dtype != first.dtype for v in values[1:]):
            return False
    return all(
        all(v[c] is v[0] for c in range(1, n_chips)) for i, v in enumerate(in_values) if i not in stack_chips
    )


def _output_values(result: torch.Tensor, dtype: DataType, rounding: str) -> torch.Tensor:
    """An op's result rounded to its output dtype. A bfloat16 result for a bfloat16 output that keeps its
    values (HOST: no re-rounding) is already what the tensor stores: handed over as is, without the widening
    to float32 and narrowing back (two passes over the values) that quantize + storage_values would do; a
    view on part of a larger tensor (a slice of an input) is copied, so it does not keep all of it alive.
    A bfloat16 output packed by the packer goes straight to its storage form (formats.pack_bfloat16)."""
    if dtype == DataType.BFLOAT16:
        if rounding == formats.PACKER:
            return formats.pack_bfloat16(result)
        if result.dtype == torch.bfloat16 and rounding == formats.HOST:
            base = result._base
            return result.clone() if base is not None and base.numel() > result.numel() else result
    return formats.quantize(result, dtype, rounding)


def _per_output(
    dtype: DataType | Sequence[DataType], layout: Layout | Sequence[Layout], n_out: int
) -> tuple[list[DataType], list[Layout]]:
    dtypes = list(dtype) if isinstance(dtype, (list, tuple)) else [dtype] * n_out
    layouts = list(layout) if isinstance(layout, (list, tuple)) else [layout] * n_out
    return dtypes, layouts


def _allocate_outputs(
    shapes: Shapes,
    dtype: DataType | Sequence[DataType],
    layout: Layout | Sequence[Layout],
    device: Device | MeshDevice,
    mc: MemoryConfig,
) -> list[list[Buffer]]:
    """Buffers for every output (validated dtype / layout first), or none and the allocator's error."""
    dtypes, layouts = _per_output(dtype, layout, len(shapes))
    per_output: list[list[Buffer]] = []
    try:
        for shape, dt, lay in zip(shapes, dtypes, layouts, strict=True):
            rules.check_dtype_layout(dt, lay)
            per_output.append(allocate_buffers(shape, dt, lay, device, mc))
    except BaseException:
        _free_all([b for buffers in per_output for b in buffers])
        raise
    return per_output


def _record(
    name: str,
    device: Device | MeshDevice,
    inputs: Sequence[Tensor],
    outputs: Sequence[Tensor],
    config: OpConfig,
) -> None:
    """Count the op on every chip it ran on, with its record."""
    n = len(chips(device))
    _record_infos(
        name,
        device,
        _per_chip_infos(inputs, n),
        _per_chip_infos(outputs, n),
        config,
    )


def _per_chip_infos(tensors: Sequence[Tensor], n_chips: int) -> list[tuple[TensorInfo, ...]]:
    """Per chip, the infos of `tensors` (as op records take them)."""
    per_tensor = [t.infos(range(n_chips)) for t in tensors]
    return [tuple(infos[i] for infos in per_tensor) for i in range(n_chips)]


def in_place_recorder(
    name: str, device: Device | MeshDevice, cache: Tensor, inputs: Sequence[Tensor]
) -> Callable[[], None]:
    """For an op that writes `cache` in place (kv-cache fills and updates): a function recording one run of it
    on every chip, with the operands as they are now (ttnn's argument order: the cache first)."""
    n = len(chips(device))
    operands = _per_chip_infos((cache, *inputs), n)
    results = _per_chip_infos((cache,), n)
    return lambda: _record_infos(name, device, operands, results, OpConfig())


def _record_infos(
    name: str,
    device: Device | MeshDevice,
    inputs: Sequence[tuple[TensorInfo, ...]],
    outputs: Sequence[tuple[TensorInfo, ...]],
    config: OpConfig,
) -> None:
    """Count the op on every chip, from per-chip operand / result descriptions (a replayed trace op keeps the
    ones taken at capture: its tensors may be gone, its buffers are reused)."""
    signpost = current_signpost()
    for i, chip in enumerate(chips(device)):
        s = chip.stats
        record = OpRecord(
            index=len(s.op_records),
            name=name,
            chip=chip.id(),
            inputs=inputs[i],
            outputs=outputs[i],
            config=config,
            signpost=signpost,
            dram_bytes=s.dram_bytes,
            l1_bytes=s.l1_bytes,
        )
        chip.record_op(name, record)
