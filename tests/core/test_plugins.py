"""The registry finds plugins only through entry points, isolates broken ones, rejects duplicate names;
a throw-away third-party port is listed, run and covered by the shared templates with no change to core."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.plugins.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
REPORT_KEYS = {
    "model", "preset", "backend", "arch", "components", "device_ops", "host_to_device", "device_to_host",
    "peak_device_bytes", "peak_rss_bytes",
}  # fmt: skip
COMPONENT_KEYS = {"name", "pcc", "threshold", "passed", "reference_seconds", "port_seconds"}


def test_registry_lists_a_throwaway_port(make_plugin, on_sys_path) -> None:
    make_plugin("tp_mlp")
    registry = load_registry()
    port = registry.get("tp_mlp")
    assert registry.plugin_of["tp_mlp"] == "tp_mlp"
    assert [c.name for c in port.components("tiny")] == ["fc1", "mlp"]
    assert not [b for b in registry.broken if b.name == "tp_mlp"]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("import_error", "ModuleNotFoundError: No module named 'not_a_module_anywhere_12345'"),
        ("raises", "RuntimeError: boom"),
        ("garbage", "ValueError: returned 'str', not a core.port.Port"),
        ("no_hook", "ValueError: implements no ttport_ports hook"),
    ],
)
def test_broken_plugin_is_named_and_others_still_list(
    make_plugin, on_sys_path, kind: str, error: str
) -> None:
    make_plugin("tp_good")
    make_plugin("tp_bad", kind)
    registry = load_registry()
    assert "tp_good" in registry.ports
    broken = [b for b in registry.broken if b.name == "tp_bad"]
    assert len(broken) == 1 and broken[0].error.startswith(error), broken
    assert str(broken[0]).startswith("plugin 'tp_bad' (ttport_throwaway_")


def test_duplicate_port_names_are_rejected(make_plugin, on_sys_path) -> None:
    make_plugin("tp_first", port_name="tp_same")
    make_plugin("tp_second", port_name="tp_same")
    registry = load_registry()
    assert registry.plugin_of["tp_same"] == "tp_first"
    [dup] = [b for b in registry.broken if b.name == "tp_second"]
    assert dup.error == "duplicate port name 'tp_same': already provided by plugin 'tp_first'"


def test_unknown_model_names_the_broken_plugin(make_plugin, on_sys_path) -> None:
    from core.errors import UserError

    make_plugin("tp_bad", "raises")
    with pytest.raises(
        UserError,
        match=r"unknown model 'tp_bad'; registered ports: .*\(plugin 'tp_bad' is broken: RuntimeError: boom\)",
    ):
        load_registry().get("tp_bad")


def test_cli_list_json_shows_port_and_broken_plugin(make_plugin, cli) -> None:
    make_plugin("tp_mlp")
    make_plugin("tp_bad", "import_error")
    out = cli("list", "--json")
    assert out.returncode == 0, out.stderr
    listing = json.loads(out.stdout)
    [port] = [p for p in listing["ports"] if p["name"] == "tp_mlp"]
    assert port["presets"]["tiny"] == [{"name": "fc1", "threshold": 0.99}, {"name": "mlp", "threshold": 0.99}]
    [bad] = [b for b in listing["broken"] if b["name"] == "tp_bad"]
    assert bad["error"].startswith("ModuleNotFoundError")


def test_cli_list_text(make_plugin, on_sys_path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import main

    make_plugin("tp_mlp")
    make_plugin("tp_bad", "raises")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tp_mlp  (plugin tp_mlp)  throw-away 2-layer MLP\n  tiny: fc1 >= 0.99, mlp >= 0.99\n" in out
    assert "BROKEN plugin tp_bad (ttport_throwaway_" in out and "RuntimeError: boom" in out


def test_cli_runs_the_throwaway_port(make_plugin, cli, tmp_path: Path) -> None:
    make_plugin("tp_mlp")
    report_path = tmp_path / "out" / "f.json"
    out = cli("run", "tp_mlp", "--preset", "tiny", "--json", str(report_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == "backend: sim (default), board n150"
    assert "tp_mlp: port fc1" in out.stdout  # progress, component by component
    report = json.loads(report_path.read_text())
    assert REPORT_KEYS <= set(report)
    assert (report["model"], report["preset"], report["backend"], report["arch"]) == (
        "tp_mlp", "tiny", "sim", "wormhole_b0"
    )  # fmt: skip
    assert [c["name"] for c in report["components"]] == ["fc1", "mlp"]
    for c in report["components"]:
        assert COMPONENT_KEYS <= set(c) and c["passed"] and c["pcc"] >= 0.99
    assert report["device_ops"] >= 4 and report["host_to_device"] >= 6 and report["device_to_host"] == 2
    assert report["peak_device_bytes"]["dram"] > 0 and report["peak_rss_bytes"] > 10 * 2**20


def test_shared_templates_cover_the_throwaway_port(make_plugin, child_env) -> None:
    make_plugin("tp_mlp")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "shared_tests",
        "--port",
        "tp_mlp",
        "-rA",
    ]
    out = subprocess.run(cmd, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "PASSED shared_tests/test_ports.py::test_component_pcc[tp_mlp-fc1]" in out.stdout
    assert "PASSED shared_tests/test_ports.py::test_component_pcc[tp_mlp-mlp]" in out.stdout
    assert "PASSED shared_tests/test_ports.py::test_weight_cache_serves_every_weight[tp_mlp]" in out.stdout
    assert "4 passed" in out.stdout


def test_shared_templates_flag_a_broken_plugin(make_plugin, child_env) -> None:
    make_plugin("tp_bad", "garbage")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "shared_tests", "--port", "tp_bad",
           "-k", "broken"]  # fmt: skip
    out = subprocess.run(cmd, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert "plugin 'tp_bad' (ttport_throwaway_" in out.stdout and "not a core.port.Port" in out.stdout
