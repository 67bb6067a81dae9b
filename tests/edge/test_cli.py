"""CLI behaviour that needs no broker: the no-TensorFlow rule, snapshots, camera selection, MQTT settings, bench."""

import base64
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from common.errors import UserError
from edge.config import load
from edge.mqtt_client import build_client, read_password
from tests.support import SAMPLES, edge_config, run_edge


def test_edge_never_imports_tensorflow():
    code = (
        "import sys, edge.cli, edge.daemon, edge.bench, edge.tools.measure_detector, edge.annotate, edge.preview; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_snapshots_only_when_switched_on(tmp_path, emotion_model):
    config = edge_config(tmp_path, emotion_model, str(SAMPLES / "astronaut_1.jpg"), extra="    snapshots: true\n")
    result = run_edge("run", "--config", str(config), "--stdout")
    assert result.returncode == 0, result.stderr
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    crop = cv2.imdecode(np.frombuffer(base64.b64decode(event["snapshot"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert crop.ndim == 2 and abs(crop.shape[0] - crop.shape[1]) <= 1 and min(crop.shape) > 100  # gray, square
    # (to the pixel: the box's edges are rounded), the face with a margin


def test_stdout_output_from_the_config_file_alone(tmp_path, emotion_model):
    """``edge.output: stdout`` does what ``--stdout`` does: every CLI option is also a config key."""
    config = edge_config(tmp_path, emotion_model, str(SAMPLES / "astronaut_1.jpg"), extra="  output: stdout\n")
    result = run_edge("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["camera"] == "cam" and event["reason"] == "appeared"


def test_unknown_camera_is_one_line_exit_2(tmp_path, emotion_model):
    config = edge_config(tmp_path, emotion_model, str(SAMPLES))
    result = run_edge("run", "--config", str(config), "--camera", "attic", "--stdout")
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == "edge: error: --camera attic: no such camera in the config (configured: cam)"
    )


def test_no_camera_is_one_line_exit_2(tmp_path, emotion_model):
    (tmp_path / "c.yaml").write_text(f"edge:\n  model: {emotion_model}\n  cameras: []\n")
    result = run_edge("run", "--config", str(tmp_path / "c.yaml"), "--stdout")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == "edge: error: edge.cameras: no camera configured (add one or pass --source)"
    )


def test_corrupt_model_file_is_one_line_naming_it(tmp_path, emotion_model):
    broken = tmp_path / "emotion_int8.tflite"
    broken.write_bytes(emotion_model.read_bytes()[:2000])  # a copy cut short
    broken.with_suffix(".json").write_text(emotion_model.with_suffix(".json").read_text())
    config = edge_config(tmp_path, broken, str(SAMPLES))
    result = run_edge("run", "--config", str(config), "--stdout")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"edge: error: {broken}: not a usable TFLite model"), line


def test_password_from_env_or_file_and_tls_errors_are_user_errors(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    (tmp_path / "c.yaml").write_text(f"edge:\n  mqtt:\n    username: u\n    password_file: {secret.name}\n")
    assert read_password(load(tmp_path / "c.yaml").mqtt) == "s3cret"
    (tmp_path / "c.yaml").write_text("edge:\n  mqtt:\n    username: u\n    password_env: EDGE_TEST_PW\n")
    monkeypatch.delenv("EDGE_TEST_PW", raising=False)
    with pytest.raises(UserError, match="EDGE_TEST_PW is not set"):
        build_client(load(tmp_path / "c.yaml"))
    monkeypatch.setenv("EDGE_TEST_PW", "pw")
    assert read_password(load(tmp_path / "c.yaml").mqtt) == "pw"
    build_client(load(tmp_path / "c.yaml"))
    for content in ("", None):  # an empty password file, a missing one
        secret.unlink(missing_ok=True)
        if content is not None:
            secret.write_text(content)
        (tmp_path / "c.yaml").write_text(f"edge:\n  mqtt:\n    username: u\n    password_file: {secret.name}\n")
        with pytest.raises(UserError, match="secret: cannot read the MQTT password"):
            build_client(load(tmp_path / "c.yaml"))
    (tmp_path / "c.yaml").write_text("edge:\n  mqtt:\n    tls:\n      ca_file: missing-ca.pem\n")
    with pytest.raises(UserError, match="edge.mqtt.tls"):
        build_client(load(tmp_path / "c.yaml"))


def test_a_password_without_a_username_is_refused_not_dropped(tmp_path):
    """paho would silently connect anonymously: the config must say so instead."""
    (tmp_path / "c.yaml").write_text("edge:\n  mqtt:\n    password_env: EDGE_TEST_PW\n")
    with pytest.raises(UserError, match="edge.mqtt: .*need a username"):
        load(tmp_path / "c.yaml")
