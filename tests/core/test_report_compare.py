"""`ttport compare A.json B.json`: deltas per component and counters, exit 1 on a regression beyond the
command line's tolerances, exit 2 with one line for bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ttport.cli import main


def _component(name: str, pcc: float | None, *, passed: bool = True, rel: float = 1e-3, secs: float = 0.5):
    return {
        "name": name,
        "pcc": pcc,
        "threshold": 0.99,
        "passed": passed,
        "reference_seconds": 0.1,
        "port_seconds": secs,
        "error": None if passed else "PCC 0.9 below threshold 0.99",
        "rel_rms_error": rel,
        "max_abs_error": 0.01,
    }


BASE: dict[str, Any] = {
    "model": "pi0",
    "preset": "tiny",
    "backend": "sim",
    "arch": "wormhole_b0",
    "board": "n150",
    "components": [_component("block 0", 0.9995), _component("block 1", 0.9990), _component("tower", 0.998)],
    "device_ops": 100,
    "host_to_device": 10,
    "device_to_host": 3,
    "peak_device_bytes": {"dram": 1000, "l1": 200},
    "total_seconds": 2.0,
    "passed": True,
}


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _run(tmp_path: Path, new: dict[str, Any], *options: str) -> int:
    return main(["compare", _write(tmp_path, "a.json", BASE), _write(tmp_path, "b.json", new), *options])


def test_identical_reports_have_no_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, BASE) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "no regression"
    assert "block 1" in out and "device_ops: 100 -> 100 (+0)" in out
    assert "projected" not in out  # reports without a projection (a card, an older ttport) show none


def test_pcc_drop_beyond_tolerance_is_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = copy.deepcopy(BASE)
    new["components"][1]["pcc"] = 0.9980  # -1e-3
    new["device_ops"] = 120
    assert _run(tmp_path, new, "--tolerance", "1e-4") == 1
    out = capsys.readouterr().out
    assert "REGRESSION block 1: PCC dropped by 0.001 (0.999000 -> 0.998000), tolerance 0.0001" in out
    assert "device_ops: 100 -> 120 (+20)" in out
    assert out.splitlines()[-1] == "1 regression(s)"
    # the same drop within a looser tolerance passes; the row still shows the delta
    assert _run(tmp_path, new, "--tolerance", "2e-3") == 0
    out = capsys.readouterr().out
    assert "-1.00e-03" in out and out.splitlines()[-1] == "no regression"


def test_pass_to_fail_and_missing_component(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = copy.deepcopy(BASE)
    new["components"][0] = _component("block 0", 0.9995, passed=False)  # same PCC, new verdict
    del new["components"][2]
    new["components"].append(_component("projector", 0.99))
    assert _run(tmp_path, new) == 1
    out = capsys.readouterr().out
    assert "REGRESSION block 0: passed before, fails now (PCC 0.9 below threshold 0.99)" in out
    assert "REGRESSION tower: missing in the new report" in out
    assert "projector" in out and "REGRESSION projector" not in out
    assert out.splitlines()[-1] == "2 regression(s)"


def test_pcc_lost_is_a_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = copy.deepcopy(BASE)
    new["components"][2].update(pcc=None, passed=False, error="Traceback ...\nRuntimeError: boom")
    assert _run(tmp_path, new, "--tolerance", "1") == 1
    out = capsys.readouterr().out
    assert "REGRESSION tower: PCC 0.998000 before, none now" in out
    assert "REGRESSION tower: passed before, fails now (RuntimeError: boom)" in out


def test_error_time_and_memory_tolerances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = copy.deepcopy(BASE)
    new["components"][0].update(rel_rms_error=1.5e-3, port_seconds=1.0)
    new["peak_device_bytes"] = {"dram": 1300, "l1": 200}
    assert _run(tmp_path, new) == 0  # not judged unless asked
    capsys.readouterr()
    code = _run(
        tmp_path, new, "--error-tolerance", "0.2", "--time-tolerance", "0.5", "--memory-tolerance", "0.1"
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "REGRESSION block 0: relative RMS error grew from 0.001 to 0.0015 (more than 20%)" in out
    assert "REGRESSION block 0: port time grew from 0.500 s to 1.000 s (more than 50%)" in out
    assert "REGRESSION peak DRAM grew from 1000 to 1300 B (more than 10%)" in out
    assert out.splitlines()[-1] == "3 regression(s)"
    assert (
        _run(tmp_path, new, "--error-tolerance", "0.6", "--time-tolerance", "1", "--memory-tolerance", "0.3")
        == 0
    )


def _one_line(capsys: pytest.CaptureFixture[str], code: int, expected: str) -> None:
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert err.splitlines() == [f"ttport: error: {expected}"]
    assert out == ""


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", _write(tmp_path, "a.json", BASE), str(tmp_path / "nope.json")])
    _one_line(capsys, code, f"report not found: {tmp_path / 'nope.json'}")


def test_directory_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", _write(tmp_path, "a.json", BASE), str(tmp_path)])
    _one_line(capsys, code, f"{tmp_path} is not a ttport run report: not a regular file")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "not JSON"),
        ('{"model": "pi0"}', "it needs the keys model, preset, backend, components"),
        ("[1, 2]", "it needs the keys model, preset, backend, components"),
        (
            '{"model": "pi0", "preset": "tiny", "backend": "sim", "components": [1]}',
            "components must be a list of named results",
        ),
    ],
)
def test_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, why: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    code = main(["compare", _write(tmp_path, "a.json", BASE), str(bad)])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"ttport: error: {bad} is not a ttport run report: {why}")


def test_different_models_and_bad_tolerance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = {**BASE, "model": "clip"}
    _one_line(capsys, _run(tmp_path, other), "the reports are of different models: 'pi0' and 'clip'")
    _one_line(
        capsys,
        _run(tmp_path, BASE, "--tolerance", "-1"),
        "tolerance pcc must be a finite number >= 0, got -1.0",
    )


def test_compare_real_run_reports(make_plugin, on_sys_path, tmp_path: Path, capsys, monkeypatch) -> None:
    """Two real `ttport run --json` reports of the same seed compare clean."""
    monkeypatch.setenv("TTPORT_BOARD", "n150")
    make_plugin("tp_mlp")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["run", "tp_mlp", "--json", str(a)]) == 0
    assert main(["run", "tp_mlp", "--json", str(b)]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "no regression"
    assert out.startswith("A: tp_mlp [tiny] on sim (n150)")
    kernel_us = json.loads(a.read_text())["projection"]["total"]["device_ns"] / 1e3
    assert kernel_us > 0 and f"projected_kernel_us: {kernel_us:.3f} -> {kernel_us:.3f} (+0.000)" in out
    assert "projected_trace_us: " in out
