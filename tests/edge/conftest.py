"""Real parts for the edge tests: a stand-in int8 emotion model, a mosquitto broker, sample media.

The stand-in model follows the production contract (raw gray 0..255 input, uint8 in/out, labels JSON
beside it) so the tests never depend on the trained model; TensorFlow is imported here only, lazily.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "edge" / "samples"
LABELS = ["happy", "neutral", "sad", "surprise"]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def build_stand_in_model(path: Path) -> Path:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((48, 48, 1)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(len(LABELS), activation="softmax"),
    ])
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


@pytest.fixture(scope="session")
def emotion_model(tmp_path_factory) -> Path:
    """A tiny uint8 model honouring the emotion model contract, built once per session."""
    return build_stand_in_model(tmp_path_factory.mktemp("model") / "emotion_int8.tflite")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class Broker:
    """A real mosquitto on a free loopback port; ``start``/``stop`` simulate an outage on the same port."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Broker":
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)
            self.process = None


@pytest.fixture
def broker(tmp_path):
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (scripts/test.sh installs it)")
    running = Broker(tmp_path).start()
    yield running
    running.stop()


class Subscriber:
    """Collects every message under a topic filter, via a real paho client."""

    def __init__(self, port: int, topic: str = "#"):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{port}-{time.time_ns()}")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, m.retain))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        deadline = time.monotonic() + 5
        while not self.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # let the SUBACK arrive

    def payloads(self, suffix: str) -> list:
        return [json.loads(p) if suffix != "/availability" else p.decode() for t, p, _ in self.messages
                if t.endswith(suffix)]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def subscriber(broker):
    sub = Subscriber(broker.port)
    yield sub
    sub.close()


def sample_frames() -> list[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted(SAMPLES.glob("*.jpg"))]


def write_video(path: Path, frames: int = 30, fps: float = 15.0) -> Path:
    """A real MJPG video of the sample face, drifting slowly so tracking has work to do."""
    face = cv2.imread(str(SAMPLES / "astronaut_2.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(np.roll(face, index * 2, axis=1))
    writer.release()
    return path


@pytest.fixture
def video(tmp_path) -> Path:
    return write_video(tmp_path / "face.avi")


def write_config(tmp_path: Path, model: Path, source: str, port: int = 1883, extra: str = "") -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"edge:\n  device: test-dev\n  model: {model}\n"
        f"  cameras:\n    - name: cam\n      source: {source}\n"
        f"  mqtt:\n    host: 127.0.0.1\n    port: {port}\n"
        f"  events:\n    stats_interval_s: 0.5\n{extra}"
    )
    return config


def edge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge.cli", *args]


SYSTEM_PYTHON = "/usr/bin/python3"


def gst_rtsp_available() -> bool:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
                           capture_output=True)
    return probe.returncode == 0


class RtspServer:
    """tests/edge/rtsp_server.py on a free port; ``stop``/``start`` make the stream die and come back."""

    def __init__(self, image: Path):
        self.port = free_port()
        self.image = image
        self.url = f"rtsp://127.0.0.1:{self.port}/live"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RtspServer":
        script = Path(__file__).with_name("rtsp_server.py")
        self.process = subprocess.Popen([SYSTEM_PYTHON, str(script), str(self.port), str(self.image)],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


@pytest.fixture
def rtsp_server():
    if not gst_rtsp_available():
        pytest.skip("GStreamer RTSP server not installed (scripts/test.sh installs it)")
    server = RtspServer(SAMPLES / "astronaut_2.jpg").start()
    yield server
    server.stop()
