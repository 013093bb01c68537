"""Sessions: `nox -s tests` (everything), `nox -s pi0|gemma3|clip|mamba` (one port), `nox -s lint`,
`nox -s numerics` (exact matmul numerics vs wolfpine), `nox -s visualizer` (a --report folder served by
ttnn-visualizer, checked through its HTTP API),
`nox -s run -- MODEL [ttport run options]` (the CLI on the simulator).

Every session installs torch 2.13.0 first: that CPU build is the one the project is tested with (and a
local wheel on the development machines); letting the resolver pick torch would download GBs of CUDA.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import nox

PYTHON = "3.11"
TORCH = "torch==2.13.0"
# port -> the model packages whose own tests belong to it (pi0 and gemma3 share the SigLIP tower)
PORTS = {"pi0": ("pi0", "siglip"), "gemma3": ("gemma3", "siglip"), "clip": ("clip",), "mamba": ("mamba",)}

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"


def install(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("-e", ".[dev]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Everything: unit tests of core and the simulator, the shared templates over every registered port,
    and the models' own tests."""
    install(session)
    session.run("python", "-m", "pytest", "-q", "tests", "shared_tests", "models", *session.posargs)


@nox.session(python=PYTHON)
def run(session: nox.Session) -> None:
    """`ttport run` on the simulator, e.g. `nox -s run -- pi0 --preset tiny`."""
    install(session)
    session.run("ttport", "run", *(session.posargs or ["pi0", "--preset", "tiny"]))


def _port_session(name: str) -> None:
    @nox.session(python=PYTHON, name=name)
    def port_session(session: nox.Session) -> None:
        install(session)
        listing = json.loads(session.run("ttport", "list", "--json", silent=True, stderr=None))
        broken = [b["error"] for b in listing["broken"] if b["name"] == name]
        if broken:
            session.error(f"plugin {name!r} is broken: {broken[0]}")
        if name not in {p["name"] for p in listing["ports"]}:
            session.log(f"no port named {name!r} is registered yet; nothing to test")
            return
        targets = ["shared_tests"]
        targets += [f"models/{m}/tests" for m in PORTS[name] if Path(f"models/{m}/tests").is_dir()]
        session.run("python", "-m", "pytest", "-q", *targets, "--port", name, *session.posargs)

    port_session.__doc__ = f"Shared templates for the {name} port, plus its models' own tests if present."


for _name in PORTS:
    _port_session(_name)


@nox.session(python=PYTHON)
def visualizer(session: nox.Session) -> None:
    """`ttport run pi0 --preset tiny --report DIR`, then ttnn-visualizer (PyPI) serves DIR on 127.0.0.1 and
    tests/visualizer/check_api.py checks operations, tensors, buffers, devices and comparisons through its
    HTTP API; the server is stopped at the end. `nox -s visualizer -- DIR` checks an existing folder."""
    install(session)
    session.install("ttnn-visualizer")
    if session.posargs:
        folder = session.posargs[0]
    else:
        folder = str(Path(session.create_tmp()) / "pi0-report")
        session.run("ttport", "run", "pi0", "--preset", "tiny", "--report", folder)
    session.run("python", "tests/visualizer/check_api.py", folder, "ttnn-visualizer")


@nox.session(python=PYTHON)
def numerics(session: nox.Session) -> None:
    """The exact matrix-engine mode bit for bit against wolfpine's MatrixUnit (ttsim's FPU model ported to
    Python): fidelity x Dst width x operand dtypes x shapes (parity/fpu_oracle.py; `-- --quick` for 3 shapes)."""
    install(session)
    session.install("wolfpine==2.2")
    session.run("python", "-m", "parity.fpu_oracle", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


def _pyenv_or(version: str) -> str:
    """pyenv's build of `version` when pyenv has one installed but not enabled (its `python3.12` shim then
    fails, so nox would skip the session), else `version` for nox to discover."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    builds = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    return builds[-1] if builds else version


@nox.session(python=_pyenv_or("3.12"))
def parity(session: nox.Session) -> None:
    """The simulator against real ttnn 0.81.1 (wheels for CPython 3.10 / 3.12 only) without a card: host
    conversions bit for bit, host-side errors, ops vs golden functions, API names and keywords, and the
    coverage figure of real ttnn's public callables (`python -m parity`, see parity/__init__.py). PyPI's torch for 3.12 is the CUDA build; the project's
    own dependencies (transformers ...) are not needed, so the repository is installed without them."""
    session.install("ttnn==0.81.1", "torch==2.13.0", "pyyaml")
    session.install("--no-deps", "-e", ".")
    session.run("python", "-m", "parity", *session.posargs)
