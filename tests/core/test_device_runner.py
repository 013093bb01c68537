"""Device lifecycle and board selection; the runner's flow, counters and report; the JSON report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from ttport import device as devices
from ttport.backend import ttnn
from ttport.compare import Comparison, to_torch
from ttport.errors import UserError
from ttport.plugins.registry import load_registry
from ttport.port import Component
from ttport.report import ComponentResult, RunReport, format_table, write_json
from ttport.runner import run_port
from ttport.safe_write import DestinationError

REPORT_KEYS = [
    "model", "preset", "backend", "arch", "components", "device_ops", "host_to_device", "device_to_host",
    "peak_device_bytes", "peak_rss_bytes",
]  # fmt: skip


@pytest.fixture
def no_board_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(devices.ENV_BOARD, raising=False)


def test_device_fixture_is_the_default_board(no_board_env, device) -> None:
    info = devices.device_info(device)
    assert info == {
        "board": "n150", "arch": "wormhole_b0", "chips": 1, "grid": [8, 8],
        "l1_bytes_per_core": 1329888, "dram_bytes_per_chip": 12 * 1073741792,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("board", "arch", "grid"), [("n300", "wormhole_b0", [8, 8]), ("p150", "blackhole", [13, 10])]
)
def test_board_selection(monkeypatch: pytest.MonkeyPatch, board: str, arch: str, grid: list[int]) -> None:
    # setenv (not delenv, which records nothing when the variable is absent) so that teardown undoes what
    # select_board writes: a leaked board would change every later test's mesh
    monkeypatch.setenv(devices.ENV_BOARD, "n150")
    devices.select_board(board)
    assert os.environ[devices.ENV_BOARD] == board
    with devices.open_device() as dev:
        info = devices.device_info(dev)
    assert (info["board"], info["arch"], info["grid"]) == (board, arch, grid)
    assert info["dram_bytes_per_chip"] == devices.simulated_board().dram_bytes


def test_unknown_board_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown board 'x1'; choose one of n150, n300, p150, t3k, galaxy"):
        devices.select_board("x1")


def test_device_is_closed_even_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError, match="port bug"), devices.open_device() as dev:
        kept = dev
        raise RuntimeError("port bug")
    assert not kept.is_open()


def test_mesh_on_n300(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devices.ENV_BOARD, "n300")
    x = torch.arange(2 * 64, dtype=torch.float32).reshape(1, 1, 2, 64)
    with devices.open_mesh_device() as mesh:
        assert devices.num_chips(mesh) == 2
        replicated = ttnn.from_torch(
            x,
            dtype=ttnn.bfloat16,
            layout=ttnn.TILE_LAYOUT,
            device=mesh,
            mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
        )
        sharded = ttnn.from_torch(
            x,
            dtype=ttnn.bfloat16,
            layout=ttnn.TILE_LAYOUT,
            device=mesh,
            mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=-1),
        )
        assert torch.equal(to_torch(replicated).float(), x)
        assert torch.equal(to_torch(sharded, mesh_dim=-1).float(), x)
        assert torch.equal(to_torch(sharded).float(), x[..., :32])  # without a dim: chip 0's copy
    assert not mesh.is_open()


def test_mesh_larger_than_the_board(no_board_env) -> None:
    with pytest.raises(
        UserError,
        match=r"mesh 1x2 needs 2 chips but board n150 has 1; choose a larger board with --board \(n300, t3k, galaxy\)",
    ):
        with devices.open_mesh_device((1, 2)):
            pass


def test_board_for_a_mesh_port_is_temporary(no_board_env) -> None:
    with devices.board_for((1, 2)) as note:
        assert note == "board n300 (the port needs a 1x2 mesh)"
        assert devices.simulated_board().name == "n300"
    assert devices.ENV_BOARD not in os.environ
    with devices.board_for(None) as note:
        assert note is None


def test_board_for_respects_an_explicit_board(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devices.ENV_BOARD, "n150")
    with devices.board_for((1, 2)) as note:
        assert note is None and os.environ[devices.ENV_BOARD] == "n150"


def test_run_port_reports_every_component(make_plugin, on_sys_path, no_board_env) -> None:
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    lines: list[str] = []
    report = run_port(port, "tiny", seed=3, progress=lines.append)
    assert (report.model, report.preset, report.backend, report.arch, report.board, report.seed) == (
        "tp_mlp", "tiny", "sim", "wormhole_b0", "n150", 3,
    )  # fmt: skip
    assert [c.name for c in report.components] == ["fc1", "mlp"] and report.passed
    for c in report.components:
        assert c.error is None and 0.99 <= c.pcc <= 1.0 and c.reference_seconds >= 0 and c.port_seconds > 0
    # weights: 4 uploads; each component uploads its input and reads one output back
    assert report.host_to_device == 6 and report.device_to_host == 2
    assert report.device_ops >= 5  # linear+relu, then linear+relu+linear
    assert report.peak_device_bytes["dram"] > 0 and report.peak_device_bytes["l1"] == 0
    assert report.peak_rss_bytes > 10 * 2**20
    assert lines[0] == "tp_mlp [tiny]: building the reference"
    assert "tp_mlp: mlp: PCC" in lines[-1]


def test_a_failing_component_does_not_hide_the_others(make_plugin, on_sys_path, monkeypatch) -> None:
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    good = port.components("tiny")

    def crash(ctx):
        raise RuntimeError("simulated op refused")

    broken = [
        Component("wrong", good[0].reference, lambda ctx: -good[0].port(ctx), 0.99),
        Component("crash", good[0].reference, crash, 0.99),
        good[1],
    ]
    monkeypatch.setattr(type(port), "components", lambda self, preset: broken)
    report = run_port(port, "tiny")
    wrong, crashed, mlp = report.components
    assert not report.passed
    assert not wrong.passed and wrong.pcc < 0 and wrong.error.startswith("PCC -")
    assert "max abs error" in wrong.error and wrong.rel_rms_error > 1.9
    assert (
        not crashed.passed and crashed.pcc is None and "RuntimeError: simulated op refused" in crashed.error
    )
    assert mlp.passed and mlp.error is None
    table = format_table(report)
    assert "wrong" in table and "FAIL: tp_mlp [tiny] on sim" in table
    assert "crash: RuntimeError: simulated op refused" in table


def test_a_component_may_score_with_its_own_metric(make_plugin, on_sys_path, monkeypatch) -> None:
    """`compare` replaces PCC (e.g. top-1 agreement); the score, threshold and metric name reach the report."""
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    good = port.components("tiny")

    def sign_agreement(reference, actual, threshold):
        share = float((reference.sign() == to_torch(actual).sign()).float().mean())
        failure = None if share >= threshold else f"sign agreement {share:.2f} < {threshold}"
        return Comparison(share >= threshold, share, None, None, failure)

    scored = [
        Component("agree", good[0].reference, good[0].port, 0.9, metric="sign", compare=sign_agreement),
        Component(
            "disagree",
            good[0].reference,
            lambda ctx: -good[0].port(ctx),
            0.9,
            metric="sign",
            compare=sign_agreement,
        ),
    ]
    monkeypatch.setattr(type(port), "components", lambda self, preset: scored)
    agree, disagree = run_port(port, "tiny").components
    assert agree.passed and agree.pcc > 0.9 and agree.metric == "sign"
    assert not disagree.passed and disagree.pcc < 0.9 and disagree.error.startswith("sign agreement")
    assert disagree.metric == "sign"


def test_unknown_preset_is_a_user_error(make_plugin, on_sys_path) -> None:
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    with pytest.raises(UserError, match="unknown preset 'medium' for tp_mlp; presets: tiny, full"):
        run_port(port, "medium")


def _report() -> RunReport:
    return RunReport(
        model="m", preset="tiny", backend="sim", arch="wormhole_b0",
        components=[ComponentResult("a", 0.995, 0.99, True, 0.1, 0.2)],
        device_ops=3, host_to_device=2, device_to_host=1, peak_device_bytes={"dram": 4096, "l1": 0},
        peak_rss_bytes=123, board="n150",
    )  # fmt: skip


def test_report_json_keys(tmp_path: Path) -> None:
    path = write_json(_report(), tmp_path / "sub" / "r.json")
    data = json.loads(path.read_text())
    assert list(data)[: len(REPORT_KEYS)] == REPORT_KEYS
    assert data["components"] == [
        {"name": "a", "pcc": 0.995, "threshold": 0.99, "passed": True, "reference_seconds": 0.1,
         "port_seconds": 0.2, "error": None, "rel_rms_error": None, "max_abs_error": None,
         "metric": "pcc"}
    ]  # fmt: skip
    assert data["peak_device_bytes"] == {"dram": 4096, "l1": 0} and data["passed"] is True
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_report_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")

    def crash(src: str, dst: str) -> None:
        raise OSError("no space")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(DestinationError, match="no space"):
        write_json(_report(), path)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_mesh_device_fixture_spans_the_board(mesh_device) -> None:
    assert devices.num_chips(mesh_device) == devices.simulated_board().chips
    assert mesh_device.is_open()


def _run_with_port_outputs(port, monkeypatch, outputs: dict) -> RunReport:
    """Run tp_mlp with components whose port side returns `outputs[name](reference output)`."""
    good = port.components("tiny")[0]
    components = [
        Component(name, good.reference, lambda ctx, f=f: f(good.reference(ctx)), 0.99)
        for name, f in outputs.items()
    ]
    monkeypatch.setattr(type(port), "components", lambda self, preset: components)
    return run_port(port, "tiny")


def test_degenerate_port_outputs_fail_with_a_reason(make_plugin, on_sys_path, monkeypatch, tmp_path) -> None:
    """comp_pcc (tt-metal) gives each of these PCC 1.0; the runner fails them, says why, reports no PCC."""
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    report = _run_with_port_outputs(
        port,
        monkeypatch,
        {
            "constant": lambda ref: torch.full_like(ref, 0.25),
            "inf": lambda ref: torch.full_like(ref, float("inf")),
            "some inf": lambda ref: torch.where(ref > 1.0, float("inf"), ref),
            "empty": lambda ref: ref[..., :0],
            "right": lambda ref: ref.clone(),
        },
    )
    results = {c.name: c for c in report.components}
    assert not report.passed and results["right"].passed and results["right"].pcc == 1.0
    assert results["right"].rel_rms_error == 0.0 and results["right"].max_abs_error == 0.0
    assert (
        results["constant"].error == "port output is constant (every value 0.25) while the reference varies"
    )
    assert results["inf"].error == "port output is not finite (0 NaN, 2048 Inf of 2048 values)"
    assert results["some inf"].error.startswith("port output is not finite (0 NaN, ")
    assert results["empty"].error.startswith(
        "shape mismatch; shapes: reference [1, 1, 32, 64], actual [1, 1, 32, 0]"
    )
    for name in ("constant", "inf", "some inf", "empty"):
        assert not results[name].passed and results[name].pcc is None, name
    # the JSON report is valid JSON (no NaN) and carries the reasons
    data = json.loads(write_json(report, tmp_path / "r.json").read_text())
    by_name = {c["name"]: c for c in data["components"]}
    assert by_name["inf"]["pcc"] is None and by_name["inf"]["error"] == results["inf"].error
    assert by_name["constant"]["rel_rms_error"] == pytest.approx(results["constant"].rel_rms_error)
    table = format_table(report)
    assert "constant: port output is constant (every value 0.25) while the reference varies" in table
    assert "FAIL: tp_mlp [tiny]" in table


def test_empty_outputs_on_both_sides_fail(make_plugin, on_sys_path, monkeypatch) -> None:
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    good = port.components("tiny")[0]
    empty = Component(
        "empty", lambda ctx: good.reference(ctx)[..., :0, :], lambda ctx: good.port(ctx)[..., :0, :], 0.99
    )
    monkeypatch.setattr(type(port), "components", lambda self, preset: [empty])
    [result] = run_port(port, "tiny").components
    assert (
        not result.passed and result.pcc is None and result.error == "outputs are empty (shape [1, 1, 0, 64])"
    )


def test_second_metric_in_report_and_table(make_plugin, on_sys_path, no_board_env) -> None:
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    report = run_port(port, "tiny")
    for c in report.components:
        assert c.passed and 0.0 < c.rel_rms_error < 0.05 and 0.0 < c.max_abs_error < 0.5
    lines = format_table(report).splitlines()
    assert lines[0].split() == [
        "component", "PCC", "threshold", "pass", "rel", "RMS", "err", "max", "abs", "err", "reference", "s", "port", "s"
    ]  # fmt: skip
    fc1 = report.component("fc1")
    assert f"{fc1.rel_rms_error:.2e}" in lines[2] and f"{fc1.max_abs_error:.2e}" in lines[2]


def test_nan_pcc_is_never_reported_as_one(tmp_path: Path) -> None:
    """A NaN that reaches a report (a caller filling it by hand, a future metric) is null in the JSON, not
    1.0 and not invalid JSON; the table shows n/a."""
    report = _report()
    report.components = [ComponentResult("a", float("nan"), 0.99, False, 0.1, 0.2, "why", float("inf"), None)]
    data = json.loads(write_json(report, tmp_path / "r.json").read_text())
    assert data["components"][0]["pcc"] is None and data["components"][0]["rel_rms_error"] is None
    assert data["passed"] is False
    row = format_table(report).splitlines()[2].split()
    assert row[:6] == ["a", "n/a", "0.99", "FAIL", "n/a", "n/a"]


def test_port_calling_sys_exit_fails_its_component(make_plugin, on_sys_path, monkeypatch) -> None:
    """A SystemExit from port code must not end the run (with the plugin's exit status and no report)."""
    name = make_plugin("tp_mlp")
    port = load_registry().get(name)
    good = port.components("tiny")

    def leave(ctx):
        raise SystemExit(0)

    components = [Component("exits", good[0].reference, leave, 0.99), good[1]]
    monkeypatch.setattr(type(port), "components", lambda self, preset: components)
    exits, mlp = run_port(port, "tiny").components
    assert not exits.passed and "SystemExit: 0" in exits.error and mlp.passed
    monkeypatch.setattr(type(port), "build_model", lambda self, ctx: leave(ctx))
    with pytest.raises(RuntimeError, match=r"port code called sys.exit\(0\) during the run"):
        run_port(port, "tiny")
