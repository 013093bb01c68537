"""The --report page in a real browser: headless Chromium (Debian's `chromium`; .ci/run installs it) loads
`ttport run pi0 --preset tiny --report DIR`'s page from disk, and the test reads back the rendered DOM:
the component table, the run facts, and every image decoded (naturalWidth > 0).

In CI (CI=true) a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ttport.cli import main
from ttport.html_report import PAGE

# Appended to a copy of the page (same folder, so the images resolve the same way): once everything has
# loaded, writes each image's source, completion and decoded width into the DOM for --dump-dom to show.
_CHECK = (
    '<script>window.addEventListener("load", () => {'
    "const rows = [...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);"
    "const pre = document.createElement('pre'); pre.id = 'image-check';"
    "pre.textContent = JSON.stringify(rows); document.body.appendChild(pre); });</script>"
)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("headless Chromium is required in CI (apt-get install chromium; .ci/run installs it)")
    pytest.skip("no Chromium on this machine (apt-get install chromium)")


def _dump_dom(browser: str, page: Path) -> str:
    """The DOM after the load event. One retry: on a loaded 2-core CI machine Chromium can be killed or time
    out before it renders (the page itself is static); a second failure is reported with Chromium's stderr."""
    failures = []
    for _ in range(2):
        try:
            proc = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()],
                capture_output=True, text=True, timeout=180,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            failures.append(f"timed out after {exc.timeout} s")
            continue
        if proc.returncode == 0 and 'id="image-check"' in proc.stdout:
            return proc.stdout
        failures.append(
            f"exit {proc.returncode}, stdout {proc.stdout[-500:]!r}, stderr {proc.stderr[-1500:]!r}"
        )
    pytest.fail("Chromium did not render the page: " + " | ".join(failures))


@pytest.fixture(scope="module")
def pi0_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pi0-report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TTPORT_BOARD", "n150")  # whatever an earlier test left behind; restored afterwards
        assert main(["run", "pi0", "--preset", "tiny", "--seed", "0", "--report", str(out)]) == 0
    return out


def test_pi0_page_renders_with_every_image(pi0_report: Path) -> None:
    browser = _chromium()
    page = pi0_report / PAGE
    check = pi0_report / "browser-check.html"
    check.write_text(page.read_text().replace("</body>", _CHECK + "</body>"))
    dom = _dump_dom(browser, check)
    match = re.search(r'<pre id="image-check">(.*?)</pre>', dom)
    assert match, dom[-2000:]
    images = json.loads(match.group(1))
    assert [src for src, _, _ in images] == ["accuracy.png", "memory.png", "ops.png"]
    for src, complete, width in images:
        assert complete and width > 500, (src, complete, width)
    # the rendered page (not just the file) shows the run
    assert "<title>ttport pi0 [tiny]: PASS</title>" in dom
    for component in ("patch embedding", "block 1", "kv cache layer 1", "actions"):
        assert f"<td>{component}</td>" in dom
    assert "<th>board</th><td>n150 (wormhole_b0)</td>" in dom
    # the end-to-end per-layer trace of the SigLIP tower (Port.layer_trace)
    assert "<td>vision tower</td><td>0</td>" in dom and "<td>vision tower</td><td>1</td>" in dom
    assert re.search(r"<th>device ops</th><td>\d+</td>", dom)
    # projected device time (core/sim/projection): per component, in the facts, and per op name
    assert re.search(r"<td>actions</td>(<td>[^<]*</td>){7}<td>[\d,]+\.\d us</td>", dom)
    assert re.search(r"<th>projected device time on n150 \(components\)</th><td>[\d,]+\.\d us kernels;", dom)
    assert re.search(r"<th>projected time by op</th><td>\w+ \d+%", dom)
    assert re.search(r"<tr><td>linear</td><td>\d+</td><td>[\d,]+\.\d us</td><td>\d+\.\d%</td>", dom)


def test_a_broken_image_is_detected(pi0_report: Path, tmp_path: Path) -> None:
    """The check can fail: the same page with one image missing reports naturalWidth 0."""
    browser = _chromium()
    for name in ("accuracy.png", "ops.png"):
        shutil.copy(pi0_report / name, tmp_path / name)
    (tmp_path / "check.html").write_text(
        (pi0_report / PAGE).read_text().replace("</body>", _CHECK + "</body>")
    )
    dom = _dump_dom(browser, tmp_path / "check.html")
    images = json.loads(re.search(r'<pre id="image-check">(.*?)</pre>', dom).group(1))
    assert {src: width for src, _, width in images}["memory.png"] == 0
