"""A ttnn-visualizer report folder (db.sqlite + config.json) from a simulator run.

The tables and columns follow ttnn's own report writer (tt-metal ttnn/ttnn/database.py) and what
ttnn-visualizer reads (ttnn_visualizer/models.py, queries.py): devices, operations, operation_arguments,
stack_traces, tensors, input_tensors, output_tensors, buffers, buffer_pages, nodes, edges, errors, and the
local / global tensor comparison records. Written from the RunReport alone (its per-op records and the
allocator's event log), so every port gets it with no code of its own.

Where the simulator differs from a capture on a card, the folder says so rather than inventing data:
- one operation per op index, across the chips of a mesh (ops run in the same order on every chip);
- `duration` is the projected device time when the projection filled it, else NULL (ttnn writes the
  host-measured time, which means nothing for a host simulator);
- stack_traces hold the component the op ran under (the runner's signpost), not a Python stack;
- buffer addresses are the simulator allocator's per-bank offsets (first fit, bottom up; ttnn places L1
  top down from a base address), buffer_pages, nodes and edges are left empty;
- the comparison tables hold one row per component: its last output tensor, compared with the reference
  (a host "golden" tensor row), with the component's PCC and threshold;
- errors hold the components whose port raised (device-rule failures such as ttnn's "Out of Memory").
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

from ttport.report import RunReport
from ttport.safe_write import DestinationError, replace_atomically, write_bytes

DB = "db.sqlite"
CONFIG = "config.json"

# ttnn.BufferType values (tt-metal buffer_types.hpp; ttnn-visualizer models.BufferType)
BUFFER_TYPE = {"DRAM": 0, "L1": 1, "SYSTEM_MEMORY": 2, "L1_SMALL": 3, "TRACE": 4}

_SCHEMA = """
CREATE TABLE devices (device_id int, num_y_cores int, num_x_cores int, num_y_compute_cores int,
    num_x_compute_cores int, worker_l1_size int, l1_num_banks int, l1_bank_size int,
    address_at_first_l1_bank int, address_at_first_l1_cb_buffer int, num_banks_per_storage_core int,
    num_compute_cores int, num_storage_cores int, total_l1_memory int, total_l1_for_tensors int,
    total_l1_for_interleaved_buffers int, total_l1_for_sharded_buffers int, cb_limit int);
CREATE TABLE tensors (tensor_id int UNIQUE, shape text, dtype text, layout text, memory_config text,
    device_id int, address int, buffer_type int);
CREATE TABLE local_tensor_comparison_records (tensor_id int UNIQUE, golden_tensor_id int, matches bool,
    desired_pcc bool, actual_pcc float);
CREATE TABLE global_tensor_comparison_records (tensor_id int UNIQUE, golden_tensor_id int, matches bool,
    desired_pcc bool, actual_pcc float);
CREATE TABLE operations (operation_id int UNIQUE, name text, duration float);
CREATE TABLE operation_arguments (operation_id int, name text, value text);
CREATE TABLE stack_traces (operation_id int, stack_trace text);
CREATE TABLE input_tensors (operation_id int, input_index int, tensor_id int);
CREATE TABLE output_tensors (operation_id int, output_index int, tensor_id int);
CREATE TABLE buffers (operation_id int, device_id int, address int, max_size_per_bank int, buffer_type int);
CREATE TABLE buffer_pages (operation_id int, device_id int, address int, core_y int, core_x int, bank_id int,
    page_index int, page_address int, page_size int, buffer_type int);
CREATE TABLE nodes (operation_id int, unique_id int, node_operation_id int, name text);
CREATE TABLE edges (operation_id int, source_unique_id int, sink_unique_id int, source_output_index int,
    sink_input_index int, key int);
CREATE TABLE errors (operation_id int, operation_name text, error_type text, error_message text,
    stack_trace text, timestamp text);
