"""The registry finds plugins only through entry points, isolates broken ones (sys.exit included), refuses
ambiguous port names (qualified plugin:port names select either) and invalid ports;
a throw-away third-party port is listed, run and covered by the shared templates with no change to core."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ttport.plugins.registry import load_registry

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
        ("garbage", "ValueError: returned 'str', not a ttport.port.Port"),
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


def test_duplicate_port_names_are_refused_for_both(make_plugin, on_sys_path) -> None:
    make_plugin("tp_first", port_name="tp_same")
    make_plugin("tp_second", port_name="tp_same")
    registry = load_registry()
    assert "tp_same" not in registry.ports
    assert registry.plugin_of["tp_first:tp_same"] == "tp_first"
    assert registry.plugin_of["tp_second:tp_same"] == "tp_second"
    [first] = [b for b in registry.broken if b.name == "tp_first"]
    [second] = [b for b in registry.broken if b.name == "tp_second"]
    assert first.error.startswith(
        "port name 'tp_same' is also provided by plugin 'tp_second' (ttport_throwaway_"
    )
    assert second.error.startswith(
        "port name 'tp_same' is also provided by plugin 'tp_first' (ttport_throwaway_"
    )
    for b in (first, second):
        assert b.error.endswith(
            ": the bare name selects neither; run 'tp_first:tp_same' or 'tp_second:tp_same'"
        )


@pytest.mark.parametrize("entry_name", ["aaa_evil", "zzz_evil"])  # before and after "pi0" alphabetically
def test_third_party_port_named_like_a_builtin(make_plugin, on_sys_path, entry_name: str) -> None:
    """Neither wins by entry-point order: the bare name is refused, both plugins are listed as broken with
    a message naming the other, and "plugin:port" selects either."""
    from ttport.errors import UserError
    from ttport.models.pi0.port import PI0Port

    make_plugin(entry_name, port_name="pi0")
    registry = load_registry()
    assert "pi0" not in registry.ports
    assert isinstance(registry.get("pi0:pi0"), PI0Port)
    impostor = registry.get(f"{entry_name}:pi0")
    assert not isinstance(impostor, PI0Port) and impostor.description == "throw-away 2-layer MLP"
    assert registry.plugin_of["pi0:pi0"] == "pi0" and registry.plugin_of[f"{entry_name}:pi0"] == entry_name
    choices = sorted(["'pi0:pi0'", f"'{entry_name}:pi0'"])
    with pytest.raises(UserError) as info:
        registry.get("pi0")
    assert (
        str(info.value) == f"port name 'pi0' is provided by several plugins; run {choices[0]} or {choices[1]}"
    )
    [builtin] = [b for b in registry.broken if b.name == "pi0"]
    [other] = [b for b in registry.broken if b.name == entry_name]
    assert builtin.target == "ttport.models.pi0.plugin"
    assert builtin.error.startswith(
        f"port name 'pi0' is also provided by plugin '{entry_name}' (ttport_throwaway_"
    )
    assert other.error.startswith("port name 'pi0' is also provided by plugin 'pi0' (ttport.models.pi0.plugin)")
    assert "gemma3" in registry.ports and "gemma3:gemma3" in registry.qualified  # the rest is untouched


def test_qualified_name_selects_an_unambiguous_port_too(make_plugin, on_sys_path) -> None:
    make_plugin("tp_mlp")
    registry = load_registry()
    assert registry.get("tp_mlp:tp_mlp") is registry.get("tp_mlp")


def test_cli_run_refuses_an_ambiguous_name_and_runs_a_qualified_one(make_plugin, cli) -> None:
    make_plugin("tp_a", port_name="tp_same")
    make_plugin("tp_b", port_name="tp_same")
    out = cli("run", "tp_same")
    assert out.returncode == 2 and out.stderr.splitlines() == [
        "ttport: error: port name 'tp_same' is provided by several plugins; run 'tp_a:tp_same' or 'tp_b:tp_same'"
    ], out.stdout + out.stderr
    out = cli("run", "tp_b:tp_same")
    assert out.returncode == 0 and "PASS: tp_same [tiny]" in out.stdout, out.stdout + out.stderr


def test_two_entry_points_of_one_name_are_both_refused(make_plugin, on_sys_path) -> None:
    make_plugin("tp_dup", port_name="tp_one")
    make_plugin("tp_dup", port_name="tp_two")
    registry = load_registry()
    assert not {"tp_one", "tp_two"} & set(registry.ports)
    broken = [b for b in registry.broken if b.name == "tp_dup"]
    assert len(broken) == 2
    targets = sorted(b.target for b in broken)
    for b in broken:
        assert b.error == (
            f"plugin name 'tp_dup' is used by several entry points ({targets[0]} and {targets[1]}); uninstall one"
        )


def test_sys_exit_in_a_plugin_is_a_broken_plugin(make_plugin, on_sys_path) -> None:
    make_plugin("tp_mlp")
    make_plugin("tp_exit", "exit_at_import")
    make_plugin("tp_hook_exit", "exit_in_hook")
    registry = load_registry()
    assert "tp_mlp" in registry.ports
    errors = {b.name: b.error for b in registry.broken}
    assert errors["tp_exit"] == "SystemExit: the plugin called sys.exit(0)"
    assert errors["tp_hook_exit"] == "SystemExit: the plugin called sys.exit(3)"


def test_ctrl_c_while_loading_plugins_still_stops(make_plugin, on_sys_path) -> None:
    make_plugin("tp_interrupt", "interrupt_at_import")
    with pytest.raises(KeyboardInterrupt):
        load_registry()


def test_cli_run_goes_on_when_a_plugin_calls_sys_exit(make_plugin, cli, tmp_path: Path) -> None:
    """Before: `ttport run` ended with exit 0, nothing run and no report."""
    make_plugin("tp_mlp")
    make_plugin("tp_exit", "exit_at_import")
    report = tmp_path / "r.json"
    out = cli("run", "tp_mlp", "--json", str(report))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS: tp_mlp [tiny]" in out.stdout and json.loads(report.read_text())["passed"] is True
    listing = cli("list")
    assert listing.returncode == 0
    assert "BROKEN plugin tp_exit (ttport_throwaway_" in listing.stdout
    assert "SystemExit: the plugin called sys.exit(0)" in listing.stdout


FC1 = "lambda ctx: to_torch(ctx.model.fc1(upload(ctx))), 0.99)"


def test_numpy_threshold_is_a_number(make_plugin, cli, tmp_path: Path) -> None:
    """A numpy scalar threshold is a real number in (0, 1]: listed and reported as a JSON number."""
    make_plugin("tp_np", replace={FC1: FC1.replace("0.99", "__import__('numpy').float32(0.5)")})
    listing = cli("list", "--json")
    assert listing.returncode == 0, listing.stderr
    [port] = [p for p in json.loads(listing.stdout)["ports"] if p["name"] == "tp_np"]
    assert port["presets"]["tiny"][0] == {"name": "fc1", "threshold": 0.5, "metric": "pcc"}
    out = cli("run", "tp_np", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["components"][0]["threshold"] == 0.5


@pytest.mark.parametrize(
    ("replace", "error"),
    [
        ({FC1: FC1.replace("0.99", '"0.99"')}, "ValueError: port 'tp_bad' preset 'tiny' component 'fc1': "
         "threshold must be a number in (0, 1], got '0.99'"),
        ({FC1: FC1.replace("0.99", 'float("nan")')}, "threshold must be a number in (0, 1], got nan"),
        ({FC1: FC1.replace("0.99", "-0.5")}, "threshold must be a number in (0, 1], got -0.5"),
        ({FC1: FC1.replace("0.99", "0")}, "threshold must be a number in (0, 1], got 0"),
        ({FC1: FC1.replace("0.99", "1.5")}, "threshold must be a number in (0, 1], got 1.5"),
        ({FC1: FC1.replace("0.99", "True")}, "threshold must be a number in (0, 1], got True"),
        ({FC1: FC1.replace("0.99", "None")}, "threshold must be a number in (0, 1], got None"),
        ({'Component("fc1"': 'Component(""'}, "ValueError: port 'tp_bad' preset 'tiny': component name must "
         "be a non-empty string, got ''"),
        ({'Component("fc1"': "Component(7"}, "component name must be a non-empty string, got 7"),
        ({'presets = {"tiny": 32, "full": 64}': 'presets = {"full": 64}'},
         "ValueError: port 'tp_bad' has no 'tiny' preset (the shared templates and CI run it)"),
        ({"name = 'tp_bad'": 'name = "   "'}, "ValueError: MlpPort.name must be a non-empty string, got '   '"),
        ({"name = 'tp_bad'": 'name = "a:b"'}, "ValueError: port name 'a:b' must not contain ':'"),
        ({'description = "throw-away 2-layer MLP"': "description = 3"},
         "ValueError: port 'tp_bad': description must be a string"),
        ({'description = "throw-away 2-layer MLP"': 'description = ""\n    mesh_shape = (1, "2")'},
         "ValueError: port 'tp_bad': mesh_shape must be None or two positive ints, got (1, '2')"),
        ({'description = "throw-away 2-layer MLP"': 'description = ""\n    ci_presets = ("tiny", "huge")'},
         "ValueError: port 'tp_bad': ci_presets must be a tuple of its presets with 'tiny', got ('tiny', 'huge')"),
        ({'description = "throw-away 2-layer MLP"':
          'description = ""\n    def mesh_shape_for(self, preset):\n        return (1, 0)'},
         "ValueError: port 'tp_bad': mesh_shape_for('tiny') must be None or two positive ints, got (1, 0)"),
    ],
)  # fmt: skip
def test_invalid_port_is_a_broken_plugin_and_list_still_works(
    make_plugin, on_sys_path, capsys: pytest.CaptureFixture[str], replace: dict[str, str], error: str
) -> None:
    from ttport.cli import main

    make_plugin("tp_good")
    make_plugin("tp_bad", replace=replace)
    registry = load_registry()
    assert "tp_good" in registry.ports and not {"tp_bad", "a:b"} & set(registry.ports)
    [bad] = [b for b in registry.broken if b.name == "tp_bad"]
    assert error in bad.error and (not error.startswith("ValueError") or bad.error.startswith(error)), (
        bad.error
    )
    assert main(["list"]) == 0
    assert f"BROKEN plugin tp_bad ({bad.target}): {bad.error}" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [b["error"] for b in listing["broken"] if b["name"] == "tp_bad"] == [bad.error]


def test_unknown_model_names_the_broken_plugin(make_plugin, on_sys_path) -> None:
    from ttport.errors import UserError

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
    assert port["presets"]["tiny"] == [
        {"name": "fc1", "threshold": 0.99, "metric": "pcc"},
        {"name": "mlp", "threshold": 0.99, "metric": "pcc"},
    ]
    [bad] = [b for b in listing["broken"] if b["name"] == "tp_bad"]
    assert bad["error"].startswith("ModuleNotFoundError")


def test_cli_list_text(make_plugin, on_sys_path, capsys: pytest.CaptureFixture[str]) -> None:
    from ttport.cli import main

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


def test_shared_templates_fail_a_port_with_a_nan_weight(make_plugin, child_env) -> None:
    """comp_pcc would call the NaN outputs a match (masked, or both all NaN): the templates fail, saying why."""
    make_plugin("tp_nan", "mlp_nan")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "shared_tests", "--port", "tp_nan",
           "-k", "component"]  # fmt: skip
    out = subprocess.run(cmd, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1, out.stdout[-3000:]
    assert "2 failed" in out.stdout
    assert (
        "tp_nan / fc1: reference output is not finite (32 NaN, 0 Inf of 2048 values): "
        "the checkpoint or the inputs are broken" in out.stdout
    ), out.stdout[-3000:]


def test_shared_templates_flag_a_broken_plugin(make_plugin, child_env) -> None:
    make_plugin("tp_bad", "garbage")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "shared_tests", "--port", "tp_bad",
           "-k", "broken"]  # fmt: skip
    out = subprocess.run(cmd, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert "plugin 'tp_bad' (ttport_throwaway_" in out.stdout and "not a ttport.port.Port" in out.stdout
