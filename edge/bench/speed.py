"""Timing the daemon's own pipeline (``edge.pipeline.CameraPipeline``) over a finite source.

The pipeline runs as fast as it goes; every frame's stage timings are kept (the daemon keeps only sums), so
latencies are percentiles rather than means. Events go to the configured MQTT broker with ``--mqtt``, else
they are serialised and dropped, so the publish stage is then the JSON cost only.
"""

from __future__ import annotations

import resource
import threading
import time

import numpy as np

from common.errors import Unavailable, UserError
from edge.config import CameraConfig, EdgeConfig
from edge.pipeline import STAGES, CameraPipeline, FrameResult
from edge.publisher import MqttPublisher
from edge.publishing import DiscardingPublisher

PERCENTILES = (50, 95, 99)
FLUSH_TIMEOUT_S = 30


class FrameRecorder:
    """An observer of the daemon's pipeline (``CameraPipeline.observers``) that keeps each frame's stage timings
    and face count: the daemon itself keeps only sums."""

    def __init__(self):
        self.frame_timings: list[dict] = []
        self.face_counts: list[int] = []

    def __call__(self, result: FrameResult) -> None:
        self.frame_timings.append(result.timings)
        self.face_counts.append(len(result.tracks))


def percentiles_ms(seconds) -> dict:
    """{"p50": ms, "p95": ms, "p99": ms} of a sequence of durations in seconds."""
    values = np.percentile(np.asarray(seconds, dtype=np.float64) * 1000, PERCENTILES) if len(seconds) else [0.0] * 3
    return {f"p{p}": round(float(v), 3) for p, v in zip(PERCENTILES, values)}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports KiB): what a device must have free."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def warm_up(pipeline: CameraPipeline) -> None:
    """One invoke of each model first: the first one packs weights and plans memory (~100 ms), a cost the
    running daemon pays once at start, not per frame."""
    pipeline.detector.detect(np.zeros((480, 640, 3), dtype=np.uint8))
    pipeline.classifier.classify([np.zeros((48, 48), dtype=np.uint8)])


def measure_pipeline(config: EdgeConfig, uri: str, use_mqtt: bool = False) -> dict:
    """One pass over ``uri``; the wall clock covers every stage, decode included, and the final flush."""
    publisher = MqttPublisher(config) if use_mqtt else DiscardingPublisher()
    pipeline = CameraPipeline(config, CameraConfig(name="bench", source=uri), publisher)
    recorder = FrameRecorder()
    pipeline.observers.append(recorder)
    warm_up(pipeline)
    publisher.start()
    cpu_started, started = cpu_seconds(), time.perf_counter()
    pipeline.run(threading.Event())
    delivered = publisher.flush(FLUSH_TIMEOUT_S)  # with MQTT, the run ends when the broker has every event
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_started
    undelivered = 0 if delivered else publisher.unacked
    publisher.close()
    if not delivered:  # the figures would time a wait for a broker, not the pipeline
        raise Unavailable(
            f"--mqtt: the broker at {config.mqtt.address} did not acknowledge {undelivered} event(s) "
            f"within {FLUSH_TIMEOUT_S} s (is it running? edge.mqtt)"
        )
    if pipeline.error is not None:  # figures of a pass cut short would pass for the pipeline's speed
        raise UserError(f"{uri}: the pipeline stopped ({pipeline.error})")
    frames = recorder.frame_timings
    if not frames:
        raise UserError(f"{uri}: no frame could be read ({pipeline.source.skipped} unreadable)")
    stages = {stage: percentiles_ms([t.get(stage, 0.0) for t in frames]) for stage in STAGES}
    stages["frame"] = percentiles_ms([sum(t.values()) for t in frames])
    return {
        "threads": config.threads,
        "frames": len(frames),
        "faces_per_frame": round(float(np.mean(recorder.face_counts)), 2),
        "events": pipeline.stats.events,
        "fps": round(len(frames) / elapsed, 1),
        "latency_ms": stages,
        "cpu_share": round(cpu / elapsed, 3),
        "peak_rss_mb": peak_rss_mb(),
        "publisher": "mqtt" if use_mqtt else "discard",
    }
