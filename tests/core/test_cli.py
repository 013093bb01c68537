"""CLI bad input: one line on stderr, exit 2, no traceback. In-process where the backend does not matter
(fast), in a subprocess where it does (backend selection is per process)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ttport.cli import main


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, expected: str) -> None:
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert err.splitlines() == [f"ttport: error: {expected}"]
    assert "Traceback" not in out + err


@pytest.fixture
def tp_mlp(make_plugin, on_sys_path) -> str:
    return make_plugin("tp_mlp")


def test_unknown_model(tp_mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "no_such_model"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("ttport: error: unknown model 'no_such_model'; registered ports: ")
    assert "tp_mlp" in err


def test_unknown_preset(tp_mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "tp_mlp", "--preset", "huge"])
    _one_line_error(capsys, code, "unknown preset 'huge' for tp_mlp; presets: tiny, full")


def test_missing_checkpoint_dir(tp_mlp: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    code = main(["run", "tp_mlp", "--weights", str(missing)])
    _one_line_error(capsys, code, f"checkpoint directory not found: {missing}")


def test_user_error_from_a_port_is_one_line(make_plugin, on_sys_path, capsys, monkeypatch, tmp_path) -> None:
    """Ports raise ttport.errors.UserError for a corrupt checkpoint or weights not matching the config."""
    from ttport.errors import UserError
    from ttport.plugins.registry import load_registry

    make_plugin("tp_mlp")
    port_class = type(load_registry().get("tp_mlp"))

    def bad_checkpoint(self, preset, weights, seed):
        raise UserError(f"{weights}: fc1.weight has shape [3, 3], config expects [64, 32]")

    monkeypatch.setattr(port_class, "build_reference", bad_checkpoint)
    code = main(["run", "tp_mlp", "--weights", str(tmp_path)])
    _one_line_error(capsys, code, f"{tmp_path}: fc1.weight has shape [3, 3], config expects [64, 32]")


def test_bad_board_env(
    tp_mlp: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTPORT_BOARD", "n999")
    code = main(["run", "tp_mlp"])
    _one_line_error(capsys, code, "TTPORT_BOARD='n999' is not a board; choose one of n150, n300, p150, t3k, galaxy")


@pytest.mark.parametrize("args", [["run", "x", "--backend", "gpu"], ["run", "x", "--board", "n999"], ["fly"]])
def test_bad_options_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "invalid choice" in err and "Traceback" not in err


def test_bad_backend_env_in_a_fresh_process(make_plugin, cli, child_env) -> None:
    make_plugin("tp_mlp")
    out = cli("run", "tp_mlp", env={**child_env, "TTPORT_BACKEND": "gpu"})
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        "ttport: error: TTPORT_BACKEND='gpu' is not a backend; choose one of sim, device, auto"
    ]


@pytest.mark.skipif(importlib.util.find_spec("ttnn") is not None, reason="real ttnn is installed here")
def test_device_backend_without_ttnn(make_plugin, cli) -> None:
    make_plugin("tp_mlp")
    out = cli("run", "tp_mlp", "--backend", "device")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith(
        "ttport: error: backend 'device' needs real ttnn (pip install 'ttport[device]')"
    )
    assert "Traceback" not in out.stderr


# -- issue 10, section 3: bad input is one line on stderr, exit 2, before the expensive work ----------


def _refused_before_work(capsys: pytest.CaptureFixture[str], code: int, expected: str) -> None:
    """One line, exit 2, and nothing ran: not even the backend line is printed."""
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert err.splitlines() == [f"ttport: error: {expected}"], err
    assert out == "" and "Traceback" not in err


@pytest.mark.parametrize("seed", ["18446744073709551616", "-1", "4294967296"])
def test_seed_out_of_range(tp_mlp: str, capsys: pytest.CaptureFixture[str], seed: str) -> None:
    """torch.manual_seed refused 2**64 after the whole run; ports add offsets (seed + 1000) to the seed."""
    code = main(["run", "tp_mlp", "--seed", seed])
    _refused_before_work(capsys, code, f"--seed must be an integer from 0 to 4294967295, got {seed}")


def test_largest_seed_runs(tp_mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "tp_mlp", "--seed", "4294967295"]) == 0, capsys.readouterr()


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Path:
    """A directory where no file can be created, also for root (who ignores chmod): sysfs."""
    import os

    if os.geteuid() == 0:
        return Path("/sys")
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    return directory


def test_bad_json_destinations_are_refused_before_the_run(
    tp_mlp: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, read_only_dir: Path
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    cases = [
        ("", "--json: empty path"),
        (str(tmp_path), f"--json {tmp_path}: is a directory"),
        (str(a_file / "r.json"), f"--json {a_file / 'r.json'}: a parent of the path is not a directory"),
    ]
    for path, expected in cases:
        _refused_before_work(capsys, main(["run", "tp_mlp", "--json", path]), expected)
    code = main(["run", "tp_mlp", "--json", str(read_only_dir / "r.json")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"ttport: error: --json {read_only_dir / 'r.json'}: cannot create files in ")
    assert a_file.read_text() == "keep"


def test_unusable_cache_is_refused_before_the_run(
    tp_mlp: str, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, read_only_dir: Path
) -> None:
    """Chosen behaviour (README): a TTPORT_CACHE that cannot be used is bad input (exit 2, one line)."""
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    monkeypatch.setenv("TTPORT_CACHE", str(a_file))
    _refused_before_work(capsys, main(["run", "tp_mlp"]), f"TTPORT_CACHE={a_file}: not a directory")
    monkeypatch.setenv("TTPORT_CACHE", str(a_file / "cache"))
    code = main(["run", "tp_mlp"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.startswith(f"ttport: error: TTPORT_CACHE={a_file / 'cache'}: ")
    monkeypatch.setenv("TTPORT_CACHE", str(read_only_dir))
    code = main(["run", "tp_mlp"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"ttport: error: TTPORT_CACHE={read_only_dir}: cannot write in the directory: ")
    assert a_file.read_text() == "keep"


def test_cache_hits_and_misses_are_reported(tp_mlp: str, capsys, monkeypatch, tmp_path: Path) -> None:
    import json

    monkeypatch.setenv("TTPORT_CACHE", str(tmp_path / "cache"))
    for expected in ("0 hits, 4 misses", "4 hits, 0 misses"):
        assert main(["run", "tp_mlp", "--json", str(tmp_path / "r.json")]) == 0
        out, err = capsys.readouterr()
        assert f"weight cache {tmp_path / 'cache'}: {expected}" in out and err == ""
        cache = json.loads((tmp_path / "r.json").read_text())["weight_cache"]
        assert f"{cache['hits']} hits, {cache['misses']} misses" == expected


def test_device_that_cannot_open_fails_before_the_references(
    make_plugin, on_sys_path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--backend device` without a usable card failed after every reference had been computed."""
    from ttport import runner
    from ttport.plugins.registry import load_registry

    make_plugin("tp_mlp")
    port_class = type(load_registry().get("tp_mlp"))
    built: list[str] = []
    monkeypatch.setattr(port_class, "build_reference", lambda self, *a: built.append("ref"))

    def no_card(mesh_shape):
        raise RuntimeError(
            "TT_FATAL @ tt_cluster.cpp:135: No chips detected in the cluster\nbacktrace:\n --- x"
        )

    monkeypatch.setattr(runner.devices, "open_for", no_card)
    code = main(["run", "tp_mlp"])
    out, err = capsys.readouterr()
    assert code == 2 and built == [], out + err
    assert err.splitlines() == [
        "ttport: error: cannot open the sim device: TT_FATAL @ tt_cluster.cpp:135: No chips detected in the cluster"
    ]


