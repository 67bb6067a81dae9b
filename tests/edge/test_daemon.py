"""``edge run`` end to end, as a subprocess, against a real mosquitto, video file and RTSP stream."""

import json
import signal
import subprocess
import time
from datetime import datetime
from types import SimpleNamespace

from edge.events import EVENT_FIELDS, REASONS
from tests.support import LABELS, SAMPLES, edge_command, edge_config, run_edge

TOPIC = "emotion/test-dev/cam"


def check_event(event: dict) -> None:
    """The event schema every consumer relies on."""
    assert set(EVENT_FIELDS) <= set(event), event
    assert "snapshot" not in event  # face images stay on the device by default
    assert datetime.fromisoformat(event["ts"]).utcoffset().total_seconds() == 0
    assert (event["device"], event["camera"]) == ("test-dev", "cam")
    assert isinstance(event["frame"], int) and event["frame"] >= 0
    assert isinstance(event["face_id"], int)
    assert event["emotion"] in LABELS and set(event["scores"]) == set(LABELS)
    assert event["confidence"] == event["scores"][event["emotion"]]
    assert abs(sum(event["scores"].values()) - 1) < 0.05
    x, y, w, h = event["bbox"]
    assert 0 <= x and 0 <= y and 0 < w and x + w <= 640 and y + h <= 480
    assert event["reason"] in REASONS


def test_video_file_events_reach_the_broker_and_the_run_ends_cleanly(
    tmp_path, emotion_model, broker, subscriber, video
):
    config = edge_config(tmp_path, emotion_model, str(video), broker)
    result = run_edge("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert subscriber.wait_for(lambda: "offline" in subscriber.payloads("/availability"))
    events = subscriber.payloads(f"{TOPIC}/event")
    assert events, result.stderr
    for event in events:
        check_event(event)
    assert events[0]["reason"] == "appeared" and events[0]["frame"] == 0
    assert len({e["face_id"] for e in events}) == 1  # one face drifting: one track
    assert subscriber.payloads("/availability") == ["online", "offline"]
    stats = subscriber.payloads(f"{TOPIC}/stats")[-1]
    assert stats["frames"] == 30 and stats["skipped"] == 0 and stats["drops"] == 0
    assert set(stats["latency_ms"]) == {"decode", "detect", "classify", "track", "publish"}


def test_stdout_mode_needs_no_broker_and_prints_json_lines(tmp_path, emotion_model):
    nowhere = SimpleNamespace(host="127.0.0.1", port=1)  # nothing listens on port 1
    config = edge_config(tmp_path, emotion_model, str(SAMPLES), nowhere)
    result = run_edge("run", "--config", str(config), "--stdout")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) >= 3
    for event in events:
        check_event(event)
    assert "Traceback" not in result.stderr


def test_relative_source_in_the_config_is_relative_to_the_config_file(tmp_path, emotion_model):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "face.jpg").write_bytes((SAMPLES / "astronaut_1.jpg").read_bytes())
    config = edge_config(tmp_path, emotion_model, "frames")
    result = run_edge("run", "--config", str(config), "--stdout", cwd="/")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_bad_config_is_one_line_and_exit_2(tmp_path, emotion_model):
    config = edge_config(tmp_path, emotion_model, str(SAMPLES), extra="  detector:\n    model: huge\n")
    result = run_edge("run", "--config", str(config), "--stdout")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("edge: error")]
    assert "edge.detector.model" in line and str(config) in line
    good = edge_config(tmp_path, emotion_model, str(SAMPLES))
    missing = run_edge("run", "--config", str(good), "--stdout", "--source", str(tmp_path / "nope.mp4"))
    assert missing.returncode == 2 and "nope.mp4" in missing.stderr and "Traceback" not in missing.stderr


def test_sigterm_mid_stream_exits_0_within_2_s_and_publishes_offline(
    tmp_path, emotion_model, broker, subscriber, rtsp_server
):
    config = edge_config(tmp_path, emotion_model, rtsp_server.url, broker)
    process = subprocess.Popen(edge_command("run", "--config", str(config)), stderr=subprocess.PIPE, text=True)
    try:
        assert subscriber.wait_for(lambda: subscriber.payloads(f"{TOPIC}/event"), timeout=30)
        assert subscriber.wait_for(lambda: subscriber.payloads(f"{TOPIC}/stats"), timeout=10)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 2.0
    finally:
        process.kill()
    assert subscriber.wait_for(lambda: subscriber.payloads("/availability")[-1:] == ["offline"], timeout=5)
    stats = subscriber.payloads(f"{TOPIC}/stats")[-1]
    assert stats["frames"] > 0 and stats["fps"] > 0
    for event in subscriber.payloads(f"{TOPIC}/event"):
        check_event(event)


def test_broker_down_at_start_is_retried_and_every_event_still_arrives(tmp_path, emotion_model, broker, video):
    """The events a run publishes while its broker is down all arrive once it is up: the same ones, frame
    for frame, as the same run printed with ``--stdout``. The daemon is paused while the test subscriber
    connects, so nothing can reach the broker before someone listens."""
    from tests.support import Listener

    broker.stop()
    config = edge_config(tmp_path, emotion_model, str(video), broker)
    process = subprocess.Popen(edge_command("run", "--config", str(config)), stderr=subprocess.PIPE, text=True)
    try:
        first_lines = []
        while not any("unreachable" in line for line in first_lines):
            first_lines.append(process.stderr.readline())
            assert first_lines[-1], "daemon exited before reporting the broker"
        process.send_signal(signal.SIGSTOP)
        broker.start()
        subscriber = Listener(broker)
        process.send_signal(signal.SIGCONT)
        assert process.wait(timeout=60) == 0
        rest = process.stderr.read()
    finally:
        process.kill()
    assert sum("unreachable" in line for line in first_lines + rest.splitlines()) == 1  # logged once
    assert "unreachable (ConnectionRefusedError" in first_lines[-1]  # with the reason, not just the symptom
    printed = run_edge("run", "--config", str(config), "--stdout")
    assert printed.returncode == 0, printed.stderr
    expected = sorted((e["frame"], e["face_id"], e["reason"]) for e in map(json.loads, printed.stdout.splitlines()))
    assert expected

    def arrived():
        return sorted((e["frame"], e["face_id"], e["reason"]) for e in subscriber.payloads(f"{TOPIC}/event"))

    assert subscriber.wait_for(lambda: len(arrived()) >= len(expected), timeout=5)
    assert arrived() == expected
    subscriber.close()


