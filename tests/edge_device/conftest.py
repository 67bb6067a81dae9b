"""The daemon as the device runs it: ``daemons`` starts ``edge run`` subprocesses, each with its stderr in a
file. The broker (``broker``, ``broker_factory``), ``listeners``, ``shipped_model`` are in tests/conftest.py;
``edge_config``, ``face_video`` and the rest in tests/support.py."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import REPO, Opened, edge_command


class Daemon:
    """``edge run`` as a subprocess, stderr to a file (readable while it runs, never a full pipe)."""

    def __init__(self, config: Path, *args: str, env: dict | None = None, name: str = "edge"):
        self.log_path = config.parent / f"{name}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                edge_command("run", "--config", str(config), *args),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, **(env or {})},
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert self.process.poll() is None or text in self.log, f"edge exited early:\n{self.log}"
            assert time.monotonic() < deadline, f"no {text!r} in the log within {timeout} s:\n{self.log}"
            time.sleep(0.05)

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def daemons():
    """Start ``Daemon``s; any still running at teardown are killed."""
    with Opened(Daemon, Daemon.kill) as started:
        yield started
