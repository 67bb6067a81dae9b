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


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.total = max(total, 1)
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
        filled = WIDTH * self.done // self.total
        rate = self.done / max(now - self._started, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                          f"{self.done}/{self.total} {rate:.1f}/s")
        self.stream.flush()
        self._drawn_at = now

    def close(self) -> None:
        """Ends the bar's line so the next log line starts clean."""
        if self.enabled and self._drawn_at:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