"""


def _memory_config(info: Any) -> str:
    shard = "std::nullopt" if info.shard_shape is None else f"ShardSpec(shape={list(info.shard_shape)})"
    return (
        f"MemoryConfig(memory_layout=TensorMemoryLayout::{info.memory_layout},"
        f"buffer_type=BufferType::{info.buffer_type},shard_spec={shard})"
    )


class _Tensors:
    """Tensor ids: one per (chip, buffer) a record names; a record without a buffer gets its own id."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self._ids: dict[tuple[int, int], int] = {}

    def id_of(self, chip: int, info: Any) -> int:
        key = (chip, info.buffer_id) if info.buffer_id is not None else None
        if key is not None and key in self._ids:
            return self._ids[key]
        tensor_id = len(self.rows)
        if key is not None:
            self._ids[key] = tensor_id
        self.rows.append(
            (
                tensor_id,
                f"Shape({list(info.shape)})",
                f"DataType.{info.dtype}",
                f"Layout.{info.layout}",
                _memory_config(info),
                chip,
                info.address,
                BUFFER_TYPE.get(info.buffer_type),
            )
        )
        return tensor_id

    def host(self, shape: str) -> int:
        """A host tensor (a reference output): no device, no address."""
        tensor_id = len(self.rows)
        self.rows.append((tensor_id, shape, "DataType.FLOAT32", "Layout.ROW_MAJOR", None, None, None, None))
        return tensor_id


def _device_rows(report: RunReport) -> list[tuple[Any, ...]]:
    rows = []
    for chip, facts in sorted(report.chips.items()):
        x, y = facts["grid"]
        banks, bank = facts["l1_banks"], facts["l1_bank_size"]
        # columns ttnn fills from the chip's allocator; the simulator knows the grid and the bank sizes,
        # the storage-core and circular-buffer fields are 0 (not modelled)
        rows.append((chip, y, x, y, x, bank, banks, bank, 0, 0, 0, x * y, 0, banks * bank, banks * bank,
                     banks * bank, banks * bank, bank))  # fmt: skip
    return rows


def _operations(report: RunReport) -> list[list[Any]]:
    """Records grouped into operations: the same op index on every chip of a mesh is one operation."""
    by_index: dict[int, list[Any]] = defaultdict(list)
    for record in report.op_records:
        by_index[record.index].append(record)
    return [sorted(by_index[i], key=lambda r: r.chip) for i in sorted(by_index)]


