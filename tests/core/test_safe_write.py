"""ttport.safe_write (issue 10, section 4): atomic only onto regular files, symlinks written through, the
umask's mode kept, devices and FIFOs written directly and never replaced, bad destinations refused before
any work, orphaned temporary files of killed runs removed only when their process is gone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ttport.report import RunReport, write_json
from ttport.safe_write import (
    FOREIGN_TMP_AGE_SECONDS,
    DestinationError,
    check_destination,
    remove_orphans,
    replace_atomically,
    temp_path,
    write_bytes,
)


def _report() -> RunReport:
    return RunReport(model="m", preset="tiny", backend="sim", arch="wormhole_b0")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_report_gets_the_umask_mode(tmp_path: Path, umask_022) -> None:
    """Every report was 0600 (mkstemp's mode) whatever the umask."""
    path = write_json(_report(), tmp_path / "r.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.umask(0o077)
    other = write_json(_report(), tmp_path / "private.json")
    assert stat.S_IMODE(other.stat().st_mode) == 0o600


def test_replaced_report_keeps_its_mode(tmp_path: Path, umask_022) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")
    path.chmod(0o664)
    write_json(_report(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o664 and '"model": "m"' in path.read_text()


def test_symlink_is_written_through(tmp_path: Path) -> None:
    """A symlink given as --json was replaced by a regular file; its target is what gets the report."""
    target = tmp_path / "real" / "report.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert write_json(_report(), link) == target
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert '"model": "m"' in target.read_text()


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    target = tmp_path / "made" / "report.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_json(_report(), link)
    assert link.is_symlink() and '"model": "m"' in target.read_text()


def test_symlink_to_dev_null_stays(tmp_path: Path) -> None:
    """/dev/null through a symlink is written directly: the device node and the link both stay."""
    link = tmp_path / "null.json"
    link.symlink_to("/dev/null")
    write_json(_report(), link)
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_fifo_is_written_directly_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as f:
            received.append(f.read())

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.2)  # the reader is blocked in open(), waiting for a writer
    write_json(_report(), fifo)
    thread.join(timeout=10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert b'"model": "m"' in received[0]


def test_fifo_without_reader_fails_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    with pytest.raises(DestinationError, match="No such device or address"):
        write_json(_report(), fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.fifo"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_dev_full_stays_a_device() -> None:
    """As root, `--json /dev/full` replaced the device node with a regular file (os.replace over it)."""
    before = os.stat("/dev/full")
    with pytest.raises(DestinationError, match="--json /dev/full: No space left on device"):
        write_json(_report(), "/dev/full")
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Path:
    """A directory in which no file can be created, also for root (who ignores chmod): sysfs."""
    if os.geteuid() == 0:
        return Path("/sys")
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    return directory


def test_bad_destinations_are_refused(tmp_path: Path, read_only_dir: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = {
        "": "--json: empty path",
        str(tmp_path): f"--json {tmp_path}: is a directory",
        str(a_file / "r.json"): f"--json {a_file / 'r.json'}: a parent of the path is not a directory",
        str(
            a_file / "sub" / "r.json"
        ): f"--json {a_file / 'sub' / 'r.json'}: a parent of the path is not a directory",
        str(
            read_only_dir / "r.json"
        ): f"--json {read_only_dir / 'r.json'}: cannot create files in {read_only_dir}",
    }
    for path, message in cases.items():
        with pytest.raises(DestinationError) as info:
            check_destination(path)
        assert str(info.value).startswith(message), (path, str(info.value))
        assert "\n" not in str(info.value)
    assert a_file.read_text() == "x"


def test_write_bytes_refuses_a_directory_and_leaves_it(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(DestinationError, match="is a directory"):
        write_bytes(tmp_path / "d", b"data")
    assert (tmp_path / "d").is_dir() and list((tmp_path / "d").iterdir()) == []


def test_replace_atomically_only_replaces_regular_files(tmp_path: Path) -> None:
    (tmp_path / "entry").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for name in ("entry", "fifo"):
        with pytest.raises(OSError, match="not a regular file|a directory"):
            replace_atomically(tmp_path / name, lambda tmp: tmp.write_bytes(b"x"))
    assert (tmp_path / "entry").is_dir() and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry", "fifo"]


def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "entry"
    target.write_text("old")

    def crash(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        replace_atomically(target, crash)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["entry"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_orphans_of_dead_processes_are_removed_live_ones_kept(tmp_path: Path) -> None:
    """A killed run left its *.tmp files forever; another process's file being written must survive."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = temp_path(tmp_path / "w.tensorbin", ".tensorbin")
        host, _, token_tmp = mine.name.removeprefix("w.tensorbin.").partition(f".{os.getpid()}.")
        dead = tmp_path / f"w.tensorbin.{host}.{_dead_pid()}.{token_tmp}"
        live = tmp_path / f"x.tensorbin.{host}.{sleeper.pid}.{token_tmp}"
        own = mine
        foreign_old = tmp_path / "y.json.otherhost.123.0123abcd.tmp"
        foreign_new = tmp_path / "z.json.otherhost.123.0123abcd.tmp"
        legacy_old = tmp_path / "a.safetensors.k3j_9x2q.tmp"
        entry = tmp_path / "w.0123456789abcdef01234567.tensorbin"
        for path in (dead, live, own, foreign_old, foreign_new, legacy_old, entry):
            path.write_bytes(b"x")
        fifo = tmp_path / f"f.tensorbin.{host}.{_dead_pid()}.0123abcd.tmp"
        os.mkfifo(fifo)
        old = time.time() - FOREIGN_TMP_AGE_SECONDS - 60
        for path in (foreign_old, legacy_old):
            os.utime(path, (old, old))
        removed = remove_orphans(tmp_path)
        assert sorted(removed) == sorted([dead, foreign_old, legacy_old])
        left = {p.name for p in tmp_path.iterdir()}
        assert left == {live.name, own.name, foreign_new.name, entry.name, fifo.name}
    finally:
        sleeper.kill()
        sleeper.wait()
