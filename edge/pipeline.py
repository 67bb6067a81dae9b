"""One camera's loop: frame -> faces -> crops -> emotions -> tracks -> events, with per-stage timing.

Each camera runs its own pipeline in its own thread with its own interpreters (a TFLite interpreter is
not thread-safe), so a slow or reconnecting camera never stalls another. Every frame also feeds the
Prometheus metrics (edge.metrics), and a change of the camera's dominant emotion or face count goes to the
publisher as Home Assistant state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from common.errors import one_line
from edge.classifier import EmotionClassifier, square_crop
from edge.config import CameraConfig, EdgeConfig
from edge.detector import Detection, FaceDetector
from edge.events import build_event, reason_to_publish
from edge.metrics import Metrics
from edge.publishing import EventPublisher
from edge.sources import Frame, Source, open_source
from edge.tracker import Track, Tracker

log = logging.getLogger(__name__)

STAGES = ("decode", "detect", "classify", "track", "publish")
MAX_ASPECT = 20  # a frame longer than this many times its width (or the reverse) is not a picture of a scene


@dataclass
class Stats:
    """Counters since start, plus stage timings and a frame count since the last snapshot (for fps), and the
    same over the whole run (for the last stats of a finite run)."""

    frames: int = 0
    events: int = 0
    faces: int = 0  # faces in the latest frame
    skipped: int = 0  # frames the pipeline could not process (the source counts those it could not read)
    window_frames: int = 0
    window_started: float = field(default_factory=time.monotonic)
    stage_seconds: dict = field(default_factory=lambda: defaultdict(float))
    run_started: float = field(default_factory=time.monotonic)
    last_frame_at: float | None = None
    run_stage_seconds: dict = field(default_factory=lambda: defaultdict(float))

    def snapshot(self, source: Source, final: bool = False) -> dict:
        """The stats payload; resets the fps window and the stage averages. ``final``: the whole run's fps
        and average latencies, since the last window of a finished source is empty."""
        now = time.monotonic()
        if final:
            frames, elapsed, seconds = (
                self.frames,
                (self.last_frame_at or now) - self.run_started,
                self.run_stage_seconds,
            )
        else:
            frames, elapsed, seconds = self.window_frames, now - self.window_started, self.stage_seconds
        payload = {
            "fps": round(frames / max(elapsed, 1e-9), 2),
            "frames": self.frames,
            "faces": self.faces,
            "events": self.events,
            "drops": source.drops,
            "skipped": source.skipped + self.skipped,
            "latency_ms": {stage: round(1000 * seconds[stage] / max(frames, 1), 2) for stage in STAGES},
        }
        self.window_frames, self.window_started = 0, now
        self.stage_seconds.clear()
        return payload


@dataclass(frozen=True)
class FrameResult:
    """What the pipeline made of one frame, for its observers (``edge annotate``, the live view). ``tracks``
    are the tracker's own objects, in the order of ``probabilities`` (this frame's unsmoothed scores): an
    observer reads them during its call and keeps copies, never the objects."""

    frame: Frame
    tracks: list[Track]
    probabilities: np.ndarray
    too_small: list[tuple[float, float, float, float]]  # boxes under ``edge.min_readable_px``: not classified
    events: list[dict]  # the events this frame published
    timings: dict  # seconds per stage (STAGES) of this frame


def split_readable(detections: list[Detection], min_readable_px: int) -> tuple[list[Detection], list[Detection]]:
    """Faces the model can read, and those too small to (box height under ``min_readable_px``)."""
    readable = [d for d in detections if d.box[3] >= min_readable_px]
    return readable, [d for d in detections if d.box[3] < min_readable_px]


def dominant_emotion(tracks: list[Track], labels: list[str]) -> str | None:
    """The emotion most faces in view show (ties: the larger summed confidence); None with nobody in view."""
    votes: dict[int, tuple[int, float]] = {}
    for track in tracks:
        count, confidence = votes.get(track.label, (0, 0.0))
        votes[track.label] = (count + 1, confidence + float(track.scores[track.label]))
    return labels[max(votes, key=votes.get)] if votes else None


def face_crops(image_bgr, detections: list[Detection], margin: float) -> list[tuple[tuple, np.ndarray]]:
    """(box, gray square crop) of each detected face; a box too thin to crop is left out."""
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    crops = [(d.box, square_crop(gray, d.box, margin)) for d in detections]
    return [(box, crop) for box, crop in crops if crop is not None]


def build_detector(config: EdgeConfig) -> FaceDetector:
    settings = config.detector
    return FaceDetector(
        settings.model,
        settings.score_threshold,
        settings.nms_iou,
        settings.min_face_px,
        config.threads,
        settings.small_faces,
    )


def build_classifier(config: EdgeConfig) -> EmotionClassifier:
    return EmotionClassifier(config.model, config.threads, config.accelerator, config.edgetpu_fallback_to_cpu)


class CameraPipeline:
    def __init__(
        self,
        config: EdgeConfig,
        camera: CameraConfig,
        publisher: EventPublisher,
        metrics: Metrics | None = None,
    ):
        """Faces whose box is shorter than ``edge.min_readable_px`` are not classified, tracked or published,
        only reported to observers as too small (``edge annotate`` and the live view draw them)."""
        self.config = config
        self.camera = camera
        self.publisher = publisher
        self.metrics = metrics or Metrics()
        self.detector = build_detector(config)
        self.classifier = build_classifier(config)
        tracking = config.tracking
        self.tracker = Tracker(
            tracking.iou_threshold, tracking.max_missed_frames, tracking.ema_alpha, tracking.hysteresis
        )
        self.source = open_source(camera.source)
        self.stats = Stats()
        self._stats_lock = threading.Lock()
        self._state: tuple[str | None, int] | None = None  # the last Home Assistant state sent
        self._reported_drops = 0  # source drops already counted in the metrics
        self._busy_since: float | None = None  # when the frame in hand started processing
        self.error: str | None = None  # why this camera stopped early, if it did
        self.observers: list[Callable[[FrameResult], None]] = []  # called in this camera's thread, every frame
        self.last_stats: dict | None = None  # the latest stats payload, for the live view

    def run(self, stop: threading.Event) -> None:
        """Process frames until the source ends (file, folder) or ``stop`` is set. Anything unexpected (a
        full disk under the outbox, an unplugged Edge TPU) is one error line and stops the whole daemon with
        a non-zero exit, so systemd restarts it, rather than leaving it running without this camera."""
        try:
            for frame in self.source.frames(stop):
                self.process_or_skip(frame)
        except Exception as exc:  # noqa: BLE001 - the thread's last stop: report it, never die silently
            self.error = one_line(exc)
            log.error("%s: stopped: %s", self.camera.name, self.error)
            stop.set()
        finally:
            self.source.close()
        log.info(
            "%s: done, %d frames, %d events, %d skipped",
            self.camera.name,
            self.stats.frames,
            self.stats.events,
            self.source.skipped + self.stats.skipped,
        )

    def process_or_skip(self, frame: Frame) -> None:
        """A frame OpenCV cannot work on (odd size, broken decode) is counted and logged, never fatal."""
        self._busy_since = time.monotonic()
        try:
            self._check_size(frame)
            self.process(frame)
        except cv2.error as exc:
            with self._stats_lock:
                self.stats.skipped += 1
            log.warning("%s: frame %d skipped (%s)", self.camera.name, frame.index, str(exc).strip().splitlines()[-1])
        finally:
            self._busy_since = None

    def _check_size(self, frame: Frame) -> None:
        """A 1x8000 image would only fail deep in OpenCV's resize, with an assertion's text: say what it is."""
        height, width = frame.image.shape[:2]
        if min(height, width) < self.config.detector.min_face_px or max(height, width) > MAX_ASPECT * min(
            height, width
        ):
            raise cv2.error(
                f"image too small/degenerate: {width}x{height} px (a face needs edge.detector.min_face_px, "
                f"{self.config.detector.min_face_px} px, and a side at most {MAX_ASPECT}x the other)"
            )

    def stuck_s(self) -> float:
        """How long the frame in hand has been processing: a wedged inference (a hung Edge TPU) grows it
        without bound, which the daemon's watchdog turns into a restart. 0 while waiting for a frame."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def process(self, frame: Frame) -> None:
        timings = {"decode": frame.decode_s}
        started = time.perf_counter()
        detections = self.detector.detect(frame.image, stream=self.source.continuous)
        timings["detect"] = _lap(started)

        started = time.perf_counter()
        readable, too_small = split_readable(detections, self.config.min_readable_px)
        faces = face_crops(frame.image, readable, self.config.crop_margin)
        probabilities = self.classifier.classify([crop for _, crop in faces])
        timings["classify"] = _lap(started)

        started = time.perf_counter()
        tracks = self.tracker.update([box for box, _ in faces], probabilities)
        now = time.monotonic()
        due = [
            (track, crop, reason)
            for track, (_, crop) in zip(tracks, faces)
            if (reason := reason_to_publish(track, now, self.config.events.heartbeat_s))
        ]
        timings["track"] = _lap(started)

        started = time.perf_counter()
        events = []
        for track, crop, reason in due:
            snapshot = crop if self.config.events.snapshots else None
            events.append(
                build_event(
                    self.config.device, self.camera.name, frame.index, track, self.classifier.labels, reason, snapshot
                )
            )
            self.publisher.event(self.camera.name, events[-1])
            track.last_event_at = now
        self._publish_state(tracks)
        timings["publish"] = _lap(started)
        self._count(timings, len(faces), len(due))
        for observer in self.observers:
            observer(FrameResult(frame, tracks, probabilities, [d.box for d in too_small], events, timings))

    def _publish_state(self, tracks: list[Track]) -> None:
        """Only on a change: a retained state per frame would be a flood for nothing."""
        if not self.config.homeassistant.discovery:
            return
        state = (dominant_emotion(tracks, self.classifier.labels), len(tracks))
        if state != self._state:
            self.publisher.state(self.camera.name, *state)
            self._state = state

    def _count(self, timings: dict, faces: int, events: int) -> None:
        with self._stats_lock:
            stats = self.stats
            stats.frames += 1
            stats.window_frames += 1
            stats.faces = faces
            stats.events += events
            stats.last_frame_at = time.monotonic()
            for stage, seconds in timings.items():
                stats.stage_seconds[stage] += seconds
                stats.run_stage_seconds[stage] += seconds
        self._measure(timings, faces, events)

    def _measure(self, timings: dict, faces: int, events: int) -> None:
        name, metrics = self.camera.name, self.metrics
        metrics.frames.labels(name).inc()
        metrics.faces.labels(name).set(faces)
        metrics.events.labels(name).inc(events)
        for stage, seconds in timings.items():
            metrics.latency.labels(stage).observe(seconds)
        metrics.latency.labels("frame").observe(sum(timings.values()))

    def stats_payload(self, final: bool = False) -> dict:
        """The periodic stats (``final``: the whole run's); also updates the fps gauge and the dropped-frames
        counter it shares numbers with."""
        with self._stats_lock:
            payload = self.stats.snapshot(self.source, final)
        self.last_stats = payload
        self.metrics.fps.labels(self.camera.name).set(payload["fps"])
        self.metrics.dropped_frames.labels(self.camera.name).inc(payload["drops"] - self._reported_drops)
        self._reported_drops = payload["drops"]
        return payload


def _lap(started: float) -> float:
    return time.perf_counter() - started
