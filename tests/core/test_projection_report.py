"""`ttport run` on the simulator reports projected device time (JSON and table) and writes tt-metal's op-profiler
CSV, which tt-perf-report (PyPI) reads."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ttport.cli import main
from ttport.sim.perf_csv import COLUMNS


@pytest.fixture
def run_tp_mlp(make_plugin, on_sys_path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch):
    make_plugin("tp_mlp")
    monkeypatch.setenv("TTPORT_BOARD", "n150")  # restored after the test (--board would set it for good)
    report, perf = tmp_path / "report.json", tmp_path / "perf"
    code = main(["run", "tp_mlp", "--json", str(report), "--perf-csv", str(perf)])
    out = capsys.readouterr().out
    assert code == 0, out
    (csv_path,) = perf.glob("ops_perf_results_*.csv")
    return json.loads(report.read_text()), csv_path, out


def test_json_and_table_carry_projected_times(run_tp_mlp) -> None:
    report, _, out = run_tp_mlp
    projection = report["projection"]
    # the components in the port's order, then host transfers outside them (the weights' upload)
    assert list(projection["components"]) == ["fc1", "mlp", "(outside components)"]
    setup = projection["components"].pop("(outside components)")
    assert setup["ops"] == 0 and setup["transfer_ns"] > 0
    ops = projection["ops"]
    assert len(ops) == report["device_ops"] > 0 and all(op["projected_ns"] > 0 for op in ops)
    for name, component in projection["components"].items():
        mine = [op["projected_ns"] for op in ops if op["signpost"] == name]
        assert component["ops"] == len(mine)
        assert component["device_ns"] == pytest.approx(sum(mine), abs=0.1 * len(mine))
        assert component["device_ns"] < component["trace_ns"] <= component["no_trace_ns"]
    total = projection["total"]
    assert total["device_ns"] == pytest.approx(sum(c["device_ns"] for c in projection["components"].values()))
    assert total["transfer_ns"] == pytest.approx(
        setup["transfer_ns"] + sum(c["transfer_ns"] for c in projection["components"].values()), abs=0.5
    )
    assert 0 < report["projection_seconds"] < report["total_seconds"]
    assert "projected device time on n150" in out and "top ops by projected kernel time:" in out
    assert report["perf_csv"].endswith(".csv")


def test_perf_csv_has_the_profiler_columns_and_signposts(run_tp_mlp) -> None:
    report, csv_path, _ = run_tp_mlp
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == COLUMNS
    signposts = [r["OP CODE"] for r in rows if r["OP TYPE"] == "signpost"]
    assert signposts == ["fc1", "mlp"]
    device_rows = [r for r in rows if r["OP TYPE"] == "tt_dnn_device"]
    ops = report["projection"]["ops"]
    assert len(device_rows) == len(ops)
    for row, op in zip(device_rows, ops, strict=True):
        # the CSV rounds the projection to whole ns, the JSON to 0.1 ns
        assert int(row["DEVICE KERNEL DURATION [ns]"]) == pytest.approx(op["projected_ns"], abs=0.55)
        assert row["DEVICE ARCH"] == "wormhole_b0" and row["AVAILABLE WORKER CORE COUNT"] == "64"
        padded = [int(row[f"INPUT_0_{d}_PAD[LOGICAL]"].split("[")[0]) for d in "WZYX"]
        assert padded[-len(op["inputs"][0][0]) :] == op["inputs"][0][0][-4:]
        assert row["INPUT_0_MEMORY"] == f"DEV_0_{op['inputs'][0][2]}_INTERLEAVED"
    matmuls = [r for r in device_rows if r["OP CODE"] == "MatmulDeviceOperation"]
    assert matmuls and all(r["MATH FIDELITY"] in ("LoFi", "HiFi2", "HiFi3", "HiFi4") for r in matmuls)
    assert all("'in0_block_w': '" in r["ATTRIBUTES"] for r in matmuls)


def test_tt_perf_report_reads_the_csv_from_a_signpost(run_tp_mlp, tmp_path: Path) -> None:
    report, csv_path, _ = run_tp_mlp
    tool = shutil.which("tt-perf-report")
    assert tool, "tt-perf-report is a dev dependency (pyproject.toml)"
    out_csv = tmp_path / "analysis.csv"
    done = subprocess.run(
        [
            tool,
            str(csv_path),
            "--start-signpost",
            "mlp",
            "--no-color",
            "--no-advice",
            "--no-summary",
            "--csv",
            str(out_csv),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Using operations after 'mlp'" in done.stdout
    analysed = list(csv.DictReader(out_csv.open()))
    mlp_ops = [op for op in report["projection"]["ops"] if op["signpost"] == "mlp"]
    assert len(analysed) == len(mlp_ops)
    # tt-perf-report's Device Time is the CSV's kernel duration in microseconds
    times = [float(r["Device Time"]) for r in analysed]
    assert times == pytest.approx([round(op["projected_ns"]) / 1e3 for op in mlp_ops], abs=1e-3)
    assert any(r["OP Code"].startswith("MatmulDeviceOperation") for r in analysed)