def build_database(report: RunReport, path: Path) -> None:
    """Write the tables into a new SQLite file at `path`."""
    db = sqlite3.connect(path)
    try:
        db.executescript(_SCHEMA)
        tensors = _Tensors()
        ops, args, traces, inputs, outputs = [], [], [], [], []
        last_op_of: dict[str, int] = {}
        last_output_of: dict[str, int] = {}
        for op_id, records in enumerate(_operations(report)):
            first = records[0]
            projected = [r.projected_ns for r in records if r.projected_ns is not None]
            ops.append((op_id, f"ttnn.{first.name}", max(projected) * 1e-9 if projected else None))
            config = first.config
            for name in ("math_fidelity", "fp32_dest_acc_en", "math_approx_mode", "packer_l1_acc",
                         "program_config", "cores"):  # fmt: skip
                value = getattr(config, name)
                if value is not None:
                    args.append((op_id, name, str(value)))
            for name, value in config.attributes.items():
                args.append((op_id, name, str(value)))
            args.append((op_id, "devices", ",".join(str(r.chip) for r in records)))
            traces.append(
                (op_id, f"ttport component: {first.signpost or '(none)'} (simulator run: no Python stack)")
            )
            for r in records:
                for i, info in enumerate(r.inputs):
                    inputs.append((op_id, i, tensors.id_of(r.chip, info)))
                for i, info in enumerate(r.outputs):
                    tid = tensors.id_of(r.chip, info)
                    outputs.append((op_id, i, tid))
                    if r.chip == first.chip and first.signpost:
                        last_output_of[first.signpost] = tid
            if first.signpost:
                last_op_of[first.signpost] = op_id
        db.executemany("INSERT INTO operations VALUES (?, ?, ?)", ops)
        db.executemany("INSERT INTO operation_arguments VALUES (?, ?, ?)", args)
        db.executemany("INSERT INTO stack_traces VALUES (?, ?)", traces)
        db.executemany("INSERT INTO input_tensors VALUES (?, ?, ?)", inputs)
        db.executemany("INSERT INTO output_tensors VALUES (?, ?, ?)", outputs)
        db.executemany("INSERT INTO buffers VALUES (?, ?, ?, ?, ?)", _buffer_rows(report, len(ops)))
        db.executemany("INSERT INTO devices VALUES (" + ", ".join("?" * 18) + ")", _device_rows(report))

        comparisons, errors = [], []
        for c in report.components:
            if c.name in last_output_of:
                golden = tensors.host(f"reference output of {c.name}")
                comparisons.append((last_output_of[c.name], golden, c.passed, c.threshold, c.pcc))
            if c.error and c.pcc is None:  # the port raised: a device-rule failure or a bug
                lines = c.error.strip().splitlines()
                kind, _, message = lines[-1].partition(": ")
                kind = kind.rsplit(".", 1)[-1]  # "ttport.sim.rules.TTFatal" -> "TTFatal", as ttnn names it
                op_id = last_op_of.get(c.name, len(ops) - 1 if ops else 0)
                errors.append((op_id, c.name, kind, message or lines[-1], c.error, ""))
        db.executemany("INSERT INTO global_tensor_comparison_records VALUES (?, ?, ?, ?, ?)", comparisons)
        db.executemany("INSERT INTO errors VALUES (?, ?, ?, ?, ?, ?)", errors)
        db.executemany("INSERT INTO tensors VALUES (?, ?, ?, ?, ?, ?, ?, ?)", tensors.rows)
        db.commit()
    finally:
        db.close()


def _buffer_rows(report: RunReport, num_ops: int) -> list[tuple[int, int, int, int, int]]:
    """After each operation, every buffer live on every chip (as ttnn's report writer lists them)."""
    rows = []
    for chip, facts in sorted(report.chips.items()):
        events = facts.get("buffer_events", [])
        live: dict[int, tuple[int, int, str]] = {}
        pos = 0
        for op_id in range(num_ops):
            # an event stamped k happened while k ops were recorded (op k allocating its outputs, or a
            # deallocate after op k - 1): it is in effect after op k
            while pos < len(events) and events[pos][0] <= op_id:
                _, sign, kind, address, per_bank, buffer_id = events[pos]
                if sign > 0:
                    live[buffer_id] = (address, per_bank, kind)
                else:
                    live.pop(buffer_id, None)
                pos += 1
            for address, per_bank, kind in sorted(live.values()):
                rows.append((op_id, chip, address, per_bank, BUFFER_TYPE[kind]))
    return rows


def write_visualizer_folder(report: RunReport, directory: str | os.PathLike[str]) -> Path:
    """db.sqlite and config.json in `directory` (each replaced atomically); returns the database path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:  # SQLite takes the empty temporary file as an empty database
        replace_atomically(directory / DB, lambda tmp: build_database(report, tmp))
    except OSError as exc:
        raise DestinationError(f"--report {directory / DB}: {exc.strerror or exc}") from exc
    config = {
        "report_name": f"ttport {report.model} [{report.preset}] seed {report.seed}",
        "enable_fast_runtime_mode": False,
        "enable_logging": True,
        "enable_detailed_buffer_report": True,
        "enable_detailed_tensor_report": False,
        "enable_comparison_mode": True,
        "comparison_mode_pcc": min((c.threshold for c in report.components), default=0.99),
        "ttport": {"backend": report.backend, "board": report.board, "arch": report.arch,
                   "versions": report.versions},
    }  # fmt: skip
    write_bytes(directory / CONFIG, (json.dumps(config, indent=2) + "\n").encode(), what="--report")
    return directory / DB
