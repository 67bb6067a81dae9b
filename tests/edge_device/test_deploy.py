"""deploy/: the installer in a throwaway root, the unit through systemd-analyze, the hardening's W^X rule."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge import config as edge_config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "emotion-edge.service"
FLAGS = ["--no-systemctl", "--no-useradd", "--no-pip"]


def install(root: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(DEPLOY / "install.sh"), *flags],
        env={**os.environ, "DESTDIR": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_into_a_fake_root(tmp_path):
    result = install(tmp_path, *FLAGS)
    assert result.returncode == 0, result.stderr
    unit = tmp_path / "etc/systemd/system/emotion-edge.service"
    rules = tmp_path / "etc/udev/rules.d/99-coral-edgetpu.rules"
    config = tmp_path / "etc/emotion-edge/config.yaml"
    assert unit.read_bytes() == UNIT.read_bytes() and mode(unit) == 0o644
    assert rules.read_bytes() == (DEPLOY / "99-coral-edgetpu.rules").read_bytes() and mode(rules) == 0o644
    assert (mode(config.parent), mode(config)) == (0o750, 0o640)
    assert not (tmp_path / "opt/emotion-edge/venv").exists()  # --no-pip

    settings = edge_config.load(config)  # the edge section only, valid, made for a device
    assert [(camera.name, camera.source) for camera in settings.cameras] == [("camera0", "/dev/video0")]
    assert "trainer:" not in config.read_text() and "device:" not in config.read_text().replace("# device:", "")


def test_second_run_is_idempotent_and_keeps_the_config(tmp_path):
    assert install(tmp_path, *FLAGS).returncode == 0
    config = tmp_path / "etc/emotion-edge/config.yaml"
    config.write_text("edge:\n  device: kitchen\n")
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    result = install(tmp_path, *FLAGS)
    assert result.returncode == 0 and "keeping existing" in result.stdout
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert after == before


def test_unknown_option_is_refused(tmp_path):
    result = install(tmp_path, "--no-sytemctl")
    assert result.returncode == 2 and "unknown option --no-sytemctl" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    """verify also checks that ExecStart exists, so point it at a stand-in under tmp_path."""
    fake = tmp_path / "opt/emotion-edge/venv/bin/edge"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/emotion-edge/venv/bin/edge", str(fake)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_unit_is_notify_watchdogged_unprivileged_and_sandboxed():
    text = UNIT.read_text()
    for setting in (
        "Type=notify",
        "WatchdogSec=30",
        "User=emotion-edge",
        "StateDirectory=emotion-edge",
        "CapabilityBoundingSet=\n",
        "DevicePolicy=closed",
        "MemoryDenyWriteExecute=yes",
        "RestartPreventExitStatus=2",
        "SystemCallFilter=~@clock",
    ):
        assert setting in text


MDWE_PROBE = """
import ctypes, mmap, sys
assert ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) == 0  # PR_SET_MDWE, REFUSE_EXEC_GAIN
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("W^X is not enforced")
except OSError:
    pass
import numpy, cv2, paho.mqtt.client, sqlite3, ssl
from ai_edge_litert.interpreter import Interpreter
model = sys.argv[1]
if model:
    interpreter = Interpreter(model_path=model, num_threads=1)
    interpreter.allocate_tensors()
    interpreter.invoke()
cv2.cvtColor(numpy.zeros((48, 48, 3), numpy.uint8), cv2.COLOR_BGR2GRAY)
callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda a, b: 0)
ctypes.CDLL(None).qsort((ctypes.c_int * 2)(2, 1), 2, 4, callback)
"""


def kernel_has_mdwe() -> bool:
    """PR_SET_MDWE (Linux 6.3+) is the kernel's form of systemd's MemoryDenyWriteExecute=."""
    if not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run([sys.executable, "-c", "import ctypes; exit(ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0)"])
    return probe.returncode == 0


@pytest.mark.skipif(not kernel_has_mdwe(), reason="kernel without PR_SET_MDWE (Linux < 6.3)")
def test_runtime_works_without_writable_executable_memory():
    """The unit's MemoryDenyWriteExecute=yes must not break numpy, OpenCV, LiteRT (XNNPACK) or ctypes."""
    pytest.importorskip("cv2")
    pytest.importorskip("ai_edge_litert")
    model = edge_config.BUNDLED_MODEL
    result = subprocess.run(
        [sys.executable, "-c", MDWE_PROBE, str(model) if model.exists() else ""],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
