"""Which ttnn the ports talk to: the host simulator (`sim`), real ttnn on a card (`device`), or `auto`.

Port code imports the module once and calls it exactly like upstream tt-metal code::

    from ttport.backend import ttnn      # in tt-metal this line becomes: import ttnn

    y = ttnn.linear(x, self.weight, bias=self.bias)

`ttnn` is a thin proxy that resolves to `ttport.sim.ttnn` or the real `ttnn` package the first time it is
used. The choice comes from `select_backend()` (CLI --backend, pytest --backend) or else the
TTPORT_BACKEND environment variable, default `sim`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

BACKENDS = ("sim", "device", "auto")
ENV_VAR = "TTPORT_BACKEND"
DEFAULT = "sim"

_state: dict[str, Any] = {"requested": None, "resolved": None, "module": None, "source": None}


class BackendError(RuntimeError):
    """The requested backend cannot be used on this machine."""


def select_backend(name: str | None) -> None:
    """Request a backend before the first ttnn call. Re-selecting after resolution must agree."""
    if name is None:
        return
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if _state["module"] is not None and name not in (_state["requested"], _state["resolved"]):
        raise BackendError(
            f"backend already resolved to {_state['resolved']!r}; cannot switch to {name!r} in this process"
        )
    _state.update(requested=name, source="option")


def requested_backend() -> str:
    """The backend asked for: select_backend(), else TTPORT_BACKEND, else `sim` (not yet resolved)."""
    name = _state["requested"] or os.environ.get(ENV_VAR) or DEFAULT
    if name not in BACKENDS:
        raise BackendError(f"{ENV_VAR}={name!r} is not a backend; choose one of {', '.join(BACKENDS)}")
    return name


def _real_ttnn() -> ModuleType:
    # ttnn 0.81.1 registers its operations submodules under bare names in sys.modules ("core", "matmul", ...);
    # this project installs as `ttport`, so nothing of ours can be shadowed by them.
    try:
        return importlib.import_module("ttnn")
    except Exception as exc:  # ImportError, or the wheel's own import-time failures
        raise BackendError(f"backend 'device' needs real ttnn (pip install 'ttport[device]'): {exc}") from exc


def _device_available(module: ModuleType) -> bool:
    try:
        return int(module.GetNumAvailableDevices()) > 0
    except Exception:
        return False


def resolve() -> tuple[str, ModuleType]:
    """Resolve the requested backend to ('sim' | 'device', module); cached for the process."""
    if _state["module"] is None:
        name = requested_backend()
        if name == "sim":
            module, resolved = importlib.import_module("ttport.sim.ttnn"), "sim"
        elif name == "device":
            module, resolved = _real_ttnn(), "device"
        else:
            try:
                real = _real_ttnn()
            except BackendError:
                real = None
            if real is not None and _device_available(real):
                module, resolved = real, "device"
            else:
                module, resolved = importlib.import_module("ttport.sim.ttnn"), "sim"
        source = _state["source"] or (ENV_VAR if os.environ.get(ENV_VAR) else "default")
        _state.update(module=module, resolved=resolved, requested=name, source=source)
    return _state["resolved"], _state["module"]


def reset() -> None:
    """Forget the selection and the resolved module: for tests that exercise selection in-process."""
    _state.update(requested=None, resolved=None, module=None, source=None)


def describe() -> str:
    """One line for the start of every run: the backend in use, and how it was chosen."""
    resolved = backend_name()
    line = f"backend: {resolved} ({_state['source']})"
    if _state["requested"] != resolved:
        line = f"backend: {resolved} (auto: {'card found' if resolved == 'device' else 'no card, simulator'})"
    return line


def backend_name() -> str:
    """'sim' or 'device': what this process runs on (resolving it if needed)."""
    return resolve()[0]


def is_simulator() -> bool:
    return backend_name() == "sim"


class _TtnnProxy:
    """Forwards attribute access to the resolved ttnn module, so `ttnn.x` reads like upstream code."""

    def __getattr__(self, name: str) -> Any:
        return getattr(resolve()[1], name)

    def __dir__(self) -> list[str]:
        return dir(resolve()[1])

    def __repr__(self) -> str:
        backend, module = resolve()
        return f"<ttnn ({backend}): {module.__name__}>"


ttnn: Any = _TtnnProxy()
