"""Progress of a run, phase by phase (reference, weight conversion, components).

The runner announces phases and steps; what the user sees depends on where output goes: a tqdm bar per
phase on a terminal, plain lines otherwise (a log file, CI, a pipe, or `--json -` owning stdout), so
logs stay greppable and never fill with carriage returns.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import IO, Any

Say = Callable[[str], None]


class Progress:
    """Plain lines: every step and note becomes one line through `say` (the runner's historical output)."""

    def __init__(self, say: Say | None = None):
        self._say = say

    def phase(self, name: str, total: int) -> None:
        """A phase of `total` steps starts (the steps follow with `step`)."""

    def step(self, line: str) -> None:
        """The next step of the current phase starts; `line` says what it is."""
        self.note(line)

    def end_phase(self) -> None:
        """The current phase is over."""

    def note(self, line: str) -> None:
        """A line worth keeping (a result, a board note)."""
        if self._say is not None:
            self._say(line)

    def close(self) -> None:
        self.end_phase()


class BarProgress(Progress):
    """A tqdm bar per phase on `file` (a terminal); notes are printed above the bar."""

    def __init__(self, file: IO[str]):
        super().__init__()
        self._file = file
        self._bar: Any = None
        self._started = False

    def phase(self, name: str, total: int) -> None:
        from tqdm import tqdm

        self.end_phase()
        # the terminal's size when it reports one; a pseudo-terminal nobody sized says 0 x 0, where tqdm
        # would draw nothing (it hides bars below the last row): then 80 x 24
        size = shutil.get_terminal_size()
        self._bar = tqdm(
            total=total,
            desc=name,
            unit="step",
            file=self._file,
            leave=True,
            ncols=size.columns or 80,
            nrows=size.lines or 24,
        )
        self._started = False

    def step(self, line: str) -> None:
        if self._bar is None:
            self.note(line)
            return
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_postfix_str(line, refresh=True)

    def end_phase(self) -> None:
        if self._bar is not None:
            if self._started:
                self._bar.update(1)
            self._bar.set_postfix_str("", refresh=False)
            self._bar.close()
            self._bar = None

    def note(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(f"  .. {line}", file=self._file)


def as_progress(progress: Progress | Say | None) -> Progress:
    """The runner accepts a Progress, a plain callable of lines, or nothing."""
    return progress if isinstance(progress, Progress) else Progress(progress)


def for_stream(stream: IO[str], say: Say) -> Progress:
    """Bars when `stream` is a terminal, plain lines through `say` otherwise."""
    isatty = getattr(stream, "isatty", None)
    return BarProgress(stream) if isatty is not None and isatty() else Progress(say)
