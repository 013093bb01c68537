"""Backend selection: option > TTPORT_BACKEND > default `sim`; bad names and impossible choices error."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttport import backend

REPO = Path(__file__).resolve().parents[2]
HAS_REAL_TTNN = importlib.util.find_spec("ttnn") is not None


@pytest.fixture
def fresh_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run a selection test from a clean state, then restore the session's resolved backend."""
    saved = dict(backend._state)
    backend.reset()
    monkeypatch.delenv(backend.ENV_VAR, raising=False)
    yield
    backend._state.update(saved)


def test_default_is_sim(fresh_backend: None) -> None:
    assert backend.requested_backend() == "sim"
    assert backend.backend_name() == "sim"
    assert backend.describe() == "backend: sim (default)"
    assert repr(backend.ttnn) == "<ttnn (sim): ttport.sim.ttnn>"


def test_env_var(fresh_backend: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(backend.ENV_VAR, "sim")
    assert backend.describe() == "backend: sim (TTPORT_BACKEND)"


def test_option_beats_env(fresh_backend: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(backend.ENV_VAR, "device")
    backend.select_backend("sim")
    assert backend.backend_name() == "sim"
    assert backend.describe() == "backend: sim (option)"


def test_unknown_names(fresh_backend: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(backend.BackendError, match=r"unknown backend 'gpu'; choose one of sim, device, auto"):
        backend.select_backend("gpu")
    monkeypatch.setenv(backend.ENV_VAR, "cuda")
    with pytest.raises(backend.BackendError, match=r"TTPORT_BACKEND='cuda' is not a backend"):
        backend.backend_name()


@pytest.mark.skipif(HAS_REAL_TTNN, reason="real ttnn is installed here")
def test_device_without_ttnn_is_an_error(fresh_backend: None) -> None:
    backend.select_backend("device")
    with pytest.raises(
        backend.BackendError, match=r"backend 'device' needs real ttnn \(pip install 'ttport\[device\]'\)"
    ):
        backend.backend_name()


@pytest.mark.skipif(HAS_REAL_TTNN, reason="real ttnn is installed here")
def test_auto_without_card_falls_back_to_sim(fresh_backend: None) -> None:
    backend.select_backend("auto")
    assert backend.backend_name() == "sim"
    assert backend.describe() == "backend: sim (auto: no card, simulator)"


def test_cannot_switch_after_resolution(fresh_backend: None) -> None:
    backend.select_backend("sim")
    backend.resolve()
    backend.select_backend("sim")  # agreeing is fine
    with pytest.raises(
        backend.BackendError, match="backend already resolved to 'sim'; cannot switch to 'device'"
    ):
        backend.select_backend("device")


def test_pytest_option_reaches_the_header() -> None:
    """--backend and --board are pytest options (root conftest) and show in the session header."""
    probe = REPO / "tests" / "core" / "test_compare_pcc.py"
    cmd = [sys.executable, "-m", "pytest", "--co", "--backend", "auto", "--board", "p150", str(probe)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    expected = "backend: sim (auto: no card, simulator), board p150" if not HAS_REAL_TTNN else "backend:"
    assert expected in out.stdout


@pytest.mark.skipif(HAS_REAL_TTNN, reason="real ttnn is installed here")
def test_pytest_option_device_without_ttnn_is_a_usage_error() -> None:
    probe = REPO / "tests" / "core" / "test_compare_pcc.py"
    cmd = [sys.executable, "-m", "pytest", "-q", "--backend", "device", str(probe)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 4  # pytest's usage-error exit code
    assert "ERROR: backend 'device' needs real ttnn (pip install 'ttport[device]')" in out.stderr
