"""A one-line progress bar for long batch runs (``edge annotate``), with frames per second and time left.

Only on a terminal: under systemd (stderr is the journal) or when piped into a file or another program, a
bar redrawn ten times a second would be thousands of lines of noise, so it says nothing there (the run's
own log lines still say what happened). tqdm is not an edge dependency, and this is all it would do here.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

REDRAW_S = 0.2
BAR_WIDTH = 24


def is_interactive(stream: TextIO) -> bool:
    """A terminal a person looks at: not a pipe or file, not systemd's journal, not a dumb terminal."""
    return (stream.isatty() and not os.environ.get("JOURNAL_STREAM") and os.environ.get("TERM") != "dumb")


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """``update(done)`` after each item; ``close()`` ends the line. ``total`` None or 0: no bar, no time
    left (a video whose length its container does not say)."""

    def __init__(self, total: int | None, unit: str = "frames", stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = is_interactive(self.stream)
        self.total = total or None
        self.unit = unit
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._done = 0

    def update(self, done: int) -> None:
        self._done = done
        now = time.monotonic()
        if self.enabled and now - self._drawn_at >= REDRAW_S:
            self._drawn_at = now
            self._draw(now)

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self._done / elapsed
        text = f"{self._done} {self.unit}  {rate:.1f} fps  {clock(elapsed)}"
        if self.total is None:
            return text
        share = min(self._done / self.total, 1.0)
        filled = round(share * BAR_WIDTH)
        left = (self.total - self._done) / rate if rate > 0 else 0.0
        return (f"{100 * share:3.0f}% [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self._done}/{self.total} "
                f"{self.unit}  {rate:.1f} fps  {clock(max(left, 0))} left")

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.line(now) + "\x1b[K")
        self.stream.flush()
