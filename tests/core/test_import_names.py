"""Installed import names cannot collide (issue 11, item 4): tt-metal's documented setup puts its source tree,
with its own top-level `models` package, first on PYTHONPATH, and real ttnn registers `core` in sys.modules.
On a regular (non-editable) install with such foreign `models` and `core` packages first on the path,
`ttport list`, `ttport run` and `ttport exec` still work, and the program keeps its own `models`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROGRAM = """
import ttnn
from models.common.utility_functions import comp_pcc  # tt-metal's `models`, not this project's
import core

assert ttnn.__name__ == "ttport.sim.ttnn", ttnn.__name__
assert core.FOREIGN and comp_pcc() == "foreign"
print("PROGRAM OK")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A regular install of this repository (a wheel unpacked into a directory, no editable finder) behind a
    foreign tree holding top-level `models` and `core` packages; returns the environment that puts both first."""
    root = tmp_path_factory.mktemp("names")
    source, target = root / "source", root / "site"
    # built from a copy: pip builds in the source tree and would leave build/ behind in the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        cwd=root,
    )  # fmt: skip
    foreign = root / "tt-metal"
    (foreign / "models" / "common").mkdir(parents=True)
    (foreign / "models" / "__init__.py").write_text("")
    (foreign / "models" / "common" / "__init__.py").write_text("")
    (foreign / "models" / "common" / "utility_functions.py").write_text(
        "def comp_pcc():\n    return 'foreign'\n"
    )
    (foreign / "core").mkdir()
    (foreign / "core" / "__init__.py").write_text("FOREIGN = True\n")
    (foreign / "run_model.py").write_text(textwrap.dedent(PROGRAM))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTPORT_")}
    env.update(PYTHONPATH=os.pathsep.join([str(foreign), str(target)]), PYTHONDONTWRITEBYTECODE="1")
    return {"env": env, "cwd": str(foreign), "target": str(target)}  # type: ignore[dict-item]


def _ttport(installed: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttport.cli", *args],
        cwd=installed["cwd"],
        env=installed["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_regular_install_is_the_one_imported(installed: dict) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import ttport, ttport.models.pi0.plugin as p, models, core; "
         "print(ttport.__file__); print(p.__file__); print(models.__file__); print(core.__file__)"],
        cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    ours, plugin, models, core = probe.stdout.split()
    assert ours.startswith(installed["target"]) and plugin.startswith(installed["target"])
    assert models.startswith(installed["cwd"]) and core.startswith(installed["cwd"])


def test_list_and_run_work_behind_foreign_models_and_core(installed: dict) -> None:
    listed = _ttport(installed, "list")
    assert listed.returncode == 0, listed.stderr
    assert {line.split()[0] for line in listed.stdout.splitlines() if line and not line[0].isspace()} >= {
        "pi0",
        "gemma3",
        "clip",
        "mamba",
    }
    run = _ttport(installed, "run", "mamba", "--preset", "tiny")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FAIL" not in run.stdout


def test_exec_keeps_the_programs_own_models_and_core(installed: dict) -> None:
    done = _ttport(installed, "exec", "--", sys.executable, "run_model.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PROGRAM OK" in done.stdout
