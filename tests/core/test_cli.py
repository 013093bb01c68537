"""CLI bad input: one line on stderr, exit 2, no traceback. In-process where the backend does not matter
(fast), in a subprocess where it does (backend selection is per process)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from core.cli import main


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
    """Ports raise core.errors.UserError for a corrupt checkpoint or weights not matching the config."""
    from core.errors import UserError
    from core.plugins.registry import load_registry

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
    _one_line_error(capsys, code, "TTPORT_BOARD='n999' is not a board; choose one of n150, n300, p150")


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
