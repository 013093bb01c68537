"""Writing files without replacing what is not ours: the JSON report (`--json`) and the weight cache.

- A regular file (or a path that does not exist yet) is written atomically: the data goes to a temporary
  file beside it, then `os.replace` moves it into place, so a reader never sees half a file. A symlink is
  resolved first and its target is replaced (the link stays a link). A new file gets the mode the umask
  gives (0o666 & ~umask); an existing file keeps its mode (and, for root, its owner).
- A character device or a FIFO (`/dev/stdout`, `/dev/null`, `>(jq .)`) is written directly, never
  replaced: as root, `os.replace` over `/dev/full` would swap the device node for a regular file.
- Anything else (a directory, a block device, a socket) is refused.
- Temporary names carry the host and the process id (`NAME.HOST.PID.RANDOM.tmp[.ext]`), so the temporary
  files a killed run leaves behind are recognised and removed only once their process is gone
  (`remove_orphans`), never while another process is still writing them.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

from ttport.errors import UserError

#: temporary files whose writer cannot be checked (another host, an older ttport) are removed after this
FOREIGN_TMP_AGE_SECONDS = 24 * 3600

_TMP_PATTERN = re.compile(
    r"\.(?:(?P<host>[A-Za-z0-9_-]+)\.)?(?P<pid>\d+)\.(?P<token>[0-9a-f]{8,32})\.tmp(?=\.|$)"
)
# tempfile.mkstemp names (ttport before the pid was recorded): NAME.XXXXXXXX.tmp
_LEGACY_TMP_PATTERN = re.compile(r"\.[a-z0-9_]{8}\.tmp$")


class DestinationError(UserError):
    """A path that cannot (or must not) be written: one line naming the path and why."""


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def temp_path(target: Path, suffix: str = "") -> Path:
    """A fresh temporary name in `target`'s directory: NAME.HOST.PID.RANDOM.tmp + suffix."""
    token = secrets.token_hex(8)
    return target.with_name(f"{target.name}.{_host()}.{os.getpid()}.{token}.tmp{suffix}")


def _first_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _probe_directory(directory: Path, shown: str) -> None:
    """Create and remove a file in `directory`: the only test that holds for root, read-only mounts,
    quotas and pseudo file systems alike (os.access says yes to root for a chmod 555 directory)."""
    probe = temp_path(directory / ".ttport-probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise DestinationError(f"{shown}: cannot create files in {directory}: {exc.strerror}") from exc
    os.close(fd)
    probe.unlink(missing_ok=True)


def check_destination(path: str | os.PathLike[str], what: str = "--json") -> None:
    """Refuse, before any work, a destination `write_bytes` could not write: an empty path, a directory,
    a path under a file, a directory where files cannot be created, a block device or socket."""
    text = os.fspath(path)
    if not text:
        raise DestinationError(f"{what}: empty path")
    shown = f"{what} {text}"
    try:
        st = os.stat(text)
    except FileNotFoundError:
        st = None
    except NotADirectoryError as exc:
        raise DestinationError(f"{shown}: a parent of the path is not a directory") from exc
    except OSError as exc:
        raise DestinationError(f"{shown}: {exc.strerror}") from exc
    if st is None:  # to be created (through a dangling symlink: at its target), parents included
        target = Path(os.path.realpath(text))
        ancestor = _first_existing(target.parent)
        if not ancestor.is_dir():
            raise DestinationError(f"{shown}: {ancestor} is not a directory")
        _probe_directory(ancestor, shown)
        return
    if stat.S_ISDIR(st.st_mode):
        raise DestinationError(f"{shown}: is a directory")
    if stat.S_ISREG(st.st_mode):
        _probe_directory(Path(os.path.realpath(text)).parent, shown)
        return
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        if not os.access(text, os.W_OK):
            raise DestinationError(f"{shown}: not writable")
        return
    raise DestinationError(f"{shown}: not a regular file, character device or FIFO")


def _write_direct(path: str, data: bytes) -> None:
    """Write into an existing character device or FIFO, never creating, truncating or replacing it.
    A FIFO is opened non-blocking, so one without a reader fails (ENXIO) instead of hanging."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike[str], data: bytes, what: str = "--json") -> Path:
    """Write `data` to `path` under the rules of this module; a failure is a DestinationError naming
    the path. Returns the path written (the symlink's target when `path` is a symlink)."""
    check_destination(path, what)
    text = os.fspath(path)
    try:
        try:
            st = os.stat(text)
        except FileNotFoundError:
            st = None
        if st is not None and (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            _write_direct(text, data)
            return Path(text)
        target = Path(os.path.realpath(text))
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(target, write_data(data))
        return target
    except OSError as exc:
        raise DestinationError(f"{what} {text}: {exc.strerror or exc}") from exc


def write_data(data: bytes) -> Callable[[Path], None]:
    """A `replace_atomically` writer of `data`, flushed to disk before the rename."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    return write


def replace_atomically(target: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """`write(tmp)` fills a temporary file beside `target` (created here with the umask's mode; `suffix`
    ends its name, e.g. ".tensorbin" for ttnn.dump_tensor), which then replaces `target`. `target` must be
    a regular file or absent (symlinks resolved by the caller): anything else raises IsADirectoryError or
    OSError(EEXIST) and is left as it is. The temporary file never outlives a failure."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OSError(errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EEXIST, f"{target} is {kind}")
    tmp = temp_path(target, suffix)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        if st is not None:  # replacing a file: it keeps its permissions (and owner, when we may set it)
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
                os.fchown(fd, st.st_uid, st.st_gid)
        os.close(fd)
        fd = -1
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def is_temp_name(name: str) -> bool:
    return bool(_TMP_PATTERN.search(name) or _LEGACY_TMP_PATTERN.search(name))


def remove_orphans(directory: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files (regular files named by `temp_path`, or by older ttport versions) that
    no live process is writing: this host's whose process is gone; other hosts' and unattributable ones
    once untouched for FOREIGN_TMP_AGE_SECONDS. Returns what was removed."""
    now = time.time() if now is None else now
    host, removed = _host(), []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TMP_PATTERN.search(entry.name)
        if match is None and not _LEGACY_TMP_PATTERN.search(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        local = match is not None and match["host"] in (None, host)
        if local:
            orphan = not _process_alive(int(match["pid"])) and int(match["pid"]) != os.getpid()
        else:
            orphan = now - st.st_mtime > FOREIGN_TMP_AGE_SECONDS
        if orphan:
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                continue
    return removed