def test_internal_error_has_its_own_exit_code(make_plugin, on_sys_path, capsys, monkeypatch) -> None:
    """A crash exited 1, like "a component failed"; now 3, one line, the traceback with --verbose."""
    from ttport.plugins.registry import load_registry

    make_plugin("tp_mlp")
    port_class = type(load_registry().get("tp_mlp"))

    def bug(self, ctx):
        return 1 / 0

    monkeypatch.setattr(port_class, "build_model", bug)
    code = main(["run", "tp_mlp"])
    out, err = capsys.readouterr()
    assert code == 3 and "Traceback" not in err
    assert err.splitlines() == [
        "ttport: internal error: ZeroDivisionError: division by zero (run with --verbose for the traceback)"
    ]
    code = main(["--verbose", "run", "tp_mlp"])
    out, err = capsys.readouterr()
    assert code == 3 and "Traceback" in err and "return 1 / 0" in err
    assert err.splitlines()[-1] == "ttport: internal error: ZeroDivisionError: division by zero"


def test_exit_codes_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit):
            main(args)
        out = capsys.readouterr().out
        for line in (
            "0  every component passed",
            "1  a component failed",
            "2  bad input",
            "3  internal error",
        ):
            assert line in out, (args, out)


def test_multi_line_user_error_is_one_line(make_plugin, on_sys_path, capsys, monkeypatch, tmp_path) -> None:
    from ttport.errors import UserError
    from ttport.plugins.registry import load_registry

    make_plugin("tp_mlp")
    port_class = type(load_registry().get("tp_mlp"))

    def bad_checkpoint(self, preset, weights, seed):
        raise UserError("checkpoint x: cannot load: Error(s) in loading state_dict:\n\tsize mismatch for a\n")

    monkeypatch.setattr(port_class, "build_reference", bad_checkpoint)
    code = main(["run", "tp_mlp", "--weights", str(tmp_path)])
    _one_line_error(
        capsys, code, "checkpoint x: cannot load: Error(s) in loading state_dict: size mismatch for a"
    )


