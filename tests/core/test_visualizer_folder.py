"""The ttnn-visualizer folder `--report DIR` writes: ttnn's report tables filled from the simulator's records
(the nox session `visualizer` serves it with ttnn-visualizer itself), and the allocator addresses behind it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ttport.cli import main
from ttport.sim import runtime
from ttport.sim.types import BufferType

TABLES = {
    "devices", "tensors", "local_tensor_comparison_records", "global_tensor_comparison_records", "operations",
    "operation_arguments", "stack_traces", "input_tensors", "output_tensors", "buffers", "buffer_pages", "nodes",
    "edges", "errors",
}  # fmt: skip

# the mlp component multiplies (1, 1, 32, 32) by (1, 1, 64, 64): ttnn refuses the inner dimensions
BAD_MATMUL = (
    "lambda ctx: to_torch(ttnn.matmul(upload(ctx), ttnn.from_torch(torch.ones(1, 1, 64, 64), "
    "dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=ctx.device)))"
)


def _rows(db: sqlite3.Connection, sql: str) -> list[tuple]:
    return db.execute(sql).fetchall()


def test_folder_tables(make_plugin, on_sys_path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TTPORT_BOARD", "n150")
    make_plugin("tp_mlp")
    out = tmp_path / "rep"
    report_json = tmp_path / "r.json"
    assert main(["run", "tp_mlp", "--report", str(out), "--json", str(report_json)]) == 0
    assert "ttnn-visualizer folder written to" in capsys.readouterr().out
    report = json.loads(report_json.read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["report_name"] == "ttport tp_mlp [tiny] seed 0" and config["ttport"]["board"] == "n150"
    with sqlite3.connect(out / "db.sqlite") as db:
        tables = {name for (name,) in _rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == TABLES
        ops = _rows(db, "SELECT operation_id, name FROM operations ORDER BY operation_id")
        assert len(ops) == report["device_ops"] and [i for i, _ in ops] == list(range(len(ops)))
        assert {name for _, name in ops} >= {"ttnn.linear"}
        # every op names its component and its devices
        traces = _rows(db, "SELECT stack_trace FROM stack_traces")
        assert len(traces) == len(ops) and traces[0][0].startswith("ttport component: fc1")
        assert len(
            _rows(db, "SELECT * FROM operation_arguments WHERE name = 'devices' AND value = '0'")
        ) == len(ops)
        # an op's input is an earlier op's output (the same buffer is the same tensor)
        linked = _rows(
            db,
            "SELECT COUNT(*) FROM input_tensors i JOIN output_tensors o ON i.tensor_id = o.tensor_id "
            "AND o.operation_id < i.operation_id",
        )
        assert linked[0][0] > 0
        # device tensors have addresses; the buffers live after each op never overlap in a bank
        assert _rows(db, "SELECT COUNT(*) FROM tensors WHERE device_id = 0 AND address IS NULL")[0][0] == 0
        for (op_id,) in _rows(db, "SELECT DISTINCT operation_id FROM buffers"):
            spans = sorted(
                _rows(db, f"SELECT address, max_size_per_bank FROM buffers WHERE operation_id = {op_id} "
                          "AND buffer_type = 0")
            )  # fmt: skip
            assert spans and all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:], strict=False)), spans
        # weights (4 buffers) stay live through every op
        assert min(n for (n,) in _rows(db, "SELECT COUNT(*) FROM buffers GROUP BY operation_id")) >= 4
        # one comparison per component, with its PCC and threshold
        comparisons = _rows(
            db, "SELECT c.actual_pcc, c.desired_pcc, c.matches, t.shape FROM global_tensor_comparison_records c "
            "JOIN tensors t ON t.tensor_id = c.golden_tensor_id ORDER BY c.tensor_id"
        )  # fmt: skip
        expected = [(c["pcc"], 0.99, 1, f"reference output of {c['name']}") for c in report["components"]]
        assert comparisons == expected
        device = _rows(db, "SELECT device_id, num_x_cores, num_y_cores, l1_num_banks FROM devices")
        assert device == [(0, 8, 8, 64)]
        assert _rows(db, "SELECT * FROM errors") == []


def test_errors_table_holds_a_device_rule_failure(make_plugin, on_sys_path, tmp_path: Path, capsys) -> None:
    make_plugin("tp_bad", replace={"lambda ctx: to_torch(ctx.model.forward(upload(ctx)))": BAD_MATMUL})
    out = tmp_path / "rep"
    assert main(["run", "tp_bad", "--report", str(out)]) == 1
    capsys.readouterr()
    with sqlite3.connect(out / "db.sqlite") as db:
        errors = _rows(db, "SELECT operation_name, error_type, error_message, stack_trace FROM errors")
    assert len(errors) == 1
    name, kind, message, trace = errors[0]
    assert (name, kind) == ("mlp", "TTFatal"), errors
    assert (
        message.startswith("The width of the first tensor must be equal to the height of the second")
        and "Traceback" in trace
    )


def test_allocator_addresses_are_first_fit_and_reused() -> None:
    device = runtime.Device(0)
    a = device.allocate(BufferType.DRAM, 12, 2048)  # one 2 KiB page per bank
    b = device.allocate(BufferType.DRAM, 24, 2048)
    c = device.allocate(BufferType.L1, 64, 1024)
    assert (a.address, a.per_bank, b.address, b.per_bank) == (0, 2048, 2048, 4096)
    assert c.address == 0  # each buffer type has its own banks
    a.free()
    d = device.allocate(BufferType.DRAM, 12, 1024)  # fits the hole a left
    e = device.allocate(BufferType.DRAM, 12, 4096)  # does not: after b
    assert (d.address, e.address) == (0, 6144)
    assert len({a.buffer_id, b.buffer_id, c.buffer_id, d.buffer_id, e.buffer_id}) == 5
    events = device.stats.buffer_events
    assert [(sign, kind, address) for _, sign, kind, address, _, _ in events] == [
        (1, "DRAM", 0), (1, "DRAM", 2048), (1, "L1", 0), (-1, "DRAM", 0), (1, "DRAM", 0), (1, "DRAM", 6144),
    ]  # fmt: skip


@pytest.mark.parametrize("free_order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_freed_space_is_whole_again(free_order: tuple[int, int, int]) -> None:
    device = runtime.Device(0)
    buffers = [device.allocate(BufferType.DRAM, 12, 2048 * (i + 1)) for i in range(3)]
    for i in free_order:
        buffers[i].free()
    assert device.allocate(BufferType.DRAM, 12, 2048 * 6).address == 0
