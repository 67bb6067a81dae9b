"""sd_notify over a real unix datagram socket, path and abstract namespace; no-op outside systemd."""

import os
import socket
import uuid

import pytest

from edge import systemd


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path, monkeypatch):
    """A socket standing in for systemd's, and the $NOTIFY_SOCKET value that names it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        name = str(tmp_path / "notify.sock")
        sock.bind(name)
    else:
        name = f"@emotion-edge-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name[1:])
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    yield sock
    sock.close()


def test_messages_reach_the_socket(notify_socket):
    assert systemd.ready()
    assert systemd.watchdog()
    assert systemd.status("2 cameras, 14.8 fps")
    assert systemd.stopping()
    received = [notify_socket.recv(4096) for _ in range(4)]
    assert received == [b"READY=1", b"WATCHDOG=1", b"STATUS=2 cameras, 14.8 fps", b"STOPPING=1"]


def test_no_op_outside_systemd(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.ready() is False


def test_unreachable_socket_is_a_warning_not_a_crash(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert systemd.watchdog() is False
    assert "cannot notify systemd" in caplog.text


@pytest.mark.parametrize(
    "usec, pid, expected",
    [
        ("30000000", None, 15.0),
        ("30000000", "own", 15.0),
        ("30000000", "1", None),
        (None, None, None),
        ("0", None, None),
        ("x", None, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch, usec, pid, expected):
    for key, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", str(os.getpid()) if pid == "own" else pid)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert systemd.watchdog_interval() == expected


def test_edge_run_says_ready_pings_the_watchdog_and_says_stopping_on_sigterm(tmp_path, shipped_model, daemons):
    """The unit's Type=notify and WatchdogSec= contract, with ``edge run`` as systemd would start it. No
    broker listens, so after the sample frames the run stays up waiting for one, pinging all along."""
    import signal
    import time
    from types import SimpleNamespace

    from tests.support import SAMPLES, edge_config, free_port

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(10)
    nowhere = SimpleNamespace(host="127.0.0.1", port=free_port())
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"}
    daemon = daemons(edge_config(tmp_path, shipped_model, SAMPLES, nowhere), env=env)
    received = [sock.recv(4096).decode()]
    assert received == ["READY=1"], daemon.log
    pings = []
    while len(pings) < 8:
        received.append(sock.recv(4096).decode())
        if received[-1] == "WATCHDOG=1":
            pings.append(time.monotonic())
    gaps = [later - earlier for earlier, later in zip(pings, pings[1:])]
    assert max(gaps) < 0.4, gaps  # every 0.2 s, half of WatchdogSec: a gap past it and systemd kills the service
    assert any(message.startswith("STATUS=cam: ") for message in received), received
    daemon.process.send_signal(signal.SIGTERM)
    while received[-1] != "STOPPING=1":
        received.append(sock.recv(4096).decode())
    assert daemon.wait(timeout=10) == 0
    sock.close()


def test_a_camera_stuck_on_one_frame_stops_the_watchdog_pings(notify_socket, monkeypatch):
    """A wedged inference must not be hidden by a healthy main loop."""
    from types import SimpleNamespace

    from edge.daemon import Watchdog

    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    camera = SimpleNamespace(camera=SimpleNamespace(name="door"), stuck_s=lambda: 0.0)
    watchdog = Watchdog([camera])
    watchdog.tick()
    assert notify_socket.recv(4096) == b"WATCHDOG=1"
    camera.stuck_s = lambda: 2.5  # over WatchdogSec (2 s) on one frame
    watchdog._next = 0.0
    watchdog.tick()
    notify_socket.settimeout(0.3)
    with pytest.raises(TimeoutError):
        notify_socket.recv(4096)
