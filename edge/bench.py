"""``edge bench``: end-to-end frames per second and per-stage latency of one camera pipeline.

It runs the real pipeline (decode, BlazeFace, crop + int8 classifier, tracking, event publishing) over a
finite source as fast as it goes, on ``edge.threads`` threads (1 by default). Without ``--source`` it
writes a 640x480 MPEG-4 clip of the bundled sample face (one face, slowly drifting) and uses that.
Events go to the configured MQTT broker with ``--mqtt``, else they are serialised and discarded, so the
publish stage is the JSON cost only.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config import BUNDLED_SAMPLE, CameraConfig, EdgeConfig
from edge.errors import UserError
from edge.pipeline import STAGES, CameraPipeline
from edge.publisher import MqttPublisher

log = logging.getLogger(__name__)


class DiscardingPublisher:
    """Serialises like the MQTT publisher would, then drops the message."""

    def start(self) -> None:
        """Nothing to connect."""

    def event(self, camera: str, event: dict) -> None:
        json.dumps(event).encode()

    def stats(self, camera: str, stats: dict) -> None:
        json.dumps(stats).encode()

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        """Nothing to close."""


def write_sample_clip(path: Path, frames: int) -> Path:
    """A 640x480 MPEG-4 clip of the sample face drifting sideways: one face per frame, real decode work."""
    face = cv2.imread(str(BUNDLED_SAMPLE / "astronaut_2.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    if not writer.isOpened():
        raise UserError(f"{path}: this OpenCV cannot write an MPEG-4 clip; pass --source")
    for index in range(frames):
        shift = int(40 * np.sin(index / 30))
        writer.write(np.roll(face, shift, axis=1))
    writer.release()
    return path


def run_bench(config: EdgeConfig, source: str | None, frames: int, use_mqtt: bool = False) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        uri = source or str(write_sample_clip(Path(scratch) / "bench.mp4", frames))
        report = measure(config, uri, MqttPublisher(config) if use_mqtt else DiscardingPublisher())
    print(json.dumps(report, indent=2))
    return 0


def measure(config: EdgeConfig, uri: str, publisher) -> dict:
    """Run the pipeline over ``uri`` once; the wall clock covers every stage, decode included."""
    pipeline = CameraPipeline(config, CameraConfig(name="bench", source=uri), publisher)
    publisher.start()
    started = time.perf_counter()
    pipeline.run(threading.Event())
    publisher.flush(timeout=30)  # with MQTT, the run ends when the broker has every event
    elapsed = time.perf_counter() - started
    publisher.close()
    stats = pipeline.stats
    frames = max(stats.frames, 1)
    return {
        "source": uri,
        "detector": config.detector.model,
        "model": str(config.model),
        "threads": config.threads,
        "frames": stats.frames,
        "events": stats.events,
        "faces_last_frame": stats.faces,
        "fps": round(stats.frames / elapsed, 1),
        "latency_ms_per_frame": {stage: round(1000 * stats.stage_seconds[stage] / frames, 3) for stage in STAGES},
        "publish_ms_per_event": round(1000 * stats.stage_seconds["publish"] / max(stats.events, 1), 3),
        "publisher": "mqtt" if isinstance(publisher, MqttPublisher) else "discard",
    }
