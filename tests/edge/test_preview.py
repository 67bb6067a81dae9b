"""The live view for real: the daemon (a subprocess) on a live RTSP stream of the sample face serves the page on a
loopback port, headless Chromium (Debian's package) loads it, and the screenshot's pixels hold the face's box.
Without ``--preview`` nothing listens and the events are the same."""

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.errors import Unavailable, UserError
from edge.config import CameraConfig, EdgeConfig, PreviewConfig, load
from edge.drawing import EMOTION_COLOURS
from edge.pipeline import CameraPipeline
from edge.preview import LiveView
from edge.tools.annotate_demo import demo_clip
from tests.support import SAMPLES, box_drawn, edge_command, edge_config, free_port, run_edge

# The box drawn on a later frame than the first event's: on a stream the detector's box of a still face moves by a
# few px from frame to frame (the first frame's comes from `full` on the whole frame, later ones from `short`
# around the face: edge/stream_plan.py).
DRIFT = 8
LIVE_VIEW_PNG = os.environ.get("EDGE_LIVE_VIEW_PNG")  # also save the screenshot here (docs/live_view.png)


class Daemon:
    """``edge run --stdout`` in the background; its events are read as they come."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            edge_command("run", "--stdout", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.events: list[dict] = []

    def first_event(self, timeout: float = 30) -> dict:
        reader = threading.Thread(target=lambda: self.events.append(json.loads(self.process.stdout.readline())))
        reader.start()
        reader.join(timeout)
        assert self.events, f"no event within {timeout} s: {self.stop()}"
        return self.events[0]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=15)
        return stderr


def listening_ports(pid: int) -> set[int]:
    """TCP ports the process listens on: its socket inodes (/proc/PID/fd) matched to LISTEN rows (state 0A) of
    /proc/net/tcp and tcp6."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def preview_config(tmp_path, model, source, port: int) -> Path:
    return edge_config(tmp_path, model, source, extra=f"  preview:\n    port: {port}\n")


def screenshot(chromium: str, url: str, path: Path, profile: Path) -> np.ndarray:
    """Headless Chromium's screenshot of ``url`` at 1280x800. An MJPEG image never finishes loading, so the
    virtual time budget (3 s) ends the page load, after its script has fetched the stats once or more."""
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={path}",
            "--window-size=1280,800",
            "--virtual-time-budget=3000",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0 and path.exists(), result.stderr[-2000:]
    return cv2.imread(str(path))


def find_frame(screenshot_image: np.ndarray, frame: np.ndarray) -> tuple[int, int]:
    """Where the camera frame sits in the screenshot (its top-left corner), by template matching."""
    scores = cv2.matchTemplate(screenshot_image, frame, cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    assert best > 0.8, f"the camera frame is not in the screenshot (best match {best:.2f})"
    return x, y


def shifted(box, x: int, y: int) -> tuple:
    return (box[0] + x, box[1] + y, box[2], box[3])


def test_chromium_shows_the_sample_face_with_its_box_and_label(tmp_path, shipped_model, rtsp_server, chromium):
    port = free_port()
    daemon = Daemon("--config", str(preview_config(tmp_path, shipped_model, rtsp_server.url, port)), "--preview")
    try:
        event = daemon.first_event()
        shot = screenshot(chromium, f"http://127.0.0.1:{port}/", tmp_path / "shot.png", tmp_path / "profile")
        status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=10).read())
        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--dump-dom",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=3000",
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        ).stdout
    finally:
        stderr = daemon.stop()
    assert daemon.process.returncode == 0, stderr
    frame = cv2.imread(str(rtsp_server.image))
    x, y = find_frame(shot, frame)
    colour = EMOTION_COLOURS[event["emotion"]]
    assert box_drawn(shot, shifted(event["bbox"], x, y), colour, within=DRIFT)
    # The label chip above the box, in the same colour.
    bx, by = event["bbox"][:2]
    chip = shot[y + by - 20 : y + by - 4, x + bx : x + bx + 60]
    assert (np.abs(chip.astype(int) - colour[::-1]).max(axis=2) < 60).mean() > 0.4
    # The same check fails where nothing is drawn: the raw frame at the face, the screenshot off the face.
    assert not box_drawn(frame, event["bbox"], colour, within=DRIFT)
    assert not box_drawn(shot, shifted(event["bbox"], x + 150, y + 150), colour, within=DRIFT)
    # The page's script filled in the stats and the last events from /status.json.
    assert f"#{event['face_id']} {event['emotion']}" in dom and "detect (ms)" in dom
    assert status["cameras"]["cam"]["events"][-1]["face_id"] == event["face_id"]
    if LIVE_VIEW_PNG:
        save_for_docs(shot, Path(LIVE_VIEW_PNG))


def save_for_docs(shot: np.ndarray, path: Path) -> None:
    """The screenshot without the empty page below the content, small enough for the README (< 300 KB)."""
    rows = np.flatnonzero((np.abs(shot.astype(int) - shot[-1, -1]).max(axis=2) > 8).any(axis=1))
    image = shot[: rows[-1] + 16]
    while True:
        cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if path.stat().st_size < 300_000:
            return
        image = cv2.resize(image, None, fx=0.85, fy=0.85, interpolation=cv2.INTER_AREA)


