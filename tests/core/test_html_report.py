"""`ttport run --report DIR`: the page, its figures, the per-layer curves derived from component names, and
progress (bars on a terminal, lines otherwise)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ttport.cli import main
from ttport.html_report import PAGE, OpMixRow, layer_curves, op_mix, write_report
from ttport.report import LAYER_TRACE, ComponentResult, RunReport
from ttport.sim.records import OpConfig, OpRecord, Projection, TensorInfo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _result(name: str, pcc: float | None, passed: bool = True, rel: float | None = 1e-3) -> ComponentResult:
    return ComponentResult(name, pcc, 0.99, passed, 0.1, 0.2, None if passed else "below", rel, 0.01)


def test_layer_curves_group_blocks_per_stack() -> None:
    components = [
        _result("patch embedding", 0.9999),
        _result("block 1", 0.998),
        _result("block 0", 0.999),
        _result("kv cache layer 0", 0.9997),
        _result("vision layer 10", 0.99, passed=False),
        _result("vision layer 2", None, passed=False, rel=None),
        _result("tower", 0.997),
        _result("text layer norm", 0.9),  # not "layer N": no block
    ]
    curves = layer_curves(components)
    assert list(curves) == ["blocks", "kv cache", "vision"]
    assert [(p.index, p.pcc) for p in curves["blocks"]] == [(0, 0.999), (1, 0.998)]
    assert [(p.index, p.pcc, p.passed) for p in curves["vision"]] == [(2, None, False), (10, 0.99, False)]
    assert curves["kv cache"][0].rel_rms_error == 1e-3


def _records() -> list[OpRecord]:
    t = TensorInfo((1, 32, 64), (1, 32, 64), "BFLOAT16", "TILE", "DRAM", "INTERLEAVED", None, 4096, None)
    out = []
    for chip in (0, 1):
        for i, (name, dram, l1) in enumerate(
            [("matmul", 8192, 0), ("add", 12288, 2048), ("softmax", 4096, 0)]
        ):
            out.append(
                OpRecord(i, name, chip, (t, t), (t,), OpConfig(), "block 0", dram * (chip + 1), l1, 1000.0)
            )
    return out


def _report(**kwargs) -> RunReport:
    report = RunReport("toy", "tiny", "sim", "wormhole_b0", board="n300", seed=7, device_ops=6, **kwargs)
    report.components = [
        _result("block 0", 0.9995),
        _result("block 1", 0.95, passed=False),
        _result("tower", 0.99),
    ]
    report.versions = {"python": "3.11.0", "torch": "2.13.0"}
    report.settings = {"TTPORT_BOARD": "n300"}
    return report


def test_write_report_figures_and_page(tmp_path: Path) -> None:
    report = _report()
    report.op_records = _records()
    page = write_report(report, tmp_path / "out")
    assert page == tmp_path / "out" / PAGE
    files = sorted(p.name for p in page.parent.iterdir())
    assert files == ["accuracy.png", "memory.png", "ops.png", "report.html"]  # no temp file left behind
    for png in ("accuracy.png", "memory.png", "ops.png"):
        assert (page.parent / png).read_bytes().startswith(PNG_MAGIC)
    text = page.read_text()
    assert "<script" not in text and "http" not in text  # offline: nothing fetched
    assert re.findall(r'<img src="([^"]+)"', text) == ["accuracy.png", "memory.png", "ops.png"]
    assert "<title>ttport toy [tiny]: FAIL</title>" in text
    assert '<tr class="fail"><td>block 1</td><td>0.950000</td><td>0.99</td>' in text
    assert "<th>numerics mode</th><td>default</td>" in text
    assert "<th>version torch</th><td>2.13.0</td>" in text and "<th>TTPORT_BOARD</th><td>n300</td>" in text
    assert "Op mix of the components, by projected device time" in text
    # the op mix table: 2 chips x 1 op of each name, 1000 ns each
    assert '<table id="ops">' in text
    assert "<tr><td>add</td><td>2</td><td>2.0 us</td><td>33.3%</td><td>n/a</td></tr>" in text


def _projected(name: str, chip: int, signpost: str, compute_ns: float, data_ns: float) -> OpRecord:
    t = TensorInfo((1, 32, 64), (1, 32, 64), "BFLOAT16", "TILE", "DRAM", "INTERLEAVED", None, 4096, None)
    device_ns = max(compute_ns, data_ns) + 100.0
    p = Projection(device_ns, compute_ns, data_ns, 100.0, 64, device_ns / 2, 5000.0)
    return OpRecord(0, name, chip, (t, t), (t,), OpConfig(), signpost, 0, 0, device_ns, p)


def test_op_mix_by_projected_time_without_the_layer_trace() -> None:
    records = [
        *[_projected("add", chip, "tower", 10.0, 900.0) for chip in (0, 1) for _ in range(3)],
        _projected("matmul", 0, "tower", 9900.0, 400.0),
        _projected("matmul", 0, "tower", 100.0, 4900.0),  # memory-bound, but less time than the other
        _projected("softmax", 0, LAYER_TRACE, 50000.0, 10.0),  # the layer trace: not the components' mix
    ]
    records.append(OpRecord(0, "typecast", 0, (), (), OpConfig(), "tower", 0, 0))  # never projected
    assert op_mix(records) == [
        OpMixRow("matmul", 2, 10000.0 + 5000.0, "compute"),
        OpMixRow("add", 6, 6 * 1000.0, "memory"),
        OpMixRow("typecast", 1, None, None),
    ]


def test_page_shows_projected_times(tmp_path: Path) -> None:
    """Per component in the table, in total and by op in the run facts (the JSON report's projection)."""
    report = _report()
    report.op_records = [
        _projected("matmul", 0, "tower", 3000.0, 100.0),
        _projected("add", 0, "tower", 1, 900.0),
    ]
    report.projection = {
        "board": "n300",
        "components": {"tower": {"device_ns": 4100.0}},
        "total": {"device_ns": 4100.0, "trace_ns": 4200.0, "no_trace_ns": 12345.6, "transfer_ns": 250.0},
    }
    report.perf_csv = "/tmp/x/ops_perf_results_1.csv"
    text = write_report(report, tmp_path).read_text()
    assert "<td>0.200</td><td>4.1 us</td>" in text  # the tower row: port seconds, then projected time
    assert "<td>0.200</td><td>n/a</td>" in text  # a component without projected ops
    assert (
        "<th>projected device time on n300 (components)</th><td>4.1 us kernels; 4.2 us with trace, "
        "12.3 us without; 0.2 us host &lt;-&gt; device transfers</td>"
    ) in text
    assert "<th>projected time by op</th><td>matmul 76%, add 24%</td>" in text
    assert "<th>op-profiler CSV</th><td>/tmp/x/ops_perf_results_1.csv</td>" in text


def test_page_without_records_or_blocks(tmp_path: Path) -> None:
    report = _report()
    report.components = [_result("mlp", 0.9999)]
    page = write_report(report, tmp_path)
    text = page.read_text()
    assert "<img" not in text
    assert "No per-op records" in text and "declares no per-block components" in text


def test_run_report_option(make_plugin, on_sys_path, tmp_path: Path, capsys) -> None:
    make_plugin("tp_mlp")
    out_dir = tmp_path / "rep"
    assert main(["run", "tp_mlp", "--report", str(out_dir)]) == 0
    stdout = capsys.readouterr().out
    assert f"HTML report written to {out_dir / PAGE}" in stdout
    text = (out_dir / PAGE).read_text()
    assert "<td>fc1</td>" in text and "<td>mlp</td>" in text
    assert (out_dir / "memory.png").read_bytes().startswith(PNG_MAGIC)
    assert (out_dir / "ops.png").is_file() and not (out_dir / "accuracy.png").exists()


def test_report_must_be_a_directory(make_plugin, on_sys_path, tmp_path: Path, capsys) -> None:
    make_plugin("tp_mlp")
    a_file = tmp_path / "f"
    a_file.write_text("x")
    assert main(["run", "tp_mlp", "--report", str(a_file)]) == 2
    assert capsys.readouterr().err == f"ttport: error: --report needs a directory, and {a_file} is a file\n"


def test_report_directory_that_cannot_be_created(make_plugin, on_sys_path, tmp_path: Path, capsys) -> None:
    """Refused before the run (exit 2, one line), like an unwritable --json destination."""
    make_plugin("tp_mlp")
    a_file = tmp_path / "f"
    a_file.write_text("x")
    assert main(["run", "tp_mlp", "--report", str(a_file / "sub")]) == 2
    out = capsys.readouterr()
    assert out.err == f"ttport: error: --report {a_file / 'sub' / PAGE}: a parent of the path is not a directory\n"
    assert "PASS" not in out.out and "fc1" not in out.out  # nothing ran


def test_progress_lines_when_not_a_terminal(make_plugin, cli) -> None:
    """Through a pipe: one plain line per step of every phase, no carriage return."""
    make_plugin("tp_mlp")
    proc = cli("run", "tp_mlp")
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stdout and proc.stderr == ""
    lines = [line for line in proc.stdout.splitlines() if line.startswith("  .. ")]
    assert lines[:4] == [
        "  .. tp_mlp [tiny]: building the reference",
        "  .. tp_mlp: reference fc1",
        "  .. tp_mlp: reference mlp",
        "  .. tp_mlp: building the TTNN model on n150 (wormhole_b0, 1 chip(s))",
    ]
    assert lines[4] == "  .. tp_mlp: port fc1" and lines[-1].startswith("  .. tp_mlp: mlp: PCC ")


def test_json_to_stdout_keeps_stdout_clean(make_plugin, cli) -> None:
    """`--json -`: stdout is the JSON document alone; people read stderr."""
    import json

    make_plugin("tp_mlp")
    proc = cli("run", "tp_mlp", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["model"] == "tp_mlp" and [c["name"] for c in data["components"]] == ["fc1", "mlp"]
    assert "op_records" not in data and data["versions"]["torch"]
    assert "  .. tp_mlp: port mlp" in proc.stderr and "PASS: tp_mlp [tiny]" in proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_progress_bars_on_a_terminal(make_plugin, child_env) -> None:
    """On a pseudo-terminal: a tqdm bar per phase, completed (n/n), with the results printed above."""
    make_plugin("tp_mlp")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttport.cli", "run", "tp_mlp"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**child_env, "COLUMNS": "120"},
        cwd=Path(__file__).resolve().parents[2],
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    screen = b"".join(chunks).decode(errors="replace")
    assert "\r" in screen  # the bar redraws in place
    for phase, total in (("reference", 2), ("weight conversion", 1), ("components", 2)):
        assert re.search(rf"{phase}: 100%\S* {total}/{total}", screen), (phase, screen)
    assert "  .. tp_mlp: mlp: PCC" in screen and "PASS: tp_mlp [tiny]" in screen


TRACE_METHOD = (
    "    def layer_trace(self, ctx):\n"
    "        fc1 = torch.relu(ctx.reference.fc1(ctx.inputs['x']))\n"
    "        return {'mlp': [(fc1, to_torch(ctx.model.fc1(upload(ctx)))),\n"
    "                        (ctx.reference(ctx.inputs['x']), to_torch(ctx.model.forward(upload(ctx))))]}\n\n"
    "    def build_model(self, ctx):"
)


def test_layer_trace_runs_with_report(make_plugin, on_sys_path, tmp_path: Path, capsys) -> None:
    """A port's Port.layer_trace feeds the end-to-end per-layer curve and table (only with --report)."""
    import json

    make_plugin("tp_layers", replace={"    def build_model(self, ctx):": TRACE_METHOD})
    assert main(["run", "tp_layers", "--json", str(tmp_path / "plain.json")]) == 0
    assert json.loads((tmp_path / "plain.json").read_text())["layers"] == {}
    assert (
        main(["run", "tp_layers", "--report", str(tmp_path / "r"), "--json", str(tmp_path / "r.json")]) == 0
    )
    capsys.readouterr()
    layers = json.loads((tmp_path / "r.json").read_text())["layers"]
    assert [p["index"] for p in layers["mlp"]] == [0, 1]
    assert all(p["pcc"] > 0.99 and 0 < p["rel_rms_error"] < 0.05 for p in layers["mlp"])
    text = (tmp_path / "r" / PAGE).read_text()
    assert '<table id="layers">' in text and "<td>mlp</td><td>1</td>" in text
    assert (tmp_path / "r" / "accuracy.png").read_bytes().startswith(PNG_MAGIC)
    # the counters and the projected time describe the components: the same with and without the trace
    plain, traced = (json.loads((tmp_path / f).read_text()) for f in ("plain.json", "r.json"))
    for key in ("device_ops", "host_to_device", "device_to_host", "peak_device_bytes"):
        assert plain[key] == traced[key], key
    assert plain["projection"]["total"] == traced["projection"]["total"]
    assert LAYER_TRACE not in traced["projection"]["components"]


def test_a_failing_layer_trace_is_recorded_not_fatal(
    make_plugin, on_sys_path, tmp_path: Path, capsys
) -> None:
    import json

    broken = "    def layer_trace(self, ctx):\n        raise RuntimeError('no trace')\n\n    def build_model(self, ctx):"
    make_plugin("tp_notrace", replace={"    def build_model(self, ctx):": broken})
    assert (
        main(["run", "tp_notrace", "--report", str(tmp_path / "r"), "--json", str(tmp_path / "r.json")]) == 0
    )
    assert "layer trace failed: RuntimeError: no trace" in capsys.readouterr().out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["layers"] == {} and data["layer_trace_error"] == "RuntimeError: no trace"
    assert "The per-layer trace failed: RuntimeError: no trace" in (tmp_path / "r" / PAGE).read_text()
