"""The simulator keeps freed host memory in the heap once a device opens (core/sim/host_memory.py)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from ttport.sim import host_memory
from ttport.sim.ttnn import close_device, open_device

_PROBE = """
import resource, torch
from ttport.sim import host_memory
from ttport.sim.ttnn import close_device, open_device
close_device(open_device(device_id=0))
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.ones(16 * 2**20)  # 64 MiB, touched
    del x
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
# the fewest of three: one reuse that a busy host's reclaim happened to hit does not decide it
print(host_memory.keep_freed_memory(), min(faults() for _ in range(3)))
"""


def _probe(**env: str) -> tuple[bool, int]:
    """(settings in effect, fewest minor page faults of a later 64 MiB allocation) in a fresh process."""
    clean = {k: v for k, v in os.environ.items() if k not in host_memory._GLIBC_SETTINGS}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(host_memory._glibc() is None, reason="mallopt is glibc's")
def test_a_freed_block_is_reused_without_page_faults_once_a_device_opened() -> None:
    pages = 64 * 2**20 // resource.getpagesize()
    kept, faults = _probe()
    assert kept and faults < pages // 10
    # glibc's defaults: the 64 MiB block is mapped and unmapped again, every page faults in anew
    kept, faults = _probe(TTPORT_SIM_MALLOC="default")
    assert not kept and faults > pages // 2


def test_a_process_with_its_own_glibc_settings_keeps_them() -> None:
    kept, _ = _probe(GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")
    assert not kept


def test_an_unknown_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(host_memory.ENV_VAR, "huge")
    with pytest.raises(ValueError, match=r"TTPORT_SIM_MALLOC='huge': expected 'keep'"):
        host_memory._wanted()


def test_opening_a_device_decides_the_settings() -> None:
    close_device(open_device(device_id=0))
    assert host_memory._configured == (host_memory._glibc() is not None and host_memory._wanted())
