"""Fixtures for core tests: throw-away plugin packages with a *.dist-info, as a third party would ship.

`plugin_dir` writes packages into one temporary directory that tests put on sys.path (in-process) or on
PYTHONPATH (subprocesses). Nothing in core knows about these plugins: they are found through the `ttport`
entry point group like any installed distribution.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# A 2-layer MLP port: torch reference, TT-NN port with ttnn.linear / ttnn.relu, weights through ttport.weights.
MLP_PLUGIN = """
import torch

from ttport.backend import ttnn
from ttport.compare import to_torch
from ttport.plugins import hookimpl
from ttport.port import Component, Port
from ttport.weights import DtypePolicy, convert_state_dict, linear_bias, linear_weight


POISON = False


class MLP(torch.nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, 2 * dim)
        self.fc2 = torch.nn.Linear(2 * dim, dim)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class TtMLP:
    def __init__(self, reference, device):
        def prepare(name, t):
            return linear_weight(t) if name.endswith("weight") else linear_bias(t)

        w = convert_state_dict(reference.state_dict(), device, prepare=prepare,
                               policy=DtypePolicy({"fc2.weight": ttnn.bfloat8_b}))
        self.w = w
        self.device = device

    def fc1(self, x):
        return ttnn.relu(ttnn.linear(x, self.w["fc1.weight"], bias=self.w["fc1.bias"]))

    def forward(self, x):
        return ttnn.linear(self.fc1(x), self.w["fc2.weight"], bias=self.w["fc2.bias"])


def upload(ctx):
    return ttnn.from_torch(ctx.inputs["x"], dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=ctx.device)


class MlpPort(Port):
    name = "NAME"
    description = "throw-away 2-layer MLP"
    presets = {"tiny": 32, "full": 64}

    def build_reference(self, preset, weights, seed):
        torch.manual_seed(seed)
        model = MLP(self.presets[preset]).eval()
        if POISON:  # one NaN weight, as in a damaged checkpoint
            with torch.no_grad():
                model.fc1.weight[0, 0] = float("nan")
        return model

    def make_inputs(self, preset, seed, reference):
        g = torch.Generator().manual_seed(seed)
        return {"x": torch.randn(1, 1, 32, self.presets[preset], generator=g)}

    def build_model(self, ctx):
        return TtMLP(ctx.reference, ctx.device)

    def components(self, preset):
        return [
            Component("fc1", lambda ctx: torch.relu(ctx.reference.fc1(ctx.inputs["x"])),
                      lambda ctx: to_torch(ctx.model.fc1(upload(ctx))), 0.99),
            Component("mlp", lambda ctx: ctx.reference(ctx.inputs["x"]),
                      lambda ctx: to_torch(ctx.model.forward(upload(ctx))), 0.99),
        ]


@hookimpl
def ttport_ports():
    return [MlpPort()]
"""

BROKEN_PLUGINS = {
    "import_error": "import not_a_module_anywhere_12345\n",
    "exit_at_import": "import sys\n\nsys.exit(0)\n",
    "exit_in_hook": "import sys\nfrom ttport.plugins import hookimpl\n\n@hookimpl\ndef ttport_ports():\n    sys.exit(3)\n",
    "interrupt_at_import": "raise KeyboardInterrupt\n",
    "raises": "from ttport.plugins import hookimpl\n\n@hookimpl\ndef ttport_ports():\n    raise RuntimeError('boom')\n",
    "garbage": "from ttport.plugins import hookimpl\n\n@hookimpl\ndef ttport_ports():\n    return ['not a port']\n",
    "no_hook": "def ttport_ports():\n    return []\n",
}

PluginFactory = Callable[..., str]


def _write_dist(root: Path, package: str, entry_name: str, module_text: str) -> None:
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("")
    (root / package / "plugin.py").write_text(textwrap.dedent(module_text))
    dist = root / f"{package}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[ttport]\n{entry_name} = {package}.plugin\n")


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    return root


@pytest.fixture
def make_plugin(plugin_dir: Path) -> PluginFactory:
    """make_plugin(entry_name, kind="mlp" | "mlp_nan" (a NaN weight) | one of BROKEN_PLUGINS,
    port_name=entry_name, replace={text of MLP_PLUGIN: substitute}) -> entry name."""

    def make(
        entry_name: str,
        kind: str = "mlp",
        port_name: str | None = None,
        replace: dict[str, str] | None = None,
    ) -> str:
        package = f"ttport_throwaway_{uuid.uuid4().hex[:10]}"
        if kind in ("mlp", "mlp_nan"):
            text = MLP_PLUGIN.replace('"NAME"', repr(port_name or entry_name))
            text = text.replace("POISON = False", f"POISON = {kind == 'mlp_nan'}")
            for old, new in (replace or {}).items():
                assert old in text, old
                text = text.replace(old, new)
        else:
            text = BROKEN_PLUGINS[kind]
        _write_dist(plugin_dir, package, entry_name, text)
        return entry_name

    return make


@pytest.fixture
def on_sys_path(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the throw-away distributions visible to this process's importlib.metadata."""
    monkeypatch.syspath_prepend(str(plugin_dir))
    return plugin_dir


def subprocess_env(plugin_dir: Path | None = None) -> dict[str, str]:
    """Environment for a child process that sees the throw-away plugins (and the repo, installed or not)."""
    paths = [str(plugin_dir)] if plugin_dir else []
    paths += [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTPORT_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@pytest.fixture
def child_env(plugin_dir: Path) -> dict[str, str]:
    return subprocess_env(plugin_dir)


@pytest.fixture
def cli(child_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """cli(*args) runs `ttport ARGS` in a subprocess (python -m ttport.cli: the console script's target)
    that sees the throw-away plugins."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ttport.cli", *args],
            cwd=REPO,
            env=env or child_env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run