def test_two_cameras_run_side_by_side(tmp_path, emotion_model, video):
    config = tmp_path / "two.yaml"
    config.write_text(
        f"edge:\n  device: test-dev\n  model: {emotion_model}\n  cameras:\n"
        f"    - {{name: door, source: {video}}}\n    - {{name: desk, source: {SAMPLES}}}\n"
    )
    result = run_edge("run", "--config", str(config), "--stdout")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert {e["camera"] for e in events} == {"door", "desk"}


def test_demo_with_the_bundled_model_and_config(tmp_path):
    """The README's demo: ``edge run --stdout`` in the repository, on config.yaml's sample camera."""
    from edge.config import BUNDLED_MODEL
    from tests.support import REPO

    labels = json.loads(BUNDLED_MODEL.with_suffix(".json").read_text())["labels"]
    result = run_edge("run", "--stdout", cwd=REPO)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) >= 3 and all(e["emotion"] in labels and e["camera"] == "sample" for e in events)


def load_settings(config_path, **overrides):
    from edge import config as edge_config
    from edge.cli import select_cameras

    settings = edge_config.load(config_path, overrides)
    select_cameras(settings, None, None)
    return settings


def test_a_camera_that_crashes_stops_the_daemon_with_exit_1_and_one_line(tmp_path, emotion_model, monkeypatch, caplog):
    """An unexpected failure in a camera thread (here an Edge TPU unplugged mid-inference) must not leave the
    daemon running without that camera and exit 0: systemd restarts only a failed service."""
    from edge import daemon
    from edge.classifier import EmotionClassifier

    def unplugged(self, crops):
        raise RuntimeError("Failed to invoke the delegate\nEdge TPU not found")

    monkeypatch.setattr(EmotionClassifier, "classify", unplugged)
    settings = load_settings(edge_config(tmp_path, emotion_model, str(SAMPLES)), output="stdout")
    assert daemon.run(settings) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "cam: stopped: RuntimeError: Edge TPU not found" in errors
    assert any("exit 1" in line and "cam: RuntimeError" in line for line in errors)


def test_an_outbox_that_fails_mid_run_stops_the_daemon_with_exit_1(tmp_path, emotion_model, monkeypatch, caplog):
    """A full or vanished disk under the outbox: one error line, the run stops, exit 1 (never silent loss)."""
    from edge import daemon
    from edge.outbox import Outbox, OutboxError

    def disk_full(self, *args, **kwargs):
        raise OutboxError(f"{self.path}: cannot write to the outbox database (database or disk is full)")

    monkeypatch.setattr(Outbox, "put", disk_full)
    nowhere = SimpleNamespace(host="127.0.0.1", port=1)
    settings = load_settings(edge_config(tmp_path, emotion_model, str(SAMPLES), nowhere))
    assert daemon.run(settings) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert sum("MQTT publishing stopped" in line for line in errors) == 1, errors  # logged once
    assert any("disk is full" in line and "outbox.db" in line for line in errors)


def test_a_bad_camera_name_on_the_command_line_is_one_line(tmp_path, emotion_model):
    config = edge_config(tmp_path, emotion_model, str(SAMPLES))
    result = run_edge("run", "--config", str(config), "--stdout", "--source", str(SAMPLES), "--camera", "front door")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "camera.name" in result.stderr and "'front door'" in result.stderr


def test_a_face_too_small_to_read_is_neither_classified_nor_published(emotion_model):
    """One rule for ``edge run`` and ``edge annotate`` (edge.min_readable_px, 28 px): a 20 px box is reported
    to observers as too small (what annotate and the live view draw), never classified, tracked or published."""
    import numpy as np

    from edge.config import CameraConfig, EdgeConfig
    from edge.detector import Detection
    from edge.pipeline import CameraPipeline
    from edge.publishing import DiscardingPublisher
    from edge.sources import Frame

    class Recording(DiscardingPublisher):
        def __init__(self):
            self.events: list[dict] = []

        def event(self, camera: str, event: dict) -> None:
            self.events.append(event)

    config = EdgeConfig(model=emotion_model)
    assert config.min_readable_px == 28
    pipeline = CameraPipeline(config, CameraConfig(name="cam", source=str(SAMPLES)), Recording())
    tiny, readable = Detection((10.0, 10.0, 20.0, 20.0), 0.9), Detection((200.0, 100.0, 120.0, 120.0), 0.9)
    pipeline.detector.detect = lambda image, stream: [tiny, readable]
    classified, results = [], []
    classify = pipeline.classifier.classify
    pipeline.classifier.classify = lambda crops: classified.append(len(crops)) or classify(crops)
    pipeline.observers.append(results.append)
    pipeline.process(Frame(0, np.full((480, 640, 3), 128, np.uint8), 0.0))
    assert classified == [1]
    assert [event["bbox"] for event in pipeline.publisher.events] == [[200, 100, 120, 120]]
    assert results[0].too_small == [tiny.box] and len(results[0].tracks) == 1
    assert pipeline.stats.faces == 1
