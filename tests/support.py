"""Real parts shared by tests/edge and tests/edge_device (plain helpers; the fixtures are in tests/conftest.py).

- models: ``build_stand_in_model`` (a tiny int8 model honouring the emotion model contract: raw gray 0..255
  input, uint8 in/out, labels JSON beside it; TensorFlow is imported here only, lazily) and
  ``copy_shipped_model`` (a private copy of edge/models/, so training that rewrites it mid-run can't
  change what a test loads, and no test needs TensorFlow);
- ``Broker``: a real mosquitto on a free loopback port, plain or secured exactly like deploy/mosquitto/
  (TLS with a test CA, password file of ``users``, ACL); ``stop``/``start``/``restart`` keep the port;
- ``Listener``: a paho subscriber recording (topic, payload, retain) in arrival order;
- ``face_video``, ``edge_config``, ``edge_command``: sample media, a config file, the CLI;
- ``RtspServer``: tests/edge/rtsp_server.py on a free port (GStreamer, system Python).
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "edge" / "samples"
MODELS = REPO / "edge" / "models"
MOSQUITTO_EXAMPLE = REPO / "deploy" / "mosquitto"
LABELS = ["happy", "neutral", "sad", "surprise"]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
DEFAULT_USERS = {"emotion-edge": "edge-secret", "homeassistant": "ha-secret"}
SYSTEM_PYTHON = "/usr/bin/python3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*command: str | Path) -> None:
    subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=30)


def edge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge.cli", *args]


def run_edge(*args: str, timeout: float = 60, cwd: Path | str | None = None) -> subprocess.CompletedProcess:
    """``edge ARGS`` to completion, its output captured as text."""
    return subprocess.run(edge_command(*args), capture_output=True, text=True, timeout=timeout, cwd=cwd)


class Opened:
    """A fixture's factory that remembers what it made, so teardown can close all of it:
    ``with Opened(Thing, Thing.close) as make: yield make``."""

    def __init__(self, make, close):
        self.make, self.close, self.made = make, close, []

    def __call__(self, *args, **kwargs):
        self.made.append(self.make(*args, **kwargs))
        return self.made[-1]

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *exc) -> None:
        for thing in self.made:
            self.close(thing)


# Models


def build_stand_in_model(path: Path) -> Path:
    from trainer.tf_runtime import load_tensorflow

    load_tensorflow()  # Keras 2 selected, start-up noise left out
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((48, 48, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(len(LABELS), activation="softmax"),
        ]
    )
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(16):
            yield [rng.integers(0, 256, (1, 48, 48, 1)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    path.write_bytes(converter.convert())
    path.with_suffix(".json").write_text(json.dumps({"labels": LABELS}))
    return path


def copy_shipped_model(folder: Path) -> Path:
    for name in ("emotion_int8.tflite", "emotion_int8.json"):
        shutil.copy(MODELS / name, folder / name)
    return folder / "emotion_int8.tflite"


# Mosquitto


def make_certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, as deploy/README.md makes them."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "openssl",
        "req",
        "-x509",
        *ec,
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-keyout",
        folder / "ca.key",
        "-out",
        folder / "ca.crt",
    )
    run(
        "openssl",
        "req",
        "-new",
        *ec,
        "-subj",
        "/CN=localhost",
        "-keyout",
        folder / "server.key",
        "-out",
        folder / "server.csr",
    )
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        folder / "server.csr",
        "-CA",
        folder / "ca.crt",
        "-CAkey",
        folder / "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        folder / "san.ext",
        "-out",
        folder / "server.crt",
    )


@dataclass
class Broker:
    """One mosquitto process. ``secure`` uses the deploy example's config with its /etc/mosquitto/ files
    (certificates, password file of ``users``, ACL: the deploy example's, or ``acl`` when given) made in
    ``workdir``."""

    workdir: Path
    secure: bool = False
    users: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_USERS))
    acl: str | None = None
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
        (self.workdir / "acl").write_text(self.acl or (MOSQUITTO_EXAMPLE / "acl").read_text())
        (self.workdir / "acl").chmod(0o600)
        example = (MOSQUITTO_EXAMPLE / "emotion-edge.conf").read_text()
        return example.replace("/etc/mosquitto/", f"{self.workdir}/").replace(
            "listener 8883", f"listener {self.port} {self.host}"
        )

    def _config(self) -> str:
        # Run as whoever runs the tests (as root mosquitto would switch to the 'mosquitto' user and then
        # fail to read tmp_path); no persistence file, so a restart is a broker that lost its state.
        common = f"user {getpass.getuser()}\npersistence false\n"
        if self.secure:
            return common + self._prepare_secure()
        return common + f"listener {self.port} {self.host}\nallow_anonymous true\n"

    def start(self, timeout: float = 10) -> Broker:
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
        """Payloads of the topics ending in ``suffix``, in arrival order: JSON, or text for availability."""
        decode = (lambda p: p.decode()) if suffix.endswith("/availability") else json.loads
        return [decode(payload) for topic, payload, _ in self.messages if topic.endswith(suffix)]

    def wait_for(self, predicate, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# Media and config


def face_video(path: Path, frames: int = 30, fps: float = 15.0, drift: int = 1) -> Path:
    """A real MJPG video of the sample face drifting sideways ``drift`` pixels a frame: one face, one track."""
    import cv2
    import numpy as np

    face = cv2.imread(str(SAMPLES / "astronaut_2.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(np.roll(face, index * drift, axis=1))
    writer.release()
    return path


def box_drawn(image, box, colour_rgb, tolerance: int = 60, share: float = 0.8, within: int = 2) -> bool:
    """True when ``share`` of the points along the four edges of ``box`` (x, y, w, h in ``image``'s pixels)
    have a pixel of ``colour_rgb`` within ``within`` px across the edge (JPEG and browser scaling blur a 2 px
    line and move it a pixel). A face without a drawn box fails: its edges are skin, hair and background."""
    import numpy as np

    x, y, w, h = (int(round(v)) for v in box)
    height, width = image.shape[:2]
    target = np.array(colour_rgb[::-1], dtype=np.int32)

    def matches(points):  # (n, 2) row, column
        rows = np.clip(points[:, 0], 0, height - 1)
        cols = np.clip(points[:, 1], 0, width - 1)
        return np.all(np.abs(image[rows, cols].astype(np.int32) - target) <= tolerance, axis=1)

    found = []
    for fixed, along, horizontal in (
        (y, range(x, x + w), True),
        (y + h, range(x, x + w), True),
        (x, range(y, y + h), False),
        (x + w, range(y, y + h), False),
    ):
        along = np.array(list(along))
        hits = np.zeros(len(along), dtype=bool)
        for shift in range(-within, within + 1):
            across = np.full(len(along), fixed + shift)
            hits |= matches(np.stack([across, along] if horizontal else [along, across], axis=1))
        found.append(hits)
    return float(np.concatenate(found).mean()) >= share


def edge_config(tmp_path: Path, model: Path, source: Path | str, broker=None, extra: str = "") -> Path:
    """A config file for one camera ``cam`` on device ``test-dev``, outbox in ``tmp_path``; ``broker`` is
    anything with ``host`` and ``port`` (no mqtt section without it); ``extra`` is more YAML under
    ``edge:`` (indented two spaces; right after ``events:``, so four spaces extend that section)."""
    mqtt = f"  mqtt:\n    host: {broker.host}\n    port: {broker.port}\n" if broker is not None else ""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"edge:\n  device: test-dev\n  model: {model}\n  cameras:\n    - name: cam\n      source: {source}\n"
        f"{mqtt}  outbox:\n    path: {tmp_path / 'outbox.db'}\n  events:\n    stats_interval_s: 0.5\n{extra}"
    )
    return path


def every_frame_config(
    tmp_path: Path, model: Path, source: Path | str, broker=None, max_messages: int = 10_000, extra: str = ""
) -> Path:
    """``edge_config`` with an event on every frame (a heartbeat due at once), so "nothing lost" can be checked
    frame by frame: a video of one face gives exactly one event per frame."""
    path = edge_config(tmp_path, model, source, broker, extra)
    text = path.read_text().replace(
        "  events:\n    stats_interval_s: 0.5\n", "  events:\n    heartbeat_s: 0.000001\n    stats_interval_s: 0.5\n"
    )
    path.write_text(text.replace("  outbox:\n", f"  outbox:\n    max_messages: {max_messages}\n"))
    return path


def event_key(event: dict) -> tuple:
    return event["camera"], event["frame"], event["face_id"], event["emotion"], event["reason"]


def deduplicated(received: list[dict]) -> tuple[list[tuple], int]:
    """The events in arrival order with at-least-once duplicates (the same ``ts`` and frame: one message
    delivered twice) removed, and how many were removed."""
    seen, events = set(), []
    for event in received:
        if (event["ts"], event["frame"]) not in seen:
            seen.add((event["ts"], event["frame"]))
            events.append(event_key(event))
    return events, len(received) - len(events)


# RTSP


def gst_rtsp_available() -> bool:
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"], capture_output=True
    )
    return probe.returncode == 0


class RtspServer:
    """tests/edge/rtsp_server.py on a free port; ``stop``/``start`` make the stream die and come back."""

    SCRIPT = REPO / "tests" / "edge" / "rtsp_server.py"

    def __init__(self, image: Path):
        self.port = free_port()
        self.image = image
        self.url = f"rtsp://127.0.0.1:{self.port}/live"
        self.process: subprocess.Popen | None = None

    def start(self) -> RtspServer:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(self.SCRIPT), str(self.port), str(self.image)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None
