"""Fixtures for the whole suite. Datasets are synthetic (tests/synthetic.py), so nothing needs ../shared.

The real parts both tests/edge and tests/edge_device use (models, a mosquitto broker, subscribers, an RTSP
stream, headless Chromium) are fixtures here over the plain helpers of tests/support.py:

    def test_something(broker_factory, listeners):
        broker = broker_factory()                 # anonymous, plain MQTT on a free loopback port
        secure = broker_factory(secure=True)      # deploy/mosquitto/emotion-edge.conf + acl, test CA
        secure.host, secure.port, secure.ca_file, secure.users   # what a client needs
        broker.stop(); broker.start(); broker.restart()          # outages; the port stays the same
        listener = listeners(secure, "emotion/#", username="homeassistant")

Each broker lives in its own folder under the test's tmp_path and is stopped at teardown. Tests using it
are skipped when mosquitto is not installed (``apt-get install mosquitto``; scripts/test.sh does), and so
are the TLS broker without openssl and the RTSP stream without GStreamer; under CI (``CI`` set), where
scripts/test.sh has installed all three, a missing one fails the test instead of skipping it silently.
"""

import os
import shutil
from pathlib import Path

import pytest

import trainer  # noqa: F401  (selects Keras 2 for TensorFlow before any test imports it; TensorFlow itself is not loaded)
from tests.support import (
    MOSQUITTO,
    SAMPLES,
    Broker,
    Listener,
    Opened,
    RtspServer,
    build_stand_in_model,
    copy_shipped_model,
    gst_rtsp_available,
)


def missing(what: str) -> None:
    """Skip a test whose real part is not installed here; under CI, where scripts/test.sh installs it, fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (scripts/test.sh should have installed it)")
    pytest.skip(what)


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path, monkeypatch):
    """Each test's daemons keep their outbox in the test's own folder, never in the real home
    (subprocesses inherit the variable), so a leftover queue can't leak into the next test."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture(scope="session")
def emotion_model(tmp_path_factory) -> Path:
    """A tiny uint8 stand-in honouring the emotion model contract (labels ``support.LABELS``), built once
    per session, so a test never depends on the trained model."""
    return build_stand_in_model(tmp_path_factory.mktemp("model") / "emotion_int8.tflite")


@pytest.fixture(scope="session")
def shipped_model(tmp_path_factory) -> Path:
    """A private copy of the shipped int8 model and its labels, so training that rewrites edge/models/
    mid-run cannot change what a test loads (and no test needs TensorFlow)."""
    return copy_shipped_model(tmp_path_factory.mktemp("model"))


@pytest.fixture
def broker_factory(tmp_path):
    """Start brokers (``broker_factory(secure=True)``); all of them are stopped at teardown."""
    if not Path(MOSQUITTO).exists():
        missing("mosquitto is not installed (apt-get install mosquitto)")

    brokers = Opened(lambda **options: Broker(workdir=tmp_path / f"broker{len(brokers.made)}", **options), Broker.stop)

    def start(**options) -> Broker:
        if options.get("secure") and shutil.which("openssl") is None:
            missing("openssl is not installed (apt-get install openssl)")
        return brokers(**options).start()

    with brokers:
        yield start


@pytest.fixture
def broker(broker_factory) -> Broker:
    """An anonymous, plain-MQTT broker."""
    return broker_factory()


@pytest.fixture
def listeners():
    """Open ``Listener``s (``listeners(broker, topic, username=...)``); all are closed at teardown."""
    with Opened(Listener, Listener.close) as opened:
        yield opened


@pytest.fixture
def subscriber(broker, listeners) -> Listener:
    """Everything published on ``broker``."""
    return listeners(broker)


@pytest.fixture
def rtsp_server():
    """A live RTSP stream of the sample face; skipped without GStreamer's RTSP server."""
    if not gst_rtsp_available():
        missing("GStreamer's RTSP server is not installed")
    server = RtspServer(SAMPLES / "astronaut_2.jpg").start()
    yield server
    server.stop()


@pytest.fixture
def chromium() -> str:
    """Debian's headless-capable Chromium, for tests that load a page for real."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        missing("chromium is not installed (apt-get install chromium)")
    return path
