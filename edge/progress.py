"""A one-line progress bar on the terminal, and nothing at all anywhere else.

tqdm is not an edge dependency, and a bar is only for a person watching: under systemd, in a pipe or in a
log file its carriage returns are noise, so it draws only when its stream is a terminal (and the caller
can switch it off, e.g. when the results themselves are being printed on that same terminal).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REDRAW_S = 0.1  # at most ten redraws a second: drawing must not slow a fast batch down


def clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """``total`` None: a count and a rate without bar or time left (a video whose container does not say
    how many frames it holds)."""

    def __init__(self, total: int | None, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.total = max(total, 1) if total is not None else None
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and (now - self._drawn_at >= REDRAW_S or self.done == self.total):
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._started, 1e-9)
        if self.total is None:
            self.stream.write(f"\r{self.label} {self.done} {rate:.1f}/s")
        else:
            filled = WIDTH * min(self.done, self.total) // self.total
            left = max(self.total - self.done, 0) / rate if rate > 0 else 0.0
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                f"{self.done}/{self.total} {clock(left)} left {rate:.1f}/s"
            )
        self.stream.flush()
        self._drawn_at = now

    def close(self) -> None:
        """Ends the bar's line so the next log line starts clean."""
        if self.enabled and self._drawn_at:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