def test_nothing_listens_without_preview_and_the_preview_port_with_it(tmp_path, emotion_model, rtsp_server):
    """The check that finds the preview's port when it is on finds no port at all when it is off."""
    port = free_port()
    config = preview_config(tmp_path, emotion_model, rtsp_server.url, port)
    for flags, expected in (((), set()), (("--preview",), {port})):
        daemon = Daemon("--config", str(config), *flags)
        try:
            daemon.first_event()
            ports = listening_ports(daemon.process.pid)
        finally:
            daemon.stop()
        assert ports == expected


def test_events_are_the_same_with_and_without_the_live_view(tmp_path, emotion_model):
    clip = demo_clip(tmp_path / "demo.mp4", seconds=4, fps=15)
    config = preview_config(tmp_path, emotion_model, clip, 0)
    runs = [run_edge("run", "--config", str(config), "--stdout", *flags) for flags in ((), ("--preview",))]
    assert all(run.returncode == 0 for run in runs), runs[1].stderr
    events = [
        [{k: v for k, v in json.loads(line).items() if k != "ts"} for line in run.stdout.splitlines()] for run in runs
    ]
    assert events[0] and events[0] == events[1]
    assert "live view on http://127.0.0.1:" in runs[1].stderr and "live view" not in runs[0].stderr


def fetch(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def test_frames_are_encoded_only_while_someone_watches(emotion_model, rtsp_server):
    """In-process: a pipeline on the live stream with the view attached encodes nothing until a snapshot is
    asked for; the snapshot and the MJPEG stream are the annotated frame."""
    config = EdgeConfig(model=emotion_model, preview={"enabled": True, "port": 0})
    pipeline = CameraPipeline(config, CameraConfig(name="cam", source=rtsp_server.url), publisher=RecordingPublisher())
    view = LiveView(config.preview, [pipeline])
    view.start()
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,))
    thread.start()
    camera = view.cameras["cam"]
    try:
        assert pipeline.publisher.first_event.wait(30)
        stop.wait(1.0)  # frames keep coming, nobody watches
        assert camera.encodes == 0
        kind, jpeg = fetch(f"http://127.0.0.1:{view.port}/cameras/cam/snapshot.jpg")
        assert kind == "image/jpeg" and camera.encodes >= 1
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        event = pipeline.publisher.events[0]
        colour = EMOTION_COLOURS[event["emotion"]]
        assert image.shape == (480, 640, 3) and box_drawn(image, event["bbox"], colour, within=DRIFT)
        with urllib.request.urlopen(f"http://127.0.0.1:{view.port}/cameras/cam/stream.mjpg", timeout=10) as stream:
            assert stream.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
            assert stream.readline() == b"--frame\r\n" and stream.readline() == b"Content-Type: image/jpeg\r\n"
        assert fetch(f"http://127.0.0.1:{view.port}/")[0] == "text/html; charset=utf-8"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            fetch(f"http://127.0.0.1:{view.port}/cameras/attic/snapshot.jpg")
    finally:
        stop.set()
        thread.join(10)
        view.close()


class RecordingPublisher:
    """Keeps the events (the pipeline's publisher interface, nothing sent)."""

    def __init__(self):
        self.events: list[dict] = []
        self.first_event = threading.Event()

    def event(self, camera: str, event: dict) -> None:
        self.events.append(event)
        self.first_event.set()

    def state(self, camera: str, emotion, faces: int) -> None:
        """Home Assistant state: not used here."""


def test_a_non_loopback_address_is_logged_as_a_warning(emotion_model, caplog):
    pipeline = CameraPipeline(EdgeConfig(model=emotion_model), CameraConfig(name="cam", source=str(SAMPLES)), None)
    for address, warned in (("127.0.0.1", False), ("0.0.0.0", True)):
        caplog.clear()
        view = LiveView(PreviewConfig(enabled=True, address=address, port=0), [pipeline])
        with caplog.at_level(logging.WARNING, logger="edge.preview"):
            view.start()
        view.close()
        assert ("reachable from other machines" in caplog.text) == warned


def test_the_preview_is_off_and_on_loopback_by_default_and_a_bad_address_is_one_line(tmp_path):
    assert PreviewConfig().enabled is False and PreviewConfig().address == "127.0.0.1"
    (tmp_path / "c.yaml").write_text("edge:\n  preview:\n    address: http://0.0.0.0\n")
    with pytest.raises(UserError, match="edge.preview.address"):
        load(tmp_path / "c.yaml")


def test_a_port_already_taken_is_one_line_and_exit_69(tmp_path, emotion_model):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = preview_config(tmp_path, emotion_model, SAMPLES / "astronaut_1.jpg", port)
        result = run_edge("run", "--config", str(config), "--stdout", "--preview")
    assert result.returncode == Unavailable.exit_code and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"edge: error: edge.preview: cannot serve on 127.0.0.1:{port} (Address already in use)"
    )