def _pi0_checkpoint(directory: Path, edit) -> Path:
    """A tiny PI0 saved by transformers, its tensors rewritten by `edit(dict)`."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from ttport.models.pi0.presets import PRESETS
    from ttport.models.pi0.reference import build_reference

    build_reference(PRESETS["tiny"], None, seed=3).save_pretrained(directory)
    path = directory / "model.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    edit(tensors)
    save_file(tensors, str(path), metadata=metadata)
    return directory


@pytest.fixture(scope="module")
def pi0_missing_weight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny PI0 checkpoint lacking one Gemma weight: transformers prints its LOAD REPORT table."""

    def drop(tensors: dict) -> None:
        for key in [k for k in tensors if "model.layers.1.mlp.up_proj" in k]:
            del tensors[key]

    return _pi0_checkpoint(tmp_path_factory.mktemp("pi0-missing"), drop)


def test_nan_weight_run_exits_2_with_one_line(cli, tmp_path: Path) -> None:
    """Issue 10: one NaN in one fc1 weight ran and reported PASS with PCC 1.0 on every component."""
    key = "paligemma_with_expert.paligemma.model.vision_tower.encoder.layers.0.mlp.fc1.weight"

    def poison(tensors: dict) -> None:
        tensors[key] = tensors[key].clone()
        tensors[key].view(-1)[0] = float("nan")

    directory = _pi0_checkpoint(tmp_path / "nan", poison)
    out = cli("run", "pi0", "--weights", str(directory))
    assert out.returncode == 2 and "PASS" not in out.stdout, out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        f"ttport: error: checkpoint {directory}: {key} holds 1 NaN/Inf value(s); the weights are broken"
    ]


def test_bad_checkpoint_is_one_line_without_load_report(cli, pi0_missing_weight: Path) -> None:
    out = cli("run", "pi0", "--weights", str(pi0_missing_weight))
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "LOAD REPORT" not in out.stderr, out.stderr
    assert lines[0].startswith(f"ttport: error: checkpoint {pi0_missing_weight}: 2 weight(s) missing")
    verbose = cli("--verbose", "run", "pi0", "--weights", str(pi0_missing_weight))
    assert verbose.returncode == 2 and "LOAD REPORT" in verbose.stderr
