"""A real mosquitto broker for tests: plain, or secured exactly like deploy/mosquitto/ (TLS, passwords, ACL).

    def test_something(broker_factory):
        broker = broker_factory()                 # anonymous, plain MQTT on a free loopback port
        secure = broker_factory(secure=True)      # deploy/mosquitto/emotion-edge.conf + acl, test CA
        secure.host, secure.port, secure.ca_file, secure.users   # what a client needs
        broker.stop(); broker.start(); broker.restart()          # outages; the port stays the same

Each broker lives in its own folder under the test's tmp_path and is stopped at teardown. Tests using it
are skipped when mosquitto is not installed (``apt-get install mosquitto``; scripts/test.sh does).

For daemon-level tests: ``shipped_model`` (a private copy of the shipped model), ``edge_config(...)`` (a
config file with its own outbox), ``daemons`` (``edge run`` subprocesses) and ``listeners`` (subscribers).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "mosquitto"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
DEFAULT_USERS = {"emotion-edge": "edge-secret", "homeassistant": "ha-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*command: str | Path) -> None:
    subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=30)


def make_certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, as deploy/README.md makes them."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-days", "2", "-subj", "/CN=test CA",
        "-keyout", folder / "ca.key", "-out", folder / "ca.crt")
    run("openssl", "req", "-new", *ec, "-subj", "/CN=localhost",
        "-keyout", folder / "server.key", "-out", folder / "server.csr")
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", folder / "server.csr", "-CA", folder / "ca.crt", "-CAkey", folder / "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", folder / "san.ext", "-out", folder / "server.crt")


@dataclass
class Broker:
    """One mosquitto process. ``secure`` uses the deploy example's config with its /etc/mosquitto/ files
    (certificates, password file of ``users``, ACL) made in ``workdir``."""

    workdir: Path
    secure: bool = False
    users: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_USERS))
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "ca.crt"

    @property
    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _prepare_secure(self) -> str:
        if not self.ca_file.exists():
            make_certificates(self.workdir / "certs")
        passwd = self.workdir / "passwd"
        passwd.unlink(missing_ok=True)
        passwd.touch(mode=0o600)
        for user, password in self.users.items():
            run(MOSQUITTO_PASSWD, "-b", passwd, user, password)
        shutil.copy(EXAMPLE / "acl", self.workdir / "acl")
        (self.workdir / "acl").chmod(0o600)
        example = (EXAMPLE / "emotion-edge.conf").read_text()
        return example.replace("/etc/mosquitto/", f"{self.workdir}/").replace("listener 8883", f"listener {self.port} {self.host}")

    def _config(self) -> str:
        # Run as whoever runs the tests (as root mosquitto would switch to the 'mosquitto' user and then
        # fail to read tmp_path); no persistence file, so a restart is a broker that lost its state.
        common = f"user {getpass.getuser()}\npersistence false\n"
        if self.secure:
            return common + self._prepare_secure()
        return common + f"listener {self.port} {self.host}\nallow_anonymous true\n"

    def start(self, timeout: float = 10) -> "Broker":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "mosquitto.conf"
        config.write_text(self._config())
        with open(self.workdir / "mosquitto.log", "ab") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}:\n{self.log}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s:\n{self.log}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def broker_factory(tmp_path):
    """Start brokers (``broker_factory(secure=True)``); all of them are stopped at teardown."""
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    brokers: list[Broker] = []

    def start(**options) -> Broker:
        if options.get("secure") and shutil.which("openssl") is None:
            pytest.skip("openssl is not installed (apt-get install openssl)")
        broker = Broker(workdir=tmp_path / f"broker{len(brokers)}", **options)
        brokers.append(broker)
        return broker.start()

    yield start
    for broker in brokers:
        broker.stop()


@pytest.fixture
def broker(broker_factory) -> Broker:
    """An anonymous, plain-MQTT broker."""
    return broker_factory()


# The daemon as the device runs it: a subprocess of ``edge run`` with its own outbox, against these brokers.

MODELS = REPO / "edge" / "models"
SAMPLES = REPO / "edge" / "samples"


@pytest.fixture(scope="session")
def shipped_model(tmp_path_factory) -> Path:
    """A private copy of the shipped int8 model and its labels, so training that rewrites edge/models/
    mid-run cannot change what a test loads (and no test needs TensorFlow)."""
    folder = tmp_path_factory.mktemp("model")
    for name in ("emotion_int8.tflite", "emotion_int8.json"):
        shutil.copy(MODELS / name, folder / name)
    return folder / "emotion_int8.tflite"


def face_video(path: Path, frames: int) -> Path:
    """An MJPG video of the sample face drifting sideways one pixel a frame: one face, one track."""
    import cv2
    import numpy as np

    face = cv2.imread(str(SAMPLES / "astronaut_2.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (640, 480))
    for index in range(frames):
        writer.write(np.roll(face, index, axis=1))
    writer.release()
    return path


def edge_config(tmp_path: Path, model: Path, source: Path | str, broker: Broker | None = None, extra: str = "") -> Path:
    """A config file for one camera ``cam`` on device ``test-dev``, outbox in ``tmp_path``; ``extra`` is
    more YAML under ``edge:`` (indented two spaces)."""
    mqtt = f"  mqtt:\n    host: {broker.host}\n    port: {broker.port}\n" if broker is not None else ""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"edge:\n  device: test-dev\n  model: {model}\n  cameras:\n    - name: cam\n      source: {source}\n"
        f"{mqtt}  outbox:\n    path: {tmp_path / 'outbox.db'}\n  events:\n    stats_interval_s: 0.5\n{extra}"
    )
    return path


class Daemon:
    """``edge run`` as a subprocess, stderr to a file (readable while it runs, never a full pipe)."""

    def __init__(self, config: Path, *args: str, env: dict | None = None, name: str = "edge"):
        self.log_path = config.parent / f"{name}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "run", "--config", str(config), *args], cwd=REPO,
                stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, **(env or {})},
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
    started: list[Daemon] = []

    def start(*args, **kwargs) -> Daemon:
        started.append(Daemon(*args, **kwargs))
        return started[-1]

    yield start
    for daemon in started:
        daemon.kill()


class Listener:
    """A paho subscriber that records (topic, payload, retain) in arrival order; TLS and auth when given."""

    def __init__(self, broker: Broker, topic: str = "#", username: str | None = None):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if username is not None:
            self.client.username_pw_set(username, broker.users[username])
        if broker.secure:
            self.client.tls_set(ca_certs=str(broker.ca_file))
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, m.retain))
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the test subscriber could not subscribe"

    def payloads(self, suffix: str) -> list:
        """JSON payloads of the topics ending in ``suffix``, in arrival order."""
        return [json.loads(payload) for topic, payload, _ in self.messages if topic.endswith(suffix)]

    def wait_for(self, predicate, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def listeners():
    opened: list[Listener] = []

    def open_listener(*args, **kwargs) -> Listener:
        opened.append(Listener(*args, **kwargs))
        return opened[-1]

    yield open_listener
    for listener in opened:
        listener.close()
