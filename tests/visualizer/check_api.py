"""Serve a `ttport run --report DIR` folder with ttnn-visualizer on 127.0.0.1 and check, through its HTTP
API, that operations, tensors, buffers, devices and comparisons come back; the server is stopped at the
end whatever happens. Run by `nox -s visualizer` (which installs ttnn-visualizer from PyPI).

Usage: python tests/visualizer/check_api.py REPORT_DIR [VISUALIZER_EXECUTABLE]
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path,
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Origin": base},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _wait_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"ttnn-visualizer exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(base + "/api/up", timeout=5).read()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise SystemExit(f"ttnn-visualizer did not come up in 120 s:\n{log.read_text()[-3000:]}")


def check(report_dir: Path, executable: str) -> None:
    report_dir = report_dir.resolve()
    if not (report_dir / "db.sqlite").is_file() or not (report_dir / "config.json").is_file():
        raise SystemExit(f"{report_dir} has no db.sqlite and config.json: not a ttport --report folder")
    with sqlite3.connect(report_dir / "db.sqlite") as db:
        expected_ops = db.execute("SELECT COUNT(*) FROM operations").fetchone()[0]
        expected_comparisons = db.execute("SELECT COUNT(*) FROM global_tensor_comparison_records").fetchone()[
            0
        ]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="ttnn-visualizer-"))
    env = {
        **os.environ,
        "LAUNCH_BROWSER_ON_START": "false",
        "USAGE_RECORDING_DISABLED": "true",
        "APP_DATA_DIRECTORY": str(work / "app"),
        "REPORT_DATA_DIRECTORY": str(work / "reports"),
        "FLASK_ENV": "production",
    }
    log = work / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [executable, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_up(base, server, log)
        instance = _call(base, "/api/instance/local-paths", {"profiler_path": str(report_dir)})
        iid = instance["instance_id"]
        operations = _call(base, f"/api/operations?instanceId={iid}")
        assert len(operations) == expected_ops > 0, (len(operations), expected_ops)
        first = operations[0]
        assert first["name"].startswith("ttnn.") and first["inputs"] is not None, first
        assert any(a["name"] == "devices" for a in first["arguments"]), first["arguments"]
        tensors = _call(base, f"/api/tensors?instanceId={iid}")
        assert tensors and all("id" in t for t in tensors)
        addressed = [t for t in tensors if t.get("address") is not None]
        assert addressed, "no tensor has an address"
        compared = [t for t in tensors if t.get("comparison")]
        assert len(compared) == expected_comparisons > 0, (len(compared), expected_comparisons)
        buffers = _call(base, f"/api/buffers?instanceId={iid}")
        assert buffers and all(b["address"] is not None and b["size"] > 0 for b in buffers), buffers[:3]
        # the allocator's addresses: buffers live at the same time never overlap
        assert len({b["address"] for b in buffers}) > 1
        devices = _call(base, f"/api/devices?instanceId={iid}")
        assert devices and devices[0]["device_id"] == 0, devices
        errors = _call(base, f"/api/errors?instanceId={iid}")
        print(
            f"ttnn-visualizer served {report_dir}: {len(operations)} operations, {len(tensors)} tensors "
            f"({len(addressed)} with an address, {len(compared)} with a comparison), {len(buffers)} buffer "
            f"rows, {len(devices)} device(s), {len(errors)} error(s)"
        )
    finally:
        _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (ttnn-visualizer and its gunicorn workers), wait until the whole
    group is gone, SIGKILL what is left after 30 s."""
    group = server.pid  # start_new_session: the group id is the leader's pid
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        server.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(group, signal.SIGKILL)
    server.wait()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    check(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) == 3 else "ttnn-visualizer")
