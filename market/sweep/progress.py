"""Progress of a sweep on stderr: a rich bar on a terminal, plain lines elsewhere (CI, pipes)."""

from __future__ import annotations

import os
import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def advance(self, ok: int, failed: int) -> None: ...
    def close(self) -> None: ...


def _fmt_seconds(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class PlainProgress:
    """A line every 5% of the runs or every 10 seconds, whichever comes first."""

    def __init__(self, total: int, skipped: int, stream: TextIO | None = None, every_s: float = 10.0) -> None:
        self.total = total
        self.todo = total - skipped
        self.done = skipped
        self.failed = 0
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.start = self.last_time = time.monotonic()
        self.step = max(1, self.todo // 20)
        self.last_done = skipped
        note = f", {skipped} already stored" if skipped else ""
        self._line(f"sweep: {self.todo} runs to do of {total}{note}")

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def advance(self, ok: int, failed: int) -> None:
        self.done += ok + failed
        self.failed += failed
        now = time.monotonic()
        if self.done - self.last_done >= self.step or now - self.last_time >= self.every_s:
            self.last_done, self.last_time = self.done, now
            self._line(self._status(now))

    def _status(self, now: float) -> str:
        elapsed = now - self.start
        fresh = self.done - (self.total - self.todo)
        left = ""
        if 0 < fresh < self.todo:
            left = f", ~{_fmt_seconds(elapsed / fresh * (self.todo - fresh))} left"
        pct = 100 * self.done / self.total if self.total else 100.0
        return (f"sweep: {self.done}/{self.total} runs ({pct:.0f}%), {self.failed} failed, "
                f"{_fmt_seconds(elapsed)} elapsed{left}")

    def close(self) -> None:
        if self.last_done != self.done:
            self._line(self._status(time.monotonic()))


class RichProgress:
    """A rich progress bar: runs done, failures, elapsed and time left."""

    def __init__(self, total: int, skipped: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(),
                                  TextColumn("left"), TimeRemainingColumn(), console=Console(stderr=True),
                                  transient=False)
        self._progress.start()
        self.failed = 0
        # Stored runs are not counted in the speed, so the time left stays honest on a resume.
        self._task = self._progress.add_task("sweep", total=total - skipped, failed=0)

    def advance(self, ok: int, failed: int) -> None:
        self.failed += failed
        self._progress.update(self._task, advance=ok + failed, failed=self.failed)

    def close(self) -> None:
        self._progress.stop()


class NoProgress:
    def advance(self, ok: int, failed: int) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(mode: str, total: int, skipped: int) -> Progress:
    """mode: "auto" (rich on a terminal unless CI is set, else plain), "rich", "plain", "none"."""
    if mode == "auto":
        interactive = sys.stderr.isatty() and not os.environ.get("CI")
        mode = "rich" if interactive else "plain"
    if mode == "rich":
        return RichProgress(total, skipped)
    if mode == "plain":
        return PlainProgress(total, skipped)
    return NoProgress()
