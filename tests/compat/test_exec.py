"""`ttport exec`: a program (and its children) importing ttnn / tt_lib gets the simulator, unchanged, even with
a "real" ttnn first on the path, its own top-level `models` package and its own sitecustomize."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from ttport.cli import main

PROGRAM = """
import os
import subprocess
import sys

import torch
import ttnn
import ttnn.experimental
import ttnn.transformer
import tt_lib.fallback_ops as fallback_ops
from ttnn.distributed.distributed import ConcatMeshToTensor

from models.mine import VALUE  # the program's own top-level `models` package

assert ttnn.__name__ == "ttport.sim.ttnn", ttnn.__name__
assert ttnn.transformer.scaled_dot_product_attention is not None
assert ConcatMeshToTensor is ttnn.ConcatMeshToTensor
assert os.environ.get("OWN_SITECUSTOMIZE") == "ran", "the program's own sitecustomize must still run"

device = ttnn.open_device(device_id=0)
x = torch.arange(16.0).reshape(1, 1, 4, 4)
y = fallback_ops.interpolate(
    ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device), scale_factor=2, mode="nearest"
)
assert y.device() is device and y.layout == ttnn.ROW_MAJOR_LAYOUT and tuple(y.shape) == (1, 1, 8, 8)
assert torch.equal(ttnn.to_torch(y).float(), torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))

child = subprocess.run([sys.executable, "-c", "import ttnn; print(ttnn.__name__)"], capture_output=True, text=True)
assert child.stdout.strip() == "ttport.sim.ttnn", child.stdout + child.stderr
try:
    import ttnn.no_such_module  # noqa: F401
except ModuleNotFoundError as exc:
    assert "ttnn.no_such_module is not simulated yet" in str(exc), exc
else:
    raise AssertionError("a missing submodule must fail")
print("PROGRAM OK", VALUE)
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def program_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A program tree shaped like tt-metal's (top-level `models`), a fake real `ttnn` that must never load,
    and a sitecustomize of the user's own, both on PYTHONPATH."""
    program = tmp_path / "program"
    (program / "models").mkdir(parents=True)
    (program / "models" / "__init__.py").write_text("")
    (program / "models" / "mine.py").write_text("VALUE = 'own-models'\n")
    (program / "run_model.py").write_text(textwrap.dedent(PROGRAM))
    fake = tmp_path / "real_ttnn"
    (fake / "ttnn").mkdir(parents=True)
    (fake / "ttnn" / "__init__.py").write_text("raise ImportError('the real ttnn was imported')\n")
    own_site = tmp_path / "own_site"
    own_site.mkdir()
    (own_site / "sitecustomize.py").write_text("import os\nos.environ['OWN_SITECUSTOMIZE'] = 'ran'\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(own_site), str(fake)]))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.chdir(program)
    return program


def test_exec_runs_program_on_the_simulator_without_touching_it(
    program_tree: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = _tree(program_tree)
    code = main(["exec", "--", sys.executable, "run_model.py"])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert "PROGRAM OK own-models" in out
    assert _tree(program_tree) == before


def test_exec_passes_the_exit_code_through(program_tree: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (program_tree / "fail.py").write_text("import ttnn, sys\nsys.exit(3)\n")
    assert main(["exec", "--", sys.executable, "fail.py"]) == 3


def test_exec_bad_input_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exec"]) == 2
    assert capsys.readouterr().err.startswith("ttport: error: exec needs a command")
    assert main(["exec", "--", "no-such-command-xyz"]) == 2
    assert capsys.readouterr().err == "ttport: error: exec: command not found: no-such-command-xyz\n"


def test_exec_environment_is_idempotent() -> None:
    from ttport.compat.execute import PLUGIN, SITE_DIR, exec_environment

    once = exec_environment({"PYTHONPATH": "/a", "PYTEST_PLUGINS": "x"}, board="n300")
    twice = exec_environment(once)
    assert twice["PYTHONPATH"].split(os.pathsep) == [str(SITE_DIR), "/a"]
    assert twice["PYTEST_PLUGINS"] == f"{PLUGIN},x"
    assert twice["TTPORT_BOARD"] == "n300"
