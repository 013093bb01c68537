"""`ttport exec -- CMD ...`: run a command whose Python processes import the simulator as `ttnn`.

The command's environment gets core/compat/site first on PYTHONPATH (its sitecustomize installs the import
hook at start-up, in every Python process the command starts), this plugin in PYTEST_PLUGINS, and the
simulated board in TTPORT_BOARD. Nothing in the program's tree is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent / "site"
PLUGIN = "ttport.compat.pytest_plugin"


def exec_environment(base: Mapping[str, str], board: str | None = None) -> dict[str, str]:
    """`base` plus what makes `import ttnn` resolve to the simulator in every Python child."""
    env = dict(base)
    path = [str(SITE_DIR)] + [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SITE_DIR)
    ]
    env["PYTHONPATH"] = os.pathsep.join(path)
    plugins = [p for p in env.get("PYTEST_PLUGINS", "").split(",") if p and p != PLUGIN]
    env["PYTEST_PLUGINS"] = ",".join([PLUGIN, *plugins])
    env["TTPORT_EXEC"] = "1"
    if board:
        env["TTPORT_BOARD"] = board
    return env


def run(command: Sequence[str], board: str | None = None) -> int:
    """Run `command` (argv) under the simulator; returns its exit code (127: not found)."""
    executable = shutil.which(command[0])
    if executable is None:
        raise FileNotFoundError(command[0])
    completed = subprocess.run(list(command), env=exec_environment(os.environ, board), check=False)
    return completed.returncode
